// See gemv_add.h. matmul.cu's GEMV (one warp per weight row, lane-strided 8-element chunks, 4 16-byte loads in
// flight a lane, then a warp sum: the same order, so x + (W . a) equals matmul + add bit for bit) whose row-owning
// lane adds its sum into x[row]. That replaces the add half of add_rmsnorm (the norm half moved into the next
// GEMV's prologue, gemv_rmsnorm.h): no counter, no tail, no extra launch.
// The weight rows are streamed once; COSMOS_GEMV_NOALLOC=1 loads them with ld.global.nc.L1::no_allocate so they
// do not push a (48 KB at the down projection's k = 12288) out of L1.
#ifndef COSMOS_CUDA
#define COSMOS_CUDA 1
#endif
#include "gemv_add.h"

#include <cuda_bf16.h>

#include <cstdint>
#include <cstdlib>

#include "../core/cuda_common.h"
#include "../core/cuda_pdl.cuh"
#include "../core/cuda_reduce.h"
#include "gemv_common.cuh"

namespace {
constexpr int kWarps = 4;

using namespace cosmos::gemv;

template <bool NA>
__device__ __forceinline__ uint4 ld_w(const uint4* p) {
  if (!NA) return __ldg(p);
  uint4 r;
  asm("ld.global.nc.L1::no_allocate.v4.u32 {%0, %1, %2, %3}, [%4];"
      : "=r"(r.x), "=r"(r.y), "=r"(r.z), "=r"(r.w)
      : "l"(p));
  return r;
}

template <bool BF16, bool NA>
__global__ void __launch_bounds__(kWarps * 32) gemv_add_kernel(float* __restrict__ x, const float* __restrict__ a,
                                                               const void* __restrict__ w, int k, int m, bool early) {
  const int row = blockIdx.x * kWarps + (threadIdx.x >> 5);
  const int lane = threadIdx.x & 31;
  if (row >= m) return;
  const int chunks = k / 8;
  float acc = 0.f;
  int c = lane;
  if (BF16) {
    const uint4* wr = reinterpret_cast<const uint4*>(static_cast<const __nv_bfloat16*>(w) + (long long)row * k);
    // early (gemv_rmsnorm.cu says why): the first batch before the PDL wait, the next kernel let in after it.
    uint4 p0, p1, p2, p3;
    const bool has_pre = early && c + 96 < chunks;
    if (has_pre) {
      p0 = ld_w<NA>(wr + c);
      p1 = ld_w<NA>(wr + c + 32);
      p2 = ld_w<NA>(wr + c + 64);
      p3 = ld_w<NA>(wr + c + 96);
    }
    cosmos::pdl_wait();  // PDL (core/cuda_pdl.cuh): a is the previous kernel's output, x an earlier one's
    if (early) cosmos::pdl_launch_dependents();
    if (has_pre) {
      acc = dot8_bf(acc, p0, a, c);
      acc = dot8_bf(acc, p1, a, c + 32);
      acc = dot8_bf(acc, p2, a, c + 64);
      acc = dot8_bf(acc, p3, a, c + 96);
      c += 128;
    }
    for (; c + 96 < chunks; c += 128) {
      const uint4 u0 = ld_w<NA>(wr + c), u1 = ld_w<NA>(wr + c + 32), u2 = ld_w<NA>(wr + c + 64),
                  u3 = ld_w<NA>(wr + c + 96);
      acc = dot8_bf(acc, u0, a, c);
      acc = dot8_bf(acc, u1, a, c + 32);
      acc = dot8_bf(acc, u2, a, c + 64);
      acc = dot8_bf(acc, u3, a, c + 96);
    }
    for (; c < chunks; c += 32) acc = dot8_bf(acc, ld_w<NA>(wr + c), a, c);
  } else {
    cosmos::pdl_wait();
    const float4* wr = reinterpret_cast<const float4*>(static_cast<const float*>(w) + (long long)row * k);
    for (; c < chunks; c += 32) {
      const float4 p = __ldg(wr + 2 * c), q = __ldg(wr + 2 * c + 1);
      const float wv[8] = {p.x, p.y, p.z, p.w, q.x, q.y, q.z, q.w};
      acc = dot8(acc, wv, a, c);
    }
  }
  acc = cosmos::warp_sum(acc);
  if (lane == 0) x[row] = x[row] + acc;
}

// Odd k or unaligned pointers: matmul.cu's scalar GEMV order.
template <bool BF16>
__global__ void gemv_add_scalar_kernel(float* x, const float* a, const void* w, int k, int m) {
  const int row = blockIdx.x * kWarps + (threadIdx.x >> 5);
  const int lane = threadIdx.x & 31;
  if (row >= m) return;
  cosmos::pdl_wait();
  float acc = 0.f;
  for (int c = lane; c < k; c += 32) {
    const float wv = BF16 ? __bfloat162float(static_cast<const __nv_bfloat16*>(w)[(long long)row * k + c])
                          : static_cast<const float*>(w)[(long long)row * k + c];
    acc += wv * a[c];
  }
  acc = cosmos::warp_sum(acc);
  if (lane == 0) x[row] = x[row] + acc;
}

bool early_on() {
  static const bool on = [] {
    const char* e = std::getenv("COSMOS_GEMV_EARLY");
    return !(e && e[0] == '0' && e[1] == 0);
  }();
  return on;
}

bool no_allocate() {
  static const bool on = [] {
    const char* e = std::getenv("COSMOS_GEMV_NOALLOC");
    return e && e[0] == '1' && e[1] == 0;
  }();
  return on;
}
}  // namespace

void gemv_add_cuda(float* x, const float* a, const void* w, WType wt, int k, int m, const cosmos::CudaContext& ctx) {
  if (m <= 0) return;
  const bool vec =
      k % 8 == 0 && (reinterpret_cast<uintptr_t>(a) & 15) == 0 && (reinterpret_cast<uintptr_t>(w) & 15) == 0;
  const dim3 grid(cosmos::ceil_div(m, kWarps)), block(kWarps * 32);
  const bool bf = wt == WType::BF16;
  if (!vec) {
    if (bf)
      cosmos::launch_pdl(gemv_add_scalar_kernel<true>, grid, block, 0, ctx.stream, x, a, w, k, m);
    else
      cosmos::launch_pdl(gemv_add_scalar_kernel<false>, grid, block, 0, ctx.stream, x, a, w, k, m);
  } else if (!bf) {
    cosmos::launch_pdl(gemv_add_kernel<false, false>, grid, block, 0, ctx.stream, x, a, w, k, m, false);
  } else if (no_allocate()) {
    cosmos::launch_pdl(gemv_add_kernel<true, true>, grid, block, 0, ctx.stream, x, a, w, k, m, early_on());
  } else {
    cosmos::launch_pdl(gemv_add_kernel<true, false>, grid, block, 0, ctx.stream, x, a, w, k, m, early_on());
  }
  CUDA_CHECK_LAUNCH();
}
