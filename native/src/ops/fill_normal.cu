#ifndef COSMOS_CUDA
#define COSMOS_CUDA 1
#endif
#include "fill_normal.h"

#include "../core/cuda_common.h"

namespace {
__device__ __forceinline__ uint32_t hash24(uint64_t i, uint64_t seed) {
  uint64_t z = i + seed * 0x9E3779B97F4A7C15ull;
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  z ^= z >> 31;
  return (uint32_t)(z >> 40);
}
__global__ void fill_normal_kernel(float* p, long long n, uint64_t seed, float mean, float std) {
  const double two_pi = 6.283185307179586476925286766559;
  for (long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x; i < n; i += (long long)gridDim.x * blockDim.x) {
    const double u1 = ((double)hash24(2 * (uint64_t)i, seed) + 1.0) / 16777216.0;
    const double u2 = (double)hash24(2 * (uint64_t)i + 1, seed) / 16777216.0;
    const double z = sqrt(-2.0 * log(u1)) * cos(two_pi * u2);
    p[i] = (float)((double)mean + (double)std * z);
  }
}
}  // namespace

void fill_normal_cuda(float* p, long long n, uint64_t seed, float mean, float std, const cosmos::CudaContext& ctx) {
  if (n <= 0) return;
  fill_normal_kernel<<<cosmos::elementwise_blocks(n), 256, 0, ctx.stream>>>(p, n, seed, mean, std);
  CUDA_CHECK_LAUNCH();
}
