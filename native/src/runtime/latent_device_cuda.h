// The denoising loop's latents on the GPU: runtime::LatentDevice over a CudaContext {stream, pool}. Latents,
// velocities and the samplers' history are blocks of ctx.pool (counted in its in-use / peak figures, so in
// nativeMemory()), and every tensor update is an op on ctx.stream: copies, ops/lincomb, ops/set_rows,
// ops/fill_normal, each bitwise equal to CpuLatentDevice's CPU twin (fill_normal within 1e-6). Nothing here
// synchronises the stream except upload / download (their host arrays) and sync().
//
// Give it the transformer's context (Cosmos3TransformerCuda::ctx()): the loop's updates and the model's steps
// then share one stream and one pool, and forward_gen_device reads and writes these buffers in place. Before
// another stream reads them (the VAE's decode_device, which runs on its own), call sync().
// Include only in code built with COSMOS_CUDA.
#pragma once
#ifndef COSMOS_CUDA
#define COSMOS_CUDA 1
#endif
#include "../core/cuda_context.h"
#include "latent_device.h"

namespace cosmos::runtime {

class CudaLatentDevice final : public LatentDevice {
 public:
  // ctx.pool is required (the latents live there); ModelError otherwise.
  explicit CudaLatentDevice(const CudaContext& ctx);
  float* alloc(long long n) override;
  void release(float* p) override;
  void copy(float* dst, const float* src, long long n) override;
  void lincomb(float* out, const float* const* x, const float* c, int terms, long long n) override;
  void set_rows(float* dst, const float* src, const RowSpan& s) override;
  void fill_normal(float* dst, long long n, uint64_t seed) override;
  // Host <-> device; both return when the host array may be reused (upload) or read (download).
  void upload(float* dst, const float* host, long long n) override;
  void download(float* host, const float* src, long long n) override;
  // Waits for every update enqueued so far (before another stream reads the latents).
  void sync();
  const CudaContext& context() const { return ctx_; }

 private:
  CudaContext ctx_;
};

}  // namespace cosmos::runtime
