// Device helpers shared by the GEMV kernels (matmul.cu, gemv_decode.cu, gemv_swiglu.cu, gemv_fp8.cu, the persistent
// decode step models/qwen3_decode_persistent.cu) and their variant benches (bench/decode_gemv_bench.cu,
// bench/decode_gemv_fp8_bench.cu, bench/decode_chain_bench.cu): bf16 halves of a packed 32-bit word as
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

// The staged form (a GEMV's x in shared memory, its rows streamed through 8 KB slots: the persistent decode step and
// its bench model): chunk c's 8 values as xa[c] (the first 4) and xb[c] (the last 4), so a warp's float4 reads of 32
// consecutive chunks fall on distinct banks. dot8's expression on them, and a slot's chunks in the GEMVs' order.
__device__ __forceinline__ float dot8_staged(float acc, uint4 u, float4 a, float4 b) {
  const float wv[8] = {bf_lo(u.x), bf_hi(u.x), bf_lo(u.y), bf_hi(u.y), bf_lo(u.z), bf_hi(u.z), bf_lo(u.w), bf_hi(u.w)};
  return acc + (wv[0] * a.x + wv[1] * a.y + wv[2] * a.z + wv[3] * a.w + wv[4] * b.x + wv[5] * b.y + wv[6] * b.z +
                wv[7] * b.w);
}
constexpr int kStagedSlotChunks = 512;  // an 8 KB slot of bf16 weights: 512 chunks of 8
// acc + a slot's `chunks` chunks (chunk c = lane + 32 i, in increasing i) . x chunks c0 + c.
__device__ __forceinline__ float dot_slot(float acc, const uint4* slot, int chunks, const float4* xa, const float4* xb,
                                          int c0, int lane) {
  if (chunks == kStagedSlotChunks) {
#pragma unroll
    for (int i0 = 0; i0 < kStagedSlotChunks / 32; i0 += 4) {
      uint4 u[4];
      float4 a[4], b[4];
#pragma unroll
      for (int i = 0; i < 4; ++i) {
        const int c = lane + 32 * (i0 + i);
        u[i] = slot[c];
        a[i] = xa[c0 + c];
        b[i] = xb[c0 + c];
      }
#pragma unroll
      for (int i = 0; i < 4; ++i) acc = dot8_staged(acc, u[i], a[i], b[i]);
    }
    return acc;
  }
  for (int c = lane; c < chunks; c += 32) acc = dot8_staged(acc, slot[c], xa[c0 + c], xb[c0 + c]);
  return acc;
}
// x (k values, k % 8 == 0, from L2: another block may have written it) into the staging, by NT threads, a batch of
// kStageBatch float4 loads a thread in flight before their stores (one L2 round trip a batch, not one a float4: the
// staging sits between a grid-wide wait and the ring's next slot, so its latency is the stream's).
constexpr int kStageBatch = 8;
// A thread's batch: x4[i0 + j NT] for j < kStageBatch (zeros from n4 on), every load issued before any is used.
template <int NT>
__device__ __forceinline__ void load_batch(float4 (&v)[kStageBatch], const float4* x4, int i0, int n4) {
#pragma unroll
  for (int j = 0; j < kStageBatch; ++j)
    v[j] = i0 + j * NT < n4 ? __ldcg(x4 + i0 + j * NT) : make_float4(0.f, 0.f, 0.f, 0.f);
}
template <int NT>
__device__ __forceinline__ void stage_x(float4* xa, float4* xb, const float* x, int k) {
  const float4* x4 = reinterpret_cast<const float4*>(x);
  const int n4 = k / 4;
  for (int i0 = threadIdx.x; i0 < n4; i0 += kStageBatch * NT) {
    float4 v[kStageBatch];
    load_batch<NT>(v, x4, i0, n4);
#pragma unroll
    for (int j = 0; j < kStageBatch; ++j) {
      const int i = i0 + j * NT;
      if (i < n4) (i & 1 ? xb : xa)[i >> 1] = v[j];
    }
  }
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
