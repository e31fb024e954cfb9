// Tensors the engine keeps and JS holds by handle (the JS class NativeTensor): one model's output
// stays where it was computed (host memory on the CPU backend, a block of the model's CUDA pool on the
// GPU backend) and goes into the next model as it is — the vision tower's embeddings and deepstack
// features into the decoder's prefill today, the Generator's latents into the VAE later. JS sees the
// numbers only when it asks (toHost()). Nothing here knows a model family.
//
//   tensor.shape -> number[]     tensor.dtype -> "f32"     tensor.device -> "cpu" | "cuda"
//   tensor.bytes -> number       tensor.disposed -> boolean (disposed, or its owner model freed)
//   tensor.toHost() -> Promise<Float32Array>   (the copy runs on a libuv worker)
//   tensor.dispose()                           (frees the bytes now; idempotent)
//
// Lifetime. A TensorStorage holds the bytes; the handle, and any run reading it, hold it by shared_ptr.
// The model engine that made it keeps a TensorRegistry and calls release_all() before its pool goes
// (free(), close of the session, garbage collection), so a handle that outlives its model reads as
// released — a TENSOR_FREED error — never as freed memory. The handle keeps its owner's JS object
// reachable, so garbage collection cannot free the model under a live handle. A reader (toHost, a
// decoder's prefill) holds the storage's mutex while it reads; release takes it too, so a free() on
// the JS thread waits for a copy in flight instead of pulling the memory from under it.
//
// Memory: host bytes count in memory() (host.bytesInUse), pool blocks in their pool's figures; both are
// reported to V8 as external memory while the handle has them (as model objects report their weights).
#pragma once
#include <napi.h>

#include <cstdint>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <vector>

#include "../core/tensor.h"
#include "addon_data.h"

namespace cosmos {
class CudaPool;
}

namespace cosmos::binding {

// A tensor handle whose memory is gone: disposed, or the model that made it was freed (code TENSOR_FREED).
struct TensorFreedError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// The bytes of one f32 tensor: a host vector (CPU) or a block of a CUDA model's pool.
class TensorStorage {
 public:
  // Takes the vector (no copy); its bytes are counted as host memory until released.
  static std::shared_ptr<TensorStorage> host(std::vector<float> values, std::vector<int64_t> shape);
  // A block of `pool` for a tensor of `shape` (COSMOS_CUDA builds; elsewhere it throws). The block goes
  // back to the pool on release; the pool must outlive the storage or release_all() it first.
  static std::shared_ptr<TensorStorage> device(CudaPool* pool, std::vector<int64_t> shape);
  ~TensorStorage();
  TensorStorage(const TensorStorage&) = delete;
  TensorStorage& operator=(const TensorStorage&) = delete;

  DType dtype() const { return DType::F32; }
  DeviceKind device() const { return device_; }
  const std::vector<int64_t>& shape() const { return shape_; }
  int64_t numel() const;
  size_t bytes() const { return (size_t)numel() * sizeof(float); }

  // Readers lock this while they use data(); release() takes it too.
  std::mutex& mutex() const { return mu_; }
  // Under mutex(): the values (host or device memory, as device() says); null once released.
  float* data() const { return data_; }
  bool released() const;
  // Under mutex(), not released: copies every value to dst (host memory).
  void copy_to_host(float* dst) const;
  // Frees the bytes now (idempotent; takes the mutex). JS thread only: it adjusts V8's count.
  void release();
  // From the JS thread: bytes now reported to V8 as external memory (release() takes them back).
  void report_to_v8(napi_env env);

 private:
  TensorStorage() = default;
  mutable std::mutex mu_;
  DeviceKind device_ = DeviceKind::CPU;
  std::vector<int64_t> shape_;
  std::vector<float> host_;
  CudaPool* pool_ = nullptr;
  float* data_ = nullptr;
  napi_env env_ = nullptr;
  int64_t reported_ = 0;
};

// The tensors one model engine handed out. release_all() frees those still alive: an engine calls it
// before its pool is destroyed (the registry's destructor calls it too, for host tensors).
class TensorRegistry {
 public:
  ~TensorRegistry() { release_all(); }
  // Remembers `s` and returns it.
  std::shared_ptr<TensorStorage> add(std::shared_ptr<TensorStorage> s);
  void release_all();

 private:
  std::mutex mu_;
  std::vector<std::weak_ptr<TensorStorage>> live_;
};

// The JS class NativeTensor over one TensorStorage.
class TensorObject : public Napi::ObjectWrap<TensorObject> {
 public:
  // This environment's NativeTensor constructor (addon_data.h), set by Init.
  static Napi::FunctionReference& ctor(Napi::Env env) { return addon_data(env).tensor_ctor; }
  static Napi::Function Init(Napi::Env env);
  // A new NativeTensor over `s` that keeps `owner` (the model object that made it) reachable.
  static Napi::Object wrap(Napi::Env env, std::shared_ptr<TensorStorage> s, Napi::Object owner);
  // Whether v is a NativeTensor.
  static bool is_tensor(const Napi::Value& v);
  // The storage behind a NativeTensor argument; a TENSOR_FREED error when it was released, ARGUMENT
  // when v is not a NativeTensor. `what` names the argument.
  static std::shared_ptr<TensorStorage> storage_of(Napi::Env env, const Napi::Value& v, const char* what);

  explicit TensorObject(const Napi::CallbackInfo& info);
  ~TensorObject() override;

 private:
  std::shared_ptr<TensorStorage> s_;
  Napi::ObjectReference owner_;

  Napi::Value Shape(const Napi::CallbackInfo& info);
  Napi::Value Dtype(const Napi::CallbackInfo& info);
  Napi::Value Device(const Napi::CallbackInfo& info);
  Napi::Value Bytes(const Napi::CallbackInfo& info);
  Napi::Value Disposed(const Napi::CallbackInfo& info);
  Napi::Value ToHost(const Napi::CallbackInfo& info);
  Napi::Value Dispose(const Napi::CallbackInfo& info);
};

// Locks every storage of a run's inputs for as long as it lives (the run reads them); throws
// TensorFreedError when one was released since the call was made.
class TensorReadLock {
 public:
  explicit TensorReadLock(const std::vector<std::shared_ptr<TensorStorage>>& tensors);

 private:
  std::vector<std::unique_lock<std::mutex>> locks_;
};

}  // namespace cosmos::binding
