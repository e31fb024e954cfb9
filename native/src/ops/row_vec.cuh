// One row per block, held in registers as float4s: the shape the row kernels' vector forms share (add_rmsnorm,
// add_layernorm). Each thread holds V float4s, at float4 indices threadIdx.x + j * blockDim.x, so a row is read once
// and written once and its statistics need no second pass through memory.
#pragma once
#include <cuda_bf16.h>
#include <cuda_runtime.h>

#include <cstdint>
#include <type_traits>

#include "gemv_common.cuh"  // bf_lo / bf_hi: a packed bf16 pair widened
#include "mma_bf16.cuh"     // pack_bf16x4: the flash operands' rounding, the same for the rows here

namespace cosmos {

template <int V>
struct RowVec {
  float4 v[V];
};

// The vector form's shape: V float4s a thread, at most 512 threads (a multiple of 32, so block_sum holds), V <= 8
// (dim <= 16384); v = 0: the scalar form (dim % 4 != 0, a misaligned base, or a wider row).
struct RowVecShape {
  int v = 0, threads = 0;
};
inline RowVecShape row_vec_shape(int dim, const void* a, const void* b, const void* c) {
  const auto aligned = [](const void* p) { return reinterpret_cast<uintptr_t>(p) % 16 == 0; };
  if (dim % 4 != 0 || !aligned(a) || !aligned(b) || !aligned(c)) return {};
  const int dim4 = dim / 4;
  for (int v = 1; v <= 8; v *= 2) {
    const int threads = (dim4 + v - 1) / v;
    if (threads <= 512) return {v, (threads + 31) / 32 * 32};
  }
  return {};
}

// A row kernel's output value(s): f32 as they are, or rounded to bf16 (round to nearest even: cast_bf16's rounding), so
// one template of a kernel writes both and the bf16 form rounds the very values the f32 form writes.
__device__ __forceinline__ void row_store(float* o, float v) { *o = v; }
__device__ __forceinline__ void row_store(__nv_bfloat16* o, float v) { *o = __float2bfloat16_rn(v); }
__device__ __forceinline__ void row_store2(float* o, float2 v) { *reinterpret_cast<float2*>(o) = v; }
__device__ __forceinline__ void row_store2(__nv_bfloat16* o, float2 v) {
  *reinterpret_cast<uint32_t*>(o) = pack_bf16x2(v.x, v.y);
}
__device__ __forceinline__ void row_store4(float* o, float4 v) { *reinterpret_cast<float4*>(o) = v; }
__device__ __forceinline__ void row_store4(__nv_bfloat16* o, float4 v) {
  *reinterpret_cast<uint2*>(o) = pack_bf16x4(v);
}

// A row's input values in f32: f32 as they are, bf16 widened (exact): rows of a residual stream held in bf16 (the
// decoder prefill's, rmsnorm_bf16_rows) read by the same kernels as f32 rows.
__device__ __forceinline__ float row_load(const float* p) { return *p; }
__device__ __forceinline__ float row_load(const __nv_bfloat16* p) { return __bfloat162float(*p); }
__device__ __forceinline__ float4 row_load4(const float* p) { return *reinterpret_cast<const float4*>(p); }
__device__ __forceinline__ float4 row_load4(const __nv_bfloat16* p) {
  const uint2 u = *reinterpret_cast<const uint2*>(p);
  return make_float4(gemv::bf_lo(u.x), gemv::bf_hi(u.x), gemv::bf_lo(u.y), gemv::bf_hi(u.y));
}

// launch(std::integral_constant<int, v>) for a vector form's v (1, 2, 4, 8); false for 0 (the scalar form).
template <class Launch>
bool with_row_vec(int v, Launch&& launch) {
  switch (v) {
    case 1:
      launch(std::integral_constant<int, 1>{});
      return true;
    case 2:
      launch(std::integral_constant<int, 2>{});
      return true;
    case 4:
      launch(std::integral_constant<int, 4>{});
      return true;
    case 8:
      launch(std::integral_constant<int, 8>{});
      return true;
    default:
      return false;
  }
}

}  // namespace cosmos
