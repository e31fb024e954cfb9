#include "tensor.h"

#include <cstdlib>
#include <cstring>
#include <new>
#include <stdexcept>

#include "memory.h"

namespace cosmos {

size_t dtype_size(DType t) {
  switch (t) {
    case DType::F32:
      return 4;
    case DType::I32:
      return 4;
    case DType::BF16:
      return 2;
    case DType::F16:
      return 2;
  }
  return 0;
}

const char* dtype_name(DType t) {
  switch (t) {
    case DType::F32:
      return "f32";
    case DType::I32:
      return "i32";
    case DType::BF16:
      return "bf16";
    case DType::F16:
      return "f16";
  }
  return "?";
}

float bf16_to_f32(uint16_t v) {
  uint32_t u = (uint32_t)v << 16;
  float f;
  std::memcpy(&f, &u, 4);
  return f;
}

uint16_t f32_to_bf16(float f) {
  uint32_t u;
  std::memcpy(&u, &f, 4);
  if ((u & 0x7F800000u) == 0x7F800000u && (u & 0x007FFFFFu)) return (uint16_t)((u >> 16) | 0x40);  // quiet NaN
  u += 0x7FFFu + ((u >> 16) & 1u);
  return (uint16_t)(u >> 16);
}

float f16_to_f32(uint16_t h) {
  uint32_t sign = (uint32_t)(h & 0x8000) << 16;
  uint32_t exp = (h >> 10) & 0x1F, man = h & 0x3FF, u;
  if (exp == 0) {
    if (man == 0)
      u = sign;
    else {  // subnormal: normalise
      int e = -1;
      do {
        ++e;
        man <<= 1;
      } while (!(man & 0x400));
      u = sign | ((uint32_t)(127 - 15 - e) << 23) | ((man & 0x3FF) << 13);
    }
  } else if (exp == 31) {
    u = sign | 0x7F800000u | (man << 13);
  } else {
    u = sign | ((exp + 127 - 15) << 23) | (man << 13);
  }
  float f;
  std::memcpy(&f, &u, 4);
  return f;
}

Buffer::Buffer(size_t bytes, DeviceKind dev) : bytes_(bytes), dev_(dev) {
  if (dev != DeviceKind::CPU) throw std::runtime_error("Buffer: CUDA buffers are allocated by the CUDA backend");
  if (bytes == 0) return;
  // 64-byte alignment: whole cache lines, and safe for any SIMD the compiler picks.
  size_t rounded = (bytes + 63) / 64 * 64;
  ptr_ = std::aligned_alloc(64, rounded);
  if (!ptr_) throw std::bad_alloc();
  memory_track_alloc(dev_, bytes_);
}

Buffer::~Buffer() { reset(); }

void Buffer::reset() {
  if (ptr_) {
    std::free(ptr_);
    memory_track_free(dev_, bytes_);
  }
  ptr_ = nullptr;
  bytes_ = 0;
}

Buffer::Buffer(Buffer&& o) noexcept : ptr_(o.ptr_), bytes_(o.bytes_), dev_(o.dev_) {
  o.ptr_ = nullptr;
  o.bytes_ = 0;
}

Buffer& Buffer::operator=(Buffer&& o) noexcept {
  if (this != &o) {
    reset();
    ptr_ = o.ptr_;
    bytes_ = o.bytes_;
    dev_ = o.dev_;
    o.ptr_ = nullptr;
    o.bytes_ = 0;
  }
  return *this;
}

int64_t Tensor::numel() const {
  int64_t n = 1;
  for (auto s : shape) n *= s;
  return n;
}

std::vector<int64_t> Tensor::row_major(const std::vector<int64_t>& shape) {
  std::vector<int64_t> st(shape.size());
  int64_t s = 1;
  for (size_t i = shape.size(); i-- > 0;) {
    st[i] = s;
    s *= shape[i];
  }
  return st;
}

std::string Tensor::shape_str() const {
  std::string s = "[";
  for (size_t i = 0; i < shape.size(); ++i) s += (i ? ", " : "") + std::to_string(shape[i]);
  return s + "]";
}

OwnedTensor OwnedTensor::make(DType dt, std::vector<int64_t> shape, DeviceKind dev) {
  OwnedTensor o;
  o.t.dtype = dt;
  o.t.device = dev;
  o.t.shape = std::move(shape);
  o.t.strides = Tensor::row_major(o.t.shape);
  o.buf = Buffer(o.t.nbytes(), dev);
  o.t.data = o.buf.data();
  return o;
}

}  // namespace cosmos
