// gemm_fp8_wgmma: Hopper FP8 GEMM with per-row and per-column scales (see gemm_fp8_wgmma.h).
//
// The structure of gemm_wgmma (ops/gemm_wgmma.cu: TMA producer warpgroup, wgmma consumer warpgroups, mbarrier
// stage ring, persistent grids walked in L2-friendly groups, the ping-pong hand-off), with e4m3 operands:
//  * a stage holds 128 k-values, i.e. still one 128-byte swizzle row per tile row (128 fp8 = 64 bf16 in bytes), so
//    the tensor maps, the shared-memory descriptors (sw128_desc) and the 32-byte start advance per k step are the
//    bf16 kernel's; one k step is k32 (wgmma m64nNk32 e4m3.e4m3) instead of k16. Per stage the bytes are those of
//    the bf16 kernel and the tensor-core work twice as much, which the doubled FP8 rate absorbs.
//  * the f32 accumulators have the bf16 kernel's fragment layout (the D layout does not depend on the input type);
//    the epilogue applies scale_col then scale_row (the order of CUTLASS's ScaledEpilogue that vLLM uses, and of
//    the CPU twin), adds the bias and streams f32 out.
//  * SwiGLU epilogue (gemm_fp8_wgmma_swiglu), as gemm_wgmma_swiglu: a 128 x 256 tile's B is two boxes of 128 weight
//    rows, the gate's rows and the up projection's same rows, so one m64n256 accumulator holds both halves of 128
//    output channels; silu(gate) * up is written as bf16 straight into the down projection's (quantized) input: no
//    [m, 2 x inter] f32 in between, no separate activation pass. (Also tried on the ping-pong 128 x 128 tiles, two
//    64-row boxes, a consumer's m64n128 holding 64 channels' gate and up: with the per-tile scales below 934 against
//    the 128 x 256 tiles' 1106 TFLOP/s at the Generator's gate|up, H200 2026-12-02; not kept.)
//  * the epilogue of a whole tile (every column inside y, n even, no bias: every Generator GEMM's) reads this
//    thread's column scales once per tile into registers, then scales and stores row after row. Read per element
//    inside the row loop (as before 2026-12-02, and still on edge tiles), the loads sat between the stores and
//    stalled the consumers on L1TEX (ncu: 37% of their stalls). H200, gemm_fp8_cuda_test time, m 18720, one call
//    alternated twice: ping-pong qkv 1015-1025 -> 1236-1245 TFLOP/s, o 1019-1036 -> 1255-1264, gate|up (f32 out)
//    989-1001 -> 1134-1141; the 256 x 128 tiles +16-30% at qkv, o and gate|up; down (k 12288) within the noise.
//    Dropping the scales altogether or writing bf16 gained little more. The fused SwiGLU GEMM holds its gate and up
//    scales the same way: 1049 -> 1106 / 1138 TFLOP/s (two later calls).
//  * measured and not kept (the same day): clusters of 2 CTAs whose ping-pong tiles shared each weight slab by
//    TMA multicast (16 + 8 KiB per stage through L2 instead of 16 + 16): correct, but qkv 1031 -> 1043, gate|up
//    985 -> 960, down 1272 -> 1113 TFLOP/s and the fp8 forward level (0.572 / 0.570 against 0.571 / 0.568 s).
#ifndef COSMOS_CUDA
#define COSMOS_CUDA 1
#endif
#include "gemm_fp8_wgmma.h"

#include <cstdint>
#include <stdexcept>
#include <string>

#include "../core/cuda_common.h"
#include "wgmma_sm90.cuh"

// Built for plain sm_90 / compute_90 the kernels are empty, which leaves the helpers below unreferenced.
#pragma nv_diag_suppress 177

namespace {
using namespace cosmos::sm90;

constexpr int kBK = 128;       // k per stage: 128 e4m3 = one 128-byte swizzle row
constexpr int kGroupRows = 8;  // row-tiles per raster group (L2 reuse of the weight tiles)

// d[128] (+)= A(64x32 e4m3, smem desc) * B(32x256 e4m3, smem desc); scale_d 0 overwrites d. fp8 wgmma takes
// K-major operands only, so there are no transpose immediates (the bf16 form's trailing 0, 0).
__device__ __forceinline__ void wgmma_m64n256k32_e4m3(float (&d)[128], uint64_t desc_a, uint64_t desc_b, int scale_d) {
  asm volatile(
      "{\n.reg .pred p;\nsetp.ne.b32 p, %130, 0;\n"
      "wgmma.mma_async.sync.aligned.m64n256k32.f32.e4m3.e4m3 {"
      "%0,%1,%2,%3,%4,%5,%6,%7,%8,%9,%10,%11,%12,%13,%14,%15,"
      "%16,%17,%18,%19,%20,%21,%22,%23,%24,%25,%26,%27,%28,%29,%30,%31,"
      "%32,%33,%34,%35,%36,%37,%38,%39,%40,%41,%42,%43,%44,%45,%46,%47,"
      "%48,%49,%50,%51,%52,%53,%54,%55,%56,%57,%58,%59,%60,%61,%62,%63,"
      "%64,%65,%66,%67,%68,%69,%70,%71,%72,%73,%74,%75,%76,%77,%78,%79,"
      "%80,%81,%82,%83,%84,%85,%86,%87,%88,%89,%90,%91,%92,%93,%94,%95,"
      "%96,%97,%98,%99,%100,%101,%102,%103,%104,%105,%106,%107,%108,%109,%110,%111,"
      "%112,%113,%114,%115,%116,%117,%118,%119,%120,%121,%122,%123,%124,%125,%126,%127"
      "}, %128, %129, p, 1, 1;\n}\n"
      : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3]), "+f"(d[4]), "+f"(d[5]), "+f"(d[6]), "+f"(d[7]), "+f"(d[8]),
        "+f"(d[9]), "+f"(d[10]), "+f"(d[11]), "+f"(d[12]), "+f"(d[13]), "+f"(d[14]), "+f"(d[15]), "+f"(d[16]),
        "+f"(d[17]), "+f"(d[18]), "+f"(d[19]), "+f"(d[20]), "+f"(d[21]), "+f"(d[22]), "+f"(d[23]), "+f"(d[24]),
        "+f"(d[25]), "+f"(d[26]), "+f"(d[27]), "+f"(d[28]), "+f"(d[29]), "+f"(d[30]), "+f"(d[31]), "+f"(d[32]),
        "+f"(d[33]), "+f"(d[34]), "+f"(d[35]), "+f"(d[36]), "+f"(d[37]), "+f"(d[38]), "+f"(d[39]), "+f"(d[40]),
        "+f"(d[41]), "+f"(d[42]), "+f"(d[43]), "+f"(d[44]), "+f"(d[45]), "+f"(d[46]), "+f"(d[47]), "+f"(d[48]),
        "+f"(d[49]), "+f"(d[50]), "+f"(d[51]), "+f"(d[52]), "+f"(d[53]), "+f"(d[54]), "+f"(d[55]), "+f"(d[56]),
        "+f"(d[57]), "+f"(d[58]), "+f"(d[59]), "+f"(d[60]), "+f"(d[61]), "+f"(d[62]), "+f"(d[63]), "+f"(d[64]),
        "+f"(d[65]), "+f"(d[66]), "+f"(d[67]), "+f"(d[68]), "+f"(d[69]), "+f"(d[70]), "+f"(d[71]), "+f"(d[72]),
        "+f"(d[73]), "+f"(d[74]), "+f"(d[75]), "+f"(d[76]), "+f"(d[77]), "+f"(d[78]), "+f"(d[79]), "+f"(d[80]),
        "+f"(d[81]), "+f"(d[82]), "+f"(d[83]), "+f"(d[84]), "+f"(d[85]), "+f"(d[86]), "+f"(d[87]), "+f"(d[88]),
        "+f"(d[89]), "+f"(d[90]), "+f"(d[91]), "+f"(d[92]), "+f"(d[93]), "+f"(d[94]), "+f"(d[95]), "+f"(d[96]),
        "+f"(d[97]), "+f"(d[98]), "+f"(d[99]), "+f"(d[100]), "+f"(d[101]), "+f"(d[102]), "+f"(d[103]), "+f"(d[104]),
        "+f"(d[105]), "+f"(d[106]), "+f"(d[107]), "+f"(d[108]), "+f"(d[109]), "+f"(d[110]), "+f"(d[111]), "+f"(d[112]),
        "+f"(d[113]), "+f"(d[114]), "+f"(d[115]), "+f"(d[116]), "+f"(d[117]), "+f"(d[118]), "+f"(d[119]), "+f"(d[120]),
        "+f"(d[121]), "+f"(d[122]), "+f"(d[123]), "+f"(d[124]), "+f"(d[125]), "+f"(d[126]), "+f"(d[127])
      : "l"(desc_a), "l"(desc_b), "r"(scale_d));
}

template <int BN>
struct WgmmaFp8;
template <>
struct WgmmaFp8<128> {
  static __device__ __forceinline__ void run(float (&d)[64], uint64_t a, uint64_t b, int scale_d) {
    wgmma_m64n128k32_e4m3(d, a, b, scale_d);
  }
};
template <>
struct WgmmaFp8<256> {
  static __device__ __forceinline__ void run(float (&d)[128], uint64_t a, uint64_t b, int scale_d) {
    wgmma_m64n256k32_e4m3(d, a, b, scale_d);
  }
};

template <int BM, int BN, int NC, int STAGES, bool PINGPONG>
struct Cfg {
  static constexpr int kThreads = 128 * (NC + 1);
  static constexpr int kWgRows = PINGPONG ? BM : BM / NC;  // tile rows per consumer warpgroup
  static constexpr int kMRep = kWgRows / 64;               // m64 wgmmas per k32 step and consumer
  static constexpr int kABytes = BM * kBK, kBBytes = BN * kBK, kStageBytes = kABytes + kBBytes;
  // Stages, then 2 x STAGES + NC mbarriers; +1024 so the stages start on a 1024-byte boundary (the swizzle
  // pattern repeats every 8 rows of 128 bytes and the descriptors assume that alignment).
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

// SWIGLU: out is bf16 [m, n] with n = inter, b holds 2 n rows (gate, then up), scale_col 2 n entries, no bias;
// else out is f32 [m, n].
// ADD: y += the f32 form's values (y's old values read in the epilogue: a residual add, bit for bit the f32 form then
// add_cuda).
template <int BM, int BN, int NC, int STAGES, bool PINGPONG, bool SWIGLU, bool ADD = false>
__global__ void __launch_bounds__(Cfg<BM, BN, NC, STAGES, PINGPONG>::kThreads, 1)
    gemm_fp8_kernel(const __grid_constant__ CUtensorMap tma_a, const __grid_constant__ CUtensorMap tma_b,
                    void* __restrict__ out, const float* __restrict__ scale_row, const float* __restrict__ scale_col,
                    const float* __restrict__ bias, int m, int n, int k) {
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
  constexpr int kCols = SWIGLU ? BN / 2 : BN;  // output columns per tile
  static_assert(!SWIGLU || (BN == 256 && !PINGPONG), "the SwiGLU epilogue pairs m64n256's two halves");
  const int tiles_r = (m + BM - 1) / BM, tiles_c = (n + kCols - 1) / kCols, tiles = tiles_r * tiles_c;
  // k % 128 != 0: the last k-tile's boxes reach past k and TMA fills those bytes with zeros (e4m3 +0), which add
  // nothing to the products.
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
          if constexpr (SWIGLU) {  // gate rows, then the up projection's same rows (n further)
            tma_load_2d(sa + C::kABytes, &tma_b, kt * kBK, tc * kCols, full);
            tma_load_2d(sa + C::kABytes + kCols * 128, &tma_b, kt * kBK, n + tc * kCols, full);
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
    const bool pair = (n & 1) == 0;
    const int row_off = PINGPONG ? 0 : c * C::kWgRows;  // this consumer's first row in the tile
    // The block's j-th tile uses stage slots j*ktiles .. (j+1)*ktiles - 1 of the producer's sequence (slot q:
    // stage q % STAGES, phase (q / STAGES) & 1), so a ping-pong consumer skips the other consumer's slots.
    for (int j = PINGPONG ? c : 0;; j += PINGPONG ? NC : 1) {
      const int t = blockIdx.x + j * gridDim.x;
      if (t >= tiles) break;
      // Ping-pong: a stage's full barrier may only be waited on once its previous use (STAGES slots back) has
      // completed, or the parity test would pass a phase early; for a tile's first slots that use is the other
      // consumer's tile, so wait for its hand-off (it arrives once it has waited on its last slot).
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
        for (int kk = 0; kk < kBK / 32; ++kk)  // k32 steps: 32 bytes further along the 128-byte row
#pragma unroll
          for (int i = 0; i < C::kMRep; ++i)
            WgmmaFp8<BN>::run(acc[i], sw128_desc(sa + i * 64 * 128 + kk * 32), sw128_desc(sb + kk * 32),
                              (kt | kk) != 0);
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
      // + {0,1}; d[4j + {2,3}] eight rows below.
      const int row0 = tr * BM + row_off + warp * 16 + (lane >> 2);
      // Every accumulator row of this consumer that lies inside y, with its row scale.
      auto epilogue_rows = [&](auto&& f) {
#pragma unroll
        for (int i = 0; i < C::kMRep; ++i)
#pragma unroll
          for (int h = 0; h < 2; ++h) {
            const int r = row0 + i * 64 + 8 * h;
            if (r < m) f(i, h, r, __ldg(scale_row + r));
          }
      };
      if constexpr (SWIGLU) {  // gate in d[j < BN/16], up of the same channel in d[j + BN/16]; n % 128 == 0
        __nv_bfloat16* o = static_cast<__nv_bfloat16*>(out);
        const int col0 = tc * kCols + 2 * (lane & 3);
        float sg[BN / 8], su[BN / 8];  // this thread's gate and up column scales (columns col0 + 8j + {0, 1})
        load_col_pairs<BN / 16>(sg, scale_col + col0);
        load_col_pairs<BN / 16>(su, scale_col + n + col0);
        epilogue_rows([&](int i, int h, int r, float sr) {
#pragma unroll
          for (int j = 0; j < BN / 16; ++j) {
            const int col = col0 + 8 * j;
            // the scales in gemm_fp8_cpu's order, then silu(g) * u as ops/swiglu.cu (expf), rounded once to bf16
            const float g0 = sr * (sg[2 * j] * acc[i][4 * j + 2 * h]);
            const float g1 = sr * (sg[2 * j + 1] * acc[i][4 * j + 2 * h + 1]);
            const float u0 = sr * (su[2 * j] * acc[i][4 * (j + BN / 16) + 2 * h]);
            const float u1 = sr * (su[2 * j + 1] * acc[i][4 * (j + BN / 16) + 2 * h + 1]);
            *reinterpret_cast<uint32_t*>(o + (long long)r * n + col) =
                cosmos::pack_bf16x2(g0 / (1.f + expf(-g0)) * u0, g1 / (1.f + expf(-g1)) * u1);
          }
        });
        continue;
      }
      float* y = static_cast<float*>(out);
      const int col0 = tc * BN + 2 * (lane & 3);
      if (pair && !bias && (tc + 1) * BN <= n) {  // the common tile: every column inside y, no bias
        float sc[BN / 4];                         // this thread's column scales, columns col0 + 8jj + {0, 1}
        load_col_pairs<BN / 8>(sc, scale_col + col0);
        epilogue_rows([&](int i, int h, int r, float sr) {
          float* yrow = y + (long long)r * n + col0;
          // ADD: the row's old values, all loaded before its first store (one round trip a row)
          [[maybe_unused]] float2 old[ADD ? BN / 8 : 1];
          if constexpr (ADD)
#pragma unroll
            for (int jj = 0; jj < BN / 8; ++jj) old[jj] = *reinterpret_cast<const float2*>(yrow + 8 * jj);
#pragma unroll
          for (int jj = 0; jj < BN / 8; ++jj) {
            float v0 = sr * (sc[2 * jj] * acc[i][4 * jj + 2 * h]),
                  v1 = sr * (sc[2 * jj + 1] * acc[i][4 * jj + 2 * h + 1]);
            // __fadd_rn: never contracted into an FMA with the scaling (the product rounds first, as without ADD)
            if constexpr (ADD) v0 = __fadd_rn(v0, old[jj].x), v1 = __fadd_rn(v1, old[jj].y);
            __stcs(reinterpret_cast<float2*>(yrow + 8 * jj), make_float2(v0, v1));
          }
        });
        continue;
      }
      // Edge tiles, odd n or a bias: per element (the scales held as above would spill beside these paths).
      epilogue_rows([&](int i, int h, int r, float sr) {
        float* yrow = y + (long long)r * n;
#pragma unroll
        for (int jj = 0; jj < BN / 8; ++jj) {
          const int col = col0 + 8 * jj;
          if (col >= n) continue;
          const bool ok1 = col + 1 < n;
          float v0 = sr * (__ldg(scale_col + col) * acc[i][4 * jj + 2 * h]);
          float v1 = ok1 ? sr * (__ldg(scale_col + col + 1) * acc[i][4 * jj + 2 * h + 1]) : 0.f;
          if (bias) {
            v0 += __ldg(bias + col);
            if (ok1) v1 += __ldg(bias + col + 1);
          }
          if constexpr (ADD) {  // __fadd_rn: never contracted into an FMA with the scaling above
            v0 = __fadd_rn(v0, yrow[col]);
            if (ok1) v1 = __fadd_rn(v1, yrow[col + 1]);
          }
          if (pair) {  // n even: col even, so the pair is 8-byte aligned and col + 1 < n
            __stcs(reinterpret_cast<float2*>(yrow + col), make_float2(v0, v1));
          } else {
            yrow[col] = v0;
            if (ok1) yrow[col + 1] = v1;
          }
        }
      });
    }
  }
#endif
}

template <int BM, int BN, int NC, int STAGES, bool PINGPONG, bool SWIGLU = false, bool ADD = false>
void launch(void* out, const uint8_t* a, const uint8_t* b, const float* scale_row, const float* scale_col,
            const float* bias, int m, int n, int k, bool persistent, cudaStream_t stream) {
  using C = Cfg<BM, BN, NC, STAGES, PINGPONG>;
  static const bool attr = [] {  // opt in to more than 48 KiB of dynamic shared memory, once per instantiation
    CUDA_CHECK(cudaFuncSetAttribute(gemm_fp8_kernel<BM, BN, NC, STAGES, PINGPONG, SWIGLU, ADD>,
                                    cudaFuncAttributeMaxDynamicSharedMemorySize, C::kSmem));
    return true;
  }();
  (void)attr;
  constexpr int kCols = SWIGLU ? BN / 2 : BN;
  const CUtensorMap ma = tma_map_u8_sw128(a, m, k, BM, "gemm_fp8_wgmma a"),
                    mb = tma_map_u8_sw128(b, SWIGLU ? 2 * n : n, k, kCols, "gemm_fp8_wgmma b");
  const long long tiles = (long long)cosmos::ceil_div(m, BM) * cosmos::ceil_div(n, kCols);
  long long grid = tiles;
  if (persistent) {
    const int sms = sm_count();
    if (grid > sms) grid = sms;
  }
  gemm_fp8_kernel<BM, BN, NC, STAGES, PINGPONG, SWIGLU, ADD>
      <<<(unsigned)grid, C::kThreads, C::kSmem, stream>>>(ma, mb, out, scale_row, scale_col, bias, m, n, k);
  CUDA_CHECK_LAUNCH();
}
}  // namespace

namespace cosmos {

const char* fp8_variant_name(Fp8Variant v) {
  switch (v) {
    case Fp8Variant::Tile128x128OneConsumer:
      return "fp8 128x128 1wg";
    case Fp8Variant::Tile256x128Persistent:
      return "fp8 256x128 2wg persistent";
    case Fp8Variant::PingPong128x128:
      return "fp8 128x128 ping-pong";
    case Fp8Variant::Tile128x256Persistent:
      return "fp8 128x256 2wg persistent";
  }
  return "fp8 ?";
}

// The bf16 GEMM's rule (gemm_wgmma_pick), the 256x128 cooperative tiles where they fill their last wave, else
// ping-pong; since the epilogue reads its scales once per tile, ping-pong also for k <= 8192. H200,
// gemm_fp8_cuda_test time, 2026-12-02, m 18720, two calls: ping-pong 1309 / 1365 against 1175 / 1211 TFLOP/s at
// qkv, 1324 / 1308 against 1185 / 1125 at o, 1202 / 1222 against 1186 / 1182 at gate|up (f32 out); at down's
// k 12288 the cooperative tiles 1408 / 1172 against 1267 / 1134, their exposed epilogue a smaller share of a three
// times longer main loop.
Fp8Variant gemm_fp8_wgmma_pick(int m, int n, int k) {
  static const int sms = sm_count();
  const long long tiles = (long long)cosmos::ceil_div(m, 256) * cosmos::ceil_div(n, 128);
  const long long waves = (tiles + sms - 1) / sms;
  return k > 8192 && tiles * 10 >= waves * sms * 8 ? Fp8Variant::Tile256x128Persistent : Fp8Variant::PingPong128x128;
}

bool gemm_fp8_wgmma_shape_ok(const void* a, const void* b, int m, int n, int k) {
  const auto al16 = [](const void* p) { return (reinterpret_cast<uintptr_t>(p) & 15) == 0; };
  return m >= 1 && n >= 1 && k >= 16 && k % 16 == 0 && al16(a) && al16(b);
}

bool gemm_fp8_wgmma_available(cudaStream_t stream) { return this_object_sm90a_available(stream); }

void gemm_fp8_wgmma(float* y, const uint8_t* a, const uint8_t* b, const float* scale_row, const float* scale_col,
                    const float* bias, int m, int n, int k, Fp8Variant variant, const CudaContext& ctx) {
  const cudaStream_t stream = ctx.stream;
  if (m < 1) throw std::invalid_argument("gemm_fp8_wgmma: m must be >= 1, got " + std::to_string(m));
  if (n < 1) throw std::invalid_argument("gemm_fp8_wgmma: n must be >= 1, got " + std::to_string(n));
  if (k < 16 || k % 16 != 0)
    throw std::invalid_argument("gemm_fp8_wgmma: k must be a positive multiple of 16, got " + std::to_string(k));
  if (!gemm_fp8_wgmma_shape_ok(a, b, m, n, k))
    throw std::invalid_argument("gemm_fp8_wgmma: a and b must be 16-byte aligned (TMA)");
  if (!scale_row || !scale_col) throw std::invalid_argument("gemm_fp8_wgmma: scale_row and scale_col are required");
  switch (variant) {
    case Fp8Variant::Tile128x128OneConsumer:
      launch<128, 128, 1, 4, false>(y, a, b, scale_row, scale_col, bias, m, n, k, false, stream);
      return;
    case Fp8Variant::Tile256x128Persistent:
      launch<256, 128, 2, 4, false>(y, a, b, scale_row, scale_col, bias, m, n, k, true, stream);
      return;
    case Fp8Variant::PingPong128x128:
      launch<128, 128, 2, 6, true>(y, a, b, scale_row, scale_col, bias, m, n, k, true, stream);
      return;
    case Fp8Variant::Tile128x256Persistent:
      launch<128, 256, 2, 4, false>(y, a, b, scale_row, scale_col, bias, m, n, k, true, stream);
      return;
  }
  throw std::invalid_argument("gemm_fp8_wgmma: unknown variant " + std::to_string((int)variant));
}

void gemm_fp8_wgmma(float* y, const uint8_t* a, const uint8_t* b, const float* scale_row, const float* scale_col,
                    const float* bias, int m, int n, int k, const CudaContext& ctx) {
  gemm_fp8_wgmma(y, a, b, scale_row, scale_col, bias, m, n, k, gemm_fp8_wgmma_pick(m, n, k), ctx);
}

void gemm_fp8_wgmma_add(float* y, const uint8_t* a, const uint8_t* b, const float* scale_row, const float* scale_col,
                        const float* bias, int m, int n, int k, const CudaContext& ctx) {
  if (!gemm_fp8_wgmma_shape_ok(a, b, m, n, k) || !scale_row || !scale_col)
    throw std::invalid_argument(
        "gemm_fp8_wgmma_add: needs m, n >= 1, k a positive multiple of 16, 16-byte aligned a and b, and both scales; "
        "got m " +
        std::to_string(m) + ", n " + std::to_string(n) + ", k " + std::to_string(k));
  if (gemm_fp8_wgmma_pick(m, n, k) == Fp8Variant::Tile256x128Persistent)
    launch<256, 128, 2, 4, false, false, true>(y, a, b, scale_row, scale_col, bias, m, n, k, true, ctx.stream);
  else
    launch<128, 128, 2, 6, true, false, true>(y, a, b, scale_row, scale_col, bias, m, n, k, true, ctx.stream);
}

bool gemm_fp8_wgmma_swiglu_shape_ok(const void* a, const void* b, int m, int k, int inter) {
  return gemm_fp8_wgmma_shape_ok(a, b, m, 2 * inter, k) && inter % 128 == 0;
}

void gemm_fp8_wgmma_swiglu(__nv_bfloat16* out, const uint8_t* a, const uint8_t* b, const float* scale_row,
                           const float* scale_col, int m, int k, int inter, const CudaContext& ctx) {
  if (!gemm_fp8_wgmma_swiglu_shape_ok(a, b, m, k, inter))
    throw std::invalid_argument(
        "gemm_fp8_wgmma_swiglu: needs m >= 1, k a positive multiple of 16, inter a positive multiple of 128 and "
        "16-byte aligned a and b; got m " +
        std::to_string(m) + ", k " + std::to_string(k) + ", inter " + std::to_string(inter));
  if (!scale_row || !scale_col)
    throw std::invalid_argument("gemm_fp8_wgmma_swiglu: scale_row and scale_col are required");
  launch<128, 256, 2, 4, false, true>(out, a, b, scale_row, scale_col, nullptr, m, inter, k, true, ctx.stream);
}

}  // namespace cosmos
