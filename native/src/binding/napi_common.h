// Helpers shared by the Node-API files (addon.cc: text decoder, vision.cc: vision tower): typed JS
// errors with a `code`, the mapping of C++ exceptions to codes (usable on worker threads, where no
// Napi call is allowed), argument conversion and checkpoint path arguments.
#pragma once
#include <napi.h>

#include <exception>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "../safetensors/safetensors.h"

namespace cosmos::binding {

// A JS Error whose `code` says what went wrong (ARGUMENT, MODEL, CONFIG, SAFETENSORS_*, ...).
Napi::Error make_error(Napi::Env env, const std::string& code, const std::string& msg);

// (code, message) of a C++ exception: SAFETENSORS_*, MODEL, CONFIG, ABORTED, OUT_OF_MEMORY, JS, NATIVE.
// Plain data, so a worker thread can keep it until it is back on the JS thread.
std::pair<std::string, std::string> classify(const std::exception_ptr& ep);

// Wraps a binding function body so any C++ exception becomes a typed JS error, never a crash.
#define COSMOS_GUARD_BEGIN try {
#define COSMOS_GUARD_END(env)                                     \
  }                                                               \
  catch (const Napi::Error&) {                                    \
    throw;                                                        \
  }                                                               \
  catch (...) {                                                   \
    auto ce = ::cosmos::binding::classify(std::current_exception()); \
    throw ::cosmos::binding::make_error(env, ce.first, ce.second);   \
  }

// An Int32Array or an array of 32-bit integers; `what` names the argument in errors.
std::vector<int> to_ints(Napi::Env env, const Napi::Value& v, const char* what);
// A Float32Array, copied.
std::vector<float> to_floats(Napi::Env env, const Napi::Value& v, const char* what);
// A new Float32Array holding v.
Napi::Float32Array to_js(Napi::Env env, const std::vector<float>& v);

// A checkpoint argument: one path (file, index.json or directory) or a list of .safetensors files.
// Parsed on the JS thread; opened wherever the work runs (a worker, for the async loaders).
struct CheckpointPaths {
  std::string single;
  std::vector<std::string> files;
  std::unique_ptr<Checkpoint> open() const { return single.empty() ? Checkpoint::open_files(files) : Checkpoint::open(single); }
};
CheckpointPaths checkpoint_paths(Napi::Env env, const Napi::Value& v, const char* fn);

}  // namespace cosmos::binding
