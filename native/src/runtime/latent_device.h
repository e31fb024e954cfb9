// Where a denoising run's latents live, and the few things the flow samplers do to them: allocate, copy,
// linear combinations (ops/lincomb) and row masks (ops/set_rows). The samplers and the loop work out
// every scalar on the host and hand the tensor work to this interface, so on the GPU the latents, the
// velocities and the samplers' history never leave the device.
//  * CpuLatentDevice: host memory, the CPU twins (C++ tests, the CPU backend).
//  * CudaLatentDevice (latent_device_cuda.h, COSMOS_CUDA builds): the pool's memory, the CUDA ops on the
//    context's stream.
#pragma once
#include <cstdint>
#include <cstring>
#include <vector>

#include "../core/errors.h"
#include "../ops/fill_normal.h"
#include "../ops/lincomb.h"
#include "../ops/set_rows.h"

namespace cosmos::runtime {

// A latent tensor seen as [outer, rows, inner] and the rows [r0, r1) of every outer block (set_rows).
struct RowSpan {
  long long outer = 1, rows = 1, inner = 1, r0 = 0, r1 = 0;
};

class LatentDevice {
 public:
  virtual ~LatentDevice() = default;
  virtual float* alloc(long long n) = 0;  // n floats, uninitialised
  virtual void release(float* p) = 0;
  virtual void copy(float* dst, const float* src, long long n) = 0;
  virtual void lincomb(float* out, const float* const* x, const float* c, int terms, long long n) = 0;
  virtual void set_rows(float* dst, const float* src, const RowSpan& s) = 0;  // src nullptr: zeros
  // Standard normal values from the counter-based generator of ops/fill_normal: for a seed, the same numbers
  // on the CPU and the GPU (not torch's). The stochastic Euler step's noise; a device without it refuses.
  virtual void fill_normal(float* dst, long long n, uint64_t seed) {
    (void)dst, (void)n, (void)seed;
    throw ModelError("latents: this device has no noise generator (fill_normal)");
  }
  // Host <-> device, for the callers' inputs and outputs (the loop itself never calls them).
  virtual void upload(float* dst, const float* host, long long n) = 0;
  virtual void download(float* host, const float* src, long long n) = 0;
};

// n floats on a LatentDevice, freed with it (move-only).
class LatentBuffer {
 public:
  LatentBuffer() = default;
  LatentBuffer(LatentDevice& d, long long n) : dev_(&d), p_(n > 0 ? d.alloc(n) : nullptr), n_(n) {}
  ~LatentBuffer() { reset(); }
  LatentBuffer(LatentBuffer&& o) noexcept : dev_(o.dev_), p_(o.p_), n_(o.n_) { o.p_ = nullptr, o.n_ = 0; }
  LatentBuffer& operator=(LatentBuffer&& o) noexcept {
    if (this != &o) reset(), dev_ = o.dev_, p_ = o.p_, n_ = o.n_, o.p_ = nullptr, o.n_ = 0;
    return *this;
  }
  LatentBuffer(const LatentBuffer&) = delete;
  LatentBuffer& operator=(const LatentBuffer&) = delete;
  void reset() {
    if (p_ && dev_) dev_->release(p_);
    p_ = nullptr, n_ = 0;
  }
  float* get() const { return p_; }
  long long size() const { return n_; }

 private:
  LatentDevice* dev_ = nullptr;
  float* p_ = nullptr;
  long long n_ = 0;
};

class CpuLatentDevice final : public LatentDevice {
 public:
  float* alloc(long long n) override { return new float[(size_t)n]; }
  void release(float* p) override { delete[] p; }
  void copy(float* dst, const float* src, long long n) override {
    if (dst != src) std::memmove(dst, src, (size_t)n * sizeof(float));
  }
  void lincomb(float* out, const float* const* x, const float* c, int terms, long long n) override {
    lincomb_cpu(out, x, c, terms, n);
  }
  void set_rows(float* dst, const float* src, const RowSpan& s) override {
    set_rows_cpu(dst, src, s.outer, s.rows, s.inner, s.r0, s.r1);
  }
  void fill_normal(float* dst, long long n, uint64_t seed) override { fill_normal_cpu(dst, n, seed, 0.f, 1.f); }
  void upload(float* dst, const float* host, long long n) override { copy(dst, host, n); }
  void download(float* host, const float* src, long long n) override { copy(host, src, n); }
};

}  // namespace cosmos::runtime
