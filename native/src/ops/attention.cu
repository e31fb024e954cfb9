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
// Decode (n_q = 1) alone would run only kv_heads x ceil(group/8) blocks (8 on Qwen3-8B), each walking
// the whole cache; there the keys are split across blocks and the partial softmaxes merged (below).
#ifndef COSMOS_CUDA
#define COSMOS_CUDA 1
#endif
#include "attention.h"

#include <algorithm>
#include <map>
#include <mutex>
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
                                                                float scale, int chunk, float* part) {
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
  // Split-KV: this block sees keys [j_lo, j_lo + chunk) only (chunk = n_kv and part = nullptr when
  // not split).
  const int j_lo = blockIdx.z * chunk, j_hi = min(n_kv, j_lo + chunk);
  const int last = !active ? 0 : min(j_hi, causal ? min(n_kv, q_offset + i + 1) : n_kv);
  // Keys the block needs: those of its last (largest) query row.
  long long f_end = min(items - 1, (long long)blockIdx.x * kWarps + kWarps - 1);
  const int block_last = min(j_hi, causal ? min(n_kv, q_offset + (int)(f_end / group) + 1) : n_kv);

  if (active)
    for (int d = lane; d < hd; d += 32) Qs[warp * hd + d] = q[((long long)i * q_heads + h) * hd + d] * scale;

  float acc[DPL];
#pragma unroll
  for (int t = 0; t < DPL; ++t) acc[t] = 0.f;
  float m = -INFINITY, l = 0.f;

  for (int j0 = j_lo; j0 < block_last; j0 += kTile) {
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
  if (part) {  // unnormalised partial result: [acc(hd) | m | l] per (split, query, head)
    float* pp = part + ((long long)blockIdx.z * n_q * q_heads + (long long)i * q_heads + h) * (hd + 2);
#pragma unroll
    for (int t = 0; t < DPL; ++t) {
      int d = lane + 32 * t;
      if (d < hd) pp[d] = acc[t];
    }
    if (lane == 0) {
      pp[hd] = last > j_lo ? m : -INFINITY;  // a split with no visible key contributes nothing
      pp[hd + 1] = l;
    }
    return;
  }
  float inv = last > 0 ? 1.0f / l : 0.f;  // no visible key: zeros, as attention_cpu
  float* o = out + ((long long)i * q_heads + h) * hd;
#pragma unroll
  for (int t = 0; t < DPL; ++t) {
    int d = lane + 32 * t;
    if (d < hd) o[d] = acc[t] * inv;
  }
}

// Merges the split partials: out = sum_s e^(m_s - M) acc_s / sum_s e^(m_s - M) l_s. One warp per
// (query, head).
__global__ void attention_combine_kernel(float* out, const float* part, int rows, int splits, int hd) {
  int row = blockIdx.x * 4 + (threadIdx.x >> 5), lane = threadIdx.x & 31;
  if (row >= rows) return;
  float M = -INFINITY;
  for (int s = 0; s < splits; ++s) M = fmaxf(M, part[((long long)s * rows + row) * (hd + 2) + hd]);
  float L = 0.f;
  for (int s = 0; s < splits; ++s) {
    const float* pp = part + ((long long)s * rows + row) * (hd + 2);
    if (pp[hd] != -INFINITY) L += expf(pp[hd] - M) * pp[hd + 1];
  }
  float inv = (M == -INFINITY || L == 0.f) ? 0.f : 1.0f / L;
  for (int d = lane; d < hd; d += 32) {
    float o = 0.f;
    for (int s = 0; s < splits; ++s) {
      const float* pp = part + ((long long)s * rows + row) * (hd + 2);
      if (pp[hd] != -INFINITY) o += expf(pp[hd] - M) * pp[d];
    }
    out[(long long)row * hd + d] = o * inv;
  }
}

// Split-KV workspace, one per stream (kernels on one stream run in order, so reuse is safe), grown on
// demand and kept for the process: at most a few MB (splits x q rows x heads x (head_dim + 2) floats).
float* split_workspace(cudaStream_t s, size_t floats) {
  static std::mutex mu;
  static std::map<cudaStream_t, std::pair<float*, size_t>> ws;
  std::lock_guard<std::mutex> lock(mu);
  auto& e = ws[s];
  if (e.second < floats) {
    if (e.first) {
      CUDA_CHECK(cudaStreamSynchronize(s));  // the old block may still be in use by this stream
      cudaFree(e.first);
    }
    e.first = nullptr;
    e.second = 0;
    CUDA_CHECK(cudaMalloc(&e.first, floats * sizeof(float)));
    e.second = floats;
  }
  return e.first;
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
  unsigned int xb = cosmos::ceil_div((long long)n_q * group, kWarps);
  // Flash-decoding: when the (query, head) items fill few blocks (decode: kv_heads blocks, e.g. 8 on
  // Qwen3-8B), split the keys over blockIdx.z so ~2 blocks per SM stream the cache, then merge.
  // Unsplit, decode attention at 1k context read the KV cache at ~40 GB/s.
  long long base = (long long)xb * kv_heads;
  int splits = 1;
  if (base < 132 && n_kv > 2 * kTile) {
    splits = (int)std::min<long long>({(264 + base - 1) / base, (n_kv + kTile - 1) / kTile, 64});
  }
  int chunk = n_kv;
  if (splits > 1) {
    chunk = ((n_kv + splits - 1) / splits + kTile - 1) / kTile * kTile;
    splits = (n_kv + chunk - 1) / chunk;
  }
  if (splits <= 1) {
    attention_kernel<DPL><<<dim3(xb, kv_heads, 1), kWarps * 32, smem, stream>>>(
        out, q, k, v, n_q, n_kv, q_heads, kv_heads, hd, q_offset, causal, scale, n_kv > 0 ? n_kv : 1, nullptr);
    CUDA_CHECK_LAUNCH();
    return;
  }
  int rows = n_q * q_heads;
  float* part = split_workspace(stream, (size_t)splits * rows * (hd + 2));
  attention_kernel<DPL><<<dim3(xb, kv_heads, splits), kWarps * 32, smem, stream>>>(
      out, q, k, v, n_q, n_kv, q_heads, kv_heads, hd, q_offset, causal, scale, chunk, part);
  CUDA_CHECK_LAUNCH();
  attention_combine_kernel<<<cosmos::ceil_div(rows, 4), 128, 0, stream>>>(out, part, rows, splits, hd);
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
