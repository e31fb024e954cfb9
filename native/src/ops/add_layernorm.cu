// One block per row: the add and the row sum in one pass over the row (x written back), then layernorm.cu's
// centred variance and the scaled write — the same two-pass statistics, so rows with a large mean keep their
// variance. The f32 and the bf16 forms are one template, so the bf16 form rounds the very values the f32 form
// writes.
#ifndef COSMOS_CUDA
#define COSMOS_CUDA 1
#endif
#include "add_layernorm.h"

#include "../core/cuda_common.h"
#include "../core/cuda_reduce.h"

namespace {
__device__ __forceinline__ void store(float* o, float v) { *o = v; }
__device__ __forceinline__ void store(__nv_bfloat16* o, float v) { *o = __float2bfloat16_rn(v); }

template <class Out>
__global__ void add_layernorm_kernel(Out* out, float* x, const float* hres, const float* w, const float* b, int dim,
                                     float eps) {
  __shared__ float sh[32];
  float* xr = x + (long long)blockIdx.x * dim;
  const float* hr = hres + (long long)blockIdx.x * dim;
  Out* o = out + (long long)blockIdx.x * dim;
  float s = 0.f;
  for (int i = threadIdx.x; i < dim; i += blockDim.x) {
    const float v = xr[i] + hr[i];
    xr[i] = v;
    s += v;
  }
  const float mean = cosmos::block_sum(s, sh) / (float)dim;  // its __syncthreads orders the xr writes before reads
  float v = 0.f;
  for (int i = threadIdx.x; i < dim; i += blockDim.x) {
    const float d = xr[i] - mean;
    v += d * d;
  }
  const float var = cosmos::block_sum(v, sh) / (float)dim;
  const float inv = 1.0f / sqrtf(var + eps);
  for (int i = threadIdx.x; i < dim; i += blockDim.x) {
    const float y = (xr[i] - mean) * inv;
    store(o + i, (w ? y * w[i] : y) + (b ? b[i] : 0.f));
  }
}
}  // namespace

void add_layernorm_cuda(float* out, float* x, const float* h, const float* w, const float* b, int rows, int dim,
                        float eps, const cosmos::CudaContext& ctx) {
  if (rows <= 0 || dim <= 0) return;
  add_layernorm_kernel<<<rows, cosmos::row_threads(dim), 0, ctx.stream>>>(out, x, h, w, b, dim, eps);
  CUDA_CHECK_LAUNCH();
}

void add_layernorm_bf16_cuda(__nv_bfloat16* out, float* x, const float* h, const float* w, const float* b, int rows,
                             int dim, float eps, const cosmos::CudaContext& ctx) {
  if (rows <= 0 || dim <= 0) return;
  add_layernorm_kernel<<<rows, cosmos::row_threads(dim), 0, ctx.stream>>>(out, x, h, w, b, dim, eps);
  CUDA_CHECK_LAUNCH();
}
