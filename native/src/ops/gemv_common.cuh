// Device helpers shared by the GEMV kernels (matmul.cu, gemv_decode.cu, gemv_swiglu.cu, gemv_fp8.cu) and their
// variant benches (bench/decode_gemv_bench.cu, bench/decode_gemv_fp8_bench.cu): bf16 halves of a packed 32-bit word as
// f32, an 8-element dot product against a float4-aligned x, and the e4m3 form's 16-element one. Kept in one place so
// every GEMV accumulates in the same order (their outputs are compared bit for bit).
#pragma once
#include <cuda_fp16.h>
#include <cuda_fp8.h>

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

// Two e4m3 values (the low 16 bits of v, the first in the low byte) as f32, exactly (every e4m3 value is an f16;
// e4m3 -> f16 is one instruction on sm_89+).
__device__ __forceinline__ float2 e4m3x2_to_float2(uint32_t v) {
  const __half2_raw h = __nv_cvt_fp8x2_to_halfraw2((__nv_fp8x2_storage_t)(v & 0xffffu), __NV_E4M3);
  return __half22float2(*reinterpret_cast<const __half2*>(&h));
}
// acc + the 16 e4m3 values of u . the 16 x values in xv (x[16 c .. 16 c + 15]).
__device__ __forceinline__ float dot16_e4m3(float acc, uint4 u, const float4 xv[4]) {
  const uint32_t words[4] = {u.x, u.y, u.z, u.w};
#pragma unroll
  for (int q = 0; q < 4; ++q) {
    const float2 a = e4m3x2_to_float2(words[q]), b = e4m3x2_to_float2(words[q] >> 16);
    acc += a.x * xv[q].x + a.y * xv[q].y + b.x * xv[q].z + b.y * xv[q].w;
  }
  return acc;
}

}  // namespace cosmos::gemv
