// Wan's channel RMS_norm (+ SiLU), f32 or bf16 out.
//  * dim a multiple of 128 up to 1024 (every norm of the Wan2.2 decoder: 1024, 512, 256 channels): one warp per row,
//    each lane holding its dim / 32 values from 16-byte loads, the sum of squares in shuffles. The VAE's rows are
//    pixels (~1M of them a 720p frame) of a few hundred channels, where the block-per-row kernel below spent its
//    time in barriers and scalar loads (7% of a 720p decode's kernel time, ncu, 2026-12-02).
//  * Any other dim (the tiny fixtures): one block per row, the sum tree-reduced in f32.
// Both forms compute each value as x / denom * scale * g (then SiLU) in f32, so the bf16 output is the f32 output
// rounded (the same code up to the store).
#ifndef COSMOS_CUDA
#define COSMOS_CUDA 1
#endif
#include <cuda_bf16.h>

#include <algorithm>
#include <cstdint>

#include "../core/cuda_common.h"
#include "../core/cuda_reduce.h"
#include "mma_bf16.cuh"
#include "wan_rmsnorm.h"

namespace {
using bf16 = __nv_bfloat16;

__device__ __forceinline__ float norm_value(float x, float denom, float scale, float g, bool silu) {
  const float v = x / denom * scale * g;
  return silu ? v / (1.f + expf(-v)) : v;
}
__device__ __forceinline__ void store(float* o, float v) { *o = v; }
__device__ __forceinline__ void store(bf16* o, float v) { *o = __float2bfloat16_rn(v); }
__device__ __forceinline__ void store4(float* o, float4 v) { *reinterpret_cast<float4*>(o) = v; }
__device__ __forceinline__ void store4(bf16* o, float4 v) { *reinterpret_cast<uint2*>(o) = cosmos::pack_bf16x4(v); }

template <class Out>
__global__ void wan_rmsnorm_kernel(Out* out, const float* x, const float* g, int dim, float scale, bool silu) {
  __shared__ float sh[32];
  const float* xr = x + (long long)blockIdx.x * dim;
  Out* o = out + (long long)blockIdx.x * dim;
  float ss = 0.f;
  for (int i = threadIdx.x; i < dim; i += blockDim.x) ss += xr[i] * xr[i];
  ss = cosmos::block_sum(ss, sh);
  const float denom = fmaxf(sqrtf(ss), 1e-12f);
  for (int i = threadIdx.x; i < dim; i += blockDim.x) store(o + i, norm_value(xr[i], denom, scale, g[i], silu));
}

constexpr int kRowsPerBlock = 8;  // warps of the warp-per-row kernel
// kVec float4 per lane: dim = 128 * kVec. Lane l holds channels 4(l + 32v) .. +3 for v < kVec.
template <int kVec, class Out>
__global__ void __launch_bounds__(32 * kRowsPerBlock)
    wan_rmsnorm_warp_kernel(Out* out, const float* x, const float* __restrict__ g, long long rows, float scale,
                            bool silu) {  // out may alias x: a lane stores only what it loaded, after the sum
  const long long r = (long long)blockIdx.x * kRowsPerBlock + (threadIdx.x >> 5);
  if (r >= rows) return;
  const int lane = threadIdx.x & 31, dim = 128 * kVec;
  const float4* xr = reinterpret_cast<const float4*>(x + r * dim);
  float4 v[kVec];
  float ss = 0.f;
#pragma unroll
  for (int i = 0; i < kVec; ++i) {
    v[i] = __ldcs(xr + lane + 32 * i);  // read once: streamed past L1
    ss += v[i].x * v[i].x + v[i].y * v[i].y + v[i].z * v[i].z + v[i].w * v[i].w;
  }
  ss = cosmos::warp_sum(ss);
  const float denom = fmaxf(sqrtf(ss), 1e-12f);
  const float4* g4 = reinterpret_cast<const float4*>(g);
#pragma unroll
  for (int i = 0; i < kVec; ++i) {
    const float4 gi = __ldg(g4 + lane + 32 * i);
    float4 y;
    y.x = norm_value(v[i].x, denom, scale, gi.x, silu), y.y = norm_value(v[i].y, denom, scale, gi.y, silu);
    y.z = norm_value(v[i].z, denom, scale, gi.z, silu), y.w = norm_value(v[i].w, denom, scale, gi.w, silu);
    store4(out + r * dim + 4 * (lane + 32 * i), y);
  }
}

template <int kVec, class Out>
void launch_warp(Out* out, const float* x, const float* g, long long rows, float scale, bool silu, cudaStream_t s) {
  const long long blocks = (rows + kRowsPerBlock - 1) / kRowsPerBlock;
  wan_rmsnorm_warp_kernel<kVec, Out><<<(unsigned)blocks, 32 * kRowsPerBlock, 0, s>>>(out, x, g, rows, scale, silu);
  CUDA_CHECK_LAUNCH();
}

// launch_warp for dims 128, 256, .., 1024.
template <class Out>
using WarpLaunch = void (*)(Out*, const float*, const float*, long long, float, bool, cudaStream_t);
template <class Out>
constexpr WarpLaunch<Out> kWarpLaunches[8] = {launch_warp<1, Out>, launch_warp<2, Out>, launch_warp<3, Out>,
                                              launch_warp<4, Out>, launch_warp<5, Out>, launch_warp<6, Out>,
                                              launch_warp<7, Out>, launch_warp<8, Out>};

template <class Out>
void run(Out* out, const float* x, const float* gamma, long long rows, int dim, bool silu,
         const cosmos::CudaContext& ctx) {
  if (rows <= 0 || dim <= 0) return;
  const float scale = sqrtf((float)dim);
  const bool aligned = reinterpret_cast<uintptr_t>(x) % 16 == 0 && reinterpret_cast<uintptr_t>(gamma) % 16 == 0 &&
                       reinterpret_cast<uintptr_t>(out) % (4 * sizeof(Out)) == 0;
  if (aligned && dim % 128 == 0 && dim <= 1024) {
    // Row chunks keep the grid under 2^31 blocks (and r * dim in the kernel's 64-bit arithmetic).
    for (long long r0 = 0; r0 < rows; r0 += 0x3fffffffll) {
      const long long n = std::min(rows - r0, 0x3fffffffll);
      Out* o = out + r0 * dim;
      const float* xr = x + r0 * dim;
      kWarpLaunches<Out>[dim / 128 - 1](o, xr, gamma, n, scale, silu, ctx.stream);
    }
    return;
  }
  for (long long r0 = 0; r0 < rows; r0 += 0x7fffffffll) {
    const long long n = std::min(rows - r0, 0x7fffffffll);
    wan_rmsnorm_kernel<Out><<<(unsigned)n, cosmos::row_threads(dim), 0, ctx.stream>>>(out + r0 * dim, x + r0 * dim,
                                                                                      gamma, dim, scale, silu);
    CUDA_CHECK_LAUNCH();
  }
}
}  // namespace

void wan_rmsnorm_cuda(float* out, const float* x, const float* gamma, long long rows, int dim, bool silu,
                      const cosmos::CudaContext& ctx) {
  run(out, x, gamma, rows, dim, silu, ctx);
}

void wan_rmsnorm_bf16_cuda(void* out, const float* x, const float* gamma, long long rows, int dim, bool silu,
                           const cosmos::CudaContext& ctx) {
  run(static_cast<bf16*>(out), x, gamma, rows, dim, silu, ctx);
}
