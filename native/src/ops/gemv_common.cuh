// Device helpers shared by the GEMV kernels (matmul.cu, gemv_decode.cu, gemv_swiglu.cu): bf16 halves of
// a packed 32-bit word as f32, and an 8-element dot product against a float4-aligned x. Kept in one
// place so every GEMV accumulates in the same order (their outputs are compared bit for bit).
#pragma once
#include <cstdint>

namespace cosmos::gemv {

__device__ __forceinline__ float bf_lo(uint32_t u) { return __uint_as_float(u << 16); }
__device__ __forceinline__ float bf_hi(uint32_t u) { return __uint_as_float(u & 0xffff0000u); }

// acc + w[0..7] . x[8c .. 8c+7] (x read through the read-only cache).
__device__ __forceinline__ float dot8(float acc, const float wv[8], const float* x, int c) {
  const float4* xr = reinterpret_cast<const float4*>(x) + 2 * c;
  float4 a = __ldg(xr), b = __ldg(xr + 1);
  return acc + (wv[0] * a.x + wv[1] * a.y + wv[2] * a.z + wv[3] * a.w + wv[4] * b.x + wv[5] * b.y + wv[6] * b.z +
                wv[7] * b.w);
}
// The same with 8 bf16 weights packed in a uint4.
__device__ __forceinline__ float dot8_bf(float acc, uint4 u, const float* x, int c) {
  float wv[8] = {bf_lo(u.x), bf_hi(u.x), bf_lo(u.y), bf_hi(u.y), bf_lo(u.z), bf_hi(u.z), bf_lo(u.w), bf_hi(u.w)};
  return dot8(acc, wv, x, c);
}

}  // namespace cosmos::gemv
