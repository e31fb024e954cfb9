#ifndef COSMOS_CUDA
#define COSMOS_CUDA 1
#endif
#include "fill_uniform.h"

#include <cuda_bf16.h>

#include "../core/cuda_common.h"

namespace {
__device__ __forceinline__ float hash_uniform(uint64_t i, uint64_t seed) {
  uint64_t z = i + seed * 0x9E3779B97F4A7C15ull;
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  z ^= z >> 31;
  return (float)(z >> 40) * (2.0f / 16777216.0f) - 1.0f;
}
__global__ void fill_uniform_kernel(void* p, long long n, bool bf16, uint64_t seed, float a, float c) {
  for (long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x; i < n; i += (long long)gridDim.x * blockDim.x) {
    const float v = a != 0.f ? __fadd_rn(__fmul_rn(a, hash_uniform((uint64_t)i, seed)), c) : c;
    if (bf16)
      static_cast<__nv_bfloat16*>(p)[i] = __float2bfloat16_rn(v);
    else
      static_cast<float*>(p)[i] = v;
  }
}
}  // namespace

void fill_uniform_cuda(void* p, long long n, bool bf16, uint64_t seed, float a, float c,
                       const cosmos::CudaContext& ctx) {
  if (n <= 0) return;
  fill_uniform_kernel<<<cosmos::elementwise_blocks(n), 256, 0, ctx.stream>>>(p, n, bf16, seed, a, c);
  CUDA_CHECK_LAUNCH();
}
