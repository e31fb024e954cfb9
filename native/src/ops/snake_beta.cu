#ifndef COSMOS_CUDA
#define COSMOS_CUDA 1
#endif
#include "snake_beta.h"

#include "../core/cuda_common.h"

namespace {
__global__ void snake_beta_kernel(float* out, const float* x, const float* log_alpha, const float* log_beta,
                                  long long n, int c) {
  for (long long e = blockIdx.x * (long long)blockDim.x + threadIdx.x; e < n; e += (long long)gridDim.x * blockDim.x) {
    const int ch = (int)(e % c);
    const float alpha = expf(log_alpha[ch]), inv_beta = 1.f / (expf(log_beta[ch]) + 1e-9f);
    const float s = sinf(alpha * x[e]);
    out[e] = x[e] + inv_beta * (s * s);
  }
}
}  // namespace

void snake_beta_cuda(float* out, const float* x, const float* log_alpha, const float* log_beta, long long rows, int c,
                     const cosmos::CudaContext& ctx) {
  const long long n = rows * c;
  if (n <= 0) return;
  snake_beta_kernel<<<cosmos::elementwise_blocks(n), 256, 0, ctx.stream>>>(out, x, log_alpha, log_beta, n, c);
  CUDA_CHECK_LAUNCH();
}
