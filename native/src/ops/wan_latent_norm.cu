// The pipeline's latent normalisation, one thread per element, the CPU twin's arithmetic.
#ifndef COSMOS_CUDA
#define COSMOS_CUDA 1
#endif
#include "../core/cuda_common.h"
#include "wan_latent_norm.h"

namespace {
__global__ void latent_norm_kernel(float* x, int c, const float* mean, const float* std, bool inverse, long long n) {
  for (long long e = blockIdx.x * (long long)blockDim.x + threadIdx.x; e < n; e += (long long)gridDim.x * blockDim.x) {
    const int i = (int)(e % c);
    const float inv_std = 1.0f / std[i];
    x[e] = inverse ? x[e] / inv_std + mean[i] : (x[e] - mean[i]) * inv_std;
  }
}
}  // namespace

void wan_latent_norm_cuda(float* x, long long rows, int c, const float* mean, const float* std, bool inverse,
                          const cosmos::CudaContext& ctx) {
  const long long n = rows * c;
  if (n <= 0) return;
  latent_norm_kernel<<<cosmos::elementwise_blocks(n), 256, 0, ctx.stream>>>(x, c, mean, std, inverse, n);
  CUDA_CHECK_LAUNCH();
}
