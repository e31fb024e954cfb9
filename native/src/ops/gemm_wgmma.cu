// gemm_wgmma: Hopper GEMM, out[n,m] = a[n,k] · b[m,k]^T (+ bias), bf16 operands, f32 accumulate (see gemm_wgmma.h).
//
// Structure (the CUTLASS "warp-specialised" design, written from the PTX ISA):
//  * TMA (cp.async.bulk.tensor) copies a BM x 64 tile of a and a BN x 64 tile of b per stage into shared memory,
//    in the 128-byte swizzle that wgmma reads directly (no ldmatrix, no bank conflicts). The tensor maps are
//    encoded on the host through the driver entry point that cudart hands out (we link cudart_static only, no
//    libcuda), and rows past n or m come back as zeros, so ragged shapes need no masking in the main loop.
//  * Warpgroup 0 is the producer: one thread waits for a free stage (mbarrier "empty"), announces the bytes on
//    the stage's "full" mbarrier and issues the two copies. It gives its registers to the consumers (setmaxnreg).
//  * Warpgroups 1..NC consume: wait on "full", issue wgmma.mma_async (4 k16 steps per stage, f32 accumulators in
//    registers), keep one stage's wgmmas in flight (wait_group 1) and release the stage before it.
//  * The epilogue writes f32 straight from the accumulators (streaming stores: the output is larger than L2 and is
//    not read again by this kernel, so it should not evict the operands); on whole tiles 16 bytes a lane after a swap
//    between neighbouring lanes (the ping-pong tiles at the tower's k = 1152: ~+10% TFLOP/s, H100).
//  * SwiGLU epilogue (gemm_wgmma_swiglu): a 128 x 256 tile's B is two boxes of 128 weight rows, the gate's rows
//    c..c+127 and the up projection's same rows, so each thread holds gate and up of the same output channels and
//    writes silu(gate) * up as bf16: an MLP's [n, 2 inter] f32 intermediate, its activation pass and the down
//    projection's bf16 cast all disappear (at 720p x 189 frames: ~14 GB of traffic a layer). The plain GEMM's
//    256x128 / ping-pong tiles with 64 gate + 64 up channels each (measured 2026-12-06, H100, then removed): the same
//    h bits, the fused MLP 1.48 against 1.59 ms at the 8B video prefill's shape but 9.03 against 8.65 ms at the
//    Generator's 480p, and in the video prefill no faster (ncu, the GEMMs of two towers and two prefills: 182.5
//    against 182.9 ms; the prefill 87.8 / 86.9 against 87.8 / 87.5 ms).
//  * GELU epilogue (gemm_wgmma_gelu): bias, then GELU, written as bf16 — a GELU MLP's fc1 (the Qwen3-VL tower),
//    whose f32 output, activation pass and fc2's bf16 cast disappear the same way.
//  * Tiles are walked in groups of kGroupRows row-tiles down each column, so the blocks in flight share a few
//    b (weight) tiles and a few a tiles in L2. The persistent variants launch one block per SM and loop over
//    tiles; then the producer fills the next tile's stages while the consumers run the epilogue.
#ifndef COSMOS_CUDA
#define COSMOS_CUDA 1
#endif
#include "gemm_wgmma.h"

#include <cstdint>
#include <cstdlib>
#include <stdexcept>
#include <string>

#include "../core/cuda_common.h"
#include "../core/env.h"
#include "gelu.cuh"
#include "gemv_common.cuh"  // bf_lo / bf_hi: a packed bf16 pair widened
#include "wgmma_sm90.cuh"

// Built for plain sm_90 / compute_90 (the addon's "90-real;90-virtual") the kernels are empty, which leaves the
// helpers below unreferenced: that is expected, not dead code.
#pragma nv_diag_suppress 177

namespace {
using namespace cosmos::sm90;
using bf16 = __nv_bfloat16;

constexpr int kBK = 64;        // k per stage: 64 bf16 = one 128-byte swizzle row
constexpr int kGroupRows = 8;  // row-tiles per raster group (L2 reuse of the weight tiles)

// PINGPONG false: the NC consumers split each tile by rows (cooperative). true: each consumer owns whole tiles, the
// block's j-th tile going to consumer j % NC; the producer loads the tiles in order, so one consumer's main loop
// runs while the other writes its previous tile out (the epilogue is hidden behind the other's wgmmas).
template <int BM, int BN, int NC, int STAGES, bool PINGPONG>
struct Cfg {
  static constexpr int kThreads = 128 * (NC + 1);
  static constexpr int kWgRows = PINGPONG ? BM : BM / NC;  // tile rows per consumer warpgroup
  static constexpr int kMRep = kWgRows / 64;               // m64 wgmmas per k16 step and consumer
  static constexpr int kABytes = BM * kBK * 2, kBBytes = BN * kBK * 2, kStageBytes = kABytes + kBBytes;
  // Stages, then 2 x STAGES + NC mbarriers; +1024 so the stages can start on a 1024-byte boundary (the swizzle
  // pattern repeats every 8 rows of 128 bytes and wgmma's descriptors assume that alignment).
  static constexpr int kSmem = STAGES * kStageBytes + (2 * STAGES + NC) * 8 + 1024;
  static_assert(kWgRows % 64 == 0, "each consumer owns whole m64 blocks");
  static_assert(BN == 128 || BN == 256, "wgmma N is 128 or 256 here");
  static_assert(kSmem <= 227 * 1024, "shared memory per block");
};

// Tile t -> (row-tile, column-tile): groups of kGroupRows row-tiles, walked down each column, column by column.
__device__ __forceinline__ void tile_coords(int t, int tiles_r, int tiles_c, int& tr, int& tc) {
  const int per_group = kGroupRows * tiles_c;
  const int g = t / per_group, first = g * kGroupRows;
  const int rows = min(tiles_r - first, kGroupRows);
  const int r = t - g * per_group;
  tr = first + r % rows;
  tc = r / rows;
}

// A quad's (lanes 4s .. 4s + 3, one output row) bf16 pairs p[t] of columns 8t + 2q + {0, 1} (q = lane % 4) as four
// 16-byte stores: lane q gathers every lane's p[q] in two butterfly steps of xor shuffles inside the quad (the other
// quads of the warp may have skipped a row past n, hence the quad's own mask) and writes columns 8q .. 8q + 7.
__device__ __forceinline__ unsigned quad_mask(int lane) { return 0xfu << (lane & ~3); }
__device__ __forceinline__ void quad_transpose_store(__nv_bfloat16* row_cols, const uint32_t (&p)[4], int lane) {
  const unsigned quad = quad_mask(lane);
  const bool b0 = lane & 1, b1 = lane & 2;
  // Step 1, lanes q and q ^ 1: each keeps its p[t] for the t whose bit 0 is its own and receives the partner's.
  const uint32_t keep0 = b0 ? p[1] : p[0], keep1 = b0 ? p[3] : p[2];
  const uint32_t got0 = __shfl_xor_sync(quad, b0 ? p[0] : p[1], 1), got1 = __shfl_xor_sync(quad, b0 ? p[2] : p[3], 1);
  // ... so this lane holds lanes (q & 2) + {0, 1}'s values (in lane order) of t = b0 (lo) and t = b0 + 2 (hi).
  const uint32_t lo0 = b0 ? got0 : keep0, lo1 = b0 ? keep0 : got0;
  const uint32_t hi0 = b0 ? got1 : keep1, hi1 = b0 ? keep1 : got1;
  // Step 2, lanes q and q ^ 2: keep t = q, send the other; then the four lanes' values of t = q in lane order.
  const uint32_t x0 = __shfl_xor_sync(quad, b1 ? lo0 : hi0, 2), x1 = __shfl_xor_sync(quad, b1 ? lo1 : hi1, 2);
  const uint32_t m0 = b1 ? hi0 : lo0, m1 = b1 ? hi1 : lo1;
  const uint4 v = b1 ? make_uint4(x0, x1, m0, m1) : make_uint4(m0, m1, x0, x1);
  *reinterpret_cast<uint4*>(row_cols + 8 * (lane & 3)) = v;
}

// What the epilogue writes: f32 [n, m] (+ bias); kEpiSwiGLU: bf16 [n, m] = silu(a b[0:m]^T) * (a b[m:2m]^T) (no bias;
// m % (BN / 2) == 0); kEpiGeluTanh / kEpiGeluErf: bf16 [n, m] = gelu(a b^T + bias) (m even; kEpiGeluTanhApprox: the
// tanh form on the SFU's tanh.approx, the default, not tanhf's bits: COSMOS_GELU_TANH_APPROX=0); kEpiBf16: bf16 [n, m]
// = a b^T + bias (m even), the f32 form's values rounded once; kEpiAddF32: f32 [n, m] += a b^T + bias (the f32 form's
// value added to out's: a residual add in the epilogue, bit for bit the f32 form then add_cuda); kEpiAddBf16: bf16
// [n, m] += a b^T + bias (m even): the f32 form's value added to out's old bf16 value in f32, rounded once (a residual
// stream held in bf16, as transformers holds it).
enum Epilogue : int {
  kEpiF32 = 0,
  kEpiSwiGLU = 1,
  kEpiGeluTanh = 2,
  kEpiGeluErf = 3,
  kEpiBf16 = 4,
  kEpiAddF32 = 5,
  kEpiGeluTanhApprox = 6,
  kEpiAddBf16 = 7
};
template <int EPI>
__device__ __forceinline__ float gelu_of(float v) {
  if constexpr (EPI == kEpiGeluErf) return cosmos::gelu_erf_value(v);
  if constexpr (EPI == kEpiGeluTanhApprox) return cosmos::gelu_tanh_approx_value(v);
  return cosmos::gelu_tanh_value(v);
}

// The add epilogues' old values of a row's column pair at out + idx (f32, or bf16 widened exactly); idx + 1 is in the
// row wherever this is called.
template <int EPI>
__device__ __forceinline__ float2 old_pair(const void* out_any, long long idx) {
  if constexpr (EPI == kEpiAddBf16) {
    const uint32_t u = *reinterpret_cast<const uint32_t*>(static_cast<const __nv_bfloat16*>(out_any) + idx);
    return make_float2(cosmos::gemv::bf_lo(u), cosmos::gemv::bf_hi(u));
  } else {
    return *reinterpret_cast<const float2*>(static_cast<const float*>(out_any) + idx);
  }
}

template <int BM, int BN, int NC, int STAGES, bool PINGPONG, int EPI = kEpiF32>
__global__ void __launch_bounds__(Cfg<BM, BN, NC, STAGES, PINGPONG>::kThreads, 1)
    gemm_wgmma_kernel(const __grid_constant__ CUtensorMap tma_a, const __grid_constant__ CUtensorMap tma_b,
                      void* __restrict__ out_any, const float* __restrict__ bias, int n, int k, int m) {
#if defined(__CUDA_ARCH_FEAT_SM90_ALL)
  using C = Cfg<BM, BN, NC, STAGES, PINGPONG>;
  extern __shared__ unsigned char smem_raw[];
  const uint32_t base = (smem_u32(smem_raw) + 1023u) & ~1023u;
  const uint32_t full0 = base + STAGES * C::kStageBytes, empty0 = full0 + STAGES * 8, turn0 = empty0 + STAGES * 8;
  const int wg = threadIdx.x / 128;
  if (threadIdx.x == 0) {
#pragma unroll
    for (int s = 0; s < STAGES; ++s) {
      mbar_init(full0 + 8 * s, 1);                       // the producer's arrive.expect_tx (+ the copies' bytes)
      mbar_init(empty0 + 8 * s, PINGPONG ? 4 : 4 * NC);  // one arrive per warp of the consumers of a stage
    }
#pragma unroll
    for (int c = 0; c < NC; ++c) mbar_init(turn0 + 8 * c, 1);  // ping-pong hand-off (below)
    asm volatile("fence.mbarrier_init.release.cluster;\n" ::: "memory");
  }
  __syncthreads();
  constexpr bool SWIGLU = EPI == kEpiSwiGLU;
  constexpr int kCols = SWIGLU ? BN / 2 : BN;  // output columns per tile
  static_assert(!SWIGLU || (BN == 256 && !PINGPONG), "the SwiGLU epilogue pairs m64n256's two halves");
  const int tiles_r = (n + BM - 1) / BM, tiles_c = (m + kCols - 1) / kCols, tiles = tiles_r * tiles_c;
  // k need not be a multiple of kBK (the Qwen3-VL tower's fc2: k 4304): the last k-tile's boxes reach past k, and
  // TMA fills those columns of A and B with zeros, which add nothing to the products (and still count as bytes).
  const int ktiles = (k + kBK - 1) / kBK;

  if (wg == 0) {  // ------------------------------------------------ producer
    if constexpr (NC > 1) setmaxnreg_dec<40>();
    if (threadIdx.x == 0) {
      asm volatile("prefetch.tensormap [%0];\n" ::"l"(reinterpret_cast<uint64_t>(&tma_a)) : "memory");
      asm volatile("prefetch.tensormap [%0];\n" ::"l"(reinterpret_cast<uint64_t>(&tma_b)) : "memory");
      int s = 0;
      uint32_t phase = 0;
      for (int t = blockIdx.x; t < tiles; t += gridDim.x) {
        int tr, tc;
        tile_coords(t, tiles_r, tiles_c, tr, tc);
        for (int kt = 0; kt < ktiles; ++kt) {
          mbar_wait(empty0 + 8 * s, phase ^ 1);
          const uint32_t full = full0 + 8 * s, sa = base + s * C::kStageBytes;
          mbar_expect_tx(full, C::kStageBytes);
          tma_load_2d(sa, &tma_a, kt * kBK, tr * BM, full);
          if constexpr (SWIGLU) {  // gate rows, then the up projection's same rows (m further)
            tma_load_2d(sa + C::kABytes, &tma_b, kt * kBK, tc * kCols, full);
            tma_load_2d(sa + C::kABytes + kCols * 128, &tma_b, kt * kBK, m + tc * kCols, full);
          } else {
            tma_load_2d(sa + C::kABytes, &tma_b, kt * kBK, tc * BN, full);
          }
          if (++s == STAGES) {
            s = 0;
            phase ^= 1;
          }
        }
      }
    }
  } else {  // ------------------------------------------------------- consumers
    if constexpr (NC > 1) setmaxnreg_inc<232>();
    const int c = wg - 1, warp = (threadIdx.x / 32) & 3, lane = threadIdx.x & 31;
    float acc[C::kMRep][BN / 2];
    const bool pair = (m & 1) == 0;
    const int row_off = PINGPONG ? 0 : c * C::kWgRows;  // this consumer's first row in the tile
    // The block's j-th tile uses stage slots j*ktiles .. (j+1)*ktiles - 1 of the producer's sequence (slot q:
    // stage q % STAGES, phase (q / STAGES) & 1), so a ping-pong consumer skips the other consumer's slots.
    for (int j = PINGPONG ? c : 0;; j += PINGPONG ? NC : 1) {
      const int t = blockIdx.x + j * gridDim.x;
      if (t >= tiles) break;
      // Ping-pong: a stage's full barrier can only be waited on once its previous use (STAGES slots back) has
      // completed, or the parity test would pass a phase early. For a tile's first slots that previous use is the
      // other consumer's tile, so wait for its hand-off: it arrives once it has waited on its last slot.
      if (PINGPONG && j > 0) mbar_wait(turn0 + 8 * c, ((j - 1) / NC) & 1);
      int tr, tc;
      tile_coords(t, tiles_r, tiles_c, tr, tc);
      int prev = -1;
      for (int kt = 0; kt < ktiles; ++kt) {
        const unsigned q = (unsigned)j * ktiles + kt;
        const int s = (int)(q % STAGES);
        mbar_wait(full0 + 8 * s, (q / STAGES) & 1);
        if (PINGPONG && kt == ktiles - 1 && (threadIdx.x & 127) == 0) mbar_arrive(turn0 + 8 * ((c + 1) % NC));
        const uint32_t sa = base + s * C::kStageBytes + row_off * 128, sb = base + s * C::kStageBytes + C::kABytes;
#pragma unroll
        for (int i = 0; i < C::kMRep; ++i) fence_regs(acc[i]);
        wgmma_fence();
#pragma unroll
        for (int kk = 0; kk < kBK / 16; ++kk)
#pragma unroll
          for (int i = 0; i < C::kMRep; ++i)
            Wgmma<BN>::run(acc[i], sw128_desc(sa + i * 64 * 128 + kk * 32), sw128_desc(sb + kk * 32), (kt | kk) != 0);
        wgmma_commit();
#pragma unroll
        for (int i = 0; i < C::kMRep; ++i) fence_regs(acc[i]);
        wgmma_wait<1>();  // the previous stage's wgmmas are done: hand that stage back to the producer
        if (prev >= 0 && lane == 0) mbar_arrive(empty0 + 8 * prev);
        prev = s;
      }
      wgmma_wait<0>();
#pragma unroll
      for (int i = 0; i < C::kMRep; ++i) fence_regs(acc[i]);
      if (lane == 0) mbar_arrive(empty0 + 8 * prev);

      // Accumulator layout of m64nN (per warp: 16 rows): d[4j + {0,1}] at row lane/4, columns 8j + 2(lane%4)
      // + {0,1}; d[4j + {2,3}] eight rows below. epilogue_rows(f): f(i, h, r) for this thread's output rows r < n
      // (m64 block i, half h).
      const int row0 = tr * BM + row_off + warp * 16 + (lane >> 2);
      auto epilogue_rows = [&](auto&& f) {
#pragma unroll
        for (int i = 0; i < C::kMRep; ++i)
#pragma unroll
          for (int h = 0; h < 2; ++h) {
            const int r = row0 + i * 64 + 8 * h;
            if (r < n) f(i, h, r);
          }
      };
      if constexpr (SWIGLU) {  // gate in d[j < BN/16], up of the same channel in d[j + BN/16]
        __nv_bfloat16* out = static_cast<__nv_bfloat16*>(out_any);
        const int col0 = tc * kCols + 2 * (lane & 3);
        // (Stored a pair at a time: the quad-transposed 16-byte stores of the bf16 form below measured slower here,
        // the Generator's 480p MLP 8.31 -> 8.64 ms, H100.)
        epilogue_rows([&](int i, int h, int r) {
#pragma unroll
          for (int j = 0; j < BN / 16; ++j) {
            const float g0 = acc[i][4 * j + 2 * h], g1 = acc[i][4 * j + 2 * h + 1];
            const float u0 = acc[i][4 * (j + BN / 16) + 2 * h], u1 = acc[i][4 * (j + BN / 16) + 2 * h + 1];
            // silu(g) * u as ops/swiglu.cu (expf: tracks the CPU reference), rounded once to bf16
            *reinterpret_cast<uint32_t*>(out + (long long)r * m + col0 + 8 * j) =
                cosmos::pack_bf16x2(g0 / (1.f + expf(-g0)) * u0, g1 / (1.f + expf(-g1)) * u1);
          }
        });
        continue;
      }
      // f32 out (+ bias), or bias (+ GELU, as ops/gelu.cu) rounded once to bf16 (m even: col + 1 < m when col < m).
      constexpr bool kGelu = EPI == kEpiGeluTanh || EPI == kEpiGeluErf || EPI == kEpiGeluTanhApprox;
      constexpr bool kBf16Out = kGelu || EPI == kEpiBf16 || EPI == kEpiAddBf16;
      constexpr bool kAdd = EPI == kEpiAddF32 || EPI == kEpiAddBf16;
      const int col0 = tc * BN + 2 * (lane & 3);
      // kEpiAddF32 / kEpiAddBf16: a row's old values of this thread's columns, all loaded before its first store (one
      // round trip a row, not one a pair; the stores to the same row would otherwise hold the later loads behind them).
      [[maybe_unused]] float2 old[kAdd ? BN / 8 : 1];
      // A whole tile (m even, every column inside out): this thread's 32 bias values read once per tile (the Qwen3-VL
      // tower's linears; the decoder's have none). Read per element between the stores (the path below), such loads
      // stalled the fp8 GEMM's epilogue on L1TEX (its column scales: ops/gemm_fp8_wgmma.cu measured +20-30% from
      // holding them); here the tower of qwen3vl_prefill_bench went 23.3 -> 21.1 ms (image) and 67.6 -> 59.6 ms
      // (video), H200. BN 128 only (the 128 x 256 tiles' 64 more registers would spill), and not under the erf GELU
      // (its ping-pong form spilled 8 bytes with them; the tower's GELU is the tanh form).
      if constexpr (BN == 128 && EPI != kEpiGeluErf) {
        if (pair && (tc + 1) * BN <= m && (bias || !kBf16Out)) {
          // f32 out without a bias: -0, since x + (-0) is x for every x (-0 and NaN included): the same sums. (Not in
          // the bf16 forms, which all have a bias: the GELU's spilled 8 bytes with the choice.)
          float bs[BN / 4];  // columns col0 + 8j + {0, 1}
          if (kBf16Out || bias)
            load_col_pairs<BN / 8>(bs, bias + col0);
          else
#pragma unroll
            for (int j = 0; j < BN / 4; ++j) bs[j] = -0.f;
          // Row r's two columns of chunk j (m64 block i, half h) + their bias.
          auto biased = [&](int i, int h, int j) {
            return make_float2(acc[i][4 * j + 2 * h] + bs[2 * j], acc[i][4 * j + 2 * h + 1] + bs[2 * j + 1]);
          };
          // 16-byte rows: out aligned and a row's bytes a multiple of 16 (8 bf16 or 4 f32 columns).
          const bool rows16 = m % (kBf16Out ? 8 : 4) == 0 && (reinterpret_cast<uintptr_t>(out_any) & 15) == 0;
          // bf16 out with 16-byte rows (m % 8 == 0, out aligned): a quad's four lanes hold the same row's 8 columns
          // of chunk j as four bf16 pairs; transposed across the quad (quad_transpose_store), lane q writes chunk 4g +
          // q whole: a warp's store covers 64 bytes of each of its 8 rows (two full 32-byte sectors) instead of 16.
          // H100, the tower's fc1 shape: 0.276 -> 0.232-0.245 ms. Not under the GELU: 0.244 -> 0.258-0.287 there (its
          // arithmetic no longer overlapped by the stores, a pair at a time, below).
          // kEpiAddBf16: the old pairs read in the accumulator's layout first (a quad reads a chunk's 16 bytes).
          if constexpr (EPI == kEpiBf16 || EPI == kEpiAddBf16) {
            if (rows16) {
              bf16* out = static_cast<bf16*>(out_any);
              epilogue_rows([&](int i, int h, int r) {
                if constexpr (kAdd) {
#pragma unroll
                  for (int j = 0; j < BN / 8; ++j) old[j] = old_pair<EPI>(out_any, (long long)r * m + col0 + 8 * j);
                }
#pragma unroll
                for (int g = 0; g < BN / 32; ++g) {
                  uint32_t p[4];
#pragma unroll
                  for (int t = 0; t < 4; ++t) {
                    float2 v = biased(i, h, 4 * g + t);
                    if constexpr (kAdd) v.x = __fadd_rn(v.x, old[4 * g + t].x), v.y = __fadd_rn(v.y, old[4 * g + t].y);
                    p[t] = cosmos::pack_bf16x2(v.x, v.y);
                  }
                  quad_transpose_store(out + (long long)r * m + tc * BN + 32 * g, p, lane);
                }
              });
              continue;
            }
          }
          // f32 out (+ the residual) with 16-byte rows: lanes q and q ^ 1 swap a pair of chunks (2g, 2g + 1), so lane q
          // holds 4 adjacent columns of chunk 2g + (q & 1) and a quad's four float4s cover both chunks (64 bytes a
          // row; a float2 a lane wrote 32). H100, ping-pong tiles, TFLOP/s: the tower's q|k|v 480 -> 535, o 459 ->
          // 517, fc1 466 -> 505; its fc2 on 256 x 128 tiles 499 -> 528.
          if constexpr (!kBf16Out) {
            if (rows16) {
              float* out = static_cast<float*>(out_any);
              const int b0 = lane & 1, col4 = tc * BN + 8 * b0 + 4 * ((lane >> 1) & 1);
              epilogue_rows([&](int i, int h, int r) {
                float* orow = out + (long long)r * m + col4;
                [[maybe_unused]] float4 old4[kAdd ? BN / 16 : 1];
                if constexpr (kAdd) {
#pragma unroll
                  for (int g = 0; g < BN / 16; ++g) old4[g] = *reinterpret_cast<const float4*>(orow + 16 * g);
                }
#pragma unroll
                for (int g = 0; g < BN / 16; ++g) {
                  const float2 v0 = biased(i, h, 2 * g), v1 = biased(i, h, 2 * g + 1);
                  const unsigned quad = quad_mask(lane);
                  const float2 keep = b0 ? v1 : v0, send = b0 ? v0 : v1;
                  const float2 got = make_float2(__shfl_xor_sync(quad, send.x, 1), __shfl_xor_sync(quad, send.y, 1));
                  float4 w = b0 ? make_float4(got.x, got.y, keep.x, keep.y) : make_float4(keep.x, keep.y, got.x, got.y);
                  if constexpr (kAdd) {
                    w.x = __fadd_rn(w.x, old4[g].x), w.y = __fadd_rn(w.y, old4[g].y);
                    w.z = __fadd_rn(w.z, old4[g].z), w.w = __fadd_rn(w.w, old4[g].w);
                  }
                  __stcs(reinterpret_cast<float4*>(orow + 16 * g), w);
                }
              });
              continue;
            }
          }
          epilogue_rows([&](int i, int h, int r) {
            if constexpr (kAdd) {
#pragma unroll
              for (int j = 0; j < BN / 8; ++j) old[j] = old_pair<EPI>(out_any, (long long)r * m + col0 + 8 * j);
            }
#pragma unroll
            for (int j = 0; j < BN / 8; ++j) {
              const float2 b = biased(i, h, j);
              float v0 = b.x, v1 = b.y;
              if constexpr (kAdd) v0 = __fadd_rn(v0, old[j].x), v1 = __fadd_rn(v1, old[j].y);
              if constexpr (kBf16Out) {
                if constexpr (kGelu) {
                  v0 = gelu_of<EPI>(v0);
                  v1 = gelu_of<EPI>(v1);
                }
                *reinterpret_cast<uint32_t*>(static_cast<__nv_bfloat16*>(out_any) + (long long)r * m + col0 + 8 * j) =
                    cosmos::pack_bf16x2(v0, v1);
              } else {
                __stcs(reinterpret_cast<float2*>(static_cast<float*>(out_any) + (long long)r * m + col0 + 8 * j),
                       make_float2(v0, v1));
              }
            }
          });
          continue;
        }
      }
      epilogue_rows([&](int i, int h, int r) {
        if constexpr (kAdd) {
          const float* orow = static_cast<const float*>(out_any) + (long long)r * m;
#pragma unroll
          for (int j = 0; j < BN / 8; ++j) {
            const int col = col0 + 8 * j;
            old[j] = make_float2(0.f, 0.f);
            if (col < m && pair)
              old[j] = old_pair<EPI>(out_any, (long long)r * m + col);
            else if (col < m)
              old[j] = make_float2(orow[col], col + 1 < m ? orow[col + 1] : 0.f);
          }
        }
#pragma unroll
        for (int j = 0; j < BN / 8; ++j) {
          const int col = col0 + 8 * j;
          if (col >= m) continue;
          const bool ok1 = col + 1 < m;
          float v0 = acc[i][4 * j + 2 * h], v1 = acc[i][4 * j + 2 * h + 1];
          if (bias) {
            v0 += __ldg(bias + col);
            if (ok1) v1 += __ldg(bias + col + 1);
          }
          if constexpr (kAdd) v0 = __fadd_rn(v0, old[j].x), v1 = __fadd_rn(v1, old[j].y);  // (never an FMA)
          if constexpr (kBf16Out) {
            if constexpr (kGelu) {
              v0 = gelu_of<EPI>(v0);
              v1 = gelu_of<EPI>(v1);
            }
            *reinterpret_cast<uint32_t*>(static_cast<__nv_bfloat16*>(out_any) + (long long)r * m + col) =
                cosmos::pack_bf16x2(v0, v1);
          } else {
            float* orow = static_cast<float*>(out_any) + (long long)r * m;
            if (pair) {
              __stcs(reinterpret_cast<float2*>(orow + col), make_float2(v0, v1));
            } else {
              orow[col] = v0;
              if (ok1) orow[col + 1] = v1;
            }
          }
        }
      });
    }
  }
#endif
}

// ---------------------------------------------------------------- host side
template <int BM, int BN, int NC, int STAGES, bool PINGPONG, int EPI = kEpiF32>
void launch(void* out, const bf16* a, const bf16* b, const float* bias, int n, int k, int m, bool persistent,
            cudaStream_t stream) {
  using C = Cfg<BM, BN, NC, STAGES, PINGPONG>;
  static const bool attr = [] {  // opt in to more than 48 KiB of dynamic shared memory, once per instantiation
    CUDA_CHECK(cudaFuncSetAttribute(gemm_wgmma_kernel<BM, BN, NC, STAGES, PINGPONG, EPI>,
                                    cudaFuncAttributeMaxDynamicSharedMemorySize, C::kSmem));
    return true;
  }();
  (void)attr;
  constexpr bool SWIGLU = EPI == kEpiSwiGLU;
  constexpr int kCols = SWIGLU ? BN / 2 : BN;
  const CUtensorMap ma = tma_map_bf16_sw128(a, n, k, BM, "gemm_wgmma a"),
                    mb = tma_map_bf16_sw128(b, SWIGLU ? 2 * m : m, k, kCols, "gemm_wgmma b");
  const long long tiles = (long long)cosmos::ceil_div(n, BM) * cosmos::ceil_div(m, kCols);
  long long grid = tiles;
  if (persistent) {
    const int sms = sm_count();
    if (grid > sms) grid = sms;
  }
  gemm_wgmma_kernel<BM, BN, NC, STAGES, PINGPONG, EPI>
      <<<(unsigned)grid, C::kThreads, C::kSmem, stream>>>(ma, mb, out, bias, n, k, m);
  CUDA_CHECK_LAUNCH();
}

// An epilogue kind on the tiles gemm_wgmma_pick takes for the f32 GEMM (its two persistent BN = 128 variants).
template <int EPI>
void launch_on_pick(void* out, const bf16* a, const bf16* b, const float* bias, int n, int k, int m,
                    cudaStream_t stream) {
  if (cosmos::gemm_wgmma_pick(n, k, m) == cosmos::WgmmaVariant::Tile256x128Persistent)
    launch<256, 128, 2, 4, false, EPI>(out, a, b, bias, n, k, m, true, stream);
  else
    launch<128, 128, 2, 6, true, EPI>(out, a, b, bias, n, k, m, true, stream);
}
}  // namespace

namespace cosmos {

const char* wgmma_variant_name(WgmmaVariant v) {
  switch (v) {
    case WgmmaVariant::Tile128x128OneConsumer:
      return "wgmma 128x128 1wg";
    case WgmmaVariant::Tile128x256TwoConsumers:
      return "wgmma 128x256 2wg";
    case WgmmaVariant::Tile128x256Persistent:
      return "wgmma 128x256 2wg persistent";
    case WgmmaVariant::Tile256x128Persistent:
      return "wgmma 256x128 2wg persistent";
    case WgmmaVariant::PingPong128x128:
      return "wgmma 128x128 ping-pong";
    case WgmmaVariant::PingPong64x256:
      return "wgmma 64x256 ping-pong";
  }
  return "wgmma ?";
}

WgmmaVariant gemm_wgmma_pick(int n, int k, int m) {
  static const int forced = [] {  // COSMOS_WGMMA_PICK: 1 ping-pong, 2 256x128, else 0 (the rule below)
    const char* e = std::getenv("COSMOS_WGMMA_PICK");
    const std::string v = e ? e : "";
    return v == "pingpong" ? 1 : v == "256x128" ? 2 : 0;
  }();
  if (forced) return forced == 1 ? WgmmaVariant::PingPong128x128 : WgmmaVariant::Tile256x128Persistent;
  if (k <= 2048) return WgmmaVariant::PingPong128x128;
  static const int sms = sm_count();
  const long long tiles = (long long)cosmos::ceil_div(n, 256) * cosmos::ceil_div(m, 128);
  const long long waves = (tiles + sms - 1) / sms;
  return tiles * 10 >= waves * sms * 8 ? WgmmaVariant::Tile256x128Persistent : WgmmaVariant::PingPong128x128;
}

bool gemm_wgmma_shape_ok(const void* a, const void* b, int n, int k, int m) {
  const auto al16 = [](const void* p) { return (reinterpret_cast<uintptr_t>(p) & 15) == 0; };
  return n >= 128 && k >= 8 && k % 8 == 0 && m >= 1 && al16(a) && al16(b);  // rows of 16-byte multiples: TMA
}

bool gemm_wgmma_available(cudaStream_t stream) { return this_object_sm90a_available(stream); }

void gemm_wgmma(float* out, const __nv_bfloat16* a, const __nv_bfloat16* b, const float* bias, int n, int k, int m,
                WgmmaVariant variant, const CudaContext& ctx) {
  const cudaStream_t stream = ctx.stream;
  if (n < 128) throw std::invalid_argument("gemm_wgmma: n (rows of a) must be >= 128, got " + std::to_string(n));
  if (k < 8 || k % 8 != 0)
    throw std::invalid_argument("gemm_wgmma: k must be a positive multiple of 8, got " + std::to_string(k));
  if (m < 1) throw std::invalid_argument("gemm_wgmma: m must be >= 1, got " + std::to_string(m));
  if (!gemm_wgmma_shape_ok(a, b, n, k, m))
    throw std::invalid_argument("gemm_wgmma: a and b must be 16-byte aligned (TMA)");
  switch (variant) {
    case WgmmaVariant::Tile128x128OneConsumer:
      launch<128, 128, 1, 4, false>(out, a, b, bias, n, k, m, false, stream);
      return;
    case WgmmaVariant::Tile128x256TwoConsumers:
      launch<128, 256, 2, 4, false>(out, a, b, bias, n, k, m, false, stream);
      return;
    case WgmmaVariant::Tile128x256Persistent:
      launch<128, 256, 2, 4, false>(out, a, b, bias, n, k, m, true, stream);
      return;
    case WgmmaVariant::Tile256x128Persistent:
      launch<256, 128, 2, 4, false>(out, a, b, bias, n, k, m, true, stream);
      return;
    case WgmmaVariant::PingPong128x128:
      launch<128, 128, 2, 6, true>(out, a, b, bias, n, k, m, true, stream);
      return;
    case WgmmaVariant::PingPong64x256:
      launch<64, 256, 2, 5, true>(out, a, b, bias, n, k, m, true, stream);
      return;
  }
  throw std::invalid_argument("gemm_wgmma: unknown variant " + std::to_string((int)variant));
}

bool gemm_wgmma_swiglu_shape_ok(const void* a, const void* b, int n, int k, int inter) {
  return gemm_wgmma_shape_ok(a, b, n, k, inter) && inter % 128 == 0;
}

void gemm_wgmma_swiglu(__nv_bfloat16* out, const __nv_bfloat16* a, const __nv_bfloat16* b, int n, int k, int inter,
                       const CudaContext& ctx) {
  if (!gemm_wgmma_swiglu_shape_ok(a, b, n, k, inter))
    throw std::invalid_argument(
        "gemm_wgmma_swiglu: needs n >= 128, k a positive multiple of 8, inter a multiple "
        "of 128 and 16-byte aligned a and b; got n " +
        std::to_string(n) + ", k " + std::to_string(k) + ", inter " + std::to_string(inter));
  launch<128, 256, 2, 4, false, kEpiSwiGLU>(out, a, b, nullptr, n, k, inter, true, ctx.stream);
}

bool gemm_wgmma_gelu_shape_ok(const void* a, const void* b, int n, int k, int m) {
  return gemm_wgmma_shape_ok(a, b, n, k, m) && m % 2 == 0;
}

void gemm_wgmma_gelu(__nv_bfloat16* out, const __nv_bfloat16* a, const __nv_bfloat16* b, const float* bias, int n,
                     int k, int m, bool tanh, const CudaContext& ctx) {
  if (!gemm_wgmma_gelu_shape_ok(a, b, n, k, m))
    throw std::invalid_argument(
        "gemm_wgmma_gelu: needs n >= 128, k a positive multiple of 8, m even and 16-byte aligned a and b; got n " +
        std::to_string(n) + ", k " + std::to_string(k) + ", m " + std::to_string(m));
  // The f32 GEMM's pick of tiles (its epilogue stores are half as wide here; the main loop is the same).
  // The tanh form on tanh.approx unless COSMOS_GELU_TANH_APPROX=0 (tanhf, ops/gelu.cu's bits): H100, 2026-12-07, the
  // video tower ~1.1 ms faster, h within 9e-5 (rel) of tanhf's (bench/README). Read at every call (tests switch it).
  if (tanh && env_switch("COSMOS_GELU_TANH_APPROX", true))
    launch_on_pick<kEpiGeluTanhApprox>(out, a, b, bias, n, k, m, ctx.stream);
  else if (tanh)
    launch_on_pick<kEpiGeluTanh>(out, a, b, bias, n, k, m, ctx.stream);
  else
    launch_on_pick<kEpiGeluErf>(out, a, b, bias, n, k, m, ctx.stream);
}

void gemm_wgmma_add(float* out, const __nv_bfloat16* a, const __nv_bfloat16* b, const float* bias, int n, int k, int m,
                    const CudaContext& ctx) {
  if (!gemm_wgmma_shape_ok(a, b, n, k, m))
    throw std::invalid_argument(
        "gemm_wgmma_add: needs n >= 128, k a positive multiple of 8 and 16-byte aligned a and b; got n " +
        std::to_string(n) + ", k " + std::to_string(k) + ", m " + std::to_string(m));
  launch_on_pick<kEpiAddF32>(out, a, b, bias, n, k, m, ctx.stream);
}

void gemm_wgmma_bf16_out(__nv_bfloat16* out, const __nv_bfloat16* a, const __nv_bfloat16* b, const float* bias, int n,
                         int k, int m, const CudaContext& ctx) {
  if (!gemm_wgmma_gelu_shape_ok(a, b, n, k, m))
    throw std::invalid_argument(
        "gemm_wgmma_bf16_out: needs n >= 128, k a positive multiple of 8, m even and 16-byte aligned a and b; got n " +
        std::to_string(n) + ", k " + std::to_string(k) + ", m " + std::to_string(m));
  launch_on_pick<kEpiBf16>(out, a, b, bias, n, k, m, ctx.stream);
}

void gemm_wgmma_add_bf16(__nv_bfloat16* out, const __nv_bfloat16* a, const __nv_bfloat16* b, const float* bias, int n,
                         int k, int m, const CudaContext& ctx) {
  if (!gemm_wgmma_gelu_shape_ok(a, b, n, k, m))
    throw std::invalid_argument(
        "gemm_wgmma_add_bf16: needs n >= 128, k a positive multiple of 8, m even and 16-byte aligned a and b; got n " +
        std::to_string(n) + ", k " + std::to_string(k) + ", m " + std::to_string(m));
  launch_on_pick<kEpiAddBf16>(out, a, b, bias, n, k, m, ctx.stream);
}

}  // namespace cosmos
