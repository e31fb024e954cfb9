// Plain tensor/buffer structs. A Buffer owns bytes (host memory here; CUDA buffers are allocated by the
// CUDA side through the same accounting). A Tensor is a view: dtype + shape + row-major strides + pointer.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace cosmos {

enum class DType { F32, BF16, F16, I32 };
enum class DeviceKind { CPU, CUDA };

size_t dtype_size(DType t);
const char* dtype_name(DType t);

// bf16/f16 -> f32 (exact: every bf16/f16 value is representable in f32).
float bf16_to_f32(uint16_t v);
float f16_to_f32(uint16_t v);
uint16_t f32_to_bf16(float v);  // round to nearest even, NaN kept NaN

// Owns an allocation and reports it to the memory accounting (memory.h). Move-only.
class Buffer {
 public:
  Buffer() = default;
  explicit Buffer(size_t bytes, DeviceKind dev = DeviceKind::CPU);
  ~Buffer();
  Buffer(Buffer&& o) noexcept;
  Buffer& operator=(Buffer&& o) noexcept;
  Buffer(const Buffer&) = delete;
  Buffer& operator=(const Buffer&) = delete;

  void* data() const { return ptr_; }
  size_t bytes() const { return bytes_; }
  DeviceKind device() const { return dev_; }
  void reset();  // frees now

 private:
  void* ptr_ = nullptr;
  size_t bytes_ = 0;
  DeviceKind dev_ = DeviceKind::CPU;
};

struct Tensor {
  DType dtype = DType::F32;
  DeviceKind device = DeviceKind::CPU;
  std::vector<int64_t> shape;
  std::vector<int64_t> strides;  // in elements, row-major unless a view says otherwise
  void* data = nullptr;

  int64_t numel() const;
  size_t nbytes() const { return (size_t)numel() * dtype_size(dtype); }
  static std::vector<int64_t> row_major(const std::vector<int64_t>& shape);
  std::string shape_str() const;
};

// A tensor together with its storage.
struct OwnedTensor {
  Buffer buf;
  Tensor t;
  static OwnedTensor make(DType dt, std::vector<int64_t> shape, DeviceKind dev = DeviceKind::CPU);
  float* f32() const { return static_cast<float*>(t.data); }
};

}  // namespace cosmos
