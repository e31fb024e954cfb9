// Helpers shared by the Node-API files (one per model family: qwen3_text_binding.cc, qwen3_vision_binding.cc): typed JS
// errors with a `code`, the mapping of C++ exceptions to codes (usable on worker threads, where no
// Napi call is allowed), argument conversion and checkpoint path arguments.
#pragma once
#include <napi.h>

#include <exception>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "../safetensors/safetensors.h"

namespace cosmos::binding {

// A JS Error whose `code` says what went wrong (ARGUMENT, MODEL, CONFIG, SAFETENSORS_*, ...).
Napi::Error make_error(Napi::Env env, const std::string& code, const std::string& msg);

// (code, message) of a C++ exception: SAFETENSORS_*, MODEL, CONFIG, ABORTED, TENSOR_FREED, OUT_OF_MEMORY, JS, NATIVE.
// Plain data, so a worker thread can keep it until it is back on the JS thread.
std::pair<std::string, std::string> classify(const std::exception_ptr& ep);

// Wraps a binding function body so any C++ exception becomes a typed JS error, never a crash.
#define COSMOS_GUARD_BEGIN try {
#define COSMOS_GUARD_END(env)                                        \
  }                                                                  \
  catch (const Napi::Error&) {                                       \
    throw;                                                           \
  }                                                                  \
  catch (...) {                                                      \
    auto ce = ::cosmos::binding::classify(std::current_exception()); \
    throw ::cosmos::binding::make_error(env, ce.first, ce.second);   \
  }

// An Int32Array or an array of 32-bit integers; `what` names the argument in errors.
std::vector<int> to_ints(Napi::Env env, const Napi::Value& v, const char* what);
// A Float32Array, copied.
std::vector<float> to_floats(Napi::Env env, const Napi::Value& v, const char* what);
// A new Float32Array holding v.
Napi::Float32Array to_js(Napi::Env env, const std::vector<float>& v);

// Fields of a config object built by TypeScript (addon_types.ts); a missing or mistyped field is a
// CONFIG error "<where>.<key> must be ...". obj_int: an integer in [1, 2^30]; obj_num: a finite
// number > 0; obj_bool: a boolean.
int obj_int(Napi::Env env, const Napi::Object& o, const char* key, const char* where);
double obj_num(Napi::Env env, const Napi::Object& o, const char* key, const char* where);
bool obj_bool(Napi::Env env, const Napi::Object& o, const char* key, const char* where);

// A checkpoint argument: one path (file, index.json or directory), a list of .safetensors files, or
// { files: string[], renames: { stored name: model name } } (Checkpoint::open_files with renames: a
// checkpoint whose tensors the model knows under other names, as a Cosmos 3 checkpoint's und tower).
// Parsed on the JS thread; opened wherever the work runs (a worker, for the async loaders).
struct CheckpointPaths {
  std::string single;
  std::vector<std::string> files;
  std::map<std::string, std::string> renames;
  std::unique_ptr<Checkpoint> open() const {
    return single.empty() ? Checkpoint::open_files(files, renames) : Checkpoint::open(single);
  }
};
CheckpointPaths checkpoint_paths(Napi::Env env, const Napi::Value& v, const char* fn);

// Runs `load` on a libuv worker and settles the returned Promise with wrap(result), or rejects it with
// the typed error of whatever `load` threw. Used by every family's async loader.
template <class T>
Napi::Promise load_on_worker(Napi::Env env, const char* name, std::function<std::unique_ptr<T>()> load,
                             std::function<Napi::Value(Napi::Env, std::unique_ptr<T>)> wrap) {
  class Worker : public Napi::AsyncWorker {
   public:
    Worker(Napi::Env env, const char* name, std::function<std::unique_ptr<T>()> load,
           std::function<Napi::Value(Napi::Env, std::unique_ptr<T>)> wrap)
        : Napi::AsyncWorker(env, name),
          load_(std::move(load)),
          wrap_(std::move(wrap)),
          deferred_(Napi::Promise::Deferred::New(env)) {}
    Napi::Promise Promise() { return deferred_.Promise(); }
    void Execute() override {
      try {
        result_ = load_();
      } catch (...) {
        err_ = classify(std::current_exception());
        failed_ = true;
      }
    }
    void OnOK() override {
      Napi::Env env = Env();
      if (failed_)
        deferred_.Reject(make_error(env, err_.first, err_.second).Value());
      else
        deferred_.Resolve(wrap_(env, std::move(result_)));
    }
    void OnError(const Napi::Error& e) override { deferred_.Reject(e.Value()); }

   private:
    std::function<std::unique_ptr<T>()> load_;
    std::function<Napi::Value(Napi::Env, std::unique_ptr<T>)> wrap_;
    Napi::Promise::Deferred deferred_;
    std::unique_ptr<T> result_;
    bool failed_ = false;
    std::pair<std::string, std::string> err_;
  };
  auto* w = new Worker(env, name, std::move(load), std::move(wrap));
  Napi::Promise p = w->Promise();
  w->Queue();  // libuv owns and deletes the worker after OnOK / OnError
  return p;
}

}  // namespace cosmos::binding
