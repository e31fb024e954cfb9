#include "latent_device_cuda.h"

#include "../core/cuda_common.h"
#include "../core/errors.h"
#include "../ops/fill_normal.h"
#include "../ops/lincomb.h"
#include "../ops/set_rows.h"

namespace cosmos::runtime {

CudaLatentDevice::CudaLatentDevice(const CudaContext& ctx) : ctx_(ctx) {
  if (!ctx.pool) throw ModelError("latents: the CUDA context has no pool to hold them");
}

float* CudaLatentDevice::alloc(long long n) {
  if (n < 0) throw ModelError("latents: a negative element count");
  return static_cast<float*>(ctx_.pool->alloc((size_t)n * sizeof(float)));
}

void CudaLatentDevice::release(float* p) { ctx_.pool->free(p); }

void CudaLatentDevice::copy(float* dst, const float* src, long long n) {
  if (dst != src && n > 0)
    CUDA_CHECK(cudaMemcpyAsync(dst, src, (size_t)n * sizeof(float), cudaMemcpyDeviceToDevice, ctx_.stream));
}

void CudaLatentDevice::lincomb(float* out, const float* const* x, const float* c, int terms, long long n) {
  lincomb_cuda(out, x, c, terms, n, ctx_);
}

void CudaLatentDevice::set_rows(float* dst, const float* src, const RowSpan& s) {
  set_rows_cuda(dst, src, s.outer, s.rows, s.inner, s.r0, s.r1, ctx_);
}

void CudaLatentDevice::fill_normal(float* dst, long long n, uint64_t seed) {
  fill_normal_cuda(dst, n, seed, 0.f, 1.f, ctx_);
}

void CudaLatentDevice::upload(float* dst, const float* host, long long n) {
  if (n <= 0) return;
  CUDA_CHECK(cudaMemcpyAsync(dst, host, (size_t)n * sizeof(float), cudaMemcpyHostToDevice, ctx_.stream));
  CUDA_CHECK(cudaStreamSynchronize(ctx_.stream));  // the host array may go away after the call
}

void CudaLatentDevice::download(float* host, const float* src, long long n) {
  if (n <= 0) return;
  CUDA_CHECK(cudaMemcpyAsync(host, src, (size_t)n * sizeof(float), cudaMemcpyDeviceToHost, ctx_.stream));
  CUDA_CHECK(cudaStreamSynchronize(ctx_.stream));
}

void CudaLatentDevice::sync() { CUDA_CHECK(cudaStreamSynchronize(ctx_.stream)); }

}  // namespace cosmos::runtime
