#ifndef COSMOS_CUDA
#define COSMOS_CUDA 1
#endif
#include "silu.h"

#include "../core/cuda_common.h"

namespace {
__global__ void silu_kernel(float* x, long long n) {
  for (long long e = blockIdx.x * (long long)blockDim.x + threadIdx.x; e < n; e += (long long)gridDim.x * blockDim.x)
    x[e] = x[e] / (1.f + expf(-x[e]));
}
}  // namespace

void silu_cuda(float* x, long long n, const cosmos::CudaContext& ctx) {
  if (n <= 0) return;
  silu_kernel<<<cosmos::elementwise_blocks(n), 256, 0, ctx.stream>>>(x, n);
  CUDA_CHECK_LAUNCH();
}
