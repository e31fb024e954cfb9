// Node-API entry of the native engine. Each model family has its own binding file, registered here:
//   qwen3_text_binding.cc    NativeQwen3Text, loadModel, loadModelAsync     (the Qwen3-VL decoder)
//   qwen3_vision_binding.cc  NativeQwen3Vision, loadVision, loadVisionAsync  (the Qwen3-VL vision tower)
//   cosmos3_generator_binding.cc  NativeCosmos3Generator, loadGenerator, loadGeneratorAsync  (the Cosmos 3
//                            Generator; new exports, no signature changed, so no ABI bump: TS checks they exist)
//   tensor_object.cc         NativeTensor (a model's output kept on its device; any family's runs make
//                            and take them)
// Both are ModelObjects (model_object.h: async run, abort, free, info). This file adds the
// process-wide functions (memory, deviceInfo, inspectSafetensors) and abiVersion.
//
// Everything that can throw on untrusted input is wrapped so a C++ exception becomes a JS Error with
// a `code` (SAFETENSORS_*, MODEL, CONFIG, BUSY, FREED, ARGUMENT); nothing here may take the process down.
//
// The JS side of this contract is typed in ONE place, src/native/addon_types.ts; kAbiVersion must equal
// its ADDON_ABI_VERSION (checked when the module loads). Bump both when a signature or a result's
// shape changes.
#include <napi.h>

#include <string>

#include "../core/device.h"
#include "../core/memory.h"
#include "../safetensors/safetensors.h"
#include "addon_data.h"
#include "gpu_backend.h"
#include "napi_common.h"

using namespace cosmos;
using namespace cosmos::binding;

void register_qwen3_text(Napi::Env env, Napi::Object exports);         // binding/qwen3_text_binding.cc
void register_qwen3_vision(Napi::Env env, Napi::Object exports);       // binding/qwen3_vision_binding.cc
void register_cosmos3_generator(Napi::Env env, Napi::Object exports);  // binding/cosmos3_generator_binding.cc
void register_tensor(Napi::Env env, Napi::Object exports);             // binding/tensor_object.cc

namespace {

// 2: configs are objects (NativeTextConfig / NativeVisionConfig), info() has externalBytes.
// 3: NativeTensor; the tower's run() returns tensors, the decoder takes them (and visualRows in any order).
constexpr int kAbiVersion = 3;

// memory(): top-level figures are those of the device models run on (host bytes on the CPU backend,
// the CUDA pools' bytes on the GPU backend); `host` always, `cuda` when built with CUDA; v8ExternalBytes.
Napi::Value Memory(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  MemoryStats s = memory_stats(DeviceKind::CPU);
  Napi::Object o = Napi::Object::New(env);
  Napi::Object host = Napi::Object::New(env);
  host.Set("bytesInUse", Napi::Number::New(env, (double)s.bytes_in_use));
  host.Set("peakBytes", Napi::Number::New(env, (double)s.peak_bytes));
  o.Set("host", host);
  const bool gpu = built_with_cuda() && choose_device().kind == DeviceKind::CUDA;
  GpuMemory g = gpu_memory();
  if (built_with_cuda()) {
    Napi::Object c = Napi::Object::New(env);
    c.Set("bytesInUse", Napi::Number::New(env, (double)g.bytes_in_use));
    c.Set("peakBytes", Napi::Number::New(env, (double)g.peak_bytes));
    c.Set("cachedBytes", Napi::Number::New(env, (double)g.cached_bytes));
    c.Set("pools", g.pools);
    o.Set("cuda", c);
  }
  o.Set("bytesInUse", Napi::Number::New(env, (double)(gpu ? g.bytes_in_use : s.bytes_in_use)));
  o.Set("peakBytes", Napi::Number::New(env, (double)(gpu ? g.peak_bytes : s.peak_bytes)));
  o.Set("device", gpu ? "cuda" : "cpu");
  // What V8 counts as external memory now (model objects report their weights to it; a zero
  // adjustment just reads the total).
  o.Set("v8ExternalBytes", Napi::Number::New(env, (double)Napi::MemoryManagement::AdjustExternalMemory(env, 0)));
  return o;
}

Napi::Value DeviceInfo(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const DeviceChoice& d = choose_device();
  Napi::Object o = Napi::Object::New(env);
  o.Set("device", d.name);
  o.Set("reason", d.reason);
  o.Set("cudaDevices", d.cuda_devices);
  o.Set("builtWithCuda", Napi::Boolean::New(env, built_with_cuda()));
  // Backend of models loaded from now on (decoder and vision tower alike).
  o.Set("modelBackend", built_with_cuda() && d.kind == DeviceKind::CUDA ? "cuda" : "cpu");
  return o;
}

// inspectSafetensors(path) -> [{name, dtype, shape}] after full validation (for tests and tools).
Napi::Value InspectSafetensors(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  COSMOS_GUARD_BEGIN
  auto ck = checkpoint_paths(env, info[0], "inspectSafetensors").open();
  Napi::Array out = Napi::Array::New(env);
  uint32_t i = 0;
  for (auto& n : ck->names()) {
    const TensorInfo& t = ck->info(n);
    Napi::Object o = Napi::Object::New(env);
    o.Set("name", n);
    o.Set("dtype", st_dtype_name(t.dtype));
    Napi::Array sh = Napi::Array::New(env, t.shape.size());
    for (uint32_t k = 0; k < t.shape.size(); ++k) sh.Set(k, Napi::Number::New(env, (double)t.shape[k]));
    o.Set("shape", sh);
    out.Set(i++, o);
  }
  return out;
  COSMOS_GUARD_END(env)
}

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  // Once per environment (main thread, worker, Deno isolate): its class constructors (addon_data.h).
  env.SetInstanceData(new AddonData());
  exports.Set("abiVersion", Napi::Number::New(env, kAbiVersion));
  exports.Set("memory", Napi::Function::New(env, Memory, "memory"));
  exports.Set("deviceInfo", Napi::Function::New(env, DeviceInfo, "deviceInfo"));
  exports.Set("inspectSafetensors", Napi::Function::New(env, InspectSafetensors, "inspectSafetensors"));
  register_tensor(env, exports);
  register_qwen3_text(env, exports);
  register_qwen3_vision(env, exports);
  register_cosmos3_generator(env, exports);
  return exports;
}

}  // namespace

NODE_API_MODULE(cosmos_native, Init)
