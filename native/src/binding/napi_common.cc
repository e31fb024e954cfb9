#include "napi_common.h"

#include <new>

#include "../core/errors.h"
#include "../core/json.h"
#include "../core/memory.h"
#include "tensor_object.h"

namespace cosmos::binding {

Napi::Error make_error(Napi::Env env, const std::string& code, const std::string& msg) {
  Napi::Error e = Napi::Error::New(env, msg);
  e.Set("code", Napi::String::New(env, code));
  return e;
}

std::pair<std::string, std::string> classify(const std::exception_ptr& ep) {
  try {
    std::rethrow_exception(ep);
  } catch (const SafetensorsError& e) {
    return {std::string("SAFETENSORS_") + st_err_code(e.code), e.what()};
  } catch (const ModelError& e) {
    return {"MODEL", e.what()};
  } catch (const JsonError& e) {
    return {"CONFIG", e.what()};
  } catch (const AbortedError& e) {
    return {"ABORTED", e.what()};
  } catch (const TensorFreedError& e) {
    return {"TENSOR_FREED", e.what()};
  } catch (const std::bad_alloc&) {
    return {"OUT_OF_MEMORY", "out of host memory"};
  } catch (const Napi::Error& e) {
    return {"JS", e.Message()};
  } catch (const std::exception& e) {
    // cuda_check's message names the CUDA error; a failed cudaMalloc is an out-of-memory condition.
    if (std::string(e.what()).find("cudaErrorMemoryAllocation") != std::string::npos)
      return {"OUT_OF_MEMORY", e.what()};
    return {"NATIVE", e.what()};
  } catch (...) {
    return {"NATIVE", "unknown native error"};
  }
}

std::vector<int> to_ints(Napi::Env env, const Napi::Value& v, const char* what) {
  std::vector<int> out;
  if (v.IsTypedArray() && v.As<Napi::TypedArray>().TypedArrayType() == napi_int32_array) {
    auto a = v.As<Napi::Int32Array>();
    out.assign(a.Data(), a.Data() + a.ElementLength());
  } else if (v.IsArray()) {
    auto a = v.As<Napi::Array>();
    for (uint32_t i = 0; i < a.Length(); ++i) {
      Napi::Value e = a.Get(i);
      if (!e.IsNumber())
        throw make_error(env, "ARGUMENT", std::string(what) + "[" + std::to_string(i) + "] is not a number");
      double d = e.As<Napi::Number>().DoubleValue();
      if (d != (double)(int)d)
        throw make_error(env, "ARGUMENT", std::string(what) + "[" + std::to_string(i) + "] is not a 32-bit integer");
      out.push_back((int)d);
    }
  } else {
    throw make_error(env, "ARGUMENT", std::string(what) + " must be an Int32Array or an array of integers");
  }
  return out;
}

std::vector<float> to_floats(Napi::Env env, const Napi::Value& v, const char* what) {
  if (!(v.IsTypedArray() && v.As<Napi::TypedArray>().TypedArrayType() == napi_float32_array))
    throw make_error(env, "ARGUMENT", std::string(what) + " must be a Float32Array");
  auto a = v.As<Napi::Float32Array>();
  return std::vector<float>(a.Data(), a.Data() + a.ElementLength());
}

Napi::Float32Array to_js(Napi::Env env, const std::vector<float>& v) {
  auto a = Napi::Float32Array::New(env, v.size());
  std::copy(v.begin(), v.end(), a.Data());
  return a;
}

int obj_int(Napi::Env env, const Napi::Object& o, const char* key, const char* where) {
  Napi::Value v = o.Get(key);
  double d = v.IsNumber() ? v.As<Napi::Number>().DoubleValue() : 0;
  if (!(d >= 1 && d <= (double)(1 << 30) && d == (double)(int)d))
    throw make_error(env, "CONFIG", std::string(where) + "." + key + " must be a positive integer");
  return (int)d;
}

double obj_num(Napi::Env env, const Napi::Object& o, const char* key, const char* where) {
  Napi::Value v = o.Get(key);
  double d = v.IsNumber() ? v.As<Napi::Number>().DoubleValue() : 0;
  if (!(d > 0 && d < 1e300))
    throw make_error(env, "CONFIG", std::string(where) + "." + key + " must be a positive number");
  return d;
}

bool obj_bool(Napi::Env env, const Napi::Object& o, const char* key, const char* where) {
  Napi::Value v = o.Get(key);
  if (!v.IsBoolean()) throw make_error(env, "CONFIG", std::string(where) + "." + key + " must be a boolean");
  return v.As<Napi::Boolean>().Value();
}

namespace {
std::vector<std::string> file_list(Napi::Env env, const Napi::Array& a, const char* fn) {
  std::vector<std::string> files;
  for (uint32_t i = 0; i < a.Length(); ++i) {
    if (!a.Get(i).IsString())
      throw make_error(env, "ARGUMENT", std::string(fn) + ": file list entries must be strings");
    files.push_back(a.Get(i).As<Napi::String>().Utf8Value());
  }
  if (files.empty()) throw make_error(env, "ARGUMENT", std::string(fn) + ": the file list is empty");
  return files;
}
}  // namespace

CheckpointPaths checkpoint_paths(Napi::Env env, const Napi::Value& v, const char* fn) {
  CheckpointPaths p;
  if (v.IsString()) {
    p.single = v.As<Napi::String>().Utf8Value();
  } else if (v.IsArray()) {
    p.files = file_list(env, v.As<Napi::Array>(), fn);
  } else if (v.IsObject() && v.As<Napi::Object>().Get("files").IsArray()) {
    Napi::Object o = v.As<Napi::Object>();
    p.files = file_list(env, o.Get("files").As<Napi::Array>(), fn);
    Napi::Value r = o.Get("renames");
    if (!r.IsObject() || r.IsArray())
      throw make_error(env, "ARGUMENT", std::string(fn) + ": renames must be an object { stored name: model name }");
    Napi::Object ro = r.As<Napi::Object>();
    Napi::Array keys = ro.GetPropertyNames();
    for (uint32_t i = 0; i < keys.Length(); ++i) {
      Napi::Value to = ro.Get(keys.Get(i));
      if (!to.IsString()) throw make_error(env, "ARGUMENT", std::string(fn) + ": renames values must be strings");
      p.renames[keys.Get(i).ToString().Utf8Value()] = to.As<Napi::String>().Utf8Value();
    }
    if (p.renames.empty()) throw make_error(env, "ARGUMENT", std::string(fn) + ": renames is empty");
  } else {
    throw make_error(
        env, "ARGUMENT",
        std::string(fn) + ": first argument must be a path, an array of .safetensors paths or { files, renames }");
  }
  return p;
}

}  // namespace cosmos::binding
