// Decode gate|up GEMV with SwiGLU in the epilogue. One warp owns output j and streams both of its weight
// rows (gate row j and up row inter + j) together: 8 independent 16-byte loads per lane in flight, and
// each row's dot product is accumulated in the same order as matmul.cu's GEMV (lane-strided 8-element
// chunks, then a warp sum), so the result matches the unfused matmul + swiglu_cuda. silu uses expf, as
// swiglu.cu does.
#ifndef COSMOS_CUDA
#define COSMOS_CUDA 1
#endif
#include "gemv_swiglu.h"

#include <cuda_bf16.h>

#include <cstdint>

#include "../core/cuda_common.h"
#include "../core/cuda_pdl.cuh"
#include "../core/cuda_reduce.h"
#include "gemv_common.cuh"

namespace {
constexpr int kWarps = 4;

using namespace cosmos::gemv;
__device__ __forceinline__ float silu_mul(float g, float u) { return g / (1.0f + expf(-g)) * u; }

// Vector path: k % 8 == 0, 16-byte aligned x and w.
template <bool BF16>
__global__ void __launch_bounds__(kWarps * 32)
    gemv_swiglu_vec_kernel(float* __restrict__ out, const float* __restrict__ x, const void* __restrict__ w, int k,
                           int inter) {
  const int j = blockIdx.x * kWarps + (threadIdx.x >> 5);
  const int lane = threadIdx.x & 31;
  if (j >= inter) return;
  cosmos::pdl_wait();  // PDL (core/cuda_pdl.cuh): launched before the kernel that writes x has finished
  const int chunks = k / 8;
  float ag = 0.f, au = 0.f;
  int c = lane;
  if (BF16) {
    const uint4* g = reinterpret_cast<const uint4*>(static_cast<const __nv_bfloat16*>(w) + (long long)j * k);
    const uint4* u = reinterpret_cast<const uint4*>(static_cast<const __nv_bfloat16*>(w) + (long long)(inter + j) * k);
    for (; c + 96 < chunks; c += 128) {
      uint4 g0 = __ldg(g + c), g1 = __ldg(g + c + 32), g2 = __ldg(g + c + 64), g3 = __ldg(g + c + 96);
      uint4 u0 = __ldg(u + c), u1 = __ldg(u + c + 32), u2 = __ldg(u + c + 64), u3 = __ldg(u + c + 96);
      ag = dot8_bf(ag, g0, x, c);
      ag = dot8_bf(ag, g1, x, c + 32);
      ag = dot8_bf(ag, g2, x, c + 64);
      ag = dot8_bf(ag, g3, x, c + 96);
      au = dot8_bf(au, u0, x, c);
      au = dot8_bf(au, u1, x, c + 32);
      au = dot8_bf(au, u2, x, c + 64);
      au = dot8_bf(au, u3, x, c + 96);
    }
    for (; c < chunks; c += 32) {
      ag = dot8_bf(ag, __ldg(g + c), x, c);
      au = dot8_bf(au, __ldg(u + c), x, c);
    }
  } else {
    const float4* g = reinterpret_cast<const float4*>(static_cast<const float*>(w) + (long long)j * k);
    const float4* u = reinterpret_cast<const float4*>(static_cast<const float*>(w) + (long long)(inter + j) * k);
    for (; c < chunks; c += 32) {
      float4 g0 = __ldg(g + 2 * c), g1 = __ldg(g + 2 * c + 1), u0 = __ldg(u + 2 * c), u1 = __ldg(u + 2 * c + 1);
      float gv[8] = {g0.x, g0.y, g0.z, g0.w, g1.x, g1.y, g1.z, g1.w};
      float uv[8] = {u0.x, u0.y, u0.z, u0.w, u1.x, u1.y, u1.z, u1.w};
      ag = dot8(ag, gv, x, c);
      au = dot8(au, uv, x, c);
    }
  }
  ag = cosmos::warp_sum(ag);
  au = cosmos::warp_sum(au);
  if (lane == 0) out[j] = silu_mul(ag, au);
}

// Scalar fallback (odd k or unaligned pointers).
template <bool BF16>
__global__ void gemv_swiglu_scalar_kernel(float* out, const float* x, const void* w, int k, int inter) {
  const int j = blockIdx.x * kWarps + (threadIdx.x >> 5);
  const int lane = threadIdx.x & 31;
  if (j >= inter) return;
  cosmos::pdl_wait();
  auto wat = [&](long long i) {
    return BF16 ? __bfloat162float(static_cast<const __nv_bfloat16*>(w)[i]) : static_cast<const float*>(w)[i];
  };
  float ag = 0.f, au = 0.f;
  for (int c = lane; c < k; c += 32) {
    ag += wat((long long)j * k + c) * x[c];
    au += wat((long long)(inter + j) * k + c) * x[c];
  }
  ag = cosmos::warp_sum(ag);
  au = cosmos::warp_sum(au);
  if (lane == 0) out[j] = silu_mul(ag, au);
}
}  // namespace

void gemv_swiglu_cuda(float* out, const float* x, const void* w, WType wt, int k, int inter,
                      const cosmos::CudaContext& ctx) {
  const cudaStream_t stream = ctx.stream;
  if (inter <= 0) return;
  const bool bf = wt == WType::BF16;
  const bool vec =
      k % 8 == 0 && (reinterpret_cast<uintptr_t>(x) & 15) == 0 && (reinterpret_cast<uintptr_t>(w) & 15) == 0;
  dim3 grid(cosmos::ceil_div(inter, kWarps)), block(kWarps * 32);
  if (vec && bf)
    cosmos::launch_pdl(gemv_swiglu_vec_kernel<true>, grid, block, 0, stream, out, x, w, k, inter);
  else if (vec)
    cosmos::launch_pdl(gemv_swiglu_vec_kernel<false>, grid, block, 0, stream, out, x, w, k, inter);
  else if (bf)
    cosmos::launch_pdl(gemv_swiglu_scalar_kernel<true>, grid, block, 0, stream, out, x, w, k, inter);
  else
    cosmos::launch_pdl(gemv_swiglu_scalar_kernel<false>, grid, block, 0, stream, out, x, w, k, inter);
  CUDA_CHECK_LAUNCH();
}
