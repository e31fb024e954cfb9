// Wan's channel RMS_norm (+ SiLU), one block per row (pixel); the sum of squares tree-reduced in f32.
#ifndef COSMOS_CUDA
#define COSMOS_CUDA 1
#endif
#include <algorithm>

#include "../core/cuda_common.h"
#include "../core/cuda_reduce.h"
#include "wan_rmsnorm.h"

namespace {
__global__ void wan_rmsnorm_kernel(float* out, const float* x, const float* g, int dim, float scale, bool silu) {
  __shared__ float sh[32];
  const float* xr = x + (long long)blockIdx.x * dim;
  float* o = out + (long long)blockIdx.x * dim;
  float ss = 0.f;
  for (int i = threadIdx.x; i < dim; i += blockDim.x) ss += xr[i] * xr[i];
  ss = cosmos::block_sum(ss, sh);
  const float denom = fmaxf(sqrtf(ss), 1e-12f);
  for (int i = threadIdx.x; i < dim; i += blockDim.x) {
    const float v = xr[i] / denom * scale * g[i];
    o[i] = silu ? v / (1.f + expf(-v)) : v;
  }
}
}  // namespace

void wan_rmsnorm_cuda(float* out, const float* x, const float* gamma, long long rows, int dim, bool silu,
                      const cosmos::CudaContext& ctx) {
  if (rows <= 0 || dim <= 0) return;
  const float scale = sqrtf((float)dim);
  for (long long r0 = 0; r0 < rows; r0 += 0x7fffffffll) {
    const long long n = std::min(rows - r0, 0x7fffffffll);
    wan_rmsnorm_kernel<<<(unsigned)n, cosmos::row_threads(dim), 0, ctx.stream>>>(out + r0 * dim, x + r0 * dim, gamma,
                                                                                 dim, scale, silu);
    CUDA_CHECK_LAUNCH();
  }
}
