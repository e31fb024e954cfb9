// quantize_fp8: rows of a [rows, k] matrix -> FP8 e4m3 bytes with one f32 scale per row, the operands of the FP8
// GEMM (ops/gemm_fp8_wgmma.h) as vLLM's `--quantization fp8` makes them on Hopper:
//   * activations x [tokens, k]: dynamic per-token scales, computed at every call (one row per token);
//   * weights W [out, k] (the nn.Linear layout): per-output-channel scales, computed once at load (one row per
//     output channel).
// Both are the same operation on rows, so there is one op: scale[r] = max(absmax(row r) / 448, 1 / (448 * 512)),
// q[r, i] = e4m3(x[r, i] / scale[r]) with round-to-nearest-even and saturation to ±448 (the conversion
// __nv_cvt_float_to_fp8(v, __NV_SATFINITE, __NV_E4M3) does: cvt.rn.satfinite.e4m3x2.f32). 448 is e4m3's largest
// finite value, so each row's largest magnitude lands on it. The floor on the scale is vLLM's min_scaling_factor:
// an all-zero row gets a tiny positive scale and zero bytes (no division by zero, no NaN), and the GEMM's
// scale_row * scale_col product stays a normal f32. NaN inputs give e4m3 NaN (0x7f) and are left out of the
// absmax (fmaxf drops NaN), as the device's reduction does.
//
// The CPU twins produce the same bytes and scales as the CUDA op (bit for bit: the absmax is exact, the scale and
// the division are single IEEE f32 operations, and fp8_e4m3_from_float reproduces the hardware conversion); the
// CUDA test (native/test/gemm_fp8_cuda_test.cu) checks that on the Generator's activation shape.
#pragma once
#include <cmath>
#include <cstddef>
#include <cstdint>
#ifdef COSMOS_CUDA
#include "../core/cuda_context.h"
#endif

constexpr float kFp8E4m3Max = 448.f;
constexpr float kFp8MinScale = 1.f / (448.f * 512.f);

#if defined(__CUDACC__)
#define COSMOS_FP8_HD __host__ __device__ __forceinline__
#else
#define COSMOS_FP8_HD inline
#endif
// The scale of values whose largest magnitude is amax (a row here; a head in ops/attention_fp8): one f32 division,
// then the floor, on the host and the device alike (the twins' bitwise agreement rests on it).
COSMOS_FP8_HD float fp8_scale_for_absmax(float amax) { return fmaxf(amax / kFp8E4m3Max, kFp8MinScale); }

#if defined(__CUDACC__)
#include <cuda_fp8.h>
// The device's f32 -> e4m3 byte (in the low 8 bits): the conversion fp8_e4m3_from_float reproduces
// (cvt.rn.satfinite.e4m3x2.f32 on sm_89+). Shared by every kernel that writes e4m3 operands, so their bytes agree.
__device__ __forceinline__ uint32_t fp8_e4m3_bits(float v) {
  return (uint32_t)__nv_cvt_float_to_fp8(v, __NV_SATFINITE, __NV_E4M3);
}
// Four values over s as four e4m3 bytes, the first in the low byte (their order in a row).
__device__ __forceinline__ uint32_t fp8_e4m3x4(float4 v, float s) {
  return fp8_e4m3_bits(v.x / s) | (fp8_e4m3_bits(v.y / s) << 8) | (fp8_e4m3_bits(v.z / s) << 16) |
         (fp8_e4m3_bits(v.w / s) << 24);
}
// max |v.x|, |v.y|, |v.z|, |v.w| (exact in any order; NaN dropped, as fmaxf does).
__device__ __forceinline__ float absmax4(float4 v) {
  return fmaxf(fmaxf(fabsf(v.x), fabsf(v.y)), fmaxf(fabsf(v.z), fabsf(v.w)));
}
#endif

// One f32 -> e4m3 byte: round to nearest even, |v| >= 448 (infinities too) saturates to ±448 (0x7e / 0xfe), NaN ->
// 0x7f (either sign), magnitudes under 2^-6 become subnormals (steps of 2^-9), under 2^-10 a signed zero.
uint8_t fp8_e4m3_from_float(float v);
// e4m3 byte -> f32 (exact; 0x7f / 0xff are NaN, returned as the positive f32 NaN as cuda_fp8.h's decode does).
float fp8_e4m3_to_float(uint8_t b);

// q [rows, k] bytes (row-major, row stride k), scale [rows]; x [rows, k] f32.
void quantize_fp8_rows_cpu(uint8_t* q, float* scale, const float* x, int rows, int k);
// The same from bf16 bits (x [rows, k] as uint16_t): each value is widened to f32 exactly first.
void quantize_fp8_rows_bf16_cpu(uint8_t* q, float* scale, const uint16_t* x, int rows, int k);

#ifdef COSMOS_CUDA
// Device pointers; one block per row (k any size; 4-wide vectors when k % 4 == 0 and the pointers allow it).
// Enqueued on ctx.stream, no workspace (ctx.pool may be null). Throws std::invalid_argument for rows or k < 1.
void quantize_fp8_rows_cuda(uint8_t* q, float* scale, const float* x, int rows, int k, const cosmos::CudaContext& ctx);
// x as bf16 [rows, k] (__nv_bfloat16 bits; void* keeps cuda_bf16.h out of this header).
void quantize_fp8_rows_bf16_cuda(uint8_t* q, float* scale, const void* x, int rows, int k,
                                 const cosmos::CudaContext& ctx);
#endif
