// FlashAttention-2 style forward on tensor cores (sm_80+; built for sm_90) for the Generator's long
// sequences. Why a second kernel beside attention.cu's flash_mma_kernel: that one converts f32 K/V to bf16
// inside its inner loop, loads them synchronously and serves 64 queries per block, so every block re-reads
// twice the bytes it needs and the tensor cores wait on each load (80-130 TFLOP/s). Here:
//   1. one pass converts q, k, v to bf16, head-major [head][row][DP] and zero-padded to whole tiles (a
//      workspace from ctx.pool), so tile loads are plain 16-byte cp.async copies without bounds checks;
//   2. a block serves 128 queries of one q head (8 warps x 16 rows) against K/V tiles of 64 keys,
//      double-buffered: the copy of tile t+1 is in flight while tile t is multiplied;
//   3. S = Q K^T and O += P V run on mma.sync m16n8k16 (bf16 in, f32 accumulate); the online softmax is
//      f32 in the log2 domain; the S accumulator of two adjacent 8-key n-tiles is exactly the A operand of
//      the 16-key PV step, so P never leaves registers.
// head_dim is padded with zeros to DP (16, 32, 64, 80, 96 or 128); zero dims add nothing to q.k and the
// padded output dims are not written.
// On an H100 / H200 with the addon's sm_90a objects, head dims 72..128 (multiples of 8), full or causal -- the
// Generator's gen stream, the Qwen3-VL tower (72), the Qwen3 prefill (128) -- go to ops/flash_attention_wgmma.cu
// instead (wgmma + TMA, dims zero-padded to 128; flash_attention_path says which runs): even padded from 72 it is
// ~2x this kernel's rate. This kernel keeps the small head dims (padding them to 128 would cost more) and other GPUs.
#ifndef COSMOS_CUDA
#define COSMOS_CUDA 1
#endif
#include "flash_attention.h"

#include <cuda_bf16.h>

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <stdexcept>
#include <string>

#include "../core/cuda_common.h"
#include "attention.h"
#include "flash_attention_wgmma.h"
#include "mma_bf16.cuh"
#include "row_vec.cuh"  // row_load: k and v in f32 or bf16

namespace {
using cosmos::cp_async16;
using cosmos::fast_exp2;
using cosmos::ldsm_x4;
using cosmos::ldsm_x4_t;
using cosmos::mma_bf16_16816;
using cosmos::pack_bf16x2;

constexpr int kBM = 128;   // queries per block
constexpr int kBN = 64;    // keys per tile
constexpr int kWarps = 8;  // 16 query rows each
constexpr int kThreads = kWarps * 32;

// dst [heads][rows_pad][DP] bf16 <- src [rows][heads][hd] f32 (or bf16: a bf16 KV cache's rows, copied as they are);
// rows >= rows and dims >= hd are zero (zeros, not garbage: a masked key's P = 0 times its V row must stay 0). One
// thread per 8 dims.
template <class Src>
__global__ void to_bf16_heads_kernel(__nv_bfloat16* dst, const Src* src, int rows, int rows_pad, int heads, int hd,
                                     int dp) {
  const int chunks = dp / 8;
  const long long total = (long long)heads * rows_pad * chunks;
  for (long long e = blockIdx.x * (long long)blockDim.x + threadIdx.x; e < total;
       e += (long long)gridDim.x * blockDim.x) {
    const int c = (int)(e % chunks);
    const long long hr = e / chunks;
    const int r = (int)(hr % rows_pad), h = (int)(hr / rows_pad);
    float x[8];
#pragma unroll
    for (int t = 0; t < 8; ++t) {
      const int d = c * 8 + t;
      x[t] = (r < rows && d < hd) ? cosmos::row_load(src + ((long long)r * heads + h) * hd + d) : 0.f;
    }
    uint4 pk =
        make_uint4(pack_bf16x2(x[0], x[1]), pack_bf16x2(x[2], x[3]), pack_bf16x2(x[4], x[5]), pack_bf16x2(x[6], x[7]));
    *reinterpret_cast<uint4*>(dst + e * 8) = pk;
  }
}

// dst [heads][DP][rows_pad] bf16 <- src [rows][heads][hd] f32, i.e. v transposed per head for
// flash_attention_wgmma (keys contiguous); zeros past rows and hd. One thread per 8 keys of one dim; the threads
// of a warp take neighbouring dims, so each of their 8 reads is one coalesced row segment.
template <class Src>
__global__ void to_bf16_heads_t_kernel(__nv_bfloat16* dst, const Src* src, int rows, int rows_pad, int heads, int hd,
                                       int dp) {
  const int chunks = rows_pad / 8;
  const long long total = (long long)heads * chunks * dp;
  for (long long e = blockIdx.x * (long long)blockDim.x + threadIdx.x; e < total;
       e += (long long)gridDim.x * blockDim.x) {
    const int d = (int)(e % dp);
    const long long hc = e / dp;
    const int c = (int)(hc % chunks), h = (int)(hc / chunks);
    float x[8];
#pragma unroll
    for (int t = 0; t < 8; ++t) {
      const int r = c * 8 + t;
      x[t] = (r < rows && d < hd) ? cosmos::row_load(src + ((long long)r * heads + h) * hd + d) : 0.f;
    }
    uint4 pk =
        make_uint4(pack_bf16x2(x[0], x[1]), pack_bf16x2(x[2], x[3]), pack_bf16x2(x[4], x[5]), pack_bf16x2(x[6], x[7]));
    *reinterpret_cast<uint4*>(dst + ((long long)h * dp + d) * rows_pad + c * 8) = pk;
  }
}

// rows [r0, r0 + ROWS) of one head's [rows_pad][DP] bf16 slab -> a [ROWS][DP + 8] shared tile (the +8
// bf16 = 16 bytes of row padding put the 8 rows of an ldmatrix on distinct banks).
template <int DP, int ROWS>
__device__ __forceinline__ void tile_async(__nv_bfloat16* dst, const __nv_bfloat16* slab, int r0) {
  constexpr int C = DP / 8, S = DP + 8;
  for (int e = threadIdx.x; e < ROWS * C; e += kThreads) {
    const int r = e / C, c = e - r * C;
    cp_async16(dst + r * S + c * 8, slab + (long long)(r0 + r) * DP + c * 8);
  }
}

template <int DP>
__global__ void __launch_bounds__(kThreads, 1)
    flash_fwd_kernel(float* out, const __nv_bfloat16* qb, const __nv_bfloat16* kb, const __nv_bfloat16* vb, int n_q,
                     int n_kv, int nq_pad, int nkv_pad, int q_heads, int kv_heads, int hd, int q_offset, bool causal,
                     float scale_log2) {
  constexpr int S = DP + 8, KC = DP / 16, NT = kBN / 8, DT = DP / 8;
  constexpr int kTileElems = kBN * S;
  extern __shared__ __align__(16) unsigned char smem_raw[];
  __nv_bfloat16* Qs = reinterpret_cast<__nv_bfloat16*>(smem_raw);  // [kBM][S]
  __nv_bfloat16* Ks = Qs + kBM * S;                                // [2][kBN][S]
  __nv_bfloat16* Vs = Ks + 2 * kTileElems;                         // [2][kBN][S]
  const int warp = threadIdx.x >> 5, lane = threadIdx.x & 31, g = lane >> 2, tig = lane & 3;
  const int mi = lane >> 3, lr = lane & 7;            // ldmatrix x4: which 8x8 matrix this lane addresses, and its row
  const int q0 = (gridDim.x - 1 - blockIdx.x) * kBM;  // longest (causal) query tiles start first
  const int h = blockIdx.y, kh = h / (q_heads / kv_heads);
  const int q_last = min(n_q, q0 + kBM) - 1;
  const int kv_end = causal ? min(n_kv, q_offset + q_last + 1) : n_kv;
  const int n_tiles = (kv_end + kBN - 1) / kBN;
  const __nv_bfloat16* kslab = kb + (long long)kh * nkv_pad * DP;
  const __nv_bfloat16* vslab = vb + (long long)kh * nkv_pad * DP;

  // Group 0: the Q tile; group 1: K/V tile 0.
  tile_async<DP, kBM>(Qs, qb + (long long)h * nq_pad * DP, q0);
  cosmos::cp_async_commit();
  tile_async<DP, kBN>(Ks, kslab, 0);
  tile_async<DP, kBN>(Vs, vslab, 0);
  cosmos::cp_async_commit();
  cosmos::cp_async_wait<1>();
  __syncthreads();
  uint32_t qf[KC][4];  // this warp's 16 query rows as A fragments, kept in registers for every tile
#pragma unroll
  for (int kc = 0; kc < KC; ++kc)
    ldsm_x4(qf[kc][0], qf[kc][1], qf[kc][2], qf[kc][3],
            Qs + (warp * 16 + lr + (mi & 1) * 8) * S + kc * 16 + (mi >> 1) * 8);

  float o[DT][4];
#pragma unroll
  for (int t = 0; t < DT; ++t) o[t][0] = o[t][1] = o[t][2] = o[t][3] = 0.f;
  float m[2] = {-INFINITY, -INFINITY}, l[2] = {0.f, 0.f};
  const int row0 = q0 + warp * 16 + g;  // this thread's rows: row0 and row0 + 8

  for (int t = 0; t < n_tiles; ++t) {
    const int j0 = t * kBN;
    if (t + 1 < n_tiles) {  // prefetch tile t+1 into the other stage (consumed at t-1: see the end barrier)
      const int st = (t + 1) & 1;
      tile_async<DP, kBN>(Ks + st * kTileElems, kslab, j0 + kBN);
      tile_async<DP, kBN>(Vs + st * kTileElems, vslab, j0 + kBN);
      cosmos::cp_async_commit();
      cosmos::cp_async_wait<1>();  // tile t has landed; t+1 may still be in flight
    } else {
      cosmos::cp_async_wait<0>();
    }
    __syncthreads();
    const __nv_bfloat16* Kt = Ks + (t & 1) * kTileElems;
    const __nv_bfloat16* Vt = Vs + (t & 1) * kTileElems;

    float s[NT][4];
#pragma unroll
    for (int n = 0; n < NT; ++n) s[n][0] = s[n][1] = s[n][2] = s[n][3] = 0.f;
#pragma unroll
    for (int kc = 0; kc < KC; ++kc)
#pragma unroll
      for (int np = 0; np < NT / 2; ++np) {
        uint32_t b0, b1, b2, b3;  // (keys 0-7: dims 0-7, 8-15), (keys 8-15: dims 0-7, 8-15)
        ldsm_x4(b0, b1, b2, b3, Kt + (np * 16 + lr + (mi >> 1) * 8) * S + kc * 16 + (mi & 1) * 8);
        mma_bf16_16816(s[2 * np], qf[kc], b0, b1);
        mma_bf16_16816(s[2 * np + 1], qf[kc], b2, b3);
      }
    // Scale into the log2 domain; mask keys past the cache (zero padding) and the causal future only in
    // the tiles that have any.
    const bool need_mask = j0 + kBN > n_kv || (causal && j0 + kBN - 1 > q_offset + q0 + warp * 16);
#pragma unroll
    for (int n = 0; n < NT; ++n)
#pragma unroll
      for (int e = 0; e < 4; ++e) {
        float x = s[n][e] * scale_log2;
        if (need_mask) {
          const int j = j0 + n * 8 + tig * 2 + (e & 1), i = row0 + (e >> 1) * 8;
          if (j >= n_kv || (causal && j > q_offset + i)) x = -INFINITY;
        }
        s[n][e] = x;
      }
      // Online softmax for the thread's two rows (a row lives in the 4 threads of a quad).
#pragma unroll
    for (int rr = 0; rr < 2; ++rr) {
      float mx = -INFINITY;
#pragma unroll
      for (int n = 0; n < NT; ++n) mx = fmaxf(mx, fmaxf(s[n][2 * rr], s[n][2 * rr + 1]));
      mx = fmaxf(mx, __shfl_xor_sync(0xffffffffu, mx, 1));
      mx = fmaxf(mx, __shfl_xor_sync(0xffffffffu, mx, 2));
      const float m_new = fmaxf(m[rr], mx);
      const float m_use = m_new == -INFINITY ? 0.f : m_new;  // a row with no visible key yet
      const float alpha = fast_exp2(m[rr] - m_use);          // 0 on the first visible tile
      float sum = 0.f;
#pragma unroll
      for (int n = 0; n < NT; ++n) {
        const float p0 = fast_exp2(s[n][2 * rr] - m_use), p1 = fast_exp2(s[n][2 * rr + 1] - m_use);
        s[n][2 * rr] = p0;
        s[n][2 * rr + 1] = p1;
        sum += p0 + p1;
      }
      l[rr] = l[rr] * alpha + sum;  // per-thread partial row sum; the quad is summed at the end
      m[rr] = m_new;
#pragma unroll
      for (int d = 0; d < DT; ++d) {
        o[d][2 * rr] *= alpha;
        o[d][2 * rr + 1] *= alpha;
      }
    }
    // O += P V: P (16 x 64 keys) from registers, V^T fragments via ldmatrix.trans.
#pragma unroll
    for (int kc = 0; kc < kBN / 16; ++kc) {
      const uint32_t a[4] = {pack_bf16x2(s[2 * kc][0], s[2 * kc][1]), pack_bf16x2(s[2 * kc][2], s[2 * kc][3]),
                             pack_bf16x2(s[2 * kc + 1][0], s[2 * kc + 1][1]),
                             pack_bf16x2(s[2 * kc + 1][2], s[2 * kc + 1][3])};
#pragma unroll
      for (int dp = 0; dp < DP / 16; ++dp) {
        uint32_t b0, b1, b2, b3;  // (dims 0-7: keys 0-7, 8-15), (dims 8-15: keys 0-7, 8-15)
        ldsm_x4_t(b0, b1, b2, b3, Vt + (kc * 16 + lr + (mi & 1) * 8) * S + dp * 16 + (mi >> 1) * 8);
        mma_bf16_16816(o[2 * dp], a, b0, b1);
        mma_bf16_16816(o[2 * dp + 1], a, b2, b3);
      }
    }
    __syncthreads();  // every warp is done with stage t & 1 before iteration t+1 prefetches into it
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
    for (int d8 = 0; d8 < DT; ++d8) {
      const int d = d8 * 8 + tig * 2;
      if (d < hd) orow[d] = o[d8][2 * rr] * inv;
      if (d + 1 < hd) orow[d + 1] = o[d8][2 * rr + 1] * inv;
    }
  }
}

// transposed false: to_bf16_heads_kernel, true: to_bf16_heads_t_kernel (the same element count).
template <class Src>
void convert(__nv_bfloat16* dst, const Src* src, int rows, int rows_pad, int heads, int hd, int dp, cudaStream_t stream,
             bool transposed = false) {
  const long long total = (long long)heads * rows_pad * (dp / 8);
  const int threads = 256;
  const long long blocks = std::min<long long>((total + threads - 1) / threads, 132LL * 16);
  if (transposed)
    to_bf16_heads_t_kernel<Src><<<(unsigned)blocks, threads, 0, stream>>>(dst, src, rows, rows_pad, heads, hd, dp);
  else
    to_bf16_heads_kernel<Src><<<(unsigned)blocks, threads, 0, stream>>>(dst, src, rows, rows_pad, heads, hd, dp);
  CUDA_CHECK_LAUNCH();
}

// The Hopper path (ops/flash_attention_wgmma.h): operands padded to its 128 x 128 tiles and to 128 dims, v
// transposed; `segments` attentions of the same shape one after another in q, k, v and out (rows s * n_q.. of q and
// out, s * n_kv.. of k and v), in one launch.
// q_given: q already in its operand layout (qkv_rope_bf16q_cuda; one segment), not converted here.
template <class Out, class KV>
void launch_wgmma(Out* out, const float* q, const KV* k, const KV* v, int n_q, int n_kv, int q_heads, int kv_heads,
                  int hd, int q_offset, bool causal, float scale, const cosmos::CudaContext& ctx, int segments = 1,
                  const __nv_bfloat16* q_given = nullptr) {
  constexpr int D = cosmos::kFlashWgmmaHeadDim;
  const int nq_pad = flash_wgmma_rows_pad(n_q), nkv_pad = flash_wgmma_rows_pad(n_kv);
  const size_t qs = (size_t)q_heads * nq_pad * D, ks = (size_t)kv_heads * nkv_pad * D;  // one segment's operands
  cosmos::CudaPool& pool = cosmos::workspace_pool(ctx, "flash_attention_cuda");
  cosmos::DeviceBuffer<__nv_bfloat16> qb(pool, q_given ? 0 : segments * qs), kb(pool, segments * ks),
      vt(pool, segments * ks);
  for (int z = 0; z < segments; ++z) {
    if (!q_given)
      convert(qb.get() + z * qs, q + (size_t)z * n_q * q_heads * hd, n_q, nq_pad, q_heads, hd, D, ctx.stream);
    convert(kb.get() + z * ks, k + (size_t)z * n_kv * kv_heads * hd, n_kv, nkv_pad, kv_heads, hd, D, ctx.stream);
    convert(vt.get() + z * ks, v + (size_t)z * n_kv * kv_heads * hd, n_kv, nkv_pad, kv_heads, hd, D, ctx.stream, true);
  }
  cosmos::flash_attention_wgmma(out, q_given ? q_given : qb.get(), kb.get(), vt.get(), n_q, n_kv, nq_pad, nkv_pad,
                                q_heads, kv_heads, hd, q_offset, causal, scale * 1.4426950408889634f, segments,
                                ctx.stream);
}

template <int DP, class KV>
void launch(float* out, const float* q, const KV* k, const KV* v, int n_q, int n_kv, int q_heads, int kv_heads, int hd,
            int q_offset, bool causal, float scale, const cosmos::CudaContext& ctx) {
  const int nq_pad = (n_q + kBM - 1) / kBM * kBM, nkv_pad = (n_kv + kBN - 1) / kBN * kBN;
  cosmos::CudaPool& pool = cosmos::workspace_pool(ctx, "flash_attention_cuda");
  // The bf16 copies live until the kernels are enqueued (stream order keeps them alive for the kernels:
  // core/cuda_context.h).
  cosmos::DeviceBuffer<__nv_bfloat16> qb(pool, (size_t)q_heads * nq_pad * DP),
      kb(pool, (size_t)kv_heads * nkv_pad * DP), vb(pool, (size_t)kv_heads * nkv_pad * DP);
  convert(qb.get(), q, n_q, nq_pad, q_heads, hd, DP, ctx.stream);
  convert(kb.get(), k, n_kv, nkv_pad, kv_heads, hd, DP, ctx.stream);
  convert(vb.get(), v, n_kv, nkv_pad, kv_heads, hd, DP, ctx.stream);
  const size_t smem = sizeof(__nv_bfloat16) * (size_t)(kBM + 4 * kBN) * (DP + 8);  // 102 KiB at DP = 128
  // Opt in to more than the 48 KiB default; idempotent and cheap (and per device, so not cached here).
  CUDA_CHECK(cudaFuncSetAttribute(flash_fwd_kernel<DP>, cudaFuncAttributeMaxDynamicSharedMemorySize, (int)smem));
  const dim3 grid(nq_pad / kBM, q_heads);
  flash_fwd_kernel<DP><<<grid, kThreads, smem, ctx.stream>>>(out, qb.get(), kb.get(), vb.get(), n_q, n_kv, nq_pad,
                                                             nkv_pad, q_heads, kv_heads, hd, q_offset, causal,
                                                             scale * 1.4426950408889634f);
  CUDA_CHECK_LAUNCH();
}
}  // namespace

bool flash_attention_supported(int n_q, int n_kv, int head_dim) {
  return n_q >= 64 && n_kv > 0 && head_dim > 0 && head_dim <= 128;
}

const char* flash_attention_path(int n_q, int n_kv, int head_dim, bool causal, cudaStream_t stream) {
  if (!flash_attention_supported(n_q, n_kv, head_dim)) return "attention_cuda";
  const char* env = std::getenv("COSMOS_FLASH");
  const bool mma_forced = env && std::strcmp(env, "mma") == 0;
  if (head_dim > 64 && head_dim % 8 == 0 && head_dim <= cosmos::kFlashWgmmaHeadDim && !mma_forced &&
      cosmos::flash_attention_wgmma_available(stream))
    return "wgmma";
  return "mma.sync";
}

namespace {
template <class KV>
void flash_launch(float* out, const float* q, const KV* k, const KV* v, int n_q, int n_kv, int q_heads, int kv_heads,
                  int head_dim, int q_offset, bool causal, float scale, const cosmos::CudaContext& ctx) {
  if (n_q <= 0) return;
  if (kv_heads <= 0 || q_heads % kv_heads != 0)
    throw std::runtime_error("flash_attention_cuda: q_heads % kv_heads != 0");
  const char* path = flash_attention_path(n_q, n_kv, head_dim, causal, ctx.stream);
  if (std::strcmp(path, "attention_cuda") == 0) {
    attention_cuda(out, q, k, v, n_q, n_kv, q_heads, kv_heads, head_dim, q_offset, causal, scale, ctx);
    return;
  }
  if (std::strcmp(path, "wgmma") == 0) {
    launch_wgmma(out, q, k, v, n_q, n_kv, q_heads, kv_heads, head_dim, q_offset, causal, scale, ctx);
    return;
  }
  if (head_dim <= 16)
    launch<16>(out, q, k, v, n_q, n_kv, q_heads, kv_heads, head_dim, q_offset, causal, scale, ctx);
  else if (head_dim <= 32)
    launch<32>(out, q, k, v, n_q, n_kv, q_heads, kv_heads, head_dim, q_offset, causal, scale, ctx);
  else if (head_dim <= 64)
    launch<64>(out, q, k, v, n_q, n_kv, q_heads, kv_heads, head_dim, q_offset, causal, scale, ctx);
  else if (head_dim <= 80)
    launch<80>(out, q, k, v, n_q, n_kv, q_heads, kv_heads, head_dim, q_offset, causal, scale, ctx);
  else if (head_dim <= 96)
    launch<96>(out, q, k, v, n_q, n_kv, q_heads, kv_heads, head_dim, q_offset, causal, scale, ctx);
  else
    launch<128>(out, q, k, v, n_q, n_kv, q_heads, kv_heads, head_dim, q_offset, causal, scale, ctx);
}
}  // namespace

void flash_attention_cuda(float* out, const float* q, const float* k, const float* v, int n_q, int n_kv, int q_heads,
                          int kv_heads, int head_dim, int q_offset, bool causal, float scale,
                          const cosmos::CudaContext& ctx) {
  flash_launch(out, q, k, v, n_q, n_kv, q_heads, kv_heads, head_dim, q_offset, causal, scale, ctx);
}
void flash_attention_cuda(float* out, const float* q, const __nv_bfloat16* k, const __nv_bfloat16* v, int n_q, int n_kv,
                          int q_heads, int kv_heads, int head_dim, int q_offset, bool causal, float scale,
                          const cosmos::CudaContext& ctx) {
  flash_launch(out, q, k, v, n_q, n_kv, q_heads, kv_heads, head_dim, q_offset, causal, scale, ctx);
}

namespace {
// The wgmma-only entries' argument checks (`who` names the call in the error).
void require_wgmma_path(const char* who, int n_q, int n_kv, int q_heads, int kv_heads, int head_dim, bool causal,
                        cudaStream_t stream) {
  if (kv_heads <= 0 || q_heads % kv_heads != 0)
    throw std::runtime_error(std::string(who) + ": q_heads % kv_heads != 0");
  if (std::strcmp(flash_attention_path(n_q, n_kv, head_dim, causal, stream), "wgmma") != 0)
    throw std::runtime_error(std::string(who) + ": this shape or device is not on the wgmma path");
}

template <class KV>
void bf16_out_launch(__nv_bfloat16* out, const float* q, const KV* k, const KV* v, int n_q, int n_kv, int q_heads,
                     int kv_heads, int head_dim, int q_offset, bool causal, float scale,
                     const cosmos::CudaContext& ctx) {
  if (n_q <= 0) return;
  require_wgmma_path("flash_attention_bf16_out_cuda", n_q, n_kv, q_heads, kv_heads, head_dim, causal, ctx.stream);
  launch_wgmma(out, q, k, v, n_q, n_kv, q_heads, kv_heads, head_dim, q_offset, causal, scale, ctx);
}
template <class KV>
void bf16q_launch(__nv_bfloat16* out, const __nv_bfloat16* qb, const KV* k, const KV* v, int n_q, int n_kv, int q_heads,
                  int kv_heads, int head_dim, int q_offset, bool causal, float scale, const cosmos::CudaContext& ctx) {
  if (n_q <= 0) return;
  require_wgmma_path("flash_attention_bf16q_cuda", n_q, n_kv, q_heads, kv_heads, head_dim, causal, ctx.stream);
  launch_wgmma(out, static_cast<const float*>(nullptr), k, v, n_q, n_kv, q_heads, kv_heads, head_dim, q_offset, causal,
               scale, ctx, 1, qb);
}
}  // namespace

void flash_attention_bf16_out_cuda(__nv_bfloat16* out, const float* q, const float* k, const float* v, int n_q,
                                   int n_kv, int q_heads, int kv_heads, int head_dim, int q_offset, bool causal,
                                   float scale, const cosmos::CudaContext& ctx) {
  bf16_out_launch(out, q, k, v, n_q, n_kv, q_heads, kv_heads, head_dim, q_offset, causal, scale, ctx);
}
void flash_attention_bf16_out_cuda(__nv_bfloat16* out, const float* q, const __nv_bfloat16* k, const __nv_bfloat16* v,
                                   int n_q, int n_kv, int q_heads, int kv_heads, int head_dim, int q_offset,
                                   bool causal, float scale, const cosmos::CudaContext& ctx) {
  bf16_out_launch(out, q, k, v, n_q, n_kv, q_heads, kv_heads, head_dim, q_offset, causal, scale, ctx);
}

void flash_attention_bf16q_cuda(__nv_bfloat16* out, const __nv_bfloat16* qb, const float* k, const float* v, int n_q,
                                int n_kv, int q_heads, int kv_heads, int head_dim, int q_offset, bool causal,
                                float scale, const cosmos::CudaContext& ctx) {
  bf16q_launch(out, qb, k, v, n_q, n_kv, q_heads, kv_heads, head_dim, q_offset, causal, scale, ctx);
}
void flash_attention_bf16q_cuda(__nv_bfloat16* out, const __nv_bfloat16* qb, const __nv_bfloat16* k,
                                const __nv_bfloat16* v, int n_q, int n_kv, int q_heads, int kv_heads, int head_dim,
                                int q_offset, bool causal, float scale, const cosmos::CudaContext& ctx) {
  bf16q_launch(out, qb, k, v, n_q, n_kv, q_heads, kv_heads, head_dim, q_offset, causal, scale, ctx);
}

int flash_wgmma_rows_pad(int seg_len) {
  constexpr int T = cosmos::kFlashWgmmaTile;
  return (seg_len + T - 1) / T * T;
}

namespace {
template <class Out>
void segments_bf16(Out* out, const __nv_bfloat16* qb, const __nv_bfloat16* kb, const __nv_bfloat16* vt, int seg_len,
                   int segments, int q_heads, int kv_heads, int head_dim, bool causal, float scale,
                   const cosmos::CudaContext& ctx) {
  if (seg_len <= 0 || segments <= 0) return;
  if (kv_heads <= 0 || q_heads % kv_heads != 0)
    throw std::runtime_error("flash_attention_segments_bf16_cuda: q_heads % kv_heads != 0");
  if (std::strcmp(flash_attention_path(seg_len, seg_len, head_dim, causal, ctx.stream), "wgmma") != 0)
    throw std::runtime_error("flash_attention_segments_bf16_cuda: this shape or device is not on the wgmma path");
  const int pad = flash_wgmma_rows_pad(seg_len);
  cosmos::flash_attention_wgmma(out, qb, kb, vt, seg_len, seg_len, pad, pad, q_heads, kv_heads, head_dim, 0, causal,
                                scale * 1.4426950408889634f, segments, ctx.stream);
}
}  // namespace

void flash_attention_segments_bf16_cuda(float* out, const __nv_bfloat16* qb, const __nv_bfloat16* kb,
                                        const __nv_bfloat16* vt, int seg_len, int segments, int q_heads, int kv_heads,
                                        int head_dim, bool causal, float scale, const cosmos::CudaContext& ctx) {
  segments_bf16(out, qb, kb, vt, seg_len, segments, q_heads, kv_heads, head_dim, causal, scale, ctx);
}
void flash_attention_segments_bf16_cuda(__nv_bfloat16* out, const __nv_bfloat16* qb, const __nv_bfloat16* kb,
                                        const __nv_bfloat16* vt, int seg_len, int segments, int q_heads, int kv_heads,
                                        int head_dim, bool causal, float scale, const cosmos::CudaContext& ctx) {
  segments_bf16(out, qb, kb, vt, seg_len, segments, q_heads, kv_heads, head_dim, causal, scale, ctx);
}

void flash_attention_segments_cuda(float* out, const float* q, const float* k, const float* v, int seg_len,
                                   int segments, int q_heads, int kv_heads, int head_dim, bool causal, float scale,
                                   const cosmos::CudaContext& ctx) {
  if (seg_len <= 0 || segments <= 0) return;
  if (kv_heads <= 0 || q_heads % kv_heads != 0)
    throw std::runtime_error("flash_attention_segments_cuda: q_heads % kv_heads != 0");
  if (segments > 1 && std::strcmp(flash_attention_path(seg_len, seg_len, head_dim, causal, ctx.stream), "wgmma") == 0) {
    launch_wgmma(out, q, k, v, seg_len, seg_len, q_heads, kv_heads, head_dim, 0, causal, scale, ctx, segments);
    return;
  }
  const size_t qs = (size_t)seg_len * q_heads * head_dim, ks = (size_t)seg_len * kv_heads * head_dim;
  for (int z = 0; z < segments; ++z)
    flash_attention_cuda(out + z * qs, q + z * qs, k + z * ks, v + z * ks, seg_len, seg_len, q_heads, kv_heads,
                         head_dim, 0, causal, scale, ctx);
}
