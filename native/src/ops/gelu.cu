// GELU in place, both flavours (tanh: gelu_pytorch_tanh of the vision MLP; erf: nn.GELU()).
#ifndef COSMOS_CUDA
#define COSMOS_CUDA 1
#endif
#include "gelu.h"

#include "../core/cuda_common.h"

namespace {
__global__ void gelu_tanh_kernel(float* x, long long n) {
  const float c = 0.7978845608028654f;  // sqrt(2/pi)
  for (long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x; i < n; i += (long long)gridDim.x * blockDim.x) {
    float v = x[i];
    x[i] = 0.5f * v * (1.0f + tanhf(c * (v + 0.044715f * v * v * v)));
  }
}
__global__ void gelu_erf_kernel(float* x, long long n) {
  for (long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x; i < n; i += (long long)gridDim.x * blockDim.x) {
    float v = x[i];
    x[i] = 0.5f * v * (1.0f + erff(v * 0.7071067811865476f));
  }
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
