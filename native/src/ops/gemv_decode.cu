// See gemv_decode.h. One warp per weight row, lane-strided 8-element chunks (chunk c = lane + 32 i,
// in increasing i), a warp sum at the end: matmul.cu's GEMV order, with twice the loads in flight.
#ifndef COSMOS_CUDA
#define COSMOS_CUDA 1
#endif
#include "gemv_decode.h"

#include <cuda_bf16.h>

#include <cstdint>

#include "../core/cuda_common.h"
#include "../core/cuda_pdl.cuh"
#include "../core/cuda_reduce.h"
#include "gemv_common.cuh"

namespace {
constexpr int kWarps = 4;

using namespace cosmos::gemv;

// Vector path: k % 8 == 0, 16-byte aligned x and w rows.
template <bool BF16>
__global__ void __launch_bounds__(kWarps * 32)
    gemv_decode_kernel(float* __restrict__ out, const float* __restrict__ x, const void* __restrict__ w, int k, int m) {
  const int row = blockIdx.x * kWarps + (threadIdx.x >> 5);
  const int lane = threadIdx.x & 31;
  if (row >= m) return;
  cosmos::pdl_wait();  // PDL (core/cuda_pdl.cuh): launched before the kernel that writes x has finished
  const int chunks = k / 8;
  float acc = 0.f;
  int c = lane;
  if (BF16) {
    const uint4* wr = reinterpret_cast<const uint4*>(static_cast<const __nv_bfloat16*>(w) + (long long)row * k);
    for (; c + 224 < chunks; c += 256) {
      uint4 u[8];
#pragma unroll
      for (int i = 0; i < 8; ++i) u[i] = __ldg(wr + c + 32 * i);
#pragma unroll
      for (int i = 0; i < 8; ++i) acc = dot8_bf(acc, u[i], x, c + 32 * i);
    }
    for (; c + 96 < chunks; c += 128) {
      uint4 u[4];
#pragma unroll
      for (int i = 0; i < 4; ++i) u[i] = __ldg(wr + c + 32 * i);
#pragma unroll
      for (int i = 0; i < 4; ++i) acc = dot8_bf(acc, u[i], x, c + 32 * i);
    }
    for (; c < chunks; c += 32) acc = dot8_bf(acc, __ldg(wr + c), x, c);
  } else {
    const float4* wr = reinterpret_cast<const float4*>(static_cast<const float*>(w) + (long long)row * k);
    for (; c + 96 < chunks; c += 128) {
      float4 a[8];
#pragma unroll
      for (int i = 0; i < 4; ++i) {
        a[2 * i] = __ldg(wr + 2 * (c + 32 * i));
        a[2 * i + 1] = __ldg(wr + 2 * (c + 32 * i) + 1);
      }
#pragma unroll
      for (int i = 0; i < 4; ++i) {
        float wv[8] = {a[2 * i].x,     a[2 * i].y,     a[2 * i].z,     a[2 * i].w,
                       a[2 * i + 1].x, a[2 * i + 1].y, a[2 * i + 1].z, a[2 * i + 1].w};
        acc = dot8(acc, wv, x, c + 32 * i);
      }
    }
    for (; c < chunks; c += 32) {
      float4 a = __ldg(wr + 2 * c), b = __ldg(wr + 2 * c + 1);
      float wv[8] = {a.x, a.y, a.z, a.w, b.x, b.y, b.z, b.w};
      acc = dot8(acc, wv, x, c);
    }
  }
  acc = cosmos::warp_sum(acc);
  if (lane == 0) out[row] = acc;
}
}  // namespace

void gemv_decode_cuda(float* out, const float* x, const void* w, WType wt, int k, int m,
                      const cosmos::CudaContext& ctx) {
  const cudaStream_t stream = ctx.stream;
  if (m <= 0) return;
  const bool vec =
      k % 8 == 0 && (reinterpret_cast<uintptr_t>(x) & 15) == 0 && (reinterpret_cast<uintptr_t>(w) & 15) == 0;
  if (!vec) {  // odd shapes: matmul's scalar GEMV (same contract)
    matmul_cuda(out, x, w, wt, nullptr, 1, k, m, ctx);
    return;
  }
  dim3 grid(cosmos::ceil_div(m, kWarps)), block(kWarps * 32);
  if (wt == WType::BF16)
    cosmos::launch_pdl(gemv_decode_kernel<true>, grid, block, 0, stream, out, x, w, k, m);
  else
    cosmos::launch_pdl(gemv_decode_kernel<false>, grid, block, 0, stream, out, x, w, k, m);
  CUDA_CHECK_LAUNCH();
}
