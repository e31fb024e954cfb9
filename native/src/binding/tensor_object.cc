#include "tensor_object.h"

#include <algorithm>
#include <cstring>
#include <stdexcept>
#include <string>
#include <utility>

#include "../core/errors.h"
#include "../core/memory.h"
#include "napi_common.h"
#ifdef COSMOS_CUDA
#include "../core/cuda_common.h"
#include "../core/cuda_pool.h"
#endif

namespace cosmos::binding {

// ------------------------------------------------------------------------------ TensorStorage

std::shared_ptr<TensorStorage> TensorStorage::host(std::vector<float> values, std::vector<int64_t> shape) {
  std::shared_ptr<TensorStorage> s(new TensorStorage());
  s->shape_ = std::move(shape);
  if ((size_t)s->numel() != values.size()) throw std::logic_error("TensorStorage::host: shape and values disagree");
  s->host_ = std::move(values);
  s->data_ = s->host_.data();
  memory_track_alloc(DeviceKind::CPU, s->bytes());
  return s;
}

std::shared_ptr<TensorStorage> TensorStorage::device(CudaPool* pool, std::vector<int64_t> shape) {
#ifdef COSMOS_CUDA
  std::shared_ptr<TensorStorage> s(new TensorStorage());
  s->device_ = DeviceKind::CUDA;
  s->shape_ = std::move(shape);
  s->pool_ = pool;
  s->data_ = static_cast<float*>(pool->alloc(std::max<size_t>(s->bytes(), 1)));
  return s;
#else
  (void)pool;
  (void)shape;
  throw std::logic_error("TensorStorage::device: this build has no CUDA");
#endif
}

TensorStorage::~TensorStorage() { release(); }

int64_t TensorStorage::numel() const {
  int64_t n = 1;
  for (int64_t d : shape_) n *= d;
  return n;
}

bool TensorStorage::released() const {
  std::lock_guard<std::mutex> l(mu_);
  return data_ == nullptr;
}

void TensorStorage::copy_to_host(float* dst) const {
  if (!data_) throw TensorFreedError("the tensor was released");
  if (device_ == DeviceKind::CPU) {
    std::memcpy(dst, data_, bytes());
    return;
  }
#ifdef COSMOS_CUDA
  // The producer synchronised its stream before handing the tensor out, so a plain copy is ordered.
  CUDA_CHECK(cudaMemcpy(dst, data_, bytes(), cudaMemcpyDeviceToHost));
#endif
}

void TensorStorage::release() {
  int64_t give_back = 0;
  napi_env env = nullptr;
  {
    std::lock_guard<std::mutex> l(mu_);
    if (!data_) return;
    if (device_ == DeviceKind::CPU) {
      memory_track_free(DeviceKind::CPU, bytes());
      std::vector<float>().swap(host_);
    }
#ifdef COSMOS_CUDA
    else if (pool_) {
      pool_->free(data_);
    }
#endif
    data_ = nullptr;
    give_back = reported_;
    env = env_;
    reported_ = 0;
  }
  int64_t total = 0;  // Node-API wants somewhere to put the new total
  if (give_back > 0 && env) napi_adjust_external_memory(env, -give_back, &total);
}

void TensorStorage::report_to_v8(napi_env env) {
  std::lock_guard<std::mutex> l(mu_);
  if (!data_ || reported_ > 0) return;
  env_ = env;
  reported_ = (int64_t)bytes();
  int64_t total = 0;
  napi_adjust_external_memory(env, reported_, &total);
}

// ----------------------------------------------------------------------------- TensorRegistry

std::shared_ptr<TensorStorage> TensorRegistry::add(std::shared_ptr<TensorStorage> s) {
  std::lock_guard<std::mutex> l(mu_);
  // Forget the handles that went on their own, so a long-lived model does not accumulate them.
  live_.erase(
      std::remove_if(live_.begin(), live_.end(), [](const std::weak_ptr<TensorStorage>& w) { return w.expired(); }),
      live_.end());
  live_.push_back(s);
  return s;
}

void TensorRegistry::release_all() {
  std::vector<std::weak_ptr<TensorStorage>> all;
  {
    std::lock_guard<std::mutex> l(mu_);
    all.swap(live_);
  }
  for (auto& w : all)
    if (auto s = w.lock()) s->release();
}

// ---------------------------------------------------------------------------- TensorReadLock

TensorReadLock::TensorReadLock(const std::vector<std::shared_ptr<TensorStorage>>& tensors) {
  // One order for everyone (by address), so two runs locking the same tensors cannot deadlock.
  std::vector<TensorStorage*> order;
  for (auto& t : tensors)
    if (t) order.push_back(t.get());
  std::sort(order.begin(), order.end());
  order.erase(std::unique(order.begin(), order.end()), order.end());
  for (TensorStorage* t : order) {
    locks_.emplace_back(t->mutex());
    if (!t->data()) throw TensorFreedError("an input tensor was disposed (or its model freed) before the run read it");
  }
}

// ------------------------------------------------------------------------------ TensorObject

Napi::Function TensorObject::Init(Napi::Env env) {
  Napi::Function f =
      DefineClass(env, "NativeTensor",
                  {InstanceAccessor("shape", &TensorObject::Shape, nullptr),
                   InstanceAccessor("dtype", &TensorObject::Dtype, nullptr),
                   InstanceAccessor("device", &TensorObject::Device, nullptr),
                   InstanceAccessor("bytes", &TensorObject::Bytes, nullptr),
                   InstanceAccessor("disposed", &TensorObject::Disposed, nullptr),
                   InstanceMethod("toHost", &TensorObject::ToHost), InstanceMethod("dispose", &TensorObject::Dispose)});
  ctor(env) = Napi::Persistent(f);
  return f;
}

TensorObject::TensorObject(const Napi::CallbackInfo& info) : Napi::ObjectWrap<TensorObject>(info) {}

// Garbage collected: the bytes go now (the owner's registry only holds a weak reference).
TensorObject::~TensorObject() {
  if (s_) s_->release();
}

Napi::Object TensorObject::wrap(Napi::Env env, std::shared_ptr<TensorStorage> s, Napi::Object owner) {
  Napi::Object obj = ctor(env).New({});
  TensorObject* self = Unwrap(obj);
  s->report_to_v8(env);
  self->s_ = std::move(s);
  self->owner_ = Napi::Persistent(owner);
  return obj;
}

bool TensorObject::is_tensor(const Napi::Value& v) {
  return v.IsObject() && v.As<Napi::Object>().InstanceOf(ctor(v.Env()).Value());
}

std::shared_ptr<TensorStorage> TensorObject::storage_of(Napi::Env env, const Napi::Value& v, const char* what) {
  if (!is_tensor(v)) throw make_error(env, "ARGUMENT", std::string(what) + " must be a NativeTensor");
  TensorObject* t = Unwrap(v.As<Napi::Object>());
  if (!t->s_ || t->s_->released())
    throw make_error(env, "TENSOR_FREED",
                     std::string(what) + " was disposed, or the model that made it was freed (its session closed)");
  return t->s_;
}

Napi::Value TensorObject::Shape(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const auto& sh = s_->shape();
  Napi::Array a = Napi::Array::New(env, sh.size());
  for (uint32_t i = 0; i < sh.size(); ++i) a.Set(i, Napi::Number::New(env, (double)sh[i]));
  return a;
}

Napi::Value TensorObject::Dtype(const Napi::CallbackInfo& info) {
  return Napi::String::New(info.Env(), dtype_name(s_->dtype()));
}

Napi::Value TensorObject::Device(const Napi::CallbackInfo& info) {
  return Napi::String::New(info.Env(), s_->device() == DeviceKind::CUDA ? "cuda" : "cpu");
}

Napi::Value TensorObject::Bytes(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), (double)s_->bytes());
}

Napi::Value TensorObject::Disposed(const Napi::CallbackInfo& info) {
  return Napi::Boolean::New(info.Env(), s_->released());
}

Napi::Value TensorObject::Dispose(const Napi::CallbackInfo& info) {
  s_->release();
  owner_.Reset();  // the owner may be collected now
  return info.Env().Undefined();
}

namespace {
// toHost() on a libuv worker: the copy (a device-to-host transfer on the GPU backend) leaves the JS
// thread free. The Float32Array is made first, on the JS thread, and held by reference while the
// worker fills it (one copy, straight into JS memory); the storage is locked while it is read.
class ToHostWorker : public Napi::AsyncWorker {
 public:
  ToHostWorker(Napi::Env env, std::shared_ptr<TensorStorage> s)
      : Napi::AsyncWorker(env, "cosmos.tensor.toHost"), s_(std::move(s)), deferred_(Napi::Promise::Deferred::New(env)) {
    Napi::Float32Array out = Napi::Float32Array::New(env, (size_t)s_->numel());
    dst_ = out.Data();
    out_ = Napi::Persistent(out);
  }
  Napi::Promise Promise() { return deferred_.Promise(); }
  void Execute() override {
    try {
      TensorReadLock lock({s_});
      s_->copy_to_host(dst_);
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
      deferred_.Resolve(out_.Value());
    out_.Reset();
  }
  void OnError(const Napi::Error& e) override {
    deferred_.Reject(e.Value());
    out_.Reset();
  }

 private:
  std::shared_ptr<TensorStorage> s_;
  Napi::Promise::Deferred deferred_;
  Napi::Reference<Napi::Float32Array> out_;
  float* dst_ = nullptr;
  bool failed_ = false;
  std::pair<std::string, std::string> err_;
};
}  // namespace

// Rejects (never throws) when the tensor was released, as every other failure of the copy does.
Napi::Value TensorObject::ToHost(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!s_ || s_->released()) {
    auto d = Napi::Promise::Deferred::New(env);
    d.Reject(make_error(env, "TENSOR_FREED",
                        "this tensor was disposed, or the model that made it was freed (its session closed)")
                 .Value());
    return d.Promise();
  }
  auto* w = new ToHostWorker(env, s_);
  Napi::Promise p = w->Promise();
  w->Queue();
  return p;
}

}  // namespace cosmos::binding

// Called from addon.cc's Init.
void register_tensor(Napi::Env env, Napi::Object exports) {
  exports.Set("NativeTensor", cosmos::binding::TensorObject::Init(env));
}
