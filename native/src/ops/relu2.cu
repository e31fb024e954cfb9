#ifndef COSMOS_CUDA
#define COSMOS_CUDA 1
#endif
#include "relu2.h"

#include "../core/cuda_common.h"

namespace {
__global__ void relu2_kernel(float* x, long long n) {
  for (long long e = blockIdx.x * (long long)blockDim.x + threadIdx.x; e < n; e += (long long)gridDim.x * blockDim.x) {
    const float r = x[e] > 0.f ? x[e] : 0.f;
    x[e] = r * r;
  }
}
}  // namespace

void relu2_cuda(float* x, long long n, const cosmos::CudaContext& ctx) {
  if (n <= 0) return;
  relu2_kernel<<<cosmos::elementwise_blocks(n), 256, 0, ctx.stream>>>(x, n);
  CUDA_CHECK_LAUNCH();
}
