// conv3d_igemm_wgmma (see the header). Why: the mma.sync kernel spends its issue slots on ldmatrix and on 16x8x16
// products (81% of a 720p decode chunk's GPU time is that kernel, ncu 2026-12-01); a warpgroup's wgmma reads both
// operands straight from the swizzled shared memory the tile copies already write (IgemmTileCopier's layout is
// wgmma's 128-byte swizzle) and runs 64x128x16 at a time, asynchronously.
//  * 256 threads = 2 warpgroups; all of them copy the tiles (cp.async, as conv3d_igemm.cu), each warpgroup
//    multiplies 64 of the block's 128 pixel rows by all its BN output channels (4 m64nBNk16 per k-tile): BN 128
//    (3 stages, two blocks an SM) or, for cout >= 256, 256 (4 stages, one block an SM: each A tile copied from L2
//    serves twice the products; conv3d_igemm_wgmma_wide).
//  * The copies are generic-proxy writes and wgmma reads through the async proxy: each thread fences
//    (fence.proxy.async) after its copies land and before the barrier that hands the stage over.
//  * A stage is refilled only after the barrier that follows both warpgroups' wgmma_wait on it.
#ifndef COSMOS_CUDA
#define COSMOS_CUDA 1
#endif
#include "conv3d_igemm_wgmma.h"

#include <cstdint>
#include <cstdlib>

#include "../core/cuda_common.h"
#include "conv3d_igemm_tiles.cuh"
#include "wgmma_sm90.cuh"

// Built for plain sm_90 the kernel is empty, which leaves the device helpers unreferenced: expected.
#pragma nv_diag_suppress 177

namespace {
using namespace cosmos::sm90;
using bf16 = __nv_bfloat16;
using cosmos::IgemmGeometry;

constexpr int BM = cosmos::kIgemmBM, BK = cosmos::kIgemmBK;
constexpr int kThreads = cosmos::IgemmTileCopier::kThreads;  // 2 warpgroups
constexpr int kABytes = BM * BK * 2;                         // 16 KiB: 128 pixel rows x 64 channels
static_assert(BM == 128 && BK == 64 && kThreads == 256, "2 warpgroups of m64 rows over 128 x BN x 64 tiles");

// BN = 128 output channels a block (3 stages, 97 KiB: two blocks an SM) or 256 (for cout >= 256: twice the products
// per A tile copied, 4 stages, 193 KiB: one block an SM).
template <int BN>
struct Tile {
  static constexpr int kStages = BN == 128 ? 3 : 4;
  static constexpr int kBlocksPerSm = BN == 128 ? 2 : 1;
  static constexpr int kStageBytes = kABytes + BN * BK * 2;
  static constexpr int kSmem = kStages * kStageBytes + 1024;  // +1024: the stages start 1024-aligned (the swizzle)
  static_assert(kSmem * kBlocksPerSm <= 227 * 1024, "shared memory per SM");
};

template <bool kOutBf16, int BN>
__global__ void __launch_bounds__(kThreads, Tile<BN>::kBlocksPerSm)
    conv3d_wgmma_kernel(void* __restrict__ out, const bf16* __restrict__ win, const bf16* __restrict__ wp,
                        const float* __restrict__ bias, IgemmGeometry g, int M, bool pair) {
#if defined(__CUDA_ARCH_FEAT_SM90_ALL)
  constexpr int kStages = Tile<BN>::kStages, kStageBytes = Tile<BN>::kStageBytes;
  extern __shared__ unsigned char smem_raw[];
  unsigned char* smem = smem_raw + ((1024u - (smem_u32(smem_raw) & 1023u)) & 1023u);
  const uint32_t sbase = smem_u32(smem);
  const int wg = threadIdx.x >> 7, warp = (threadIdx.x >> 5) & 3, lane = threadIdx.x & 31;
  const int row0 = blockIdx.x * BM, col0 = blockIdx.y * BN;
  const int ktiles = g.ktiles();
  cosmos::IgemmTileCopier copier(g, row0, col0, M);
  auto load = [&](int stage) {
    unsigned char* sa = smem + stage * kStageBytes;
    copier.load<BN>(g, sa, sa + kABytes, win, wp);
  };
  float acc[BN / 2];
#pragma unroll
  for (int i = 0; i < BN / 2; ++i) acc[i] = 0.f;
#pragma unroll
  for (int s = 0; s < kStages - 1; ++s) {
    if (s < ktiles) load(s);
    cosmos::cp_async_commit();  // always commit (maybe empty) so the group count stays in step
  }
  for (int kt = 0; kt < ktiles; ++kt) {
    cosmos::cp_async_wait<kStages - 2>();  // tile kt has landed (this thread's copies) ...
    fence_proxy_async_shared();            // ... visible to wgmma ...
    __syncthreads();                       // ... everyone's; both warpgroups are done with tile kt - 1's stage
    {
      const int nk = kt + kStages - 1;
      if (nk < ktiles) load(nk % kStages);  // refill the stage consumed in iteration kt - 1
      cosmos::cp_async_commit();
    }
    const uint32_t stage = sbase + (kt % kStages) * kStageBytes, sa = stage + wg * 64 * 128, sb = stage + kABytes;
    fence_regs(acc);
    wgmma_fence();
#pragma unroll
    for (int kk = 0; kk < BK / 16; ++kk) Wgmma<BN>::run(acc, sw128_desc(sa + kk * 32), sw128_desc(sb + kk * 32), 1);
    wgmma_commit();
    wgmma_wait<0>();
    fence_regs(acc);
  }
  cosmos::cp_async_wait<0>();
  // Accumulator layout of m64nBN (per warp 16 rows): [4j + {0,1}] at row lane/4, channels 8j + 2(lane%4) + {0,1};
  // [4j + {2,3}] eight rows below.
#pragma unroll
  for (int j = 0; j < BN / 8; ++j) {
    const int c = col0 + 8 * j + 2 * (lane & 3);
    if (c >= g.cout) continue;
#pragma unroll
    for (int h = 0; h < 2; ++h) {
      const int r = row0 + wg * 64 + warp * 16 + (lane >> 2) + 8 * h;
      if (r < M)
        cosmos::igemm_store_pair<kOutBf16>(out, bias, g.cout, pair, r, c, acc[4 * j + 2 * h], acc[4 * j + 2 * h + 1]);
    }
  }
#else
  (void)out, (void)win, (void)wp, (void)bias, (void)g, (void)M, (void)pair;
#endif
}
}  // namespace

namespace cosmos {

bool conv3d_igemm_wgmma_available(cudaStream_t stream) { return this_object_sm90a_available(stream); }

void conv3d_igemm_wgmma_launch(void* out, bool out_bf16, const bf16* win, const bf16* wp, const float* bias,
                               const IgemmGeometry& g, int M, bool pair, cudaStream_t stream) {
  static const bool attr = [] {  // opt in to more than 48 KiB of dynamic shared memory, once
    CUDA_CHECK(cudaFuncSetAttribute(conv3d_wgmma_kernel<false, 128>, cudaFuncAttributeMaxDynamicSharedMemorySize,
                                    Tile<128>::kSmem));
    CUDA_CHECK(cudaFuncSetAttribute(conv3d_wgmma_kernel<true, 128>, cudaFuncAttributeMaxDynamicSharedMemorySize,
                                    Tile<128>::kSmem));
    CUDA_CHECK(cudaFuncSetAttribute(conv3d_wgmma_kernel<false, 256>, cudaFuncAttributeMaxDynamicSharedMemorySize,
                                    Tile<256>::kSmem));
    CUDA_CHECK(cudaFuncSetAttribute(conv3d_wgmma_kernel<true, 256>, cudaFuncAttributeMaxDynamicSharedMemorySize,
                                    Tile<256>::kSmem));
    return true;
  }();
  (void)attr;
  const bool wide = conv3d_igemm_wgmma_wide(g.cout);
  const dim3 grid(ceil_div(M, BM), ceil_div(g.cout, wide ? 256 : 128));
  if (wide && out_bf16)
    conv3d_wgmma_kernel<true, 256><<<grid, kThreads, Tile<256>::kSmem, stream>>>(out, win, wp, bias, g, M, pair);
  else if (wide)
    conv3d_wgmma_kernel<false, 256><<<grid, kThreads, Tile<256>::kSmem, stream>>>(out, win, wp, bias, g, M, pair);
  else if (out_bf16)
    conv3d_wgmma_kernel<true, 128><<<grid, kThreads, Tile<128>::kSmem, stream>>>(out, win, wp, bias, g, M, pair);
  else
    conv3d_wgmma_kernel<false, 128><<<grid, kThreads, Tile<128>::kSmem, stream>>>(out, win, wp, bias, g, M, pair);
  CUDA_CHECK_LAUNCH();
}

bool conv3d_igemm_wgmma_wide(int cout) {
  static const int min_cout = [] {  // COSMOS_VAE_CONV_WIDE: the smallest cout for 256-wide tiles (0: never)
    const char* e = std::getenv("COSMOS_VAE_CONV_WIDE");
    return e && *e ? std::atoi(e) : 256;
  }();
  return min_cout > 0 && cout >= min_cout;
}

}  // namespace cosmos
