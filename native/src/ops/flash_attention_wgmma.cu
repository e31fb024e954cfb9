// flash_attention_wgmma (see the header): FlashAttention-3's block structure and its intra-warpgroup overlap of
// softmax and products, written from the PTX ISA.
//  * A work item is 128 queries of one q head (of one segment): warpgroup 0 is the producer, warpgroups 1 and 2 consume
//    64 query rows each. The launch is persistent (one block an SM, each looping over its items;
//    COSMOS_FLASH_PERSISTENT=0 gives one item a block): Q has two buffers and the key / value stages run as one
//    sequence over a block's items, so the next item's Q and first keys land while the consumers finish the current
//    one. A tower frame has only 13 key tiles, so a block's first loads and last stores were a large share of it: on
//    the H100 (2026-12-06, tools/device/cupti_trace.cc) the video tower's flash kernels 8.56 -> 7.63 ms, the video
//    prefill's 7.44 -> 6.39. Why not ops/flash_attention.cu's mma.sync kernel: mma.sync reaches ~240 TFLOP/s on the
//    H200, where wgmma (a warpgroup's 64 x N x 16 product from shared memory, issued asynchronously) is what Hopper's
//    peak needs.
//  * One producer thread copies each item's Q tile and, per 128-key tile, K and V^T with TMA in the 128-byte swizzle
//    that wgmma reads directly; two stages, so tile t+1 lands while tile t is used. K and V have their own "full"
//    mbarriers (counting bytes) and "empty" ones (counting the consumer warps done with them): a consumer is done
//    with K_t long before V_t (below), and the producer copies K_t before V_{t-1}, the order they are needed in.
//  * S = Q K^T: 8 wgmma m64n128k16 from shared memory (head_dim 128 = 8 k16 steps; a 128-byte swizzle row holds
//    64 dims, so a tile is two 16 KiB halves). The online softmax runs on S in registers (f32, log2 domain); the
//    probabilities, packed to bf16 pairs, are already wgmma's register A fragment, so O += P V is 8 more wgmmas
//    with A from registers and V^T from shared memory.
//  * The softmax (its ex2 alone, 16 per clock per SM, takes half as long as the tile's products) would leave the
//    tensor cores idle, so each warpgroup overlaps it with its own products: step t issues S_t = Q K_t^T and then
//    O += P_{t-1} V_{t-1}, and runs the softmax of S_t while the second product is in flight (P_{t-1} stays in its
//    bf16 registers until that product is done; O is rescaled after it, and only when a row's max moved). +12% at
//    the 480p shape on the H200. FA3's ping-pong between the two consumer warpgroups (named barriers handing over
//    the right to issue products) and 3 stages measured no faster on top of this, so neither is here. The ping-pong
//    was tried again for the Qwen3-VL tower's head dim 72 (2026-12-06, H100; ncu had the tensor pipe 44% and MUFU 38%
//    busy there, a tile's products about as long as its softmax): the flash kernels' ncu sum 28.0 -> 27.3 ms over a
//    process of two video towers and two prefills, the tower no faster (44.4 / 44.3 against 44.8 / 44.6 ms). Two more
//    tries there (2026-12-06, H100, ncu over the same process): 3 K / V stages (the tower's tiles take ~1.6 us, about
//    a tile's arrival from L2) 27.9 -> 29.2 ms, and V^T's tiles of only the 80 rows P V reads (20 instead of 32 KiB a
//    stage) 27.9 -> 27.9; the tower 46.6 / 48.1 and 46.3 / 44.8 against 52.4 / 48.5 ms, within that machine's spread.
//    The kernel there is latency-bound, not fed too slowly: per issued instruction ncu counts 1.39 warps stalled on
//    fixed-latency dependencies (the softmax's chains), 0.80 on long scoreboards, 0.30 on wgmma; tensor pipe 46%, MUFU
//    38%, FMA 14%, issue slots 39%.
//  * Two operand formats, one kernel (the template's Tiles): bf16 (Bf16Tiles) and 8-bit (Int8E4m3Tiles, for
//    attention_fp8: q and k in int8, v and P in e4m3; a tile is one swizzled 128-byte row per row, products are k32
//    steps at twice the rate). fp8 wgmma wants its register A operand in the 8-bit fragment, whose k order is not
//    the accumulator's (Int8E4m3Tiles::pack_p): instead of shuffling P between threads, the operand preparation
//    stores V^T's keys in the matching order inside every 32 keys (attention_fp8.cu), so each thread packs its own
//    probabilities as they are. P is scaled by 256 on the way (the softmax subtracts max - 8 in the log2 domain; l
//    carries the same factor, so it cancels) so that small probabilities keep e4m3's normal range instead of
//    flushing to zero under 2^-9. Measured on the H200 at
//    the 480p gen stream (bench attention): 3 or 4 K/V stages no faster than 2; a deeper schedule (two S tiles in
//    registers, S_{t+1} issued before the softmax of S_t) 28% slower in e4m3, 39% in bf16; with the exp and the e4m3
//    packing replaced by free stand-ins only 10% faster, and with no K/V copies at all no faster: what holds the
//    8-bit kernel at ~870 TFLOP/s (with e4m3 scores; tensor pipe ~48% busy, ncu) is neither the softmax nor the
//    loads. (These figures are from when q and k were e4m3 too: S in e4m3 was ~7% faster than int8 at 480p, but
//    cost a trained model's scores most of their precision.) ncu on the int8-score kernel: issue slots 49% busy,
//    0.71 eligible warps per scheduler, fixed-latency dependencies the largest stall; computing the wgmma
//    descriptors once per stage instead of per product (~60 fewer instructions a key tile) measured no faster in
//    either format, so the loop's pace is latency, not instruction count; the softmax's max as a tree and its sum
//    in 4 partial sums measured 2-4% slower; three consumer warpgroups (more warps to hide the latency) do not fit:
//    ptxas gives a 512-thread block 128 registers a thread, and O + S alone are 128. Nor does more work per product
//    help: 192-key tiles for the 8-bit format (S as m64n192k32, V^T in two swizzle atoms; FlashAttention-3 takes
//    192-224 keys for fp8 at head dim 128; ops_cuda_test passed, its 40 fp8 attention rows included) measured
//    7.17-7.44 against 6.99-7.41 ms at 480p, 38.1-38.2 ms at 720p either way, the fp8 forward 0.575 against 0.570
//    s: the softmax's work per key, which sets the pace, is the same whatever the tile width. FA3's ping-pong (named
//    barriers: the consumers take turns to issue their products) measured no faster for the 8-bit format either
//    (480p 7.83-7.95 against 7.79-7.87 ms, 720p 40.2-40.4 against 40.0-40.8, the fp8 forward 0.578-0.581 against
//    0.582 s; one call, alternated twice): the two consumers already fall out of step on their own.
//  * Head dims below 128 are the operands' zero padding (they add nothing to q.k; the padded output dims are not
//    written). At head dims <= 80 (the Qwen3-VL tower's 72) the bf16 kernel skips most of that padding: S takes 5
//    k16 steps instead of 8 and O += P V is m64n80 instead of m64n128, 59% of the products (the operands and their
//    loads keep the 128-dim layout, so one operand preparation serves both). Causal: a block copies only the key tiles
//    up to its last query's and masks only from the tile that crosses its first query's limit on.
#ifndef COSMOS_CUDA
#define COSMOS_CUDA 1
#endif
#include "flash_attention_wgmma.h"

#include <cuda_fp8.h>

#include <algorithm>
#include <cstdint>
#include <type_traits>

#include "../core/cuda_common.h"
#include "../core/env.h"
#include "wgmma_sm90.cuh"

// Built for plain sm_90 the kernel is empty, which leaves the device helpers unreferenced: expected.
#pragma nv_diag_suppress 177

namespace {
using namespace cosmos::sm90;
using cosmos::fast_exp2;
using cosmos::pack_bf16x2;

constexpr int kD = cosmos::kFlashWgmmaHeadDim;
constexpr int kBM = cosmos::kFlashWgmmaTile;  // queries per work item
constexpr int kBN = cosmos::kFlashWgmmaTile;  // keys per tile
constexpr int kStages = 2;
constexpr int kThreads = 3 * 128;  // producer + 2 consumer warpgroups
constexpr int kQBufs = 2;          // Q tiles: the next item's lands while this one runs
constexpr int kBarriers =
    2 * kQBufs + 4 * kStages;  // full / empty Q per buffer; full K, full V, empty K, empty V per stage

// As fence_regs, for the packed P fragment that an in-flight wgmma reads.
template <int K>
__device__ __forceinline__ void fence_pa(uint32_t (&pa)[K][4]) {
#pragma unroll
  for (int i = 0; i < K; ++i)
#pragma unroll
    for (int e = 0; e < 4; ++e) asm volatile("" : "+r"(pa[i][e])::"memory");
}

// bf16 operands: a [128 rows][128] tile is two swizzled halves (dims, or keys, 0-63 in the first, 64-127 in the
// second); inside a half a k16 step is 32 bytes further (as ops/gemm_wgmma.cu). kDims: the dims the products take
// (128, or 80 for head dims <= 80: dims 80-127 are padding in every operand, so S stops after 5 k16 steps and P V
// writes 80 output columns).
template <int kDims>
struct Bf16Tiles {
  static_assert(kDims == 128 || kDims == 80, "the P V product exists as m64n128 and m64n80");
  static constexpr int kHalf = 128 * 128;  // bytes of 128 rows x 64 bf16
  static constexpr int kTileBytes = 2 * kHalf;
  static constexpr int kQkSteps = kDims / 16;  // k16 steps over the dims (S)
  static constexpr int kPvSteps = kD / 16;     // k16 steps over a tile's 128 keys (P V)
  static constexpr int kO = kDims / 2;         // O's accumulators a thread: m64 x kDims over 128 threads
  static constexpr int kPLog2 = 0;             // P as it is
  static constexpr bool kIntScores = false;
  using PFrag = uint32_t[kPvSteps][4];
  // The tile at element column c0 (dim 0, or the tile's first key for V^T) and row `row`: two boxes of 64.
  static __device__ __forceinline__ void load(uint32_t dst, const CUtensorMap* map, int c0, int row, uint32_t bar) {
    tma_load_2d(dst, map, c0, row, bar);
    tma_load_2d(dst + kHalf, map, c0 + 64, row, bar);
  }
  static __device__ __forceinline__ uint64_t desc(uint32_t tile, int kk) {
    return sw128_desc(tile + (kk >> 2) * kHalf + (kk & 3) * 32);
  }
  static __device__ __forceinline__ void qk(float (&sc)[64], uint32_t qa, uint32_t kt, int kk) {
    wgmma_m64n128k16(sc, desc(qa, kk), desc(kt, kk), kk != 0);
  }
  // V^T's rows are dims, so the first kDims rows of the tile are B's N columns.
  static __device__ __forceinline__ void pv(float (&o)[kO], const PFrag& pa, uint32_t vt, int kk) {
    if constexpr (kDims == 128)
      wgmma_m64n128k16_rs(o, pa[kk], desc(vt, kk), 1);
    else
      wgmma_m64n80k16_rs(o, pa[kk], desc(vt, kk), 1);
  }
  // P as A fragments: keys 16kk..16kk+15 are the accumulator's n8 blocks 2kk and 2kk+1 (the m16n8k16 A fragment is
  // the accumulator's layout).
  static __device__ __forceinline__ void pack_p(PFrag& pa, const float (&sc)[64]) {
#pragma unroll
    for (int kk = 0; kk < kPvSteps; ++kk) {
      pa[kk][0] = pack_bf16x2(sc[8 * kk + 0], sc[8 * kk + 1]);
      pa[kk][1] = pack_bf16x2(sc[8 * kk + 2], sc[8 * kk + 3]);
      pa[kk][2] = pack_bf16x2(sc[8 * kk + 4], sc[8 * kk + 5]);
      pa[kk][3] = pack_bf16x2(sc[8 * kk + 6], sc[8 * kk + 7]);
    }
  }
};

// 8-bit operands (attention_fp8): q and k in int8, v and P in e4m3. A [128 rows][128] tile is one 128-byte swizzle
// row per row; a k32 step is 32 bytes further. int8 keeps 7 bits of each q and k value where e4m3 keeps 3, which is
// what a trained model's peaked scores need (bench/fp8_notes.md); the integer wgmma runs at the fp8 rate. S is exact
// in s32 and converted to f32 after the product (I2FP, on the FMA pipe: 64 instructions a tile, ~7% of the 480p gen
// stream's attention against e4m3 scores; accumulators started at the f32 bits of 1.5 * 2^23, to be read as f32
// without a conversion, measured no faster: their 64 moves cost as much, and the bias costs exactness).
struct Int8E4m3Tiles {
  static constexpr int kTileBytes = 128 * 128;
  static constexpr int kQkSteps = kD / 32;  // k32 steps over 128 dims (S)
  static constexpr int kPvSteps = kD / 32;  // ... over a tile's 128 keys (P V)
  static constexpr int kO = 64;
  static constexpr int kPLog2 = 8;  // P x 256 (see the top of this file)
  static constexpr bool kIntScores = true;
  using PFrag = uint32_t[kPvSteps][4];
  static __device__ __forceinline__ void load(uint32_t dst, const CUtensorMap* map, int c0, int row, uint32_t bar) {
    tma_load_2d(dst, map, c0, row, bar);
  }
  static __device__ __forceinline__ uint64_t desc(uint32_t tile, int kk) { return sw128_desc(tile + kk * 32); }
  static __device__ __forceinline__ void qk(uint32_t (&si)[64], uint32_t qa, uint32_t kt, int kk) {
    wgmma_m64n128k32_s8(si, desc(qa, kk), desc(kt, kk), kk != 0);
  }
  static __device__ __forceinline__ void pv(float (&o)[64], const PFrag& pa, uint32_t vt, int kk) {
    wgmma_m64n128k32_e4m3_rs(o, pa[kk], desc(vt, kk), 1);
  }
  // Four probabilities -> one register, the first in the lowest byte (cvt.rn.satfinite.e4m3x2.f32, two at a time).
  static __device__ __forceinline__ uint32_t pack4(float a, float b, float c, float d) {
    const uint32_t lo = __nv_cvt_float2_to_fp8x2(make_float2(a, b), __NV_SATFINITE, __NV_E4M3);
    const uint32_t hi = __nv_cvt_float2_to_fp8x2(make_float2(c, d), __NV_SATFINITE, __NV_E4M3);
    return lo | hi << 16;
  }
  // Step kk covers keys 32kk..32kk+31. This thread (tig = lane % 4) holds, for row r, keys 2tig + {0, 1} + {0, 8,
  // 16, 24} of them; the 8-bit fragment wants its k positions 4tig + {0..3} (register 0, row r; 1: row r + 8) and
  // 16 + 4tig + {0..3} (registers 2, 3). So position 4tig + i holds key 2tig + (i & 1) + 8(i >> 1), and 16 + 4tig + i
  // key 16 + 2tig + (i & 1) + 8(i >> 1): V^T's keys are stored in that order (fp8_key_order, attention_fp8.h), so
  // the product pairs each probability with its own key's values.
  static __device__ __forceinline__ void pack_p(PFrag& pa, const float (&sc)[64]) {
#pragma unroll
    for (int kk = 0; kk < kPvSteps; ++kk) {
      const float* c = sc + 16 * kk;
      pa[kk][0] = pack4(c[0], c[1], c[4], c[5]);
      pa[kk][1] = pack4(c[2], c[3], c[6], c[7]);
      pa[kk][2] = pack4(c[8], c[9], c[12], c[13]);
      pa[kk][3] = pack4(c[10], c[11], c[14], c[15]);
    }
  }
};

template <class T>
constexpr int smem_bytes() {  // +1024: align the tiles to 1024
  return (kQBufs + 2 * kStages) * T::kTileBytes + kBarriers * 8 + 1024;
}
static_assert(smem_bytes<Bf16Tiles<128>>() <= 227 * 1024, "shared memory per block");

// S = Q K^T of this warpgroup's 64 queries against one 128-key tile, committed as one group: into sc, or for integer
// scores into si (read by scores_ready).
template <class T>
__device__ __forceinline__ void issue_qk(float (&sc)[64], uint32_t (&si)[64], uint32_t qa, uint32_t kt) {
#pragma unroll
  for (int kk = 0; kk < T::kQkSteps; ++kk) {
    if constexpr (T::kIntScores)
      T::qk(si, qa, kt, kk);
    else
      T::qk(sc, qa, kt, kk);
  }
  wgmma_commit();
}
// After the wait that completes S: keeps the compiler from reading the accumulators earlier; integer scores are
// converted to f32 (exactly: |S| <= 127^2 * 128 < 2^24).
template <class T>
__device__ __forceinline__ void scores_ready(float (&sc)[64], uint32_t (&si)[64]) {
  if constexpr (T::kIntScores) {
    fence_regs(si);
#pragma unroll
    for (int i = 0; i < 64; ++i) sc[i] = __int2float_rn((int)si[i]);
  } else {
    fence_regs(sc);
  }
}
// O += P V. One group.
template <class T>
__device__ __forceinline__ void issue_pv(float (&o)[T::kO], const typename T::PFrag& pa, uint32_t vt) {
#pragma unroll
  for (int kk = 0; kk < T::kPvSteps; ++kk) T::pv(o, pa, vt, kk);
  wgmma_commit();
}

// Online softmax of one S tile in place (scores -> probabilities, f32, log2 domain). Accumulator layout of
// m64n128 (per warp 16 rows): [4j + {0,1}] at row lane/4, keys 8j + 2(lane%4) + {0,1}; [4j + {2,3}] eight rows
// below, so this thread's rows are r and r + 8 (rr = 0, 1), each spread over a quad. alpha[rr] moves what O and l
// hold to the new running max (0 on the first tile, exactly 1 when the max stayed). kMask: the tile may hold keys
// that get no weight: past n_kv (zero padding), or past a row's last visible key `last` (causal: q_offset + its
// row; row r + 8 sees 8 more keys). c[rr]: the row's score scale in the log2 domain (> 0; bf16: c[0] for both). The
// probabilities come out times 2^kPLog2 (l too).
template <bool kMask, int kPLog2>
__device__ __forceinline__ void softmax_tile(float (&sc)[64], float (&m)[2], float (&l)[2], float (&alpha)[2], int j0,
                                             int n_kv, int last, int tig, const float (&c)[2]) {
  if (kMask) {
#pragma unroll
    for (int j = 0; j < 16; ++j)
#pragma unroll
      for (int e = 0; e < 4; ++e) {
        const int key = j0 + 8 * j + 2 * tig + (e & 1);
        if (key >= n_kv || key > last + 8 * (e >> 1)) sc[4 * j + e] = -INFINITY;
      }
  }
  // c > 0 keeps the max where it is, so the max is taken on raw scores.
#pragma unroll
  for (int rr = 0; rr < 2; ++rr) {
    float mx = -INFINITY;
#pragma unroll
    for (int j = 0; j < 16; ++j) mx = fmaxf(mx, fmaxf(sc[4 * j + 2 * rr], sc[4 * j + 2 * rr + 1]));
    mx = fmaxf(mx, __shfl_xor_sync(0xffffffffu, mx, 1));
    mx = fmaxf(mx, __shfl_xor_sync(0xffffffffu, mx, 2));
    const float cr = kPLog2 != 0 ? c[rr] : c[0];  // bf16: one scale for every row (the code the bf16 kernel had)
    const float m_new = fmaxf(m[rr], mx * cr);
    const float m_use = m_new == -INFINITY ? 0.f : m_new;
    alpha[rr] = fast_exp2(m[rr] - m_use);
    const float m_p = m_use - (float)kPLog2;
    float sum = 0.f;
#pragma unroll
    for (int j = 0; j < 16; ++j) {
      const float p0 = fast_exp2(fmaf(sc[4 * j + 2 * rr], cr, -m_p));
      const float p1 = fast_exp2(fmaf(sc[4 * j + 2 * rr + 1], cr, -m_p));
      sc[4 * j + 2 * rr] = p0;
      sc[4 * j + 2 * rr + 1] = p1;
      sum += p0 + p1;
    }
    l[rr] = l[rr] * alpha[rr] + sum;  // this thread's part of the row sum; the quad is summed at the end
    m[rr] = m_new;
  }
}

// fp8: the operands' scales (attention_fp8.h): q per (head, query row) [q_heads][nq_pad], k and v per head; null for
// bf16.
struct Fp8Scales {
  const float* q = nullptr;
  const float* k = nullptr;
  const float* v = nullptr;
};

// A pair of output dims: f32, or rounded to bf16 (round to nearest even: the values a bf16 GEMM reading f32 rows would
// make of them).
__device__ __forceinline__ void store_pair(float* o, float a, float b) {
  *reinterpret_cast<float2*>(o) = make_float2(a, b);
}
__device__ __forceinline__ void store_pair(__nv_bfloat16* o, float a, float b) {
  *reinterpret_cast<__nv_bfloat162*>(o) = __floats2bfloat162_rn(a, b);
}

// Work item w (a block of kBM queries of one head of one segment) -> its query tile, head and segment. Full attention:
// the query tiles fastest (the blocks in flight share their heads' keys and values in L2), as the grid (q tiles, heads,
// segments) had it. Causal: the tiles by length, the longest (latest) of every head first, so the short ones fill the
// tail.
__device__ __forceinline__ void item_coords(int w, int items, int q_tiles, int q_heads, bool causal, int& qt, int& h,
                                            int& z) {
  int hz;
  if (causal) {
    const int hzs = items / q_tiles;  // heads x segments
    qt = q_tiles - 1 - w / hzs;
    hz = w % hzs;
  } else {
    qt = w % q_tiles;
    hz = w / q_tiles;
  }
  h = hz % q_heads;
  z = hz / q_heads;
}
// The block's i-th item: blocks take items in a snake (b, 2G - 1 - b, 2G + b, ...) so that under the causal order each
// block's items sum to about the same work. A block of the one-item-a-block launch takes item b alone.
__device__ __forceinline__ int block_item(int i) {
  const int G = gridDim.x, b = blockIdx.x;
  return i * G + ((i & 1) ? G - 1 - b : b);
}

// The grid is one-dimensional over the work items: one item a block, or (persistent: one block an SM) each block loops
// over its items, the producer loading the next item's Q and first keys while the consumers finish the current one
// (one item a block, every block waits for its first tiles and ends with its last stores: ~11% of the tower's flash
// time, whose items have 13 key tiles).
template <class T, class Out>
__global__ void __launch_bounds__(kThreads, 1)
    flash_wgmma_kernel(const __grid_constant__ CUtensorMap tma_q, const __grid_constant__ CUtensorMap tma_k,
                       const __grid_constant__ CUtensorMap tma_vt, Out* __restrict__ out_all, int n_q, int n_kv,
                       int nq_pad, int nkv_pad, int q_heads, int kv_heads, int hd, int q_offset, bool causal,
                       float scale_log2, Fp8Scales fp8, int items) {
#if defined(__CUDA_ARCH_FEAT_SM90_ALL)
  extern __shared__ unsigned char smem_raw[];
  const uint32_t base = (smem_u32(smem_raw) + 1023u) & ~1023u;
  constexpr int kTileBytes = T::kTileBytes;
  const uint32_t sq0 = base, sk0 = sq0 + kQBufs * kTileBytes, sv0 = sk0 + kStages * kTileBytes;
  const uint32_t full_q0 = sv0 + kStages * kTileBytes, empty_q0 = full_q0 + 8 * kQBufs, full_k0 = empty_q0 + 8 * kQBufs,
                 full_v0 = full_k0 + 8 * kStages, empty_k0 = full_v0 + 8 * kStages, empty_v0 = empty_k0 + 8 * kStages;
  const int wg = threadIdx.x / 128;
  const int q_tiles = nq_pad / kBM;
  // Item w's geometry. Causal: no key past the block's last query's (q_offset + q0 + 127) is loaded at all, and only
  // the tiles from first_masked on can hold a key past some row's limit (tile t's last key t*kBN + kBN - 1 > q_offset +
  // q0); the last tile may also reach past n_kv. Every row sees key 0 (q_offset >= 0), so no row is ever all masked.
  struct Item {
    int q0, h, z, kh, n_tiles, first_masked;
  };
  auto item = [&](int w) {
    Item it;
    int qt;
    item_coords(w, items, q_tiles, q_heads, causal, qt, it.h, it.z);
    it.q0 = qt * kBM;
    it.kh = it.h / (q_heads / kv_heads);
    const int kv_end = causal ? min(n_kv, q_offset + it.q0 + kBM) : n_kv;
    it.n_tiles = (kv_end + kBN - 1) / kBN;
    it.first_masked = causal ? min(it.n_tiles - 1, (q_offset + it.q0 + 1) / kBN) : it.n_tiles - 1;
    return it;
  };
  if (threadIdx.x == 0) {
#pragma unroll
    for (int b = 0; b < kQBufs; ++b) {
      mbar_init(full_q0 + 8 * b, 1);
      mbar_init(empty_q0 + 8 * b, 8);  // one arrive per consumer warp
    }
#pragma unroll
    for (int s = 0; s < kStages; ++s) {
      mbar_init(full_k0 + 8 * s, 1);  // the producer's arrive.expect_tx (+ the copies' bytes)
      mbar_init(full_v0 + 8 * s, 1);
      mbar_init(empty_k0 + 8 * s, 8);  // one arrive per consumer warp
      mbar_init(empty_v0 + 8 * s, 8);
    }
    asm volatile("fence.mbarrier_init.release.cluster;\n" ::: "memory");
  }
  __syncthreads();

  // Key / value tiles run through the stages as one sequence over the block's items: g is the sequence index of an
  // item's first tile (stage g % kStages, phase (g / kStages) & 1); Q buffer i % kQBufs serves the block's i-th item.
  if (wg == 0) {  // ------------------------------------------------ producer
    setmaxnreg_dec<24>();
    if (threadIdx.x == 0) {
      int g = 0;
      for (int i = 0;; ++i) {
        const int w = block_item(i);
        if (w >= items) break;
        const Item it = item(w);
        const int qrow = (it.z * q_heads + it.h) * nq_pad + it.q0, krow = (it.z * kv_heads + it.kh) * nkv_pad,
                  vrow = (it.z * kv_heads + it.kh) * kD;
        auto load_v = [&](int t) {
          const int s = (g + t) % kStages;
          mbar_wait(empty_v0 + 8 * s, (((g + t) / kStages) & 1) ^ 1);
          const uint32_t fv = full_v0 + 8 * s, vt = sv0 + s * kTileBytes;
          mbar_expect_tx(fv, kTileBytes);
          T::load(vt, &tma_vt, t * kBN, vrow, fv);
        };
        const int qb = i % kQBufs;
        mbar_wait(empty_q0 + 8 * qb, ((i / kQBufs) & 1) ^ 1);  // its previous item's consumers are done with it
        mbar_expect_tx(full_q0 + 8 * qb, kTileBytes);
        T::load(sq0 + qb * kTileBytes, &tma_q, 0, qrow, full_q0 + 8 * qb);
        for (int t = 0; t < it.n_tiles; ++t) {
          const int s = (g + t) % kStages;
          mbar_wait(empty_k0 + 8 * s, (((g + t) / kStages) & 1) ^ 1);
          const uint32_t fk = full_k0 + 8 * s, kt = sk0 + s * kTileBytes;
          mbar_expect_tx(fk, kTileBytes);
          T::load(kt, &tma_k, 0, krow + t * kBN, fk);
          if (t > 0) load_v(t - 1);
        }
        load_v(it.n_tiles - 1);
        g += it.n_tiles;
      }
    }
  } else {  // ------------------------------------------------------- consumers
    // 240 registers: O, S and P (64 + 64 + 32) are live at once, beside the softmax's own.
    setmaxnreg_inc<240>();
    const int c = wg - 1, warp = (threadIdx.x / 32) & 3, lane = threadIdx.x & 31, tig = lane & 3;
    constexpr int kO = T::kO;  // O's accumulators: kO / 4 blocks of 8 output dims
    constexpr int kPLog2 = T::kPLog2;
    float o[kO], sc[64], alpha[2];
    uint32_t si[64];       // integer scores (Int8E4m3Tiles); unused otherwise
    typename T::PFrag pa;  // P of the previous tile, read by its P V product
    int g = 0;
    for (int i = 0;; ++i) {
      const int w = block_item(i);
      if (w >= items) break;
      const Item it = item(w);
      const int h = it.h, z = it.z, kh = it.kh, n_tiles = it.n_tiles, first_masked = it.first_masked;
      // Segment z: its own operands (the next q_heads * nq_pad rows of Q, kv_heads * nkv_pad of K, ...) and its own n_q
      // output rows.
      Out* out = out_all + (long long)z * n_q * q_heads * hd;
      const int qb = i % kQBufs;
      const uint32_t qa = sq0 + qb * kTileBytes + c * 64 * 128;  // this warpgroup's 64 query rows (128-byte rows)
#pragma unroll
      for (int j = 0; j < kO; ++j) o[j] = 0.f;
      float m[2] = {-INFINITY, -INFINITY}, l[2] = {0.f, 0.f};
      const int row = it.q0 + c * 64 + warp * 16 + (lane >> 2);  // this thread's rows: row, row + 8
      const int last = causal ? q_offset + row : n_kv;           // row's last visible key
      // Score scale per row (log2 domain); fp8: times the row's q scale and the head's k scale.
      float cs[2] = {scale_log2, scale_log2};
      if constexpr (T::kPLog2 != 0) {
        const float* sqh = fp8.q + (long long)(z * q_heads + h) * nq_pad + row;
        const float sk = fp8.k[z * kv_heads + kh];
        cs[0] = scale_log2 * sqh[0] * sk;
        cs[1] = scale_log2 * sqh[8] * sk;
      }
      mbar_wait(full_q0 + 8 * qb, (i / kQBufs) & 1);
      {
        const int s0 = g % kStages;
        mbar_wait(full_k0 + 8 * s0, (g / kStages) & 1);
        fence_regs(sc);
        wgmma_fence();
        issue_qk<T>(sc, si, qa, sk0 + s0 * kTileBytes);
        wgmma_wait<0>();
        scores_ready<T>(sc, si);
        if (lane == 0) mbar_arrive(empty_k0 + 8 * s0);
      }
      softmax_tile<true, kPLog2>(sc, m, l, alpha, 0, n_kv, last, tig, cs);  // O is still 0: nothing to rescale
      T::pack_p(pa, sc);
      // Step t (1 <= t < n_tiles). `masked`: a step from first_masked on, the only ones that can need the key mask
      // (their own copy, so the others carry no mask branch).
      auto step = [&](int t, auto masked) {
        const int s = (g + t) % kStages, sp = (g + t - 1) % kStages;
        mbar_wait(full_k0 + 8 * s, ((g + t) / kStages) & 1);
        fence_regs(sc);
        fence_regs(o);
        fence_pa(pa);
        wgmma_fence();
        issue_qk<T>(sc, si, qa, sk0 + s * kTileBytes);
        mbar_wait(full_v0 + 8 * sp, ((g + t - 1) / kStages) & 1);
        wgmma_fence();  // after the wait's loop: without it ptxas injects its own
        issue_pv<T>(o, pa, sv0 + sp * kTileBytes);
        wgmma_wait<1>();  // S_t is done; P_{t-1} V_{t-1} may still run
        scores_ready<T>(sc, si);
        softmax_tile<decltype(masked)::value, kPLog2>(sc, m, l, alpha, t * kBN, n_kv, last, tig, cs);
        // K_t has been free since S_t completed; its release waits for the softmax and depends on its result (l is
        // never < 0, which ptxas cannot know) because ptxas otherwise schedules the wait below above the whole
        // softmax (seen in the SASS), and the softmax no longer overlaps P V.
        if (lane == 0 && !(l[0] + l[1] < 0.f)) mbar_arrive(empty_k0 + 8 * s);
        wgmma_wait<0>();
        fence_regs(o);
        fence_pa(pa);
        if (lane == 0) mbar_arrive(empty_v0 + 8 * sp);
        T::pack_p(pa, sc);
        // O to the new max; skipped when no row of the warp moved (most tiles past the first few).
        if (__any_sync(0xffffffffu, alpha[0] != 1.f || alpha[1] != 1.f)) {
#pragma unroll
          for (int j = 0; j < kO / 4; ++j) {
            o[4 * j + 0] *= alpha[0];
            o[4 * j + 1] *= alpha[0];
            o[4 * j + 2] *= alpha[1];
            o[4 * j + 3] *= alpha[1];
          }
        }
      };
      for (int t = 1; t < first_masked; ++t) step(t, std::false_type{});
      for (int t = first_masked > 1 ? first_masked : 1; t < n_tiles; ++t) step(t, std::true_type{});
      {  // the last tile's P V
        const int s = (g + n_tiles - 1) % kStages;
        mbar_wait(full_v0 + 8 * s, ((g + n_tiles - 1) / kStages) & 1);
        fence_regs(o);
        fence_pa(pa);
        wgmma_fence();
        issue_pv<T>(o, pa, sv0 + s * kTileBytes);
        wgmma_wait<0>();
        fence_regs(o);
        fence_pa(pa);
        if (lane == 0) mbar_arrive(empty_v0 + 8 * s);
      }
      if (lane == 0) mbar_arrive(empty_q0 + 8 * qb);  // every product reading this Q tile is done
      g += n_tiles;
      float out_scale = 1.f;
      if constexpr (T::kPLog2 != 0) out_scale = fp8.v[z * kv_heads + kh];  // fp8: v's scale
#pragma unroll
      for (int rr = 0; rr < 2; ++rr) {
        float L = l[rr];
        L += __shfl_xor_sync(0xffffffffu, L, 1);
        L += __shfl_xor_sync(0xffffffffu, L, 2);
        const int r = row + 8 * rr;
        if (r >= n_q) continue;
        const float inv = L > 0.f ? out_scale / L : 0.f;
        Out* orow = out + ((long long)r * q_heads + h) * hd + 2 * tig;
#pragma unroll
        for (int j = 0; j < kO / 4; ++j)  // dims past hd are the operands' zero padding (hd % 8 == 0)
          if (8 * j < hd) store_pair(orow + 8 * j, o[4 * j + 2 * rr] * inv, o[4 * j + 2 * rr + 1] * inv);
      }
    }
  }
#else
  (void)n_q, (void)n_kv, (void)nq_pad, (void)nkv_pad, (void)q_heads, (void)kv_heads, (void)hd, (void)q_offset,
      (void)causal, (void)scale_log2, (void)out_all, (void)fp8, (void)items;
#endif
}
}  // namespace

namespace cosmos {

bool flash_attention_wgmma_available(cudaStream_t stream) { return this_object_sm90a_available(stream); }

namespace {
template <class T, class Out>
void launch(const CUtensorMap& mq, const CUtensorMap& mk, const CUtensorMap& mv, Out* out, int n_q, int n_kv,
            int nq_pad, int nkv_pad, int q_heads, int kv_heads, int hd, int q_offset, bool causal, float scale_log2,
            Fp8Scales fp8, int segments, cudaStream_t stream) {
  static const bool attr = [] {  // opt in to more than 48 KiB of dynamic shared memory, once per format
    CUDA_CHECK(
        cudaFuncSetAttribute(flash_wgmma_kernel<T, Out>, cudaFuncAttributeMaxDynamicSharedMemorySize, smem_bytes<T>()));
    return true;
  }();
  (void)attr;
  const int items = nq_pad / kBM * q_heads * segments;
  // COSMOS_FLASH_PERSISTENT=0: one item a block, as before 2026-12-06 (the same outputs bit for bit: an item's
  // arithmetic does not depend on which block runs it).
  const int grid = env_switch("COSMOS_FLASH_PERSISTENT", true) ? std::min(items, sm_count()) : items;
  flash_wgmma_kernel<T, Out><<<grid, kThreads, smem_bytes<T>(), stream>>>(
      mq, mk, mv, out, n_q, n_kv, nq_pad, nkv_pad, q_heads, kv_heads, hd, q_offset, causal, scale_log2, fp8, items);
  CUDA_CHECK_LAUNCH();
}
}  // namespace

namespace {
template <class Out>
void launch_bf16(Out* out, const __nv_bfloat16* qb, const __nv_bfloat16* kb, const __nv_bfloat16* vt, int n_q, int n_kv,
                 int nq_pad, int nkv_pad, int q_heads, int kv_heads, int hd, int q_offset, bool causal,
                 float scale_log2, int segments, cudaStream_t stream) {
  const CUtensorMap mq = tma_map_bf16_sw128(qb, segments * q_heads * nq_pad, kD, kBM, "flash_attention_wgmma q"),
                    mk = tma_map_bf16_sw128(kb, segments * kv_heads * nkv_pad, kD, kBN, "flash_attention_wgmma k"),
                    mv = tma_map_bf16_sw128(vt, segments * kv_heads * kD, nkv_pad, kD, "flash_attention_wgmma v^T");
  if (flash_wgmma_dims_read(hd) == 80)
    launch<Bf16Tiles<80>>(mq, mk, mv, out, n_q, n_kv, nq_pad, nkv_pad, q_heads, kv_heads, hd, q_offset, causal,
                          scale_log2, Fp8Scales{}, segments, stream);
  else
    launch<Bf16Tiles<128>>(mq, mk, mv, out, n_q, n_kv, nq_pad, nkv_pad, q_heads, kv_heads, hd, q_offset, causal,
                           scale_log2, Fp8Scales{}, segments, stream);
}
}  // namespace

void flash_attention_wgmma(float* out, const __nv_bfloat16* qb, const __nv_bfloat16* kb, const __nv_bfloat16* vt,
                           int n_q, int n_kv, int nq_pad, int nkv_pad, int q_heads, int kv_heads, int hd, int q_offset,
                           bool causal, float scale_log2, int segments, cudaStream_t stream) {
  launch_bf16(out, qb, kb, vt, n_q, n_kv, nq_pad, nkv_pad, q_heads, kv_heads, hd, q_offset, causal, scale_log2,
              segments, stream);
}

void flash_attention_wgmma(__nv_bfloat16* out, const __nv_bfloat16* qb, const __nv_bfloat16* kb,
                           const __nv_bfloat16* vt, int n_q, int n_kv, int nq_pad, int nkv_pad, int q_heads,
                           int kv_heads, int hd, int q_offset, bool causal, float scale_log2, int segments,
                           cudaStream_t stream) {
  launch_bf16(out, qb, kb, vt, n_q, n_kv, nq_pad, nkv_pad, q_heads, kv_heads, hd, q_offset, causal, scale_log2,
              segments, stream);
}

void flash_attention_wgmma_fp8(float* out, const uint8_t* qb, const uint8_t* kb, const uint8_t* vt,
                               const float* q_scale, const float* k_scale, const float* v_scale, int n_q, int n_kv,
                               int nq_pad, int nkv_pad, int q_heads, int kv_heads, int hd, int q_offset, bool causal,
                               float scale_log2, cudaStream_t stream) {
  const CUtensorMap mq = tma_map_u8_sw128(qb, q_heads * nq_pad, kD, kBM, "flash_attention_wgmma_fp8 q"),
                    mk = tma_map_u8_sw128(kb, kv_heads * nkv_pad, kD, kBN, "flash_attention_wgmma_fp8 k"),
                    mv = tma_map_u8_sw128(vt, kv_heads * kD, nkv_pad, kD, "flash_attention_wgmma_fp8 v^T");
  launch<Int8E4m3Tiles>(mq, mk, mv, out, n_q, n_kv, nq_pad, nkv_pad, q_heads, kv_heads, hd, q_offset, causal,
                        scale_log2, Fp8Scales{q_scale, k_scale, v_scale}, 1, stream);
}

}  // namespace cosmos
