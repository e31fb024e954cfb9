// Warp / block reductions for the row kernels (norms, softmax, argmax). Header-only device code.
#pragma once
#include <cuda_runtime.h>

namespace cosmos {
__device__ __forceinline__ float warp_sum(float v) {
  for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
  return v;
}
__device__ __forceinline__ float warp_max(float v) {
  for (int o = 16; o > 0; o >>= 1) v = fmaxf(v, __shfl_xor_sync(0xffffffffu, v, o));
  return v;
}
// N warp sums at once (N a power of two <= 32), N - 1 + (5 - log2 N) shuffles instead of 5 N: at each step a lane
// keeps half of its values and adds the other lane's half of them (a transpose as it reduces). Afterwards v[0] of lane
// holds the warp sum of value lane >> (5 - log2 N) (N = 32: value lane). The pairing differs from warp_sum's, so the
// sums agree with it to f32 rounding, not bit for bit.
template <int N, int n = N>
__device__ __forceinline__ void warp_sums(float (&v)[N], int lane) {
  static_assert(N >= 1 && N <= 32 && (N & (N - 1)) == 0, "N a power of two <= 32");
  if constexpr (n > 1) {  // a step over n values (a template step: every index a constant, so v stays in registers)
    constexpr int o = 16 * n / N;
    const bool upper = (lane & o) != 0;  // keeps the upper half of the n values
#pragma unroll
    for (int i = 0; i < n / 2; ++i) {
      const float lo = v[i], hi = v[i + n / 2];
      v[i] = (upper ? hi : lo) + __shfl_xor_sync(0xffffffffu, upper ? lo : hi, o);
    }
    warp_sums<N, n / 2>(v, lane);
  } else {
#pragma unroll
    for (int o = 16 / N; o > 0; o >>= 1) v[0] += __shfl_xor_sync(0xffffffffu, v[0], o);
  }
}
// Sum over the whole block (blockDim.x a multiple of 32, <= 1024); every thread gets the result.
// `sh` must hold 32 floats; the trailing __syncthreads lets the caller reuse `sh` at once.
__device__ __forceinline__ float block_sum(float v, float* sh) {
  int lane = threadIdx.x & 31, w = threadIdx.x >> 5, nw = blockDim.x >> 5;
  v = warp_sum(v);
  if (lane == 0) sh[w] = v;
  __syncthreads();
  v = lane < nw ? sh[lane] : 0.f;
  v = warp_sum(v);
  __syncthreads();
  return v;
}
__device__ __forceinline__ float block_max(float v, float* sh) {
  int lane = threadIdx.x & 31, w = threadIdx.x >> 5, nw = blockDim.x >> 5;
  v = warp_max(v);
  if (lane == 0) sh[w] = v;
  __syncthreads();
  v = lane < nw ? sh[lane] : -INFINITY;
  v = warp_max(v);
  __syncthreads();
  return v;
}
// Threads per row kernel: a power of two in [32, 1024] with about 4+ elements per thread.
inline int row_threads(int dim) {
  int t = 32;
  while (t < 1024 && t * 4 < dim) t <<= 1;
  return t;
}
}  // namespace cosmos
