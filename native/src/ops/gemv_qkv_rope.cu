// See gemv_qkv_rope.h. One warp per projection row (matmul.cu's GEMV: 4 warps per block, the dot product of
// gemv_row.cuh); head_dim % 4 == 0, so each block's 4 rows lie in one head. A v block writes its rows to the cache
// row at once; a q / k block stores its rows in proj and counts itself in its head's counter, and the head's last
// block runs qkv_rope's norm + rotation for that head (qkv_norm_rope_kernel's expressions; with head_dim = 128 =
// blockDim its block sum also adds in the same order). Heads finish at different times, so these tails overlap
// the other blocks' weight streams instead of forming a launch of their own.
#ifndef COSMOS_CUDA
#define COSMOS_CUDA 1
#endif
#include "gemv_qkv_rope.h"

#include <cstdint>
#include <stdexcept>

#include "../core/cuda_common.h"
#include "../core/cuda_pdl.cuh"
#include "../core/cuda_reduce.h"
#include "gemv_row.cuh"

namespace {
constexpr int kWarps = 4;

// Grid (heads + 2 kv_heads) * hd / 4 blocks; dynamic shared memory: hd floats.
template <bool BF16>
__global__ void __launch_bounds__(kWarps * 32)
    gemv_qkv_rope_kernel(float* __restrict__ q_out, float* __restrict__ k_cache, float* __restrict__ v_cache,
                         float* __restrict__ proj, const float* __restrict__ x, const void* __restrict__ w,
                         const float* __restrict__ qw, const float* __restrict__ kw, const float* __restrict__ cos,
                         const float* __restrict__ sin, int k, int NH, int KVH, int D, float eps, int row0,
                         const int* row0_dev, unsigned* counters) {
  extern __shared__ float y[];
  __shared__ float red[32];
  __shared__ bool last;
  const int row = blockIdx.x * kWarps + (threadIdx.x >> 5);
  const int lane = threadIdx.x & 31;
  const int hh = blockIdx.x * kWarps / D;  // head slot: [0, NH) q, then KVH k heads, then KVH v heads
  cosmos::pdl_wait();                      // PDL: x comes from the kernel before this one
  if (row0_dev) row0 = *row0_dev;
  const float s = cosmos::gemv::row_dot<BF16>(w, row, x, k, lane);
  if (hh >= NH + KVH) {
    if (lane == 0) v_cache[(long long)row0 * KVH * D + (row - (NH + KVH) * D)] = s;
    return;
  }
  if (lane == 0) proj[row] = s;
  if (!cosmos::gemv::last_block_arrives(counters + hh, D / kWarps, &last)) return;
  // The head's last block: rmsnorm over the head, then rotate_half rotary (qkv_norm_rope_kernel).
  const bool isq = hh < NH;
  const int h = isq ? hh : hh - NH;
  const float* src = proj + (long long)hh * D;
  float ss = 0.f;
  for (int d = threadIdx.x; d < D; d += blockDim.x) {
    const float v = __ldcg(src + d);
    y[d] = v;
    ss += v * v;
  }
  ss = cosmos::block_sum(ss, red);
  const float inv = 1.0f / sqrtf(ss / (float)D + eps);
  const float* nw = isq ? qw : kw;
  for (int d = threadIdx.x; d < D; d += blockDim.x) y[d] = nw[d] * (y[d] * inv);
  __syncthreads();
  const int half = D / 2;
  float* dst = isq ? q_out + (long long)h * D : k_cache + ((long long)row0 * KVH + h) * D;
  for (int d = threadIdx.x; d < D; d += blockDim.x)
    dst[d] = d < half ? y[d] * cos[d] - y[d + half] * sin[d] : y[d] * cos[d] + y[d - half] * sin[d];
  if (threadIdx.x == 0) counters[hh] = 0u;
}

inline bool aligned16(const void* p) { return (reinterpret_cast<uintptr_t>(p) & 15) == 0; }
}  // namespace

bool gemv_qkv_rope_supported(const float* x, const void* w, int k, int head_dim, const float* qw, const float* kw) {
  return k > 0 && k % 8 == 0 && aligned16(x) && aligned16(w) && head_dim > 0 && head_dim % kWarps == 0 &&
         head_dim <= 1024 && qw && kw;
}

void gemv_qkv_rope_cuda(float* q_out, float* k_cache, float* v_cache, float* proj, const float* x, const void* w,
                        WType wt, const float* qw, const float* kw, const float* cos, const float* sin, int k,
                        int heads, int kv_heads, int head_dim, float eps, int row0, const int* row0_dev,
                        unsigned* counters, const cosmos::CudaContext& ctx) {
  if (!gemv_qkv_rope_supported(x, w, k, head_dim, qw, kw))
    throw std::invalid_argument("gemv_qkv_rope: k % 8, alignment, head_dim % 4 or a missing q/k norm");
  const int rows = (heads + 2 * kv_heads) * head_dim;
  const dim3 grid(rows / kWarps), block(kWarps * 32);
  const size_t smem = sizeof(float) * head_dim;
  if (wt == WType::BF16)
    cosmos::launch_pdl(gemv_qkv_rope_kernel<true>, grid, block, smem, ctx.stream, q_out, k_cache, v_cache, proj, x, w,
                       qw, kw, cos, sin, k, heads, kv_heads, head_dim, eps, row0, row0_dev, counters);
  else
    cosmos::launch_pdl(gemv_qkv_rope_kernel<false>, grid, block, smem, ctx.stream, q_out, k_cache, v_cache, proj, x, w,
                       qw, kw, cos, sin, k, heads, kv_heads, head_dim, eps, row0, row0_dev, counters);
  CUDA_CHECK_LAUNCH();
}
