// conv3d_igemm on the GPU: weight repack, bf16 input window, implicit-GEMM kernel. See conv3d_igemm.h.
// conv3d_cuda calls it by default (COSMOS_VAE_CONV=im2col: not); checked by tools/device/vae_conv_check.sh. On an
// H100 / H200 the launches go to ops/conv3d_igemm_wgmma.cu, the same tiles on wgmma (COSMOS_VAE_CONV=mma: not).
//
// The kernel is matmul_cuda's mma.sync GEMM (ops/matmul.cu: 128x128x64 tiles, 8 warps of 64x32, 3 cp.async
// stages, XOR swizzle, ldmatrix) with the A-tile copies gathering conv taps instead of reading a matrix: each
// thread owns 4 tile rows (output pixels) and one 16-byte chunk (8 channels) of the k-tile, works out its rows'
// origins once, and per k-tile only adds the tap's (dt, dy, dx); a chunk in the zero padding is a zero-fill
// cp.async (src-size 0), so there is no bounds branch around the copies.
#ifndef COSMOS_CUDA
#define COSMOS_CUDA 1
#endif
#include "conv3d_igemm.h"

#include <cuda_bf16.h>

#include <algorithm>
#include <climits>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <stdexcept>
#include <string>

#include "../core/cuda_common.h"
#include "cast_bf16.h"
#include "conv3d_igemm_tiles.cuh"
#include "conv3d_igemm_wgmma.h"
#include "mma_bf16.cuh"

namespace {
using bf16 = __nv_bfloat16;
using cosmos::IgemmGeometry;
using cosmos::IgemmKTile;
using cosmos::IgemmRowOrigin;

constexpr int BM = cosmos::kIgemmBM, BN = cosmos::kIgemmBN, BK = cosmos::kIgemmBK;
constexpr int kStages = 3;
constexpr int kThreads = 256;                    // 8 warps: 2 (pixel rows, 64 each) x 4 (channels, 32 each)
constexpr int kTileBytes = BM * BK * 2;          // 16 KiB per operand tile (BM == BN)
constexpr int kSmem = kStages * 2 * kTileBytes;  // 96 KiB: two blocks per SM
static_assert(BM == BN && BK == 64 && BM == 128, "the copy assignment and the warp layout assume 128x128x64");

using cosmos::igemm_swz;
static_assert(kThreads == cosmos::IgemmTileCopier::kThreads, "the copy assignment is for 256 threads");

// out [M, cout] (f32 or bf16) = gather(win) [M, taps*cin] · wp [cout, taps*cin]^T (+ bias). Block (bx, by):
// rows [bx*BM, +BM), channels [by*BN, +BN); blockIdx.x walks the pixels so the resident blocks share weight tiles.
template <bool kOutBf16>
__global__ void __launch_bounds__(kThreads, 2)
    conv3d_igemm_kernel(void* __restrict__ out, const bf16* __restrict__ win, const bf16* __restrict__ wp,
                        const float* __restrict__ bias, IgemmGeometry g, int M, bool pair) {
  extern __shared__ __align__(128) unsigned char smem[];
  const int tid = threadIdx.x, warp = tid >> 5, lane = tid & 31;
  const int wm = warp >> 2, wn = warp & 3;
  const int row0 = blockIdx.x * BM, col0 = blockIdx.y * BN;
  const int ktiles = g.ktiles();

  cosmos::IgemmTileCopier copier(g, row0, col0, M);
  auto load = [&](int stage) {
    unsigned char* sa = smem + stage * 2 * kTileBytes;
    copier.load(g, sa, sa + kTileBytes, win, wp);
  };

  float acc[4][4][4];
#pragma unroll
  for (int i = 0; i < 4; ++i)
#pragma unroll
    for (int j = 0; j < 4; ++j)
#pragma unroll
      for (int e = 0; e < 4; ++e) acc[i][j][e] = 0.f;

#pragma unroll
  for (int s = 0; s < kStages - 1; ++s) {
    if (s < ktiles) load(s);
    cosmos::cp_async_commit();  // always commit (maybe empty) so the group count stays in step
  }

  // ldmatrix lane roles. A (x4 = one m16k16 fragment): lanes 0-15 rows 0-15 at k 0-7, lanes 16-31 the same rows
  // at k 8-15. B (x4 = two n8k16 fragments): lanes 0-7 / 8-15 rows 0-7 at k 0-7 / 8-15, lanes 16-31 rows 8-15.
  const int a_row = wm * 64 + (lane & 15), a_kc = lane >> 4;
  const int b_row = wn * 32 + (lane & 7) + ((lane >> 4) << 3), b_kc = (lane >> 3) & 1;

  for (int kt = 0; kt < ktiles; ++kt) {
    cosmos::cp_async_wait<kStages - 2>();  // tile kt has landed (this thread's copies) ...
    __syncthreads();                       // ... everyone's, and all warps are done with tile kt - 1's stage
    {
      const int nk = kt + kStages - 1;
      if (nk < ktiles) load(nk % kStages);  // refill the stage consumed in iteration kt - 1
      cosmos::cp_async_commit();
    }
    const unsigned char* sa = smem + (kt % kStages) * 2 * kTileBytes;
    const unsigned char* sb = sa + kTileBytes;
#pragma unroll
    for (int kk = 0; kk < BK / 16; ++kk) {
      uint32_t a[4][4], b[4][2];
#pragma unroll
      for (int i = 0; i < 4; ++i)
        cosmos::ldsm_x4(a[i][0], a[i][1], a[i][2], a[i][3], sa + igemm_swz(a_row + 16 * i, 2 * kk + a_kc));
#pragma unroll
      for (int j = 0; j < 2; ++j)
        cosmos::ldsm_x4(b[2 * j][0], b[2 * j][1], b[2 * j + 1][0], b[2 * j + 1][1],
                        sb + igemm_swz(b_row + 16 * j, 2 * kk + b_kc));
#pragma unroll
      for (int i = 0; i < 4; ++i)
#pragma unroll
        for (int j = 0; j < 4; ++j) cosmos::mma_bf16_16816(acc[i][j], a[i], b[j][0], b[j][1]);
    }
  }
  cosmos::cp_async_wait<0>();

  // Epilogue from the accumulators: c0, c1 at (lane/4, 2*(lane%4) + {0,1}) of each 16x8 tile, c2, c3 eight rows
  // below.
#pragma unroll
  for (int j = 0; j < 4; ++j) {
    const int c = col0 + wn * 32 + j * 8 + (lane & 3) * 2;
    if (c >= g.cout) continue;
#pragma unroll
    for (int i = 0; i < 4; ++i)
#pragma unroll
      for (int h = 0; h < 2; ++h) {
        const int r = row0 + wm * 64 + i * 16 + (lane >> 2) + h * 8;
        if (r < M)
          cosmos::igemm_store_pair<kOutBf16>(out, bias, g.cout, pair, r, c, acc[i][j][2 * h], acc[i][j][2 * h + 1]);
      }
  }
}

// The tap-major weight: dst[(n*taps + tap)*cin + ci] = src[(n*cin + ci)*taps + tap] (coalesced writes).
__global__ void igemm_pack_weight_kernel(bf16* __restrict__ dst, const bf16* __restrict__ src, int cin, int taps,
                                         long long n) {
  for (long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x; i < n; i += (long long)gridDim.x * blockDim.x)
    dst[i] = src[cosmos::igemm_pack_source(cin, taps, i)];
}

}  // namespace

VaeConvSwitch vae_conv_switch() {
  const char* e = std::getenv("COSMOS_VAE_CONV");
  if (!e || !*e) return VaeConvSwitch::Fastest;
  if (std::strcmp(e, "im2col") == 0) return VaeConvSwitch::Im2col;
  if (std::strcmp(e, "mma") == 0) return VaeConvSwitch::MmaSync;
  if (std::strcmp(e, "gather") == 0) return VaeConvSwitch::WgmmaGather;
  throw std::invalid_argument(std::string("COSMOS_VAE_CONV=") + e +
                              ": expected im2col, mma or gather (or unset: the fastest path)");
}

const char* conv3d_igemm_kernel(cudaStream_t stream, const Conv3dDims& d) {
  if (vae_conv_switch() == VaeConvSwitch::MmaSync || !cosmos::conv3d_igemm_wgmma_available(stream)) return "mma.sync";
  return cosmos::conv3d_igemm_wgmma_tma(cosmos::igemm_geometry(d, 1, 1)) ? "wgmma tma" : "wgmma gather";
}

namespace {
// The packed weight, then one launch per group of output frames (at most `per` a launch) over the bf16 window that
// group_window(o0, nv, per) returns: nv virtual frames starting at o0 * st. Shared by the two entry points below.
template <class GroupWindow>
void igemm_run(void* out, bool out_bf16, int frames_in, int h, int w, const void* wgt_bf16, const void* wgt_packed,
               const float* bias, const Conv3dDims& d, const cosmos::CudaContext& ctx, size_t window_cap_bytes,
               GroupWindow&& group_window) {
  if (!conv3d_igemm_supported(d))
    throw std::invalid_argument("conv3d_igemm_cuda: d.cin must be a positive multiple of 8");
  const int ot = d.out_t(0, frames_in), oh = d.out_h(h), ow = d.out_w(w);
  if (ot <= 0 || oh <= 0 || ow <= 0) return;
  static const bool attr = [] {  // opt in to more than 48 KiB of dynamic shared memory, once
    CUDA_CHECK(cudaFuncSetAttribute(conv3d_igemm_kernel<false>, cudaFuncAttributeMaxDynamicSharedMemorySize, kSmem));
    CUDA_CHECK(cudaFuncSetAttribute(conv3d_igemm_kernel<true>, cudaFuncAttributeMaxDynamicSharedMemorySize, kSmem));
    return true;
  }();
  (void)attr;
  const cudaStream_t s = ctx.stream;
  cosmos::CudaPool& pool = cosmos::workspace_pool(ctx, "conv3d_igemm_cuda");
  const IgemmGeometry g = cosmos::igemm_geometry(d, h, w);
  cosmos::DeviceBuffer<bf16> own;  // the packed weight, where the caller did not pack it once
  if (!wgt_packed && !wgt_bf16) throw std::invalid_argument("conv3d_igemm_cuda: neither a weight nor its packed copy");
  if (!wgt_packed) {
    own = cosmos::DeviceBuffer<bf16>(pool, conv3d_igemm_packed_count(d));
    conv3d_igemm_pack_weight_cuda(own.get(), wgt_bf16, d, ctx);
    wgt_packed = own.get();
  }
  const bf16* packed = static_cast<const bf16*>(wgt_packed);
  const long long plane = (long long)oh * ow;
  int per = cosmos::igemm_frames_per_launch(d, ot, h, w, window_cap_bytes);
  if (per * plane > INT_MAX) per = (int)std::max<long long>(1, INT_MAX / plane);
  if (plane > INT_MAX) throw std::invalid_argument("conv3d_igemm_cuda: out_h * out_w too large");
  const size_t out_frame = (size_t)plane * d.cout, esz = out_bf16 ? 2 : 4;
  const bool pair = d.cout % 2 == 0 && reinterpret_cast<uintptr_t>(out) % (2 * esz) == 0;
  const bool wgmma = std::strncmp(conv3d_igemm_kernel(s, d), "wgmma", 5) == 0;
  for (int o0 = 0; o0 < ot; o0 += per) {
    const int frames = std::min(per, ot - o0);
    const bf16* win = group_window(o0, cosmos::igemm_window_frames(d, frames), per);
    const int M = (int)(frames * plane);
    dim3 grid(cosmos::ceil_div(M, BM), cosmos::ceil_div(d.cout, BN));
    void* o = static_cast<unsigned char*>(out) + (size_t)o0 * out_frame * esz;
    if (wgmma)
      cosmos::conv3d_igemm_wgmma_launch(o, out_bf16, win, packed, bias, g, M, pair, s);
    else if (out_bf16)
      conv3d_igemm_kernel<true><<<grid, kThreads, kSmem, s>>>(o, win, packed, bias, g, M, pair);
    else
      conv3d_igemm_kernel<false><<<grid, kThreads, kSmem, s>>>(o, win, packed, bias, g, M, pair);
    CUDA_CHECK_LAUNCH();
  }
}
}  // namespace

size_t conv3d_igemm_packed_count(const Conv3dDims& d) { return (size_t)d.cout * d.kt * d.kh * d.kw * d.cin; }

void conv3d_igemm_pack_weight_cuda(void* packed, const void* wgt_bf16, const Conv3dDims& d,
                                   const cosmos::CudaContext& ctx) {
  const long long nw = (long long)conv3d_igemm_packed_count(d);
  if (nw <= 0) return;
  igemm_pack_weight_kernel<<<cosmos::elementwise_blocks(nw), 256, 0, ctx.stream>>>(
      static_cast<bf16*>(packed), static_cast<const bf16*>(wgt_bf16), d.cin, d.kt * d.kh * d.kw, nw);
  CUDA_CHECK_LAUNCH();
}

void conv3d_igemm_cuda(void* out, bool out_bf16, const void* hist, int n_hist, const float* x, int t, int h, int w,
                       const void* wgt_bf16, const float* bias, const Conv3dDims& d, const cosmos::CudaContext& ctx,
                       size_t window_cap_bytes, bool hist_bf16, const void* wgt_packed) {
  const cudaStream_t s = ctx.stream;
  const size_t frame = (size_t)h * w * d.cin;
  cosmos::DeviceBuffer<bf16> win;  // sized for the first (largest) group
  igemm_run(out, out_bf16, n_hist + t, h, w, wgt_bf16, wgt_packed, bias, d, ctx, window_cap_bytes,
            [&](int o0, int nv, int per) -> const bf16* {
              if (!win.get())
                win = cosmos::DeviceBuffer<bf16>(cosmos::workspace_pool(ctx, "conv3d_igemm_cuda"),
                                                 (size_t)cosmos::igemm_window_frames(d, per) * frame);
              const int v0 = o0 * d.st;
              for (int i = 0; i < nv; ++i) {
                const int v = v0 + i;
                if (v < n_hist && hist && hist_bf16) {
                  CUDA_CHECK(cudaMemcpyAsync(win.get() + i * frame, static_cast<const bf16*>(hist) + (size_t)v * frame,
                                             frame * sizeof(bf16), cudaMemcpyDeviceToDevice, s));
                  continue;
                }
                const float* f = v < n_hist ? (hist ? static_cast<const float*>(hist) + (size_t)v * frame : nullptr)
                                            : x + (size_t)(v - n_hist) * frame;
                if (f)
                  cast_bf16_cuda(win.get() + i * frame, f, frame, ctx);
                else
                  CUDA_CHECK(cudaMemsetAsync(win.get() + i * frame, 0, frame * sizeof(bf16), s));
              }
              return win.get();
            });
}

void conv3d_igemm_window_cuda(void* out, bool out_bf16, const void* win, int frames, int h, int w, const void* wgt_bf16,
                              const float* bias, const Conv3dDims& d, const cosmos::CudaContext& ctx,
                              const void* wgt_packed) {
  const size_t frame = (size_t)h * w * d.cin;
  igemm_run(out, out_bf16, frames, h, w, wgt_bf16, wgt_packed, bias, d, ctx, cosmos::kIgemmWindowCapBytes,
            [&](int o0, int, int) { return static_cast<const bf16*>(win) + (size_t)o0 * d.st * frame; });
}
