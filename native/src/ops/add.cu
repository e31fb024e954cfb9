// Elementwise add (residual stream). Grid-stride so any n fits one launch; out may alias a.
#ifndef COSMOS_CUDA
#define COSMOS_CUDA 1
#endif
#include "add.h"

#include "../core/cuda_common.h"

namespace {
__global__ void add_kernel(float* out, const float* a, const float* b, long long n) {
  for (long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x; i < n; i += (long long)gridDim.x * blockDim.x)
    out[i] = a[i] + b[i];
}
}  // namespace

void add_cuda(float* out, const float* a, const float* b, int n, const cosmos::CudaContext& ctx) {
  const cudaStream_t stream = ctx.stream;
  if (n <= 0) return;
  add_kernel<<<cosmos::elementwise_blocks(n), 256, 0, stream>>>(out, a, b, n);
  CUDA_CHECK_LAUNCH();
}
