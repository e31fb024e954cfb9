// Node-API face of the Qwen3-VL vision tower (models/qwen3_vision.h). Registered from addon.cc's Init
// through register_vision(). Errors carry the same `code`s as addon.cc (SAFETENSORS_*, MODEL, CONFIG,
// ABORTED, BUSY, FREED, ARGUMENT, OUT_OF_MEMORY, NATIVE).
//
//   loadVision(pathOrFiles, configJson) -> NativeQwen3Vision                (synchronous)
//   loadVisionAsync(pathOrFiles, configJson) -> Promise<NativeQwen3Vision>  (libuv worker)
//   tower.run(pixelValues: Float32Array [patches*patchDim], grids: Int32Array|number[] [t,h,w,...])
//       -> Promise<{ tokens, outDim, embeds: Float32Array [tokens*outDim], deepstack: Float32Array[] }>
//     The tower runs on a libuv worker; the pixel values are copied first, so the caller may reuse them.
//   tower.abort(), tower.free(), tower.info()
//
// Backend: the CUDA tower (models/qwen3_vision_cuda) when the addon was built with CUDA and
// choose_device() picked CUDA, else the CPU tower; same rule as the decoder in addon.cc.
#include <napi.h>

#include <atomic>
#include <memory>
#include <string>
#include <vector>

#include "../core/device.h"
#include "../core/json.h"
#include "../models/qwen3_vision.h"
#include "../safetensors/safetensors.h"
#include "gpu_backend.h"
#include "napi_common.h"
#ifdef COSMOS_CUDA
#include "../core/cuda_pool.h"
#include "../models/qwen3_vision_cuda.h"
#endif

using namespace cosmos;
using namespace cosmos::binding;

namespace {

std::vector<Qwen3VisionGrid> grids_from(Napi::Env env, const Napi::Value& v) {
  std::vector<int> flat = to_ints(env, v, "grids");
  if (flat.empty() || flat.size() % 3) throw make_error(env, "ARGUMENT", "grids must hold 3 integers (t, h, w) per image or video");
  std::vector<Qwen3VisionGrid> g(flat.size() / 3);
  for (size_t i = 0; i < g.size(); ++i) g[i] = {flat[3 * i], flat[3 * i + 1], flat[3 * i + 2]};
  return g;
}

// The tower behind one JS object: CPU (Qwen3Vision) or CUDA (Qwen3VisionCuda).
class VisionEngine {
 public:
  virtual ~VisionEngine() = default;
  virtual const Qwen3VisionConfig& config() const = 0;
  virtual size_t weight_bytes() const = 0;
  virtual void forward(const float* pv, size_t n, const std::vector<Qwen3VisionGrid>& grids, Qwen3VisionOutput& out) = 0;
  virtual void set_abort_flag(const std::atomic<bool>* f) = 0;
  virtual const char* backend() const = 0;
  virtual void describe(Napi::Env, Napi::Object&) const {}
};

class CpuVision : public VisionEngine {
 public:
  explicit CpuVision(std::unique_ptr<Qwen3Vision> t) : t_(std::move(t)) {}
  const Qwen3VisionConfig& config() const override { return t_->config(); }
  size_t weight_bytes() const override { return t_->weight_bytes(); }
  void forward(const float* pv, size_t n, const std::vector<Qwen3VisionGrid>& grids, Qwen3VisionOutput& out) override {
    t_->forward(pv, n, grids, out);
  }
  void set_abort_flag(const std::atomic<bool>* f) override { t_->set_abort_flag(f); }
  const char* backend() const override { return "cpu"; }

 private:
  std::unique_ptr<Qwen3Vision> t_;
};

#ifdef COSMOS_CUDA
class CudaVision : public VisionEngine {
 public:
  explicit CudaVision(std::unique_ptr<Qwen3VisionCuda> t) : t_(std::move(t)) { gpu_pool_register(&t_->pool()); }
  ~CudaVision() override {
    gpu_pool_unregister(&t_->pool());
    t_.reset();
  }
  const Qwen3VisionConfig& config() const override { return t_->config(); }
  size_t weight_bytes() const override { return t_->weight_bytes(); }
  void forward(const float* pv, size_t n, const std::vector<Qwen3VisionGrid>& grids, Qwen3VisionOutput& out) override {
    GpuCallScope g(&t_->pool());
    t_->forward(pv, n, grids, out);  // activations go back to CUDA when it returns or throws
  }
  void set_abort_flag(const std::atomic<bool>* f) override { t_->set_abort_flag(f); }
  const char* backend() const override { return "cuda"; }
  void describe(Napi::Env env, Napi::Object& o) const override {
    o.Set("weightType", t_->weight_type() == WType::BF16 ? "bf16" : "f32");
    o.Set("gpuBytesInUse", Napi::Number::New(env, (double)t_->pool().bytes_in_use()));
    o.Set("lastRunPeakBytes", Napi::Number::New(env, (double)t_->last_run_peak_bytes()));
    o.Set("hostPinnedBytes", Napi::Number::New(env, (double)t_->host_pinned_bytes()));  // staging, kept between runs
  }

 private:
  std::unique_ptr<Qwen3VisionCuda> t_;
};
#endif

std::unique_ptr<VisionEngine> load_vision_engine(const Checkpoint& ck, const Qwen3VisionConfig& cfg) {
#ifdef COSMOS_CUDA
  if (choose_device().kind == DeviceKind::CUDA)
    return std::make_unique<CudaVision>(Qwen3VisionCuda::load(ck, cfg, gpu_weight_type(ck, "attn.qkv.weight")));
#endif
  return std::make_unique<CpuVision>(Qwen3Vision::load(ck, cfg));
}

class VisionWrap : public Napi::ObjectWrap<VisionWrap> {
 public:
  static Napi::FunctionReference ctor;
  static Napi::Function Init(Napi::Env env) {
    Napi::Function f = DefineClass(env, "NativeQwen3Vision",
                                   {InstanceMethod("run", &VisionWrap::Run), InstanceMethod("abort", &VisionWrap::Abort),
                                    InstanceMethod("free", &VisionWrap::Free), InstanceMethod("info", &VisionWrap::Info)});
    ctor = Napi::Persistent(f);
    ctor.SuppressDestruct();
    return f;
  }
  VisionWrap(const Napi::CallbackInfo& info) : Napi::ObjectWrap<VisionWrap>(info) {}

  std::unique_ptr<VisionEngine> tower;
  std::atomic<bool> abort_flag{false};
  bool busy = false;
  bool free_pending = false;

  Napi::Value Run(const Napi::CallbackInfo& info);

  Napi::Value Abort(const Napi::CallbackInfo& info) {
    abort_flag = true;
    return info.Env().Undefined();
  }

  // free(): releases the weights now; during run(), aborts it and frees when it ends.
  Napi::Value Free(const Napi::CallbackInfo& info) {
    if (busy) {
      abort_flag = true;
      free_pending = true;
    } else {
      tower.reset();
    }
    return info.Env().Undefined();
  }

  Napi::Value Info(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    Napi::Object o = Napi::Object::New(env);
    o.Set("freed", Napi::Boolean::New(env, !tower));
    o.Set("busy", Napi::Boolean::New(env, busy));
    if (tower) {
      const auto& c = tower->config();
      o.Set("depth", c.depth);
      o.Set("hiddenSize", c.hidden_size);
      o.Set("outHiddenSize", c.out_hidden_size);
      o.Set("patchDim", c.patch_dim());
      o.Set("mergeSize", c.spatial_merge_size);
      o.Set("deepstackLayers", (int)c.deepstack_visual_indexes.size());
      o.Set("weightBytes", Napi::Number::New(env, (double)tower->weight_bytes()));
      o.Set("backend", tower->backend());
      tower->describe(env, o);
    }
    return o;
  }
};
Napi::FunctionReference VisionWrap::ctor;

class VisionRunWorker : public Napi::AsyncWorker {
 public:
  VisionRunWorker(Napi::Env env, VisionWrap* vw, Napi::Object self, std::vector<float> pv, std::vector<Qwen3VisionGrid> grids)
      : Napi::AsyncWorker(env, "cosmos.vision.run"), vw_(vw), pv_(std::move(pv)), grids_(std::move(grids)),
        deferred_(Napi::Promise::Deferred::New(env)) {
    self_ = Napi::Persistent(self);  // keeps the tower object alive while we run
  }
  Napi::Promise Promise() { return deferred_.Promise(); }

  void Execute() override {
    try {
      vw_->tower->set_abort_flag(&vw_->abort_flag);
      vw_->tower->forward(pv_.data(), pv_.size(), grids_, out_);
    } catch (...) {
      err_ = classify(std::current_exception());
      failed_ = true;
    }
    vw_->tower->set_abort_flag(nullptr);
    pv_.clear();
    pv_.shrink_to_fit();  // the input copy goes before the outputs are handed to JS
  }
  void OnOK() override {
    Napi::Env env = Env();
    Napi::HandleScope scope(env);
    vw_->busy = false;
    if (vw_->free_pending) {
      vw_->tower.reset();
      vw_->free_pending = false;
    }
    if (failed_) {
      deferred_.Reject(make_error(env, err_.first, err_.second).Value());
    } else {
      Napi::Object r = Napi::Object::New(env);
      r.Set("tokens", Napi::Number::New(env, (double)out_.tokens));
      r.Set("outDim", out_.out_dim);
      r.Set("embeds", to_js(env, out_.embeds));
      Napi::Array ds = Napi::Array::New(env, out_.deepstack.size());
      for (uint32_t k = 0; k < out_.deepstack.size(); ++k) ds.Set(k, to_js(env, out_.deepstack[k]));
      r.Set("deepstack", ds);
      deferred_.Resolve(r);
    }
    self_.Reset();
  }
  void OnError(const Napi::Error& e) override {
    vw_->busy = false;
    if (vw_->free_pending) {
      vw_->tower.reset();
      vw_->free_pending = false;
    }
    deferred_.Reject(e.Value());
    self_.Reset();
  }

 private:
  VisionWrap* vw_;
  std::vector<float> pv_;
  std::vector<Qwen3VisionGrid> grids_;
  Qwen3VisionOutput out_;
  Napi::Promise::Deferred deferred_;
  Napi::ObjectReference self_;
  bool failed_ = false;
  std::pair<std::string, std::string> err_;
};

Napi::Value VisionWrap::Run(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  COSMOS_GUARD_BEGIN
  if (!tower) throw make_error(env, "FREED", "this vision tower was freed");
  if (busy) throw make_error(env, "BUSY", "a run() call is running on this tower; await it or abort() first");
  Napi::Value pv = info[0];
  if (!(pv.IsTypedArray() && pv.As<Napi::TypedArray>().TypedArrayType() == napi_float32_array))
    throw make_error(env, "ARGUMENT", "run(pixelValues, grids): pixelValues must be a Float32Array");
  std::vector<Qwen3VisionGrid> grids = grids_from(env, info[1]);
  // Validate on the JS thread so bad input rejects with a clear message before any work is queued.
  std::string err;
  if (!qwen3_vision_check_grids(tower->config(), grids, err)) throw make_error(env, "ARGUMENT", err);
  auto a = pv.As<Napi::Float32Array>();
  const size_t want = (size_t)qwen3_vision_num_patches(grids) * (size_t)tower->config().patch_dim();
  if (a.ElementLength() != want)
    throw make_error(env, "ARGUMENT", "pixelValues has " + std::to_string(a.ElementLength()) + " floats; the grids need " +
                                         std::to_string(want) + " (patches x " + std::to_string(tower->config().patch_dim()) + ")");
  std::vector<float> copy(a.Data(), a.Data() + a.ElementLength());
  busy = true;
  abort_flag = false;
  auto* w = new VisionRunWorker(env, this, info.This().As<Napi::Object>(), std::move(copy), std::move(grids));
  Napi::Promise p = w->Promise();
  w->Queue();
  return p;
  COSMOS_GUARD_END(env)
}

Napi::Object wrap_tower(Napi::Env env, std::unique_ptr<VisionEngine> t) {
  Napi::Object obj = VisionWrap::ctor.New({});
  VisionWrap::Unwrap(obj)->tower = std::move(t);
  return obj;
}

Napi::Value LoadVision(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  COSMOS_GUARD_BEGIN
  if (!info[1].IsString()) throw make_error(env, "ARGUMENT", "loadVision: second argument must be the config.json text");
  CheckpointPaths p = checkpoint_paths(env, info[0], "loadVision");
  Qwen3VisionConfig cfg = Qwen3VisionConfig::from_json(info[1].As<Napi::String>().Utf8Value());
  auto ck = p.open();
  return wrap_tower(env, load_vision_engine(*ck, cfg));
  COSMOS_GUARD_END(env)
}

Napi::Value LoadVisionAsync(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  COSMOS_GUARD_BEGIN
  if (!info[1].IsString()) throw make_error(env, "ARGUMENT", "loadVisionAsync: second argument must be the config.json text");
  CheckpointPaths paths = checkpoint_paths(env, info[0], "loadVisionAsync");
  std::string cfg = info[1].As<Napi::String>().Utf8Value();
  return load_on_worker<VisionEngine>(
      env, "cosmos.vision.load", [paths, cfg] { return load_vision_engine(*paths.open(), Qwen3VisionConfig::from_json(cfg)); },
      [](Napi::Env e, std::unique_ptr<VisionEngine> t) -> Napi::Value { return wrap_tower(e, std::move(t)); });
  COSMOS_GUARD_END(env)
}

}  // namespace

// Called from addon.cc's Init.
void register_vision(Napi::Env env, Napi::Object exports) {
  exports.Set("NativeQwen3Vision", VisionWrap::Init(env));
  exports.Set("loadVision", Napi::Function::New(env, LoadVision, "loadVision"));
  exports.Set("loadVisionAsync", Napi::Function::New(env, LoadVisionAsync, "loadVisionAsync"));
}
