// conv3d_igemm_wgmma (see the header): the implicit-GEMM conv's products on Hopper's wgmma, in two kernels.
//
// conv3d_tma_kernel (stride-1 convs: every conv of the Wan decoder). Why: the gather kernel below had every thread
// copy its tile rows with cp.async and wait for them, then for its products, each k-tile, so copies and products took
// turns (its conv was 81.5% of a 720p decode's GPU time, ncu 2026-12-01). Here the copies are TMA box copies issued by
// one producer thread, and the products run from a 4-6 stage pipeline (gemm_wgmma's warp-specialised design):
//  * A block tile is TH x TW output pixels of one frame (TH * TW = 128, picked per conv to waste the fewest padded
//    pixels) by BN output channels. For k-tile (tap (dt, dy, dx), channels ci0..ci0+63) its A tile is one box of the
//    bf16 window [frames, h, w, cin]: {64 channels, TW, TH, 1 frame} at (ci0, ox0 + dx - pad_left,
//    oy0 + dy - pad_top, o + dt). TMA zero-fills what falls outside the frame (the conv's zero padding, negative
//    coordinates included) or past cin, so there is no index math per pixel. Its B tile is one box {64, 1, BN} of
//    the packed weight [cout, taps, cin] at (ci0, tap, col0). Both land in the 128-byte swizzle wgmma reads.
//  * Warpgroup 0 is the producer (one thread: wait for a free stage, announce the bytes, two copies); warpgroups 1
//    and 2 multiply 64 tile rows each by BN channels (m64nBNk16, one stage's wgmmas kept in flight) and release the
//    stage before. BN 256 for wide convs unless 128 fills the GPU's SMs better (few tiles: the latent-size convs);
//    16 for cout <= 16 (conv_out's 12 channels).
//
// conv3d_wgmma_kernel (any stride: the encoder's downsampling convs; COSMOS_VAE_CONV=gather for all). The mma.sync
// kernel's tiles and tap gather (IgemmTileCopier: every thread copies with cp.async; its XOR swizzle is wgmma's
// 128-byte swizzle), its products on wgmma:
//  * 256 threads = 2 warpgroups; all of them copy the tiles, each warpgroup multiplies 64 of the block's 128 pixel
//    rows by all its BN output channels (4 m64nBNk16 per k-tile): BN 128 (3 stages, two blocks an SM) or, for
//    cout >= 256, 256 (4 stages, one block an SM: each A tile copied from L2 serves twice the products).
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

// ---------------------------------------------------------------- the TMA kernel (stride 1)
// The spatial tiling of a launch: tiles of (128 >> tw_log2) rows x (1 << tw_log2) columns of output pixels.
struct SpatialTiles {
  int tw_log2 = 3, tiles_x = 1, tiles_y = 1;
};

template <int BN>
struct TmaTile {
  static constexpr int kStages = BN == 16 ? 8 : BN == 128 ? 6 : 4;
  static constexpr int kBBytes = BN * BK * 2, kStageBytes = kABytes + kBBytes;
  static constexpr int kSmem = kStages * kStageBytes + 2 * kStages * 8 + 1024;  // stages, full + empty barriers
  static_assert(kSmem <= 227 * 1024, "shared memory per block");
};
constexpr int kTmaThreads = 3 * 128;  // producer + 2 consumer warpgroups

template <bool kOutBf16, int BN>
__global__ void __launch_bounds__(kTmaThreads, 1)
    conv3d_tma_kernel(const __grid_constant__ CUtensorMap map_a, const __grid_constant__ CUtensorMap map_b,
                      void* __restrict__ out, const float* __restrict__ bias, IgemmGeometry g, SpatialTiles st,
                      bool pair) {
#if defined(__CUDA_ARCH_FEAT_SM90_ALL)
  using T = TmaTile<BN>;
  constexpr int kStages = T::kStages;
  extern __shared__ unsigned char smem_raw[];
  const uint32_t base = (smem_u32(smem_raw) + 1023u) & ~1023u;
  const uint32_t full0 = base + kStages * T::kStageBytes, empty0 = full0 + kStages * 8;
  const int wg = threadIdx.x / 128;
  if (threadIdx.x == 0) {
#pragma unroll
    for (int s = 0; s < kStages; ++s) {
      mbar_init(full0 + 8 * s, 1);   // the producer's arrive.expect_tx (+ the copies' bytes)
      mbar_init(empty0 + 8 * s, 8);  // one arrive per consumer warp
    }
    asm volatile("fence.mbarrier_init.release.cluster;\n" ::: "memory");
  }
  __syncthreads();
  const int tw = 1 << st.tw_log2, th = BM >> st.tw_log2;
  const int tx = blockIdx.x % st.tiles_x, rest = blockIdx.x / st.tiles_x;
  const int ty = rest % st.tiles_y, o = rest / st.tiles_y;
  const int ox0 = tx * tw, oy0 = ty * th, col0 = blockIdx.y * BN;
  const int ktiles = g.ktiles();

  if (wg == 0) {  // ------------------------------------------------ producer
    setmaxnreg_dec<40>();
    if (threadIdx.x == 0) {
      asm volatile("prefetch.tensormap [%0];\n" ::"l"(reinterpret_cast<uint64_t>(&map_a)) : "memory");
      asm volatile("prefetch.tensormap [%0];\n" ::"l"(reinterpret_cast<uint64_t>(&map_b)) : "memory");
      cosmos::IgemmKTile k = cosmos::igemm_ktile(g, 0);
      int s = 0;
      uint32_t phase = 0;
      for (int kt = 0; kt < ktiles; ++kt) {
        mbar_wait(empty0 + 8 * s, phase ^ 1);
        const uint32_t full = full0 + 8 * s, sa = base + s * T::kStageBytes;
        mbar_expect_tx(full, T::kStageBytes);
        tma_load_4d(sa, &map_a, k.ci0, ox0 + k.dx - g.pad_left, oy0 + k.dy - g.pad_top, o + k.dt, full);
        tma_load_3d(sa + kABytes, &map_b, k.ci0, k.tap, col0, full);
        cosmos::igemm_ktile_next(g, k);
        if (++s == kStages) {
          s = 0;
          phase ^= 1;
        }
      }
    }
  } else {  // ------------------------------------------------------- consumers
    setmaxnreg_inc<232>();
    const int c = wg - 1, warp = (threadIdx.x / 32) & 3, lane = threadIdx.x & 31;
    float acc[BN / 2];
#pragma unroll
    for (int i = 0; i < BN / 2; ++i) acc[i] = 0.f;
    int prev = -1;
    for (int kt = 0; kt < ktiles; ++kt) {
      const int s = kt % kStages;
      mbar_wait(full0 + 8 * s, (kt / kStages) & 1);
      const uint32_t sa = base + s * T::kStageBytes + c * 64 * 128, sb = base + s * T::kStageBytes + kABytes;
      fence_regs(acc);
      wgmma_fence();
#pragma unroll
      for (int kk = 0; kk < BK / 16; ++kk) Wgmma<BN>::run(acc, sw128_desc(sa + kk * 32), sw128_desc(sb + kk * 32), 1);
      wgmma_commit();
      fence_regs(acc);
      wgmma_wait<1>();  // the previous stage's wgmmas are done: hand that stage back to the producer
      if (prev >= 0 && lane == 0) mbar_arrive(empty0 + 8 * prev);
      prev = s;
    }
    wgmma_wait<0>();
    fence_regs(acc);
    // Accumulator layout of m64nBN (per warp 16 rows): [4j + {0,1}] at tile row lane/4, channels 8j + 2(lane%4)
    // + {0,1}; [4j + {2,3}] eight rows below. Tile row i is pixel (oy0 + i / TW, ox0 + i % TW) of frame o.
#pragma unroll
    for (int h = 0; h < 2; ++h) {
      const int i = c * 64 + warp * 16 + (lane >> 2) + 8 * h;
      const int oy = oy0 + (i >> st.tw_log2), ox = ox0 + (i & (tw - 1));
      if (oy >= g.oh || ox >= g.ow) continue;
      const int r = (o * g.oh + oy) * g.ow + ox;
#pragma unroll
      for (int j = 0; j < BN / 8; ++j) {
        const int ch = col0 + 8 * j + 2 * (lane & 3);
        if (ch < g.cout)
          cosmos::igemm_store_pair<kOutBf16>(out, bias, g.cout, pair, r, ch, acc[4 * j + 2 * h],
                                             acc[4 * j + 2 * h + 1]);
      }
    }
  }
#else
  (void)map_a, (void)map_b, (void)out, (void)bias, (void)g, (void)st, (void)pair;
#endif
}

// The tiling of an oh x ow output frame with the fewest padded pixels (ties: the wider tile).
SpatialTiles pick_spatial_tiles(int oh, int ow) {
  SpatialTiles best;
  long long best_area = -1;
  for (int lg = 7; lg >= 2; --lg) {
    const int tw = 1 << lg, th = BM >> lg;
    const int nx = cosmos::ceil_div(ow, tw), ny = cosmos::ceil_div(oh, th);
    const long long area = (long long)nx * tw * ny * th;
    if (best_area < 0 || area < best_area) best_area = area, best = SpatialTiles{lg, nx, ny};
  }
  return best;
}

// COSMOS_VAE_CONV_WIDE=N: 128 x 256 tiles for exactly the convs with cout >= N (0: none); -1 when unset.
int wide_switch() {
  static const int n = [] {
    const char* e = std::getenv("COSMOS_VAE_CONV_WIDE");
    return e && *e ? std::atoi(e) : -1;
  }();
  return n;
}

// 128 x 256 tiles do twice a 128 x 128 tile's products in ~0.9 of the time; with one block an SM, the wider tile
// wins unless its fewer blocks leave SMs idle (the latent-size convs: a 30 x 52 frame is 13 tiles).
bool tma_wide(int cout, long long spatial_tiles) {
  if (wide_switch() >= 0 || !cosmos::conv3d_igemm_wgmma_wide(cout)) return cosmos::conv3d_igemm_wgmma_wide(cout);
  const long long sms = sm_count(), b256 = spatial_tiles * cosmos::ceil_div(cout, 256),
                  b128 = spatial_tiles * cosmos::ceil_div(cout, 128);
  return (b256 + sms - 1) / sms * 18 <= (b128 + sms - 1) / sms * 10;
}

template <bool kOutBf16, int BN>
void launch_tma(void* out, const bf16* win, const bf16* wp, const float* bias, const IgemmGeometry& g, int frames,
                const SpatialTiles& st, bool pair, cudaStream_t stream) {
  static const bool attr = [] {  // opt in to more than 48 KiB of dynamic shared memory, once per instantiation
    CUDA_CHECK(cudaFuncSetAttribute(conv3d_tma_kernel<kOutBf16, BN>, cudaFuncAttributeMaxDynamicSharedMemorySize,
                                    TmaTile<BN>::kSmem));
    return true;
  }();
  (void)attr;
  const int nv = (frames - 1) * g.st + g.kt;  // the window's frames
  const cuuint64_t es = sizeof(bf16);
  const cuuint64_t a_dims[4] = {(cuuint64_t)g.cin, (cuuint64_t)g.w, (cuuint64_t)g.h, (cuuint64_t)nv};
  const cuuint64_t a_strides[3] = {g.cin * es, (cuuint64_t)g.w * g.cin * es, (cuuint64_t)g.h * g.w * g.cin * es};
  const cuuint32_t a_box[4] = {(cuuint32_t)BK, 1u << st.tw_log2, (cuuint32_t)(BM >> st.tw_log2), 1};
  const cuuint64_t b_dims[3] = {(cuuint64_t)g.cin, (cuuint64_t)g.taps(), (cuuint64_t)g.cout};
  const cuuint64_t b_strides[2] = {g.cin * es, (cuuint64_t)g.taps() * g.cin * es};
  const cuuint32_t b_box[3] = {(cuuint32_t)BK, 1, (cuuint32_t)BN};
  const CUtensorMap ma = tma_map_bf16_sw128_nd(win, 4, a_dims, a_strides, a_box, "conv3d_igemm window"),
                    mb = tma_map_bf16_sw128_nd(wp, 3, b_dims, b_strides, b_box, "conv3d_igemm packed weight");
  const dim3 grid((unsigned)((long long)frames * st.tiles_x * st.tiles_y), (unsigned)cosmos::ceil_div(g.cout, BN));
  conv3d_tma_kernel<kOutBf16, BN><<<grid, kTmaThreads, TmaTile<BN>::kSmem, stream>>>(ma, mb, out, bias, g, st, pair);
  CUDA_CHECK_LAUNCH();
}
}  // namespace

namespace cosmos {

bool conv3d_igemm_wgmma_available(cudaStream_t stream) { return this_object_sm90a_available(stream); }

bool conv3d_igemm_wgmma_tma(const IgemmGeometry& g) {
  return g.st == 1 && g.sh == 1 && g.sw == 1 && vae_conv_switch() != VaeConvSwitch::WgmmaGather;
}

void conv3d_igemm_wgmma_launch(void* out, bool out_bf16, const bf16* win, const bf16* wp, const float* bias,
                               const IgemmGeometry& g, int M, bool pair, cudaStream_t stream) {
  if (conv3d_igemm_wgmma_tma(g)) {
    const int frames = M / (g.oh * g.ow);  // whole output frames: conv3d_igemm_cuda launches them so
    const SpatialTiles st = pick_spatial_tiles(g.oh, g.ow);
    const bool wide = tma_wide(g.cout, (long long)frames * st.tiles_x * st.tiles_y);
    if (g.cout <= 16 && out_bf16)  // conv_out (12 channels): 128-wide tiles would be 90% padding
      launch_tma<true, 16>(out, win, wp, bias, g, frames, st, pair, stream);
    else if (g.cout <= 16)
      launch_tma<false, 16>(out, win, wp, bias, g, frames, st, pair, stream);
    else if (wide && out_bf16)
      launch_tma<true, 256>(out, win, wp, bias, g, frames, st, pair, stream);
    else if (wide)
      launch_tma<false, 256>(out, win, wp, bias, g, frames, st, pair, stream);
    else if (out_bf16)
      launch_tma<true, 128>(out, win, wp, bias, g, frames, st, pair, stream);
    else
      launch_tma<false, 128>(out, win, wp, bias, g, frames, st, pair, stream);
    return;
  }
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
  const int min_cout = wide_switch() >= 0 ? wide_switch() : 256;
  return min_cout > 0 && cout >= min_cout;
}

}  // namespace cosmos
