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
// On Hopper the decode shapes (head_dim 16..256, GQA up to 8) take cluster_decode_kernel instead, one
// thread-block cluster per KV head, in one launch (below); the split kernel stays for the other shapes.
//
// Many queries (prefill, vision tower: n_q >= kFlashMinQ, 64 <= head_dim <= 128) take a tensor-core
// flash attention instead (flash_mma_kernel, FlashAttention-2 style): Q/K/V are rounded to bf16 as
// they are copied into shared memory, QK^T and PV run on mma.sync m16n8k16 (bf16 in, f32 accumulate),
// the online softmax stays in f32. The f32 SIMT kernel above ran at 5-7 TFLOP/s there. bf16 rounding
// of Q, K, V and P costs ~1e-3 relative on the output (see native/test/README.md); COSMOS_ATTENTION_F32=1
// forces the exact f32 kernel everywhere.
#ifndef COSMOS_CUDA
#define COSMOS_CUDA 1
#endif
#include "attention.h"

#include <cooperative_groups.h>
#include <cuda_bf16.h>

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <stdexcept>
#include <vector>

#include "../core/cuda_common.h"
#include "../core/cuda_pdl.cuh"
#include "../core/cuda_reduce.h"
#include "mma_bf16.cuh"
#include "row_vec.cuh"  // row_load / row_load4: keys and values in f32 or bf16

namespace {
namespace cg = cooperative_groups;
using cosmos::fast_exp2;
using cosmos::ldsm_x4;
using cosmos::ldsm_x4_t;
using cosmos::mma_bf16_16816;
using cosmos::pack_bf16x2;

constexpr int kWarps = 8;  // items per block
constexpr int kTile = 32;  // keys per tile = lanes per warp

// Flash-decoding split plan: when the (query, head) items fill few blocks (`base` = blocks without a
// split; decode: kv_heads blocks, e.g. 8 on Qwen3-8B), the keys are split over blockIdx.z so ~2 blocks
// per SM stream the cache, then merged. Unsplit, decode attention at 1k context read the KV cache at
// ~40 GB/s. Returns the number of splits and sets *chunk (keys per split, a multiple of kTile when split).
// Shared by the host launch and by the device-length decode kernel (attention_decode_cuda), which
// therefore split exactly alike and give identical results.
__host__ __device__ __forceinline__ int split_plan(int n_kv, long long base, int* chunk) {
  int splits = 1;
  if (base < 132 && n_kv > 2 * kTile) {
    long long s = (264 + base - 1) / base, t = (n_kv + kTile - 1) / kTile;
    s = s < t ? s : t;
    splits = (int)(s < 64 ? s : 64);
  }
  int c = n_kv > 0 ? n_kv : 1;
  if (splits > 1) {
    c = ((n_kv + splits - 1) / splits + kTile - 1) / kTile * kTile;
    splits = (n_kv + c - 1) / c;
  }
  *chunk = c;
  return splits;
}
// Upper bound of split_plan's splits for any n_kv <= max_kv (the grid depth of the decode kernel).
__host__ __device__ __forceinline__ int max_splits(int max_kv, long long base) {
  if (!(base < 132 && max_kv > 2 * kTile)) return 1;
  long long s = (264 + base - 1) / base, t = (max_kv + kTile - 1) / kTile;
  s = s < t ? s : t;
  return (int)(s < 64 ? s : 64);
}

// DYN: device-length decode (attention_decode_cuda); a separate instantiation so the host-length
// kernel keeps its registers (the runtime n_kv / split plan cost 8 more).
// KV: the keys' and values' type, f32 or bf16 (a bf16 KV cache, widened as it is read: the same arithmetic).
template <int DPL, bool DYN, class KV>  // output dims per lane: head_dim <= 32 * DPL
__global__ void __launch_bounds__(kWarps * 32)
    attention_kernel(float* out, const float* q, const KV* k, const KV* v, int n_q, int n_kv, int q_heads, int kv_heads,
                     int hd, int q_offset, bool causal, float scale, int chunk, float* part, const int* dyn_n_kv) {
  // PDL (core/cuda_pdl.cuh; the decode launch): the combine and the o-projection GEMV behind this kernel
  // may launch now (the GEMV prefetches its weights while this latency-bound kernel runs).
  cosmos::pdl_launch_dependents();
  cosmos::pdl_wait();
  // Device-length decode (attention_decode_cuda): n_kv comes from device memory so a captured launch
  // serves every step; the split plan is the host's, computed here; surplus z-blocks exit.
  if (DYN) {
    n_kv = *dyn_n_kv;
    q_offset = n_kv - n_q;
    int c;
    const int sp = split_plan(n_kv, (long long)gridDim.x * kv_heads, &c);
    if ((int)blockIdx.z >= sp) return;
    chunk = c;
    if (sp <= 1) part = nullptr;  // unsplit: write the output directly, as the host launch does
  }
  extern __shared__ float sm[];
  float* Qs = sm;                     // [kWarps][hd], pre-scaled queries
  float* Ks = Qs + kWarps * hd;       // [kTile][hd + 1] (odd stride: conflict-free per-lane rows)
  float* Vs = Ks + kTile * (hd + 1);  // [kTile][hd]
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
        kv = cosmos::row_load(k + off);
        vv = cosmos::row_load(v + off);
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
template <bool DYN>
__global__ void attention_combine_kernel(float* out, const float* part, int rows, int splits, int hd,
                                         const int* dyn_n_kv, long long base) {
  cosmos::pdl_launch_dependents();
  cosmos::pdl_wait();
  if (DYN) {  // device-length decode: the same plan as attention_kernel; unsplit wrote out already
    int c;
    splits = split_plan(*dyn_n_kv, base, &c);
    if (splits <= 1) return;
  }
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

template <int DPL, class KV>
void launch(float* out, const float* q, const KV* k, const KV* v, int n_q, int n_kv, int q_heads, int kv_heads, int hd,
            int q_offset, bool causal, float scale, const cosmos::CudaContext& ctx) {
  const cudaStream_t stream = ctx.stream;
  size_t smem = sizeof(float) * ((size_t)kWarps * hd + (size_t)kTile * (hd + 1) + (size_t)kTile * hd);
  if (smem > 48 * 1024) {
    // Opt in to more than the 48 KiB default (head_dim > ~170); idempotent and cheap.
    CUDA_CHECK(
        cudaFuncSetAttribute(attention_kernel<DPL, false, KV>, cudaFuncAttributeMaxDynamicSharedMemorySize, (int)smem));
  }
  int group = q_heads / kv_heads;
  unsigned int xb = cosmos::ceil_div((long long)n_q * group, kWarps);
  // Flash-decoding split (split_plan, above).
  const long long base = (long long)xb * kv_heads;
  int chunk;
  const int splits = split_plan(n_kv, base, &chunk);
  if (splits <= 1) {
    attention_kernel<DPL, false, KV><<<dim3(xb, kv_heads, 1), kWarps * 32, smem, stream>>>(
        out, q, k, v, n_q, n_kv, q_heads, kv_heads, hd, q_offset, causal, scale, chunk, nullptr, nullptr);
    CUDA_CHECK_LAUNCH();
    return;
  }
  int rows = n_q * q_heads;
  // The partials are a workspace from the context's pool, handed back once the two launches are
  // enqueued (stream order keeps it alive for them: core/cuda_context.h).
  cosmos::DeviceBuffer<float> ws(cosmos::workspace_pool(ctx, "attention_cuda (split-KV)"),
                                 (size_t)splits * rows * (hd + 2));
  float* part = ws.get();
  attention_kernel<DPL, false, KV><<<dim3(xb, kv_heads, splits), kWarps * 32, smem, stream>>>(
      out, q, k, v, n_q, n_kv, q_heads, kv_heads, hd, q_offset, causal, scale, chunk, part, nullptr);
  CUDA_CHECK_LAUNCH();
  attention_combine_kernel<false>
      <<<cosmos::ceil_div(rows, 4), 128, 0, stream>>>(out, part, rows, splits, hd, nullptr, 0);
  CUDA_CHECK_LAUNCH();
}

// Decode with the cache length in device memory (see attention_decode_cuda): fixed grid, no host
// decision that depends on n_kv, no allocation or sync — so the launch can live in a CUDA graph.
template <int DPL, class KV>
void launch_decode(float* out, const float* q, const KV* k, const KV* v, const int* n_kv_dev, int max_kv, int q_heads,
                   int kv_heads, int hd, float scale, float* part, cudaStream_t stream) {
  size_t smem = sizeof(float) * ((size_t)kWarps * hd + (size_t)kTile * (hd + 1) + (size_t)kTile * hd);
  if (smem > 48 * 1024)
    CUDA_CHECK(
        cudaFuncSetAttribute(attention_kernel<DPL, true, KV>, cudaFuncAttributeMaxDynamicSharedMemorySize, (int)smem));
  const int group = q_heads / kv_heads;
  const unsigned int xb = cosmos::ceil_div(group, kWarps);
  const long long base = (long long)xb * kv_heads;
  const int zmax = max_splits(max_kv, base);
  cosmos::launch_pdl(attention_kernel<DPL, true, KV>, dim3(xb, kv_heads, zmax), dim3(kWarps * 32), smem, stream, out, q,
                     k, v, 1, max_kv, q_heads, kv_heads, hd, 0, true, scale, 1, part, n_kv_dev);
  CUDA_CHECK_LAUNCH();
  if (zmax > 1) {
    cosmos::launch_pdl(attention_combine_kernel<true>, dim3(cosmos::ceil_div(q_heads, 4)), dim3(128), 0, stream, out,
                       part, q_heads, 0, hd, n_kv_dev, base);
    CUDA_CHECK_LAUNCH();
  }
}

// ---- Decode attention v2: one cluster per KV head (cluster_decode_kernel) -------------------------
// Decode (one query per q head) is latency-bound: at Qwen3-8B's 8 KV heads x 128 dims the whole f32
// cache is 1.5 MB at 192 keys, 9.4 MB at 1152 (0.4 / 2.2 us at copy bandwidth), yet the split kernel
// above took 16 / 28 us there (H200): one 32-key tile per block, scalar loads, a serial 128-long dot
// product per lane, and a second (combine) launch. This one:
//   * grid (C, kv_heads), a thread-block cluster of C blocks per KV head (Hopper): block z takes keys
//     [z * chunk, (z + 1) * chunk), chunk = ceil(n_kv / C) (C fixed per model, so a captured launch
//     serves every cache length; blocks with no key just join the merge);
//   * the G = q_heads / kv_heads queries of the group are served together: each K/V row is read once
//     for all of them (GQA);
//   * a "lane group" of T lanes owns one key at a time, each lane 16-byte loads NV float4 of the K and
//     V row (T * NV * 4 = head_dim), two keys in flight per lane group, 32 lane groups per block; every
//     lane group keeps its own online softmax (m, l, acc), so the loop has no shuffles but the T-lane
//     dot-product reduction;
//   * the merges (lane groups -> warp by shuffles, warps -> block in shared memory, blocks -> cluster
//     through distributed shared memory) run in a fixed order: the result is deterministic, and the same
//     for the graph's device-length launch and the eager one (attention_cuda, n_q = 1) of equal n_kv.
// f32 throughout (expf), as attention_cpu.
// H200, Qwen3-8B (32/8 heads x 128), one device call at 77b18cd against COSMOS_DECODE_ATTN=old: the op 16.6 -> 7.3 us
// at 192 keys, 27.7 -> 10.8 us at 1152; decode 191.5 -> 210.1 tokens/s at 128/128, 168.0 -> 203.3 at 1024/256. The
// automatic size there is 8 (231 registers: one block per SM, and a GPC does not hold 8 clusters of 16); 16 forced
// ran two waves: 13.9 us, 200.5 tokens/s.
constexpr int kDecThreads = 256, kDecMaxCluster = 16;

// m/l/acc of one softmax stream merged with another's; a stream with no key has m = -inf, l = 0, acc = 0.
__device__ __forceinline__ void dec_merge_w(float m, float mo, float* a, float* b) {
  const float M = fmaxf(m, mo);
  *a = m == -INFINITY ? 0.f : expf(m - M);
  *b = mo == -INFINITY ? 0.f : expf(mo - M);
}

// A lane's 4 dims of a key or value row through the read-only path: f32 (16 bytes) or bf16 (8 bytes, widened).
__device__ __forceinline__ float4 ldg4(const float* p) { return __ldg(reinterpret_cast<const float4*>(p)); }
__device__ __forceinline__ float4 ldg4(const __nv_bfloat16* p) {
  const uint2 u = __ldg(reinterpret_cast<const uint2*>(p));
  return make_float4(cosmos::gemv::bf_lo(u.x), cosmos::gemv::bf_hi(u.x), cosmos::gemv::bf_lo(u.y),
                     cosmos::gemv::bf_hi(u.y));
}

template <int T, int NV, int G, class KV>
__global__ void __launch_bounds__(kDecThreads)
    cluster_decode_kernel(float* out, const float* __restrict__ q, const KV* __restrict__ k, const KV* __restrict__ v,
                          int n_kv, const int* n_kv_dev, int kv_heads, float scale) {
  constexpr int HD = 4 * T * NV, KPW = 32 / T, WARPS = kDecThreads / 32, NG = WARPS * KPW;
  // Keys in flight per lane group: q and acc take 2 * G * NV float4 of registers (2 at hd 256 x GQA 2 spilled).
  constexpr int U = G * NV * (NV > 4 ? 2 : 1) <= 16 ? 2 : 1;
  __shared__ __align__(16) float s_acc[WARPS][G][HD];  // per-warp partials
  __shared__ float s_m[WARPS][G], s_l[WARPS][G];
  __shared__ __align__(16) float r_acc[G][HD];  // this block's (split's) partial, read by the cluster
  __shared__ float r_m[G], r_l[G];
  // PDL (core/cuda_pdl.cuh): the o-projection GEMV may launch now; nothing global is touched before the wait.
  cosmos::pdl_launch_dependents();
  cosmos::pdl_wait();
  cg::cluster_group cluster = cg::this_cluster();
  const int C = gridDim.x, z = blockIdx.x, kh = blockIdx.y;
  const int n = n_kv_dev ? *n_kv_dev : n_kv;  // visible keys
  const int chunk = (n + C - 1) / C;
  const int j_lo = min(n, z * chunk), j_hi = min(n, j_lo + chunk);
  const int warp = threadIdx.x >> 5, lane = threadIdx.x & 31, t = lane % T;
  const long long row = (long long)kv_heads * HD;  // values between consecutive keys
  // Lane t holds dims 4 * (c * T + t) .. +3 for c < NV: one load instruction covers T * 16 contiguous bytes.
  float4 qr[G][NV];
#pragma unroll
  for (int g = 0; g < G; ++g)
#pragma unroll
    for (int c = 0; c < NV; ++c) {
      float4 x = *reinterpret_cast<const float4*>(q + (long long)(kh * G + g) * HD + 4 * (c * T + t));
      qr[g][c] = make_float4(x.x * scale, x.y * scale, x.z * scale, x.w * scale);
    }
  float m[G], l[G];
  float4 acc[G][NV];
#pragma unroll
  for (int g = 0; g < G; ++g) {
    m[g] = -INFINITY;
    l[g] = 0.f;
#pragma unroll
    for (int c = 0; c < NV; ++c) acc[g][c] = make_float4(0.f, 0.f, 0.f, 0.f);
  }
  // Warp-uniform loop (the dot-product shuffles need the whole warp): U keys per lane group a pass.
  for (int jb = j_lo + warp * KPW; jb < j_hi; jb += U * NG) {
    float4 kk[U][NV], vv[U][NV];
    bool ok[U];
#pragma unroll
    for (int u = 0; u < U; ++u) {
      // Past j_hi the block's last key is read again and left out of the softmax (ok): loads without a branch, so a
      // bf16 row's widening does not hold the next load behind its own (as in the persistent step's attention).
      const int j = jb + u * NG + lane / T;
      ok[u] = j < j_hi;
      const long long jr = min(j, j_hi - 1);
      const KV* kp = k + jr * row + (long long)kh * HD + 4 * t;
      const KV* vp = v + jr * row + (long long)kh * HD + 4 * t;
#pragma unroll
      for (int c = 0; c < NV; ++c) {
        kk[u][c] = ldg4(kp + 4 * c * T);
        vv[u][c] = ldg4(vp + 4 * c * T);
      }
    }
#pragma unroll
    for (int u = 0; u < U; ++u) {
#pragma unroll
      for (int g = 0; g < G; ++g) {
        float s = 0.f;
#pragma unroll
        for (int c = 0; c < NV; ++c)
          s += qr[g][c].x * kk[u][c].x + qr[g][c].y * kk[u][c].y + qr[g][c].z * kk[u][c].z + qr[g][c].w * kk[u][c].w;
#pragma unroll
        for (int o = T / 2; o > 0; o >>= 1) s += __shfl_xor_sync(0xffffffffu, s, o);
        if (ok[u]) {
          const float mn = fmaxf(m[g], s), alpha = expf(m[g] - mn), p = expf(s - mn);
          l[g] = l[g] * alpha + p;
#pragma unroll
          for (int c = 0; c < NV; ++c) {
            acc[g][c].x = acc[g][c].x * alpha + p * vv[u][c].x;
            acc[g][c].y = acc[g][c].y * alpha + p * vv[u][c].y;
            acc[g][c].z = acc[g][c].z * alpha + p * vv[u][c].z;
            acc[g][c].w = acc[g][c].w * alpha + p * vv[u][c].w;
          }
          m[g] = mn;
        }
      }
    }
  }
  // Lane groups of a warp -> one stream per warp (butterfly: every lane group ends with the warp's).
#pragma unroll
  for (int o = T; o < 32; o <<= 1)
#pragma unroll
    for (int g = 0; g < G; ++g) {
      const float mo = __shfl_xor_sync(0xffffffffu, m[g], o), lo = __shfl_xor_sync(0xffffffffu, l[g], o);
      float a, b;
      dec_merge_w(m[g], mo, &a, &b);
      m[g] = fmaxf(m[g], mo);
      l[g] = l[g] * a + lo * b;
#pragma unroll
      for (int c = 0; c < NV; ++c) {
        float4 x = acc[g][c];
        x.x = x.x * a + __shfl_xor_sync(0xffffffffu, x.x, o) * b;
        x.y = x.y * a + __shfl_xor_sync(0xffffffffu, x.y, o) * b;
        x.z = x.z * a + __shfl_xor_sync(0xffffffffu, x.z, o) * b;
        x.w = x.w * a + __shfl_xor_sync(0xffffffffu, x.w, o) * b;
        acc[g][c] = x;
      }
    }
  if (lane < T) {
#pragma unroll
    for (int g = 0; g < G; ++g) {
#pragma unroll
      for (int c = 0; c < NV; ++c) *reinterpret_cast<float4*>(&s_acc[warp][g][4 * (c * T + t)]) = acc[g][c];
      if (t == 0) {
        s_m[warp][g] = m[g];
        s_l[warp][g] = l[g];
      }
    }
  }
  __syncthreads();
  // Warps -> the block's partial (fixed order: warp 0 .. WARPS-1).
  for (int e = threadIdx.x; e < G * HD; e += kDecThreads) {
    const int g = e / HD, d = e - g * HD;
    float M = -INFINITY;
#pragma unroll
    for (int w = 0; w < WARPS; ++w) M = fmaxf(M, s_m[w][g]);
    float L = 0.f, o = 0.f;
#pragma unroll
    for (int w = 0; w < WARPS; ++w) {
      const float f = s_m[w][g] == -INFINITY ? 0.f : expf(s_m[w][g] - M);
      L += f * s_l[w][g];
      o += f * s_acc[w][g][d];
    }
    r_acc[g][d] = o;
    if (d == 0) {
      r_m[g] = M;
      r_l[g] = L;
    }
  }
  // Blocks of the cluster -> the output; block z writes elements z, z + C, ... of the group's G x HD.
  cluster.sync();  // every block's r_* is written (and visible cluster-wide)
  for (int e = z * kDecThreads + threadIdx.x; e < G * HD; e += C * kDecThreads) {
    const int g = e / HD, d = e - g * HD;
    float M = -INFINITY;
    for (int r = 0; r < C; ++r) M = fmaxf(M, *cluster.map_shared_rank(&r_m[g], r));
    float L = 0.f, o = 0.f;
    for (int r = 0; r < C; ++r) {
      const float mr = *cluster.map_shared_rank(&r_m[g], r);
      const float f = mr == -INFINITY ? 0.f : expf(mr - M);
      L += f * *cluster.map_shared_rank(&r_l[g], r);
      o += f * *cluster.map_shared_rank(&r_acc[g][d], r);
    }
    out[(long long)(kh * G + g) * HD + d] = L > 0.f ? o / L : 0.f;  // no visible key: zeros, as attention_cpu
  }
  cluster.sync();  // no block leaves while another still reads its shared memory
}

// The cluster kernel's instantiation for (head_dim, group), or nullptr: head_dim 16 (T = 4) or 32 * NV
// (T = 8, NV = 1, 2, 4, 8), group 1, 2, 4, 8, at most 16 float4 of queries in registers per lane (more spills).
template <class KV>
using DecKernel = void (*)(float*, const float*, const KV*, const KV*, int, const int*, int, float);
template <int T, int NV, class KV>
DecKernel<KV> dec_kernel_g(int group) {
  if (group == 1) return cluster_decode_kernel<T, NV, 1, KV>;
  if (group == 2) return cluster_decode_kernel<T, NV, 2, KV>;
  if constexpr (NV <= 4)
    if (group == 4) return cluster_decode_kernel<T, NV, 4, KV>;
  if constexpr (NV <= 2)
    if (group == 8) return cluster_decode_kernel<T, NV, 8, KV>;
  return nullptr;
}
template <class KV>
DecKernel<KV> dec_kernel(int hd, int group) {
  switch (hd) {
    case 16:
      return dec_kernel_g<4, 1, KV>(group);
    case 32:
      return dec_kernel_g<8, 1, KV>(group);
    case 64:
      return dec_kernel_g<8, 2, KV>(group);
    case 128:
      return dec_kernel_g<8, 4, KV>(group);
    case 256:
      return dec_kernel_g<8, 8, KV>(group);
    default:
      return nullptr;
  }
}

// Blocks per cluster for this shape, or 0 when the cluster kernel does not serve it (then the split kernel
// above runs, for the graph and the eager launch alike). A function of the device and the shape only, never
// of n_kv, so the graph's launch (sized once) and every eager one split the keys identically.
// COSMOS_DECODE_ATTN=old keeps the split kernel; COSMOS_DECODE_CLUSTER=2|4|8|16 fixes the cluster size.
template <class KV>
int dec_cluster_size(int q_heads, int kv_heads, int hd, int dev) {
  static const int mode = [] {
    const char* e = std::getenv("COSMOS_DECODE_ATTN");
    if (e && std::strcmp(e, "old") == 0) return -1;
    const char* c = std::getenv("COSMOS_DECODE_CLUSTER");
    return c && *c ? std::atoi(c) : 0;
  }();
  if (mode < 0 || kv_heads <= 0 || q_heads % kv_heads != 0) return 0;
  DecKernel<KV> kern = dec_kernel<KV>(hd, q_heads / kv_heads);
  if (!kern) return 0;
  int major = 0, sms = 0;
  CUDA_CHECK(cudaDeviceGetAttribute(&major, cudaDevAttrComputeCapabilityMajor, dev));
  CUDA_CHECK(cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, dev));
  if (major < 9) return 0;
  if (mode > 0) {
    if (mode != 2 && mode != 4 && mode != 8 && mode != 16) return 0;
    if (mode > 8) CUDA_CHECK(cudaFuncSetAttribute(kern, cudaFuncAttributeNonPortableClusterSizeAllowed, 1));
    return mode;
  }
  // About one block per SM over all KV heads (8 KV heads on 132 SMs: 16), a power of two in [2, 16], and only
  // as large as lets every KV head's cluster be resident at once (a cluster's blocks share one GPC).
  CUDA_CHECK(cudaFuncSetAttribute(kern, cudaFuncAttributeNonPortableClusterSizeAllowed, 1));
  int c = 2;
  while (c * 2 <= kDecMaxCluster && c * 2 * kv_heads <= sms + sms / 8) c *= 2;
  for (; c > 2; c /= 2) {
    cudaLaunchConfig_t cfg = {};
    cfg.gridDim = dim3(c, kv_heads, 1);
    cfg.blockDim = dim3(kDecThreads);
    cudaLaunchAttribute attr[1];
    attr[0].id = cudaLaunchAttributeClusterDimension;
    attr[0].val.clusterDim.x = c;
    attr[0].val.clusterDim.y = 1;
    attr[0].val.clusterDim.z = 1;
    cfg.attrs = attr;
    cfg.numAttrs = 1;
    int clusters = 0;
    if (cudaOccupancyMaxActiveClusters(&clusters, kern, &cfg) != cudaSuccess) {
      (void)cudaGetLastError();
      continue;
    }
    if (clusters >= kv_heads) break;
  }
  return c;
}

// dec_cluster_size, remembered per (device, shape): the queries above are made once, before a graph capture
// (attention_decode_workspace asks first), and every later launch of the shape gets the same answer.
// (Per KV type: the bf16 kernel has its own registers, so its own resident cluster count.)
template <class KV>
int dec_cluster(int q_heads, int kv_heads, int hd, const void* qp, const void* kp, const void* vp) {
  if (((uintptr_t)qp | (uintptr_t)kp | (uintptr_t)vp) % 16 != 0) return 0;
  struct Entry {
    int dev, q_heads, kv_heads, hd, c;
  };
  static std::mutex mu;
  static std::vector<Entry> memo;
  int dev = 0;
  CUDA_CHECK(cudaGetDevice(&dev));
  std::lock_guard<std::mutex> lock(mu);
  for (const Entry& e : memo)
    if (e.dev == dev && e.q_heads == q_heads && e.kv_heads == kv_heads && e.hd == hd) return e.c;
  const int c = dec_cluster_size<KV>(q_heads, kv_heads, hd, dev);
  memo.push_back({dev, q_heads, kv_heads, hd, c});
  return c;
}

template <class KV>
void launch_cluster_decode(int cluster, float* out, const float* q, const KV* k, const KV* v, int n_kv,
                           const int* n_kv_dev, int q_heads, int kv_heads, int hd, float scale, cudaStream_t stream) {
  DecKernel<KV> kern = dec_kernel<KV>(hd, q_heads / kv_heads);
  cudaLaunchConfig_t cfg = {};
  cfg.gridDim = dim3(cluster, kv_heads, 1);
  cfg.blockDim = dim3(kDecThreads);
  cfg.dynamicSmemBytes = 0;
  cfg.stream = stream;
  cudaLaunchAttribute attr[2];
  attr[0].id = cudaLaunchAttributeClusterDimension;
  attr[0].val.clusterDim.x = cluster;
  attr[0].val.clusterDim.y = 1;
  attr[0].val.clusterDim.z = 1;
  attr[1].id = cudaLaunchAttributeProgrammaticStreamSerialization;
  attr[1].val.programmaticStreamSerializationAllowed = 1;
  cfg.attrs = attr;
  cfg.numAttrs = cosmos::pdl_enabled() ? 2 : 1;
  CUDA_CHECK(cudaLaunchKernelEx(&cfg, kern, out, q, k, v, n_kv, n_kv_dev, kv_heads, scale));
  CUDA_CHECK_LAUNCH();
}

// ---- Tensor-core flash attention for many queries -------------------------------------------------
// Block: 4 warps, 64 query rows (16 per warp) of one q head; K/V tiles of 64 keys. head_dim is padded
// with zeros to DP (a multiple of 16: 72 -> 80) in shared memory, so any head_dim in [64, 128] works.
// Fragment layouts are those of PTX mma.m16n8k16 (.row.col): the S accumulator of two adjacent 8-key
// n-tiles is exactly the A operand of the 16-key PV step, so P never leaves registers.
// The PTX wrappers (ldmatrix, mma.sync, ex2.approx, bf16 packing) are mma_bf16.cuh's, shared with flash_attention.cu.
constexpr int kFlashMinQ = 128;  // below this the f32 kernel is kept (decode, short chunks; exact)
constexpr int kFM = 64, kFN = 64, kFWarps = 4;

// Copies rows [r0, r0 + 64) of one head of an f32 [rows, heads, hd] tensor into a bf16 [64][DP + 8]
// tile; rows >= n_rows and dims >= hd are zero (zeros, not garbage: P = 0 times V must stay 0).
// (src f32 or bf16: the bf16 KV cache's rows copied as they are.)
template <int DP, class Src>
__device__ __forceinline__ void load_tile_bf16(__nv_bfloat16* dst, const Src* src, int r0, int n_rows, int heads,
                                               int head, int hd, bool vec4) {
  constexpr int S = DP + 8;
  if (vec4) {  // hd % 4 == 0 and 16-byte aligned rows: a 4-float chunk is wholly inside or outside hd
    constexpr int C = DP / 4;
    for (int e = threadIdx.x; e < kFN * C; e += kFWarps * 32) {
      int r = e / C, c = (e - r * C) * 4, row = r0 + r;
      float4 x = make_float4(0.f, 0.f, 0.f, 0.f);
      if (row < n_rows && c < hd) x = cosmos::row_load4(src + ((long long)row * heads + head) * hd + c);
      uint2 pk = make_uint2(pack_bf16x2(x.x, x.y), pack_bf16x2(x.z, x.w));
      *reinterpret_cast<uint2*>(dst + r * S + c) = pk;
    }
  } else {
    for (int e = threadIdx.x; e < kFN * DP; e += kFWarps * 32) {
      int r = e / DP, c = e - r * DP, row = r0 + r;
      float x = (row < n_rows && c < hd) ? cosmos::row_load(src + ((long long)row * heads + head) * hd + c) : 0.f;
      dst[r * S + c] = __float2bfloat16_rn(x);
    }
  }
}

template <int DP, class KV>
__global__ void __launch_bounds__(kFWarps * 32)
    flash_mma_kernel(float* out, const float* q, const KV* k, const KV* v, int n_q, int n_kv, int q_heads, int kv_heads,
                     int hd, int q_offset, bool causal, float scale_log2, bool vec4) {
  constexpr int S = DP + 8;  // bf16 row stride: +16 bytes keeps the 8 rows of an ldmatrix on distinct banks
  constexpr int KC = DP / 16, NT = kFN / 8, DT = DP / 8;
  extern __shared__ __align__(16) unsigned char fsm[];
  __nv_bfloat16* Qs = reinterpret_cast<__nv_bfloat16*>(fsm);  // [kFM][S]
  __nv_bfloat16* Ks = Qs + kFM * S;                           // [kFN][S]
  __nv_bfloat16* Vs = Ks + kFN * S;                           // [kFN][S]
  const int warp = threadIdx.x >> 5, lane = threadIdx.x & 31, g = lane >> 2, tig = lane & 3;
  const int q0 = (gridDim.x - 1 - blockIdx.x) * kFM;  // longest (causal) query tiles start first
  const int h = blockIdx.y, kh = h / (q_heads / kv_heads);
  const int q_last = min(n_q, q0 + kFM) - 1;
  const int kv_end = causal ? min(n_kv, q_offset + q_last + 1) : n_kv;

  load_tile_bf16<DP>(Qs, q, q0, n_q, q_heads, h, hd, vec4);
  __syncthreads();
  uint32_t qf[KC][4];
  {
    const int mi = lane >> 3, r = lane & 7;  // x4: matrices (rows 0-7 | 8-15) x (cols 0-7 | 8-15)
#pragma unroll
    for (int kc = 0; kc < KC; ++kc)
      ldsm_x4(qf[kc][0], qf[kc][1], qf[kc][2], qf[kc][3],
              Qs + (warp * 16 + r + (mi & 1) * 8) * S + kc * 16 + (mi >> 1) * 8);
  }
  float o[DT][4];
#pragma unroll
  for (int t = 0; t < DT; ++t) o[t][0] = o[t][1] = o[t][2] = o[t][3] = 0.f;
  float m[2] = {-INFINITY, -INFINITY}, l[2] = {0.f, 0.f};
  const int row0 = q0 + warp * 16 + g;  // this thread's rows: row0 and row0 + 8

  for (int j0 = 0; j0 < kv_end; j0 += kFN) {
    __syncthreads();  // the previous K/V tile is consumed
    load_tile_bf16<DP>(Ks, k, j0, n_kv, kv_heads, kh, hd, vec4);
    load_tile_bf16<DP>(Vs, v, j0, n_kv, kv_heads, kh, hd, vec4);
    __syncthreads();

    float s[NT][4];
#pragma unroll
    for (int t = 0; t < NT; ++t) s[t][0] = s[t][1] = s[t][2] = s[t][3] = 0.f;
    {
      const int mi = lane >> 3, r = lane & 7;
#pragma unroll
      for (int kc = 0; kc < KC; ++kc)
#pragma unroll
        for (int np = 0; np < NT / 2; ++np) {
          uint32_t b0, b1, b2, b3;  // (keys 0-7: dims 0-7, 8-15), (keys 8-15: dims 0-7, 8-15)
          ldsm_x4(b0, b1, b2, b3, Ks + (np * 16 + r + (mi >> 1) * 8) * S + kc * 16 + (mi & 1) * 8);
          mma_bf16_16816(s[2 * np], qf[kc], b0, b1);
          mma_bf16_16816(s[2 * np + 1], qf[kc], b2, b3);
        }
    }
    // Scale into the log2 domain and mask (keys past the cache, causal future) only where needed.
    const bool need_mask = j0 + kFN > n_kv || (causal && j0 + kFN - 1 > q_offset + q0 + warp * 16);
#pragma unroll
    for (int t = 0; t < NT; ++t)
#pragma unroll
      for (int e = 0; e < 4; ++e) {
        float x = s[t][e] * scale_log2;
        if (need_mask) {
          int j = j0 + t * 8 + tig * 2 + (e & 1), i = row0 + (e >> 1) * 8;
          if (j >= n_kv || (causal && j > q_offset + i)) x = -INFINITY;
        }
        s[t][e] = x;
      }
      // Online softmax for the two rows (a row lives in the 4 threads of a quad).
#pragma unroll
    for (int rr = 0; rr < 2; ++rr) {
      float mx = -INFINITY;
#pragma unroll
      for (int t = 0; t < NT; ++t) mx = fmaxf(mx, fmaxf(s[t][2 * rr], s[t][2 * rr + 1]));
      mx = fmaxf(mx, __shfl_xor_sync(0xffffffffu, mx, 1));
      mx = fmaxf(mx, __shfl_xor_sync(0xffffffffu, mx, 2));
      const float m_new = fmaxf(m[rr], mx);
      const float m_use = m_new == -INFINITY ? 0.f : m_new;  // a row with no visible key yet
      const float alpha = fast_exp2(m[rr] - m_use);          // 0 on the first tile
      float sum = 0.f;
#pragma unroll
      for (int t = 0; t < NT; ++t) {
        float p0 = fast_exp2(s[t][2 * rr] - m_use), p1 = fast_exp2(s[t][2 * rr + 1] - m_use);
        s[t][2 * rr] = p0;
        s[t][2 * rr + 1] = p1;
        sum += p0 + p1;
      }
      l[rr] = l[rr] * alpha + sum;  // per-thread partial row sum; the quad is summed at the end
      m[rr] = m_new;
#pragma unroll
      for (int t = 0; t < DT; ++t) {
        o[t][2 * rr] *= alpha;
        o[t][2 * rr + 1] *= alpha;
      }
    }
    // O += P V: P (16 x 64 keys) from registers, V^T fragments via ldmatrix.trans.
    {
      const int mi = lane >> 3, r = lane & 7;
#pragma unroll
      for (int kc = 0; kc < kFN / 16; ++kc) {
        uint32_t a[4] = {pack_bf16x2(s[2 * kc][0], s[2 * kc][1]), pack_bf16x2(s[2 * kc][2], s[2 * kc][3]),
                         pack_bf16x2(s[2 * kc + 1][0], s[2 * kc + 1][1]),
                         pack_bf16x2(s[2 * kc + 1][2], s[2 * kc + 1][3])};
#pragma unroll
        for (int dp = 0; dp < DP / 16; ++dp) {
          uint32_t b0, b1, b2, b3;  // (dims 0-7: keys 0-7, 8-15), (dims 8-15: keys 0-7, 8-15)
          ldsm_x4_t(b0, b1, b2, b3, Vs + (kc * 16 + r + (mi & 1) * 8) * S + dp * 16 + (mi >> 1) * 8);
          mma_bf16_16816(o[2 * dp], a, b0, b1);
          mma_bf16_16816(o[2 * dp + 1], a, b2, b3);
        }
      }
    }
  }
#pragma unroll
  for (int rr = 0; rr < 2; ++rr) {
    float L = l[rr];
    L += __shfl_xor_sync(0xffffffffu, L, 1);
    L += __shfl_xor_sync(0xffffffffu, L, 2);
    const int i = row0 + rr * 8;
    if (i >= n_q) continue;
    const float inv = L > 0.f ? 1.0f / L : 0.f;  // no visible key: zeros, as attention_cpu
    float* orow = out + ((long long)i * q_heads + h) * hd;
#pragma unroll
    for (int t = 0; t < DT; ++t) {
      int d = t * 8 + tig * 2;
      if (d < hd) orow[d] = o[t][2 * rr] * inv;
      if (d + 1 < hd) orow[d + 1] = o[t][2 * rr + 1] * inv;
    }
  }
}

template <int DP, class KV>
void launch_flash(float* out, const float* q, const KV* k, const KV* v, int n_q, int n_kv, int q_heads, int kv_heads,
                  int hd, int q_offset, bool causal, float scale, cudaStream_t stream) {
  const size_t smem = sizeof(__nv_bfloat16) * (size_t)(kFM + 2 * kFN) * (DP + 8);  // 52 KiB at DP = 128
  // Opt in to more than the 48 KiB default; idempotent and cheap (and per device, so not cached here).
  CUDA_CHECK(cudaFuncSetAttribute(flash_mma_kernel<DP, KV>, cudaFuncAttributeMaxDynamicSharedMemorySize, (int)smem));
  const bool vec4 = hd % 4 == 0 && ((uintptr_t)q | (uintptr_t)k | (uintptr_t)v) % 16 == 0;
  dim3 grid(cosmos::ceil_div(n_q, kFM), q_heads);
  flash_mma_kernel<DP, KV><<<grid, kFWarps * 32, smem, stream>>>(out, q, k, v, n_q, n_kv, q_heads, kv_heads, hd,
                                                                 q_offset, causal, scale * 1.4426950408889634f, vec4);
  CUDA_CHECK_LAUNCH();
}

bool force_f32_attention() {
  static const bool f = [] {
    const char* e = std::getenv("COSMOS_ATTENTION_F32");
    return e && *e && *e != '0';
  }();
  return f;
}
}  // namespace

size_t attention_decode_workspace(int max_kv, int q_heads, int kv_heads, int head_dim) {
  if (kv_heads <= 0 || q_heads % kv_heads != 0) return 0;
  // The cluster kernel needs none; asked here (for both KV types) so its size is settled before a graph capture
  // (dec_cluster). The split kernel's partials are still sized: it serves the shapes the cluster kernel does not.
  (void)dec_cluster<float>(q_heads, kv_heads, head_dim, nullptr, nullptr, nullptr);
  (void)dec_cluster<__nv_bfloat16>(q_heads, kv_heads, head_dim, nullptr, nullptr, nullptr);
  const long long base = (long long)cosmos::ceil_div(q_heads / kv_heads, kWarps) * kv_heads;
  return (size_t)max_splits(max_kv, base) * q_heads * (head_dim + 2);
}

namespace {
template <class KV>
void decode_launch(float* out, const float* q, const KV* k, const KV* v, const int* n_kv_dev, int max_kv, int q_heads,
                   int kv_heads, int head_dim, float scale, float* part, const cosmos::CudaContext& ctx) {
  const cudaStream_t stream = ctx.stream;
  if (kv_heads <= 0 || q_heads % kv_heads != 0)
    throw std::runtime_error("attention_decode_cuda: q_heads % kv_heads != 0");
  if (max_kv <= 0) throw std::runtime_error("attention_decode_cuda: max_kv must be > 0");
  if (const int c = dec_cluster<KV>(q_heads, kv_heads, head_dim, q, k, v)) {
    launch_cluster_decode(c, out, q, k, v, 0, n_kv_dev, q_heads, kv_heads, head_dim, scale, stream);
    return;
  }
  if (head_dim <= 32)
    launch_decode<1>(out, q, k, v, n_kv_dev, max_kv, q_heads, kv_heads, head_dim, scale, part, stream);
  else if (head_dim <= 64)
    launch_decode<2>(out, q, k, v, n_kv_dev, max_kv, q_heads, kv_heads, head_dim, scale, part, stream);
  else if (head_dim <= 128)
    launch_decode<4>(out, q, k, v, n_kv_dev, max_kv, q_heads, kv_heads, head_dim, scale, part, stream);
  else if (head_dim <= 256)
    launch_decode<8>(out, q, k, v, n_kv_dev, max_kv, q_heads, kv_heads, head_dim, scale, part, stream);
  else
    throw std::runtime_error("attention_decode_cuda: head_dim > 256 is not supported");
}

template <class KV>
void attention_launch(float* out, const float* q, const KV* k, const KV* v, int n_q, int n_kv, int q_heads,
                      int kv_heads, int head_dim, int q_offset, bool causal, float scale,
                      const cosmos::CudaContext& ctx) {
  const cudaStream_t stream = ctx.stream;
  if (n_q <= 0) return;
  if (kv_heads <= 0 || q_heads % kv_heads != 0) throw std::runtime_error("attention_cuda: q_heads % kv_heads != 0");
  if (n_q == 1) {  // decode: the cluster kernel, as attention_decode_cuda (the graph) runs it, when it serves the shape
    if (const int c = dec_cluster<KV>(q_heads, kv_heads, head_dim, q, k, v)) {
      const int visible = causal ? std::min(n_kv, q_offset + 1) : n_kv;
      launch_cluster_decode(c, out, q, k, v, visible, nullptr, q_heads, kv_heads, head_dim, scale, stream);
      return;
    }
  }
  if (n_q >= kFlashMinQ && head_dim >= 64 && head_dim <= 128 && n_kv > 0 && !force_f32_attention()) {
    // Tensor-core path (prefill, vision tower). head_dim < 64 (the tiny test model's 16) stays on the
    // exact f32 kernel: little to gain there, and it keeps the f32 fixture comparisons exact.
    const int dp = (head_dim + 15) / 16 * 16;
    if (dp == 64)
      launch_flash<64>(out, q, k, v, n_q, n_kv, q_heads, kv_heads, head_dim, q_offset, causal, scale, stream);
    else if (dp == 80)
      launch_flash<80>(out, q, k, v, n_q, n_kv, q_heads, kv_heads, head_dim, q_offset, causal, scale, stream);
    else if (dp == 96)
      launch_flash<96>(out, q, k, v, n_q, n_kv, q_heads, kv_heads, head_dim, q_offset, causal, scale, stream);
    else if (dp == 112)
      launch_flash<112>(out, q, k, v, n_q, n_kv, q_heads, kv_heads, head_dim, q_offset, causal, scale, stream);
    else
      launch_flash<128>(out, q, k, v, n_q, n_kv, q_heads, kv_heads, head_dim, q_offset, causal, scale, stream);
    return;
  }
  if (head_dim <= 32)
    launch<1>(out, q, k, v, n_q, n_kv, q_heads, kv_heads, head_dim, q_offset, causal, scale, ctx);
  else if (head_dim <= 64)
    launch<2>(out, q, k, v, n_q, n_kv, q_heads, kv_heads, head_dim, q_offset, causal, scale, ctx);
  else if (head_dim <= 128)
    launch<4>(out, q, k, v, n_q, n_kv, q_heads, kv_heads, head_dim, q_offset, causal, scale, ctx);
  else if (head_dim <= 256)
    launch<8>(out, q, k, v, n_q, n_kv, q_heads, kv_heads, head_dim, q_offset, causal, scale, ctx);
  else
    throw std::runtime_error("attention_cuda: head_dim > 256 is not supported");
}
}  // namespace

void attention_decode_cuda(float* out, const float* q, const float* k, const float* v, const int* n_kv_dev, int max_kv,
                           int q_heads, int kv_heads, int head_dim, float scale, float* part,
                           const cosmos::CudaContext& ctx) {
  decode_launch(out, q, k, v, n_kv_dev, max_kv, q_heads, kv_heads, head_dim, scale, part, ctx);
}
void attention_decode_cuda(float* out, const float* q, const __nv_bfloat16* k, const __nv_bfloat16* v,
                           const int* n_kv_dev, int max_kv, int q_heads, int kv_heads, int head_dim, float scale,
                           float* part, const cosmos::CudaContext& ctx) {
  decode_launch(out, q, k, v, n_kv_dev, max_kv, q_heads, kv_heads, head_dim, scale, part, ctx);
}

void attention_cuda(float* out, const float* q, const float* k, const float* v, int n_q, int n_kv, int q_heads,
                    int kv_heads, int head_dim, int q_offset, bool causal, float scale,
                    const cosmos::CudaContext& ctx) {
  attention_launch(out, q, k, v, n_q, n_kv, q_heads, kv_heads, head_dim, q_offset, causal, scale, ctx);
}
void attention_cuda(float* out, const float* q, const __nv_bfloat16* k, const __nv_bfloat16* v, int n_q, int n_kv,
                    int q_heads, int kv_heads, int head_dim, int q_offset, bool causal, float scale,
                    const cosmos::CudaContext& ctx) {
  attention_launch(out, q, k, v, n_q, n_kv, q_heads, kv_heads, head_dim, q_offset, causal, scale, ctx);
}

int attention_decode_cluster(int q_heads, int kv_heads, int head_dim) {
  return dec_cluster<float>(q_heads, kv_heads, head_dim, nullptr, nullptr, nullptr);
}
