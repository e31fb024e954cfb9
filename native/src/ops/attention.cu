// Attention over a KV cache, flash-style: K/V stream through shared memory in tiles of 32 keys and
// each query keeps a running max / sum / output (online softmax), so the n_q x n_kv score matrix is
// never stored. Everything is f32 (scores, exp, accumulation), matching attention_cpu to ~1e-6.
//
// Work split: a block serves one KV head and 8 "items" (warp each), an item being a (query row,
// q head of this KV group) pair, enumerated query-major. GQA falls out naturally: the 4 q heads of a
// Qwen3 KV group share every K/V tile load. Within a warp, lane j scores key j of the tile (dot
// product against the query held in shared memory), then the 32 probabilities are broadcast with
// shuffles while each lane accumulates its head_dim/32 output dimensions.
//
// Known limit: decode (n_q = 1) runs kv_heads x ceil(group/8) blocks, e.g. 8 blocks for Qwen3-8B,
// each walking the whole cache. That is fine for the contexts we serve (the weight stream dominates)
// but a split-KV ("flash-decoding") variant would be needed for very long contexts.
#ifndef COSMOS_CUDA
#define COSMOS_CUDA 1
#endif
#include "attention.h"

#include <stdexcept>

#include "../core/cuda_common.h"
#include "../core/cuda_reduce.h"

namespace {
constexpr int kWarps = 8;   // items per block
constexpr int kTile = 32;   // keys per tile = lanes per warp

template <int DPL>  // output dims per lane: head_dim <= 32 * DPL
__global__ void __launch_bounds__(kWarps * 32) attention_kernel(float* out, const float* q, const float* k,
                                                                const float* v, int n_q, int n_kv, int q_heads,
                                                                int kv_heads, int hd, int q_offset, bool causal,
                                                                float scale) {
  extern __shared__ float sm[];
  float* Qs = sm;                          // [kWarps][hd], pre-scaled queries
  float* Ks = Qs + kWarps * hd;            // [kTile][hd + 1] (odd stride: conflict-free per-lane rows)
  float* Vs = Ks + kTile * (hd + 1);       // [kTile][hd]
  const int group = q_heads / kv_heads;
  const int kh = blockIdx.y;
  const int warp = threadIdx.x >> 5, lane = threadIdx.x & 31;
  const long long items = (long long)n_q * group;
  const long long f = (long long)blockIdx.x * kWarps + warp;
  const bool active = f < items;
  const int i = active ? (int)(f / group) : 0;
  const int h = kh * group + (active ? (int)(f % group) : 0);
  const int last = !active ? 0 : (causal ? min(n_kv, q_offset + i + 1) : n_kv);
  // Keys the block needs: those of its last (largest) query row.
  long long f_end = min(items - 1, (long long)blockIdx.x * kWarps + kWarps - 1);
  const int block_last = causal ? min(n_kv, q_offset + (int)(f_end / group) + 1) : n_kv;

  if (active)
    for (int d = lane; d < hd; d += 32) Qs[warp * hd + d] = q[((long long)i * q_heads + h) * hd + d] * scale;

  float acc[DPL];
#pragma unroll
  for (int t = 0; t < DPL; ++t) acc[t] = 0.f;
  float m = -INFINITY, l = 0.f;

  for (int j0 = 0; j0 < block_last; j0 += kTile) {
    __syncthreads();  // the previous tile is consumed (and Qs is visible on the first pass)
    for (int e = threadIdx.x; e < kTile * hd; e += blockDim.x) {
      int r = e / hd, d = e - r * hd, j = j0 + r;
      float kv = 0.f, vv = 0.f;
      if (j < block_last) {
        long long off = ((long long)j * kv_heads + kh) * hd + d;
        kv = k[off];
        vv = v[off];
      }
      Ks[r * (hd + 1) + d] = kv;
      Vs[r * hd + d] = vv;
    }
    __syncthreads();
    if (j0 >= last) continue;  // whole tile beyond this warp's causal limit (loop bounds stay block-uniform)

    const int j = j0 + lane;
    float s = -INFINITY;
    if (j < last) {
      const float* qr = Qs + warp * hd;
      const float* kr = Ks + lane * (hd + 1);
      float dot = 0.f;
      for (int d = 0; d < hd; ++d) dot += qr[d] * kr[d];
      s = dot;
    }
    float m_new = fmaxf(m, cosmos::warp_max(s));  // finite: key j0 < last is always visible
    float alpha = expf(m - m_new);                // 0 on the first tile (m = -inf)
    float p = j < last ? expf(s - m_new) : 0.f;
    l = l * alpha + cosmos::warp_sum(p);
#pragma unroll
    for (int t = 0; t < DPL; ++t) acc[t] *= alpha;
    int nj = min(kTile, last - j0);
    for (int jj = 0; jj < nj; ++jj) {
      float pj = __shfl_sync(0xffffffffu, p, jj);
      const float* vr = Vs + jj * hd;
#pragma unroll
      for (int t = 0; t < DPL; ++t) {
        int d = lane + 32 * t;
        if (d < hd) acc[t] += pj * vr[d];
      }
    }
    m = m_new;
  }
  if (!active) return;
  float inv = last > 0 ? 1.0f / l : 0.f;  // no visible key: zeros, as attention_cpu
  float* o = out + ((long long)i * q_heads + h) * hd;
#pragma unroll
  for (int t = 0; t < DPL; ++t) {
    int d = lane + 32 * t;
    if (d < hd) o[d] = acc[t] * inv;
  }
}

template <int DPL>
void launch(float* out, const float* q, const float* k, const float* v, int n_q, int n_kv, int q_heads, int kv_heads,
            int hd, int q_offset, bool causal, float scale, cudaStream_t stream) {
  size_t smem = sizeof(float) * ((size_t)kWarps * hd + (size_t)kTile * (hd + 1) + (size_t)kTile * hd);
  if (smem > 48 * 1024) {
    // Opt in to more than the 48 KiB default (head_dim > ~170); idempotent and cheap.
    CUDA_CHECK(cudaFuncSetAttribute(attention_kernel<DPL>, cudaFuncAttributeMaxDynamicSharedMemorySize, (int)smem));
  }
  int group = q_heads / kv_heads;
  dim3 grid(cosmos::ceil_div((long long)n_q * group, kWarps), kv_heads);
  attention_kernel<DPL><<<grid, kWarps * 32, smem, stream>>>(out, q, k, v, n_q, n_kv, q_heads, kv_heads, hd, q_offset,
                                                             causal, scale);
  CUDA_CHECK_LAUNCH();
}
}  // namespace

void attention_cuda(float* out, const float* q, const float* k, const float* v, int n_q, int n_kv, int q_heads,
                    int kv_heads, int head_dim, int q_offset, bool causal, float scale, cudaStream_t stream) {
  if (n_q <= 0) return;
  if (kv_heads <= 0 || q_heads % kv_heads != 0) throw std::runtime_error("attention_cuda: q_heads % kv_heads != 0");
  if (head_dim <= 32) launch<1>(out, q, k, v, n_q, n_kv, q_heads, kv_heads, head_dim, q_offset, causal, scale, stream);
  else if (head_dim <= 64) launch<2>(out, q, k, v, n_q, n_kv, q_heads, kv_heads, head_dim, q_offset, causal, scale, stream);
  else if (head_dim <= 128) launch<4>(out, q, k, v, n_q, n_kv, q_heads, kv_heads, head_dim, q_offset, causal, scale, stream);
  else if (head_dim <= 256) launch<8>(out, q, k, v, n_q, n_kv, q_heads, kv_heads, head_dim, q_offset, causal, scale, stream);
  else throw std::runtime_error("attention_cuda: head_dim > 256 is not supported");
}
