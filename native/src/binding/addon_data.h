// Per-environment state of the addon. Node-API loads cosmos_native.node once per process but runs Init once for
// every environment that requires it (the main thread, each worker_threads Worker, each isolate of
// `deno test --parallel`), and a JS handle (napi_ref) belongs to the environment that made it. A static
// Napi::FunctionReference would hold whichever environment ran Init last; another thread using it aborts Node
// ("Entering the V8 API without proper locking in place") and panics Deno ("attempt to use Handle in an Isolate
// that is not its host"): test/native/addon_workers.test.ts. So the JS classes' constructors live here, in the
// environment's instance data (napi_set_instance_data): Init (addon.cc) creates it before registering any class,
// and Node-API deletes it, and the references with it, when that environment is torn down.
#pragma once
#include <napi.h>

namespace cosmos::binding {

struct AddonData {
  Napi::FunctionReference tensor_ctor;     // NativeTensor (tensor_object.cc)
  Napi::FunctionReference text_ctor;       // NativeQwen3Text (qwen3_text_binding.cc)
  Napi::FunctionReference vision_ctor;     // NativeQwen3Vision (qwen3_vision_binding.cc)
  Napi::FunctionReference generator_ctor;  // NativeCosmos3Generator (cosmos3_generator_binding.cc)
};

// This environment's AddonData (set by Init before anything can ask).
inline AddonData& addon_data(Napi::Env env) { return *env.GetInstanceData<AddonData>(); }

}  // namespace cosmos::binding
