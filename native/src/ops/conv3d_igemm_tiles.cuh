// The tile copies and the output store both implicit-GEMM conv kernels share (ops/conv3d_igemm.cu on mma.sync,
// ops/conv3d_igemm_wgmma.cu on wgmma): 256 threads fill a 128 x 64 bf16 A tile (gathered conv taps) and the
// matching B tile (packed weight rows) with 16-byte cp.async copies, zero-filled where the conv reads its padding.
#pragma once
#include <cuda_bf16.h>

#include <cstdint>

#include "conv3d_igemm.h"
#include "mma_bf16.cuh"

namespace cosmos {

// Byte offset of 16-byte chunk `chunk` of tile row `row` (128-byte rows): chunk c of row r sits at c ^ (r & 7), so
// the 8 rows an ldmatrix reads and the 8 chunks a warp's cp.async writes fall on distinct bank groups. From a
// 1024-byte aligned base this is also exactly wgmma's 128-byte swizzle (the pattern repeats every 8 rows).
__device__ __forceinline__ int igemm_swz(int row, int chunk) {
  return row * (kIgemmBK * 2) + ((chunk ^ (row & 7)) << 4);
}

// One thread's share of a block's tile copies: rows ld_r + 32 i (i < 4) of both tiles, chunk ld_c (8 channels).
// Its rows' origins are worked out once; load() is called for k-tiles 0, 1, 2, ... in order, so the next one's tap
// is stepped, not divided out.
struct IgemmTileCopier {
  static constexpr int kThreads = 256;
  int ld_r = 0, ld_c = 0, col0 = 0;
  IgemmRowOrigin org[4];
  bool rok[4];
  IgemmKTile next;

  __device__ __forceinline__ IgemmTileCopier(const IgemmGeometry& g, int row0, int col0_, int M) : col0(col0_) {
    ld_r = threadIdx.x >> 3, ld_c = threadIdx.x & 7;
#pragma unroll
    for (int i = 0; i < 4; ++i) {
      const int r = row0 + ld_r + 32 * i;
      rok[i] = r < M;
      org[i] = rok[i] ? igemm_row_origin(g, r) : IgemmRowOrigin{};
    }
    next = igemm_ktile(g, 0);
  }
  // The next k-tile into sa (A: 128 pixels x 64 channels of one tap) and sb (B: kBRows output channels x the same
  // k, 128 or 256).
  template <int kBRows = 128>
  __device__ __forceinline__ void load(const IgemmGeometry& g, unsigned char* sa, unsigned char* sb,
                                       const __nv_bfloat16* win, const __nv_bfloat16* wp) {
    static_assert(kBRows % 32 == 0 && kBRows >= 128, "B rows: whole passes of 32, at least A's 128");
    const IgemmKTile k = next;
    igemm_ktile_next(g, next);
    const int ci = k.ci0 + ld_c * 8;
#pragma unroll
    for (int i = 0; i < kBRows / 32; ++i) {
      const int r = ld_r + 32 * i;
      if (i < 4) {
        const long long ao = rok[i] ? igemm_a_offset(g, org[i], k, ci) : -1;
        cp_async16_zfill(sa + igemm_swz(r, ld_c), ao >= 0 ? win + ao : win, ao >= 0);
      }
      const long long bo = igemm_b_offset(g, col0 + r, k.tap, ci);
      cp_async16_zfill(sb + igemm_swz(r, ld_c), bo >= 0 ? wp + bo : wp, bo >= 0);
    }
  }
};

// out[r, c], out[r, c + 1] (f32 or bf16 [M, cout]) = v0, v1 plus the bias, for c < cout (c + 1 checked); one store
// of the pair when `pair` (cout even, out aligned for it).
template <bool kOutBf16>
__device__ __forceinline__ void igemm_store_pair(void* out, const float* bias, int cout, bool pair, int r, int c,
                                                 float v0, float v1) {
  const bool c1ok = c + 1 < cout;
  if (bias) v0 += bias[c], v1 += c1ok ? bias[c + 1] : 0.f;
  const long long at = (long long)r * cout + c;
  if (kOutBf16) {
    __nv_bfloat16* o = static_cast<__nv_bfloat16*>(out) + at;
    if (pair) {
      *reinterpret_cast<uint32_t*>(o) = pack_bf16x2(v0, v1);
    } else {
      o[0] = __float2bfloat16_rn(v0);
      if (c1ok) o[1] = __float2bfloat16_rn(v1);
    }
  } else {
    float* o = static_cast<float*>(out) + at;
    if (pair) {
      *reinterpret_cast<float2*>(o) = make_float2(v0, v1);
    } else {
      o[0] = v0;
      if (c1ok) o[1] = v1;
    }
  }
}

}  // namespace cosmos
