// One weight row's dot product for the decode GEMVs with a fused epilogue (gemv_add_rmsnorm, gemv_qkv_rope): the
// order of matmul.cu's gemv_vec_kernel<1> (lane-strided 8-element chunks, four 16-byte loads in flight for bf16 and
// two pairs for f32, then a warp sum), so a fused GEMV gives the same sums as matmul_cuda with n = 1.
// Needs k % 8 == 0 and 16-byte aligned x and w rows.
#pragma once
#include <cuda_bf16.h>

#include <cstdint>

#include "../core/cuda_reduce.h"
#include "gemv_common.cuh"

namespace cosmos::gemv {

// w . x over row `row` of w [*, k] (bf16 or f32); every lane of the warp gets the sum.
template <bool BF16>
__device__ __forceinline__ float row_dot(const void* __restrict__ w, long long row, const float* __restrict__ x, int k,
                                         int lane) {
  const int chunks = k / 8;
  float acc = 0.f;
  int c = lane;
  if (BF16) {
    const uint4* wr = reinterpret_cast<const uint4*>(static_cast<const __nv_bfloat16*>(w) + row * k);
    for (; c + 96 < chunks; c += 128) {
      uint4 u0 = __ldg(wr + c), u1 = __ldg(wr + c + 32), u2 = __ldg(wr + c + 64), u3 = __ldg(wr + c + 96);
      acc = dot8_bf(acc, u0, x, c);
      acc = dot8_bf(acc, u1, x, c + 32);
      acc = dot8_bf(acc, u2, x, c + 64);
      acc = dot8_bf(acc, u3, x, c + 96);
    }
    for (; c < chunks; c += 32) acc = dot8_bf(acc, __ldg(wr + c), x, c);
  } else {
    const float4* wr = reinterpret_cast<const float4*>(static_cast<const float*>(w) + row * k);
    for (; c + 32 < chunks; c += 64) {
      float4 a0 = __ldg(wr + 2 * c), a1 = __ldg(wr + 2 * c + 1), b0 = __ldg(wr + 2 * c + 64),
             b1 = __ldg(wr + 2 * c + 65);
      float av[8] = {a0.x, a0.y, a0.z, a0.w, a1.x, a1.y, a1.z, a1.w};
      float bv[8] = {b0.x, b0.y, b0.z, b0.w, b1.x, b1.y, b1.z, b1.w};
      acc = dot8(acc, av, x, c);
      acc = dot8(acc, bv, x, c + 32);
    }
    for (; c < chunks; c += 32) {
      float4 a0 = __ldg(wr + 2 * c), a1 = __ldg(wr + 2 * c + 1);
      float av[8] = {a0.x, a0.y, a0.z, a0.w, a1.x, a1.y, a1.z, a1.w};
      acc = dot8(acc, av, x, c);
    }
  }
  return cosmos::warp_sum(acc);
}

// The "last block" hand-off of a fused epilogue: every thread that wrote a result calls this after its writes
// (__threadfence: they reach L2 before the count), then thread 0 counts the block in *counter. Returns, in every
// thread of the block, whether this block was the last of `expected` to arrive; that block then reads the others'
// results with __ldcg (L2, not a stale L1 line) and sets *counter back to 0 for the next launch (graph replay).
__device__ __forceinline__ bool last_block_arrives(unsigned* counter, unsigned expected, bool* flag_smem) {
  __threadfence();
  __syncthreads();
  if (threadIdx.x == 0) *flag_smem = atomicAdd(counter, 1u) == expected - 1;
  __syncthreads();
  const bool last = *flag_smem;
  if (last) __threadfence();
  return last;
}

}  // namespace cosmos::gemv
