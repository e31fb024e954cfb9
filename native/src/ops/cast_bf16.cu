// f32 -> bf16 on the device (cast_bf16.h). Grid-stride, so any n fits one launch.
#ifndef COSMOS_CUDA
#define COSMOS_CUDA 1
#endif
#include <cuda_bf16.h>

#include "../core/cuda_common.h"
#include "cast_bf16.h"

namespace {
__global__ void cast_bf16_kernel(__nv_bfloat16* __restrict__ out, const float* __restrict__ x, long long n) {
  for (long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x; i < n; i += (long long)gridDim.x * blockDim.x)
    out[i] = __float2bfloat16_rn(x[i]);
}
__global__ void widen_bf16_kernel(float* __restrict__ out, const __nv_bfloat16* __restrict__ x, long long n) {
  for (long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x; i < n; i += (long long)gridDim.x * blockDim.x)
    out[i] = __bfloat162float(x[i]);
}
}  // namespace

void cast_bf16_cuda(void* out, const float* x, size_t n, const cosmos::CudaContext& ctx) {
  if (n == 0) return;
  cast_bf16_kernel<<<cosmos::elementwise_blocks((long long)n), 256, 0, ctx.stream>>>(static_cast<__nv_bfloat16*>(out),
                                                                                     x, (long long)n);
  CUDA_CHECK_LAUNCH();
}

void widen_bf16_cuda(float* out, const void* x, size_t n, const cosmos::CudaContext& ctx) {
  if (n == 0) return;
  widen_bf16_kernel<<<cosmos::elementwise_blocks((long long)n), 256, 0, ctx.stream>>>(
      out, static_cast<const __nv_bfloat16*>(x), (long long)n);
  CUDA_CHECK_LAUNCH();
}
