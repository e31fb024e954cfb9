// One block per row: the add and the sum of squares in one pass over the row, then the scaled write.
#ifndef COSMOS_CUDA
#define COSMOS_CUDA 1
#endif
#include "add_rmsnorm.h"

#include <cuda_fp8.h>

#include "../core/cuda_common.h"
#include "../core/cuda_pdl.cuh"
#include "../core/cuda_reduce.h"
#include "quantize_fp8.h"

namespace {
// One row's x += h, then 1 / rms(x): the part both kernels share (one loop, so the same bits in both).
__device__ __forceinline__ float add_row_inv_rms(float* xr, const float* hr, int dim, float eps, float* sh) {
  float ss = 0.f;
  for (int i = threadIdx.x; i < dim; i += blockDim.x) {
    const float v = xr[i] + hr[i];
    xr[i] = v;
    ss += v * v;
  }
  ss = cosmos::block_sum(ss, sh);  // its __syncthreads also orders the xr writes before the caller's reads
  return 1.0f / sqrtf(ss / (float)dim + eps);
}

__global__ void add_rmsnorm_kernel(float* out, float* x, const float* hres, const float* w, int dim, float eps) {
  __shared__ float sh[32];
  // PDL (core/cuda_pdl.cuh): the next kernel (a GEMV) may launch now and prefetch its weights while this
  // latency-bound row runs; nothing is read or written before the wait.
  cosmos::pdl_launch_dependents();
  cosmos::pdl_wait();
  float* xr = x + (long long)blockIdx.x * dim;
  const float* hr = hres + (long long)blockIdx.x * dim;
  float* o = out + (long long)blockIdx.x * dim;
  const float inv = add_row_inv_rms(xr, hr, dim, eps, sh);
  for (int i = threadIdx.x; i < dim; i += blockDim.x) o[i] = w[i] * (xr[i] * inv);
}

// add_rmsnorm_kernel's add, sum and normed values (the same code, so the same bits), then quantize_fp8_rows'
// absmax, scale and division; the normed row is recomputed from x (in L1) instead of stored.
__global__ void add_rmsnorm_fp8_kernel(uint8_t* q, float* scale, float* x, const float* hres, const float* w, int dim,
                                       float eps) {
  __shared__ float sh[32];
  float* xr = x + (long long)blockIdx.x * dim;
  const float* hr = hres + (long long)blockIdx.x * dim;
  uint8_t* qr = q + (long long)blockIdx.x * dim;
  const float inv = add_row_inv_rms(xr, hr, dim, eps, sh);
  float amax = 0.f;
  for (int i = threadIdx.x; i < dim; i += blockDim.x) amax = fmaxf(amax, fabsf(w[i] * (xr[i] * inv)));
  const float s = fp8_scale_for_absmax(cosmos::block_max(amax, sh));  // max is exact in any order
  if (threadIdx.x == 0) scale[blockIdx.x] = s;
  for (int i = threadIdx.x; i < dim; i += blockDim.x)
    qr[i] = (uint8_t)__nv_cvt_float_to_fp8(w[i] * (xr[i] * inv) / s, __NV_SATFINITE, __NV_E4M3);
}
}  // namespace

void add_rmsnorm_fp8_cuda(uint8_t* q, float* scale, float* x, const float* h, const float* w, int rows, int dim,
                          float eps, const cosmos::CudaContext& ctx) {
  if (rows <= 0 || dim <= 0) return;
  add_rmsnorm_fp8_kernel<<<rows, cosmos::row_threads(dim), 0, ctx.stream>>>(q, scale, x, h, w, dim, eps);
  CUDA_CHECK_LAUNCH();
}

void add_rmsnorm_cuda(float* out, float* x, const float* h, const float* w, int rows, int dim, float eps,
                      const cosmos::CudaContext& ctx) {
  if (rows <= 0 || dim <= 0) return;
  cosmos::launch_pdl(add_rmsnorm_kernel, dim3(rows), dim3(cosmos::row_threads(dim)), 0, ctx.stream, out, x, h, w, dim,
                     eps);
  CUDA_CHECK_LAUNCH();
}
