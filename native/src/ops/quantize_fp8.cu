// quantize_fp8 on the device (see quantize_fp8.h): one block per row, absmax in a block reduction, then the row
// read again (from L1 / L2: a row is at most a few tens of KB) and written as e4m3 bytes.
#ifndef COSMOS_CUDA
#define COSMOS_CUDA 1
#endif
#include <cuda_bf16.h>
#include <cuda_fp8.h>

#include <cstdint>
#include <stdexcept>
#include <string>

#include "../core/cuda_common.h"
#include "quantize_fp8.h"

namespace {
constexpr int kThreads = 256;

__device__ __forceinline__ float load1(const float* x, long long i) { return __ldg(x + i); }
__device__ __forceinline__ float load1(const __nv_bfloat16* x, long long i) { return __bfloat162float(x[i]); }
// Four consecutive values from a 4-aligned index (16 bytes of f32, 8 bytes of bf16).
__device__ __forceinline__ float4 load4(const float* x, long long i) {
  return __ldg(reinterpret_cast<const float4*>(x + i));
}
__device__ __forceinline__ float4 load4(const __nv_bfloat16* x, long long i) {
  const uint2 u = __ldg(reinterpret_cast<const uint2*>(x + i));
  const float2 a = __bfloat1622float2(*reinterpret_cast<const __nv_bfloat162*>(&u.x));
  const float2 b = __bfloat1622float2(*reinterpret_cast<const __nv_bfloat162*>(&u.y));
  return make_float4(a.x, a.y, b.x, b.y);
}

template <class T, bool VEC>
__global__ void __launch_bounds__(kThreads)
    quantize_rows_kernel(uint8_t* __restrict__ q, float* __restrict__ scale, const T* __restrict__ x, int k) {
  const long long base = (long long)blockIdx.x * k;
  float amax = 0.f;
  if constexpr (VEC) {
    for (int i = 4 * threadIdx.x; i < k; i += 4 * kThreads) {
      const float4 v = load4(x, base + i);
      amax = fmaxf(amax, absmax4(v));
    }
  } else {
    for (int i = threadIdx.x; i < k; i += kThreads) amax = fmaxf(amax, fabsf(load1(x, base + i)));
  }
  // max is exact and order-free, so any reduction tree gives the CPU twin's value
#pragma unroll
  for (int o = 16; o > 0; o >>= 1) amax = fmaxf(amax, __shfl_xor_sync(0xffffffffu, amax, o));
  __shared__ float warp_max[kThreads / 32];
  if ((threadIdx.x & 31) == 0) warp_max[threadIdx.x / 32] = amax;
  __syncthreads();
  amax = warp_max[0];
#pragma unroll
  for (int w = 1; w < kThreads / 32; ++w) amax = fmaxf(amax, warp_max[w]);
  // Division, not a multiply by the reciprocal: one correctly rounded f32 operation, as in the CPU twin.
  const float s = fp8_scale_for_absmax(amax);
  if (threadIdx.x == 0) scale[blockIdx.x] = s;
  if constexpr (VEC) {
    for (int i = 4 * threadIdx.x; i < k; i += 4 * kThreads) {
      const float4 v = load4(x, base + i);
      *reinterpret_cast<uint32_t*>(q + base + i) = fp8_e4m3x4(v, s);
    }
  } else {
    for (int i = threadIdx.x; i < k; i += kThreads) q[base + i] = (uint8_t)fp8_e4m3_bits(load1(x, base + i) / s);
  }
}

template <class T>
void launch(uint8_t* q, float* scale, const T* x, int rows, int k, const cosmos::CudaContext& ctx, const char* name) {
  if (rows < 1 || k < 1)
    throw std::invalid_argument(std::string(name) + ": rows and k must be >= 1, got rows " + std::to_string(rows) +
                                ", k " + std::to_string(k));
  // Vectors of 4: the row starts stay aligned when k % 4 == 0 and the bases are (16 B of f32 / 8 B of bf16 in, 4 B
  // of e4m3 out).
  const bool vec =
      k % 4 == 0 && reinterpret_cast<uintptr_t>(x) % (4 * sizeof(T)) == 0 && reinterpret_cast<uintptr_t>(q) % 4 == 0;
  if (vec)
    quantize_rows_kernel<T, true><<<rows, kThreads, 0, ctx.stream>>>(q, scale, x, k);
  else
    quantize_rows_kernel<T, false><<<rows, kThreads, 0, ctx.stream>>>(q, scale, x, k);
  CUDA_CHECK_LAUNCH();
}
}  // namespace

void quantize_fp8_rows_cuda(uint8_t* q, float* scale, const float* x, int rows, int k, const cosmos::CudaContext& ctx) {
  launch(q, scale, x, rows, k, ctx, "quantize_fp8_rows_cuda");
}

void quantize_fp8_rows_bf16_cuda(uint8_t* q, float* scale, const void* x, int rows, int k,
                                 const cosmos::CudaContext& ctx) {
  launch(q, scale, static_cast<const __nv_bfloat16*>(x), rows, k, ctx, "quantize_fp8_rows_bf16_cuda");
}
