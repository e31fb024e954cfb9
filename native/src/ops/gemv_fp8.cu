// See gemv_fp8.h. One warp per R weight rows (R = 2 for the plain GEMV: rows 2w and 2w + 1; R = 4 for the SwiGLU: gate
// rows j and j + 1 with their up rows inter + j and inter + j + 1), lane-strided 16-value chunks (chunk c = lane + 32
// i: one 16-byte load per row), x's 16 values read once for the R rows: an e4m3 row is a quarter of its f32 x in bytes,
// so sharing x cuts the cache reads that would otherwise outnumber the weight's. Four chunks per row in flight per
// lane, 8 warps a block. Measured on an H200 (bench/decode_gemv_fp8_bench.cu, 8B shapes, each kernel alone): the
// SwiGLU form at 4 rows a warp and 8 warps 33 us against 47 at 2 rows and 4 warps; the plain GEMV 2-5% faster at 8
// warps, and slower at 4 rows a warp (fewer warps over the 4096 rows). Each row's chunks are summed in the same
// order in every form, so the layout changes no bit of the output.
#ifndef COSMOS_CUDA
#define COSMOS_CUDA 1
#endif
#include "gemv_fp8.h"

#include <cstdint>
#include <stdexcept>
#include <string>

#include "../core/cuda_common.h"
#include "../core/cuda_pdl.cuh"
#include "../core/cuda_reduce.h"
#include "gemv_common.cuh"  // dot16_e4m3

namespace {
constexpr int kWarps = 8;
constexpr int kUnroll = 4;

// acc[i] += row i's chunks . x over this lane's chunks; rows[i] points at row i's first 16-byte chunk.
template <int R>
__device__ __forceinline__ void rows_dot(float acc[R], const uint4* const rows[R], const float* __restrict__ x,
                                         int chunks, int lane) {
  const float4* x4 = reinterpret_cast<const float4*>(x);
  int c = lane;
  for (; c + 32 * (kUnroll - 1) < chunks; c += 32 * kUnroll) {
    uint4 u[kUnroll][R];
#pragma unroll
    for (int i = 0; i < kUnroll; ++i)
#pragma unroll
      for (int r = 0; r < R; ++r) u[i][r] = __ldg(rows[r] + c + 32 * i);
#pragma unroll
    for (int i = 0; i < kUnroll; ++i) {
      float4 xv[4];
#pragma unroll
      for (int q = 0; q < 4; ++q) xv[q] = __ldg(x4 + 4 * (c + 32 * i) + q);
#pragma unroll
      for (int r = 0; r < R; ++r) acc[r] = cosmos::gemv::dot16_e4m3(acc[r], u[i][r], xv);
    }
  }
  for (; c < chunks; c += 32) {
    float4 xv[4];
#pragma unroll
    for (int q = 0; q < 4; ++q) xv[q] = __ldg(x4 + 4 * c + q);
#pragma unroll
    for (int r = 0; r < R; ++r) acc[r] = cosmos::gemv::dot16_e4m3(acc[r], __ldg(rows[r] + c), xv);
  }
}

__global__ void __launch_bounds__(kWarps * 32)
    gemv_fp8_kernel(float* __restrict__ out, const float* __restrict__ x, const uint8_t* __restrict__ w8,
                    const float* __restrict__ scale, const float* __restrict__ bias, int k, int m) {
  const int r0 = 2 * (blockIdx.x * kWarps + (threadIdx.x >> 5));
  const int lane = threadIdx.x & 31;
  if (r0 >= m) return;
  cosmos::pdl_wait();  // PDL (core/cuda_pdl.cuh): launched before the kernel that writes x has finished
  const int r1 = r0 + 1 < m ? r0 + 1 : r0;  // an odd m's last warp reads its one row twice and writes it once
  const uint4* rows[2] = {reinterpret_cast<const uint4*>(w8 + (long long)r0 * k),
                          reinterpret_cast<const uint4*>(w8 + (long long)r1 * k)};
  float acc[2] = {0.f, 0.f};
  rows_dot<2>(acc, rows, x, k / 16, lane);
  acc[0] = cosmos::warp_sum(acc[0]);
  acc[1] = cosmos::warp_sum(acc[1]);
  if (lane == 0) {
    out[r0] = scale[r0] * acc[0] + (bias ? bias[r0] : 0.f);
    if (r1 != r0) out[r1] = scale[r1] * acc[1] + (bias ? bias[r1] : 0.f);
  }
}

__global__ void __launch_bounds__(kWarps * 32)
    gemv_fp8_swiglu_kernel(float* __restrict__ out, const float* __restrict__ x, const uint8_t* __restrict__ w8,
                           const float* __restrict__ scale, int k, int inter) {
  const int j0 = 2 * (blockIdx.x * kWarps + (threadIdx.x >> 5));
  const int lane = threadIdx.x & 31;
  if (j0 >= inter) return;
  cosmos::pdl_wait();
  const int j1 = j0 + 1 < inter ? j0 + 1 : j0;  // an odd inter's last warp computes its one output twice
  const uint4* rows[4] = {reinterpret_cast<const uint4*>(w8 + (long long)j0 * k),
                          reinterpret_cast<const uint4*>(w8 + (long long)j1 * k),
                          reinterpret_cast<const uint4*>(w8 + (long long)(inter + j0) * k),
                          reinterpret_cast<const uint4*>(w8 + (long long)(inter + j1) * k)};
  float acc[4] = {0.f, 0.f, 0.f, 0.f};
  rows_dot<4>(acc, rows, x, k / 16, lane);
#pragma unroll
  for (int r = 0; r < 4; ++r) acc[r] = cosmos::warp_sum(acc[r]);
  if (lane == 0) {
    const int js[2] = {j0, j1};
#pragma unroll
    for (int p = 0; p < 2; ++p) {
      if (p == 1 && j1 == j0) break;
      const int j = js[p];
      const float g = scale[j] * acc[p], u = scale[inter + j] * acc[2 + p];
      out[j] = g / (1.0f + expf(-g)) * u;  // expf, as swiglu.cu and gemv_swiglu.cu
    }
  }
}

void check(const float* x, const uint8_t* w8, int k, const char* who) {
  if (!gemv_fp8_supported(x, w8, k))
    throw std::invalid_argument(std::string(who) + ": k must be a multiple of 16 (got " + std::to_string(k) +
                                ") and x, w8 16-byte aligned");
}
}  // namespace

bool gemv_fp8_supported(const float* x, const uint8_t* w8, int k) {
  const auto al16 = [](const void* p) { return (reinterpret_cast<uintptr_t>(p) & 15) == 0; };
  return k >= 16 && k % 16 == 0 && al16(x) && al16(w8);
}

void gemv_fp8_cuda(float* out, const float* x, const uint8_t* w8, const float* scale, const float* bias, int k, int m,
                   const cosmos::CudaContext& ctx) {
  if (m <= 0) return;
  check(x, w8, k, "gemv_fp8_cuda");
  const int warps = cosmos::ceil_div(m, 2);
  cosmos::launch_pdl(gemv_fp8_kernel, dim3(cosmos::ceil_div(warps, kWarps)), dim3(kWarps * 32), 0, ctx.stream, out, x,
                     w8, scale, bias, k, m);
  CUDA_CHECK_LAUNCH();
}

void gemv_fp8_swiglu_cuda(float* out, const float* x, const uint8_t* w8, const float* scale, int k, int inter,
                          const cosmos::CudaContext& ctx) {
  if (inter <= 0) return;
  check(x, w8, k, "gemv_fp8_swiglu_cuda");
  const int warps = cosmos::ceil_div(inter, 2);
  cosmos::launch_pdl(gemv_fp8_swiglu_kernel, dim3(cosmos::ceil_div(warps, kWarps)), dim3(kWarps * 32), 0, ctx.stream,
                     out, x, w8, scale, k, inter);
  CUDA_CHECK_LAUNCH();
}
