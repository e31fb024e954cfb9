// See gemv_rmsnorm.h. Decode (one token): the RMSNorm that used to be its own launch (add_rmsnorm, ~4-5 us of pure
// latency on an H200, twice per layer) is done by every block of the GEMV that consumes it. The block reads x
// (16 KB at Qwen3-8B's 4096) with all its float4 loads in flight, sums the squares (block_sum), and stages
// h = nw * (x * inv_rms) in shared memory, rmsnorm.cu's expression; the weight stream then dots against h from
// shared memory. Only a block's first instructions pay the ~1 us; the other resident blocks keep streaming.
// Every block computes the same sum in the same order, so all rows see the same h.
// The weight loop and its order are the unfused kernels' (matmul.cu's GEMV: 4 loads in flight a lane;
// gemv_swiglu.cu: gate and up rows together), 8 warps a block (one row each) so the prologue is shared by 8 rows.
#ifndef COSMOS_CUDA
#define COSMOS_CUDA 1
#endif
#include "gemv_rmsnorm.h"

#include <cuda_bf16.h>

#include <cstdint>
#include <cstdlib>
#include <stdexcept>
#include <string>

#include "../core/cuda_common.h"
#include "../core/cuda_pdl.cuh"
#include "../core/cuda_reduce.h"
#include "gemv_common.cuh"

namespace {
constexpr int kWarps = 8;
constexpr int kMaxK = 8192;  // h in shared memory: 32 KB (with the static part, under the 48 KB without an opt-in)

using namespace cosmos::gemv;

// acc + w[0..7] . h[8c .. 8c+7], h in shared memory (dot8's expression).
__device__ __forceinline__ float dot8s(float acc, const float wv[8], const float4* h, int c) {
  const float4 a = h[2 * c], b = h[2 * c + 1];
  return acc + (wv[0] * a.x + wv[1] * a.y + wv[2] * a.z + wv[3] * a.w + wv[4] * b.x + wv[5] * b.y + wv[6] * b.z +
                wv[7] * b.w);
}
__device__ __forceinline__ float dot8s_bf(float acc, uint4 u, const float4* h, int c) {
  float wv[8] = {bf_lo(u.x), bf_hi(u.x), bf_lo(u.y), bf_hi(u.y), bf_lo(u.z), bf_hi(u.z), bf_lo(u.w), bf_hi(u.w)};
  return dot8s(acc, wv, h, c);
}
// Dot product of weight row `row` (k values) with h, in matmul.cu's GEMV order; the caller sums the warp.
// From chunk c (lane, or lane + 128 after a preloaded first batch) on, adding to acc.
template <bool BF16>
__device__ __forceinline__ float row_dot(const void* w, long long row, int k, const float4* h, int c, float acc = 0.f) {
  const int chunks = k / 8;
  if (BF16) {
    const uint4* wr = reinterpret_cast<const uint4*>(static_cast<const __nv_bfloat16*>(w) + row * k);
    for (; c + 96 < chunks; c += 128) {
      const uint4 u0 = __ldg(wr + c), u1 = __ldg(wr + c + 32), u2 = __ldg(wr + c + 64), u3 = __ldg(wr + c + 96);
      acc = dot8s_bf(acc, u0, h, c);
      acc = dot8s_bf(acc, u1, h, c + 32);
      acc = dot8s_bf(acc, u2, h, c + 64);
      acc = dot8s_bf(acc, u3, h, c + 96);
    }
    for (; c < chunks; c += 32) acc = dot8s_bf(acc, __ldg(wr + c), h, c);
  } else {
    const float4* wr = reinterpret_cast<const float4*>(static_cast<const float*>(w) + row * k);
    for (; c < chunks; c += 32) {
      const float4 a = __ldg(wr + 2 * c), b = __ldg(wr + 2 * c + 1);
      const float wv[8] = {a.x, a.y, a.z, a.w, b.x, b.y, b.z, b.w};
      acc = dot8s(acc, wv, h, c);
    }
  }
  return acc;
}

// The prologue: h4[0, k/4) = nw * (x * inv_rms), for the whole block (rows past m included: they join the sum).
__device__ __forceinline__ void stage_rmsnorm(float4* h4, const float* __restrict__ x, const float* __restrict__ nw,
                                              float eps, int k) {
  __shared__ float red[32];
  const float4* x4 = reinterpret_cast<const float4*>(x);
  const float4* w4 = reinterpret_cast<const float4*>(nw);
  const int k4 = k / 4;
  float ss = 0.f;
#pragma unroll 4
  for (int i = threadIdx.x; i < k4; i += blockDim.x) {
    const float4 v = __ldg(x4 + i);
    h4[i] = v;
    ss += v.x * v.x + v.y * v.y + v.z * v.z + v.w * v.w;
  }
  ss = cosmos::block_sum(ss, red);
  const float inv = 1.0f / sqrtf(ss / (float)k + eps);
  for (int i = threadIdx.x; i < k4; i += blockDim.x) {  // each thread rescales its own elements
    const float4 v = h4[i], g = __ldg(w4 + i);
    h4[i] = make_float4(g.x * (v.x * inv), g.y * (v.y * inv), g.z * (v.z * inv), g.w * (v.w * inv));
  }
  __syncthreads();
}

template <bool BF16>
__global__ void __launch_bounds__(kWarps * 32)
    gemv_rmsnorm_kernel(float* __restrict__ out, const float* __restrict__ x, const float* __restrict__ nw, float eps,
                        const void* __restrict__ w, int k, int m, bool early) {
  extern __shared__ float4 h4[];
  const int row = blockIdx.x * kWarps + (threadIdx.x >> 5), lane = threadIdx.x & 31;
  // early (COSMOS_GEMV_EARLY, on by default): the row's first weight batch is loaded before the PDL wait (weights
  // are never written by a kernel), so its DRAM latency overlaps the previous kernel's tail and this one's norm
  // prologue; the next kernel may launch once every block here has passed its wait (not earlier: a chain of
  // kernels each preloading ahead of the one before would thrash L2).
  uint4 pre[4];
  const bool has_pre = BF16 && early && row < m && lane + 96 < k / 8;
  if (has_pre) {
    const uint4* wr = reinterpret_cast<const uint4*>(static_cast<const __nv_bfloat16*>(w) + (long long)row * k);
#pragma unroll
    for (int i = 0; i < 4; ++i) pre[i] = __ldg(wr + lane + 32 * i);
  }
  cosmos::pdl_wait();  // PDL (core/cuda_pdl.cuh): x is the previous kernel's output
  if (early) cosmos::pdl_launch_dependents();
  stage_rmsnorm(h4, x, nw, eps, k);
  if (row >= m) return;
  float acc = 0.f;
  int c = lane;
  if (has_pre) {
#pragma unroll
    for (int i = 0; i < 4; ++i) acc = dot8s_bf(acc, pre[i], h4, c + 32 * i);
    c += 128;
  }
  acc = cosmos::warp_sum(row_dot<BF16>(w, row, k, h4, c, acc));
  if (lane == 0) out[row] = acc;
}

__device__ __forceinline__ float silu_mul(float g, float u) { return g / (1.0f + expf(-g)) * u; }

template <bool BF16>
__global__ void __launch_bounds__(kWarps * 32)
    gemv_rmsnorm_swiglu_kernel(float* __restrict__ out, const float* __restrict__ x, const float* __restrict__ nw,
                               float eps, const void* __restrict__ w, int k, int inter, bool early) {
  extern __shared__ float4 h4[];
  const int j = blockIdx.x * kWarps + (threadIdx.x >> 5), lane = threadIdx.x & 31;
  const int chunks = k / 8;
  const uint4* g = reinterpret_cast<const uint4*>(static_cast<const __nv_bfloat16*>(w) + (long long)j * k);
  const uint4* u = reinterpret_cast<const uint4*>(static_cast<const __nv_bfloat16*>(w) + (long long)(inter + j) * k);
  uint4 pg[4], pu[4];  // the first batch before the wait, as gemv_rmsnorm_kernel
  const bool has_pre = BF16 && early && j < inter && lane + 96 < chunks;
  if (has_pre) {
#pragma unroll
    for (int i = 0; i < 4; ++i) pg[i] = __ldg(g + lane + 32 * i);
#pragma unroll
    for (int i = 0; i < 4; ++i) pu[i] = __ldg(u + lane + 32 * i);
  }
  cosmos::pdl_wait();
  if (early) cosmos::pdl_launch_dependents();
  stage_rmsnorm(h4, x, nw, eps, k);
  if (j >= inter) return;
  float ag = 0.f, au = 0.f;
  int c = lane;
  if (BF16) {  // gemv_swiglu.cu's loop: 8 loads in flight a lane
    if (has_pre) {
#pragma unroll
      for (int i = 0; i < 4; ++i) ag = dot8s_bf(ag, pg[i], h4, c + 32 * i);
#pragma unroll
      for (int i = 0; i < 4; ++i) au = dot8s_bf(au, pu[i], h4, c + 32 * i);
      c += 128;
    }
    for (; c + 96 < chunks; c += 128) {
      const uint4 g0 = __ldg(g + c), g1 = __ldg(g + c + 32), g2 = __ldg(g + c + 64), g3 = __ldg(g + c + 96);
      const uint4 u0 = __ldg(u + c), u1 = __ldg(u + c + 32), u2 = __ldg(u + c + 64), u3 = __ldg(u + c + 96);
      ag = dot8s_bf(ag, g0, h4, c);
      ag = dot8s_bf(ag, g1, h4, c + 32);
      ag = dot8s_bf(ag, g2, h4, c + 64);
      ag = dot8s_bf(ag, g3, h4, c + 96);
      au = dot8s_bf(au, u0, h4, c);
      au = dot8s_bf(au, u1, h4, c + 32);
      au = dot8s_bf(au, u2, h4, c + 64);
      au = dot8s_bf(au, u3, h4, c + 96);
    }
    for (; c < chunks; c += 32) {
      ag = dot8s_bf(ag, __ldg(g + c), h4, c);
      au = dot8s_bf(au, __ldg(u + c), h4, c);
    }
  } else {
    ag = row_dot<false>(w, j, k, h4, lane);
    au = row_dot<false>(w, (long long)inter + j, k, h4, lane);
  }
  ag = cosmos::warp_sum(ag);
  au = cosmos::warp_sum(au);
  if (lane == 0) out[j] = silu_mul(ag, au);
}

bool early_on() {
  static const bool on = [] {
    const char* e = std::getenv("COSMOS_GEMV_EARLY");
    return !(e && e[0] == '0' && e[1] == 0);
  }();
  return on;
}

void check(const float* x, const void* w, int k, const char* who) {
  if (!gemv_rmsnorm_supported(x, w, k))
    throw std::runtime_error(std::string(who) + ": needs k % 8 == 0, k <= 12288 and 16-byte aligned x and w");
}
}  // namespace

bool gemv_rmsnorm_supported(const float* x, const void* w, int k) {
  return k > 0 && k % 8 == 0 && k <= kMaxK && (reinterpret_cast<uintptr_t>(x) & 15) == 0 &&
         (reinterpret_cast<uintptr_t>(w) & 15) == 0;
}

void gemv_rmsnorm_cuda(float* out, const float* x, const float* nw, float eps, const void* w, WType wt, int k, int m,
                       const cosmos::CudaContext& ctx) {
  if (m <= 0) return;
  check(x, w, k, "gemv_rmsnorm_cuda");
  const dim3 grid(cosmos::ceil_div(m, kWarps)), block(kWarps * 32);
  const size_t smem = sizeof(float) * k;
  if (wt == WType::BF16)
    cosmos::launch_pdl(gemv_rmsnorm_kernel<true>, grid, block, smem, ctx.stream, out, x, nw, eps, w, k, m, early_on());
  else
    cosmos::launch_pdl(gemv_rmsnorm_kernel<false>, grid, block, smem, ctx.stream, out, x, nw, eps, w, k, m, early_on());
  CUDA_CHECK_LAUNCH();
}

void gemv_rmsnorm_swiglu_cuda(float* out, const float* x, const float* nw, float eps, const void* w, WType wt, int k,
                              int inter, const cosmos::CudaContext& ctx) {
  if (inter <= 0) return;
  check(x, w, k, "gemv_rmsnorm_swiglu_cuda");
  const dim3 grid(cosmos::ceil_div(inter, kWarps)), block(kWarps * 32);
  const size_t smem = sizeof(float) * k;
  if (wt == WType::BF16)
    cosmos::launch_pdl(gemv_rmsnorm_swiglu_kernel<true>, grid, block, smem, ctx.stream, out, x, nw, eps, w, k, inter,
                       early_on());
  else
    cosmos::launch_pdl(gemv_rmsnorm_swiglu_kernel<false>, grid, block, smem, ctx.stream, out, x, nw, eps, w, k, inter,
                       early_on());
  CUDA_CHECK_LAUNCH();
}
