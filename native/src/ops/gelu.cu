// GELU in place, both flavours (tanh: gelu_pytorch_tanh of the vision MLP; erf: nn.GELU()).
#ifndef COSMOS_CUDA
#define COSMOS_CUDA 1
#endif
#include "gelu.h"

#include "../core/cuda_common.h"
#include "gelu.cuh"

namespace {
__global__ void gelu_tanh_kernel(float* x, long long n) {
  for (long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x; i < n; i += (long long)gridDim.x * blockDim.x)
    x[i] = cosmos::gelu_tanh_value(x[i]);
}
__global__ void gelu_erf_kernel(float* x, long long n) {
  for (long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x; i < n; i += (long long)gridDim.x * blockDim.x)
    x[i] = cosmos::gelu_erf_value(x[i]);
}
}  // namespace

void gelu_tanh_cuda(float* x, int n, const cosmos::CudaContext& ctx) {
  const cudaStream_t stream = ctx.stream;
  if (n <= 0) return;
  gelu_tanh_kernel<<<cosmos::elementwise_blocks(n), 256, 0, stream>>>(x, n);
  CUDA_CHECK_LAUNCH();
}
void gelu_erf_cuda(float* x, int n, const cosmos::CudaContext& ctx) {
  const cudaStream_t stream = ctx.stream;
  if (n <= 0) return;
  gelu_erf_kernel<<<cosmos::elementwise_blocks(n), 256, 0, stream>>>(x, n);
  CUDA_CHECK_LAUNCH();
}
