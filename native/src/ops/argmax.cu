// argmax over one vector in a single 1024-thread block (a two-stage grid reduction would not pay for its extra launch
// at decode, where greedy decoding runs it after every step). Each thread keeps eight 16-byte loads in flight: with one
// scalar load per iteration (vocab 152k: ~150 a thread, each waiting for the last) a decode step's argmax took 33.9 us
// on the H100, now 9.1 (tools/device/cupti_trace.cc's timeline, 2026-12-06; ~0.4% of the step).
// Tie rule: the smallest index among equal maxima, like torch.argmax / argmax_cpu.
#ifndef COSMOS_CUDA
#define COSMOS_CUDA 1
#endif
#include "argmax.h"

#include <cstdint>

#include "../core/cuda_common.h"

namespace {
__device__ __forceinline__ bool better(float v, int i, float bv, int bi) { return v > bv || (v == bv && i < bi); }
__device__ __forceinline__ void take(float v, int i, float& bv, int& bi) {
  if (better(v, i, bv, bi)) bv = v, bi = i;
}
// better() is a total order on (value, index) pairs (NaN never wins), so the elements may be visited in any order.
__global__ void argmax_kernel(int* out_idx, const float* x, int n) {
  __shared__ float sv[32];
  __shared__ int si[32];
  float bv = -INFINITY;
  int bi = n;  // sentinel larger than any index
  int i0 = 0;  // elements before i0 are taken as float4 groups
  if ((reinterpret_cast<uintptr_t>(x) & 15) == 0) {
    constexpr int kInFlight = 8;
    const float4* x4 = reinterpret_cast<const float4*>(x);
    const int n4 = n / 4, step = blockDim.x;
    int j = threadIdx.x;
    for (; j + (kInFlight - 1) * step < n4; j += kInFlight * step) {
      float4 v[kInFlight];
#pragma unroll
      for (int u = 0; u < kInFlight; ++u) v[u] = __ldg(x4 + j + u * step);
#pragma unroll
      for (int u = 0; u < kInFlight; ++u) {
        const int e = 4 * (j + u * step);
        take(v[u].x, e, bv, bi), take(v[u].y, e + 1, bv, bi), take(v[u].z, e + 2, bv, bi), take(v[u].w, e + 3, bv, bi);
      }
    }
    for (; j < n4; j += step) {
      const float4 v = __ldg(x4 + j);
      take(v.x, 4 * j, bv, bi), take(v.y, 4 * j + 1, bv, bi), take(v.z, 4 * j + 2, bv, bi),
          take(v.w, 4 * j + 3, bv, bi);
    }
    i0 = 4 * n4;
  }
  for (int i = i0 + threadIdx.x; i < n; i += blockDim.x) take(__ldg(x + i), i, bv, bi);
  for (int o = 16; o > 0; o >>= 1) {
    float ov = __shfl_xor_sync(0xffffffffu, bv, o);
    int oi = __shfl_xor_sync(0xffffffffu, bi, o);
    take(ov, oi, bv, bi);
  }
  int lane = threadIdx.x & 31, w = threadIdx.x >> 5;
  if (lane == 0) {
    sv[w] = bv;
    si[w] = bi;
  }
  __syncthreads();
  if (w == 0) {
    int nw = blockDim.x >> 5;
    bv = lane < nw ? sv[lane] : -INFINITY;
    bi = lane < nw ? si[lane] : n;
    for (int o = 16; o > 0; o >>= 1) {
      float ov = __shfl_xor_sync(0xffffffffu, bv, o);
      int oi = __shfl_xor_sync(0xffffffffu, bi, o);
      take(ov, oi, bv, bi);
    }
    // All -inf (or NaN) input: fall back to index 0 as the CPU loop does.
    if (lane == 0) *out_idx = bi < n ? bi : 0;
  }
}
}  // namespace

void argmax_cuda(int* out_idx, const float* x, int n, const cosmos::CudaContext& ctx) {
  const cudaStream_t stream = ctx.stream;
  argmax_kernel<<<1, 1024, 0, stream>>>(out_idx, x, n);
  CUDA_CHECK_LAUNCH();
}
