// conv3d on the GPU: im2col of a block of output rows into a pool workspace, then matmul_cuda (an implicit
// GEMM in two launches). The fused implicit-GEMM kernels (ops/conv3d_igemm.h) take the eligible convs by default
// (COSMOS_VAE_CONV=im2col: the two launches again). See conv3d.h.
#ifndef COSMOS_CUDA
#define COSMOS_CUDA 1
#endif
#include <algorithm>
#include <stdexcept>

#include "../core/cuda_common.h"
#include "conv3d.h"
#include "conv3d_igemm.h"

namespace {
// One thread per im2col element, ci fastest so the reads of a pixel's channels coalesce (channels-last);
// the writes go to column ci*taps + tap, the weight's own order.
__global__ void im2col_kernel(float* col, const float* hist, int n_hist, const float* x, int h, int w, Conv3dDims d,
                              long long r0, long long n, int oh, int ow) {
  const int taps = d.kt * d.kh * d.kw, k = d.cin * taps;
  const long long frame = (long long)h * w * d.cin;
  for (long long e = blockIdx.x * (long long)blockDim.x + threadIdx.x; e < n; e += (long long)gridDim.x * blockDim.x) {
    const int ci = (int)(e % d.cin);
    const long long rt = e / d.cin;
    const int tap = (int)(rt % taps);
    const long long i = rt / taps, r = r0 + i;
    const int o = (int)(r / ((long long)oh * ow)), oy = (int)(r / ow % oh), ox = (int)(r % ow);
    const int dt = tap / (d.kh * d.kw), dy = tap / d.kw % d.kh, dx = tap % d.kw;
    const int v = o * d.st + dt, iy = oy * d.sh - d.pad_top + dy, ix = ox * d.sw - d.pad_left + dx;
    const float* f = v < n_hist ? (hist ? hist + v * frame : nullptr) : x + (v - n_hist) * frame;
    float val = 0.f;
    if (f && iy >= 0 && iy < h && ix >= 0 && ix < w) val = f[((long long)iy * w + ix) * d.cin + ci];
    col[i * k + (long long)ci * taps + tap] = val;
  }
}
// The bf16-weight convs with a kernel larger than 1x1x1 (and cin % 8 == 0) go to conv3d_igemm_cuda (no im2col
// matrix): on by default since tools/device/vae_conv_check.sh passed on the H200 (2026-11-30: 480x832 x 189-frame
// decode 39.3 -> 6.8 s, igemm vs im2col 4.4e-3 of max |out|). COSMOS_VAE_CONV=im2col keeps the im2col + matmul
// path (the comparison baseline).
bool igemm_enabled() { return vae_conv_switch() != VaeConvSwitch::Im2col; }
}  // namespace

bool conv3d_cuda_bf16_history(const Conv3dDims& d, WType wt) {
  return wt == WType::BF16 && conv3d_igemm_supported(d) && igemm_enabled();
}

void conv3d_cuda(float* out, const void* hist_in, int n_hist, const float* x, int t, int h, int w, const void* wgt,
                 WType wt, const float* bias, const Conv3dDims& d, const cosmos::CudaContext& ctx, bool hist_bf16,
                 const void* wgt_packed) {
  if (hist_bf16 && !conv3d_cuda_bf16_history(d, wt))
    throw std::invalid_argument("conv3d_cuda: a bf16 history needs the implicit-GEMM path (conv3d_cuda_bf16_history)");
  const float* hist = static_cast<const float*>(hist_in);  // f32 unless hist_bf16 (then only conv3d_igemm reads it)
  const int ot = d.out_t(n_hist, t), oh = d.out_h(h), ow = d.out_w(w);
  if (ot <= 0 || oh <= 0 || ow <= 0) return;
  const long long rows = (long long)ot * oh * ow;
  const bool pointwise = d.kt == 1 && d.kh == 1 && d.kw == 1 && d.st == 1 && d.sh == 1 && d.sw == 1 && n_hist == 0 &&
                         d.pad_top == 0 && d.pad_bottom == 0 && d.pad_left == 0 && d.pad_right == 0;
  if (pointwise) {
    for (long long r0 = 0; r0 < rows; r0 += (1ll << 30)) {
      const int nr = (int)std::min(rows - r0, 1ll << 30);
      matmul_cuda(out + r0 * d.cout, x + r0 * d.cin, wgt, wt, bias, nr, d.cin, d.cout, ctx);
    }
    return;
  }
  if (conv3d_cuda_bf16_history(d, wt)) {
    conv3d_igemm_cuda(out, false, hist_in, n_hist, x, t, h, w, wgt, bias, d, ctx, cosmos::kIgemmWindowCapBytes,
                      hist_bf16, wgt_packed);
    return;
  }
  if (!wgt)
    throw std::invalid_argument(
        "conv3d_cuda: the weight was given back for its packed copy, and this conv runs on im2col + matmul, which "
        "reads the original: set COSMOS_VAE_CONV=im2col (or COSMOS_VAE_PACK=call) before the Wan VAE loads");
  const int k = d.k();
  const long long block = std::max<long long>(
      1, std::min<long long>(rows, (64ll << 20) / k));  // <= 256 MiB: GEMMs tall enough to fill the GPU
  cosmos::DeviceBuffer<float> col(cosmos::workspace_pool(ctx, "conv3d_cuda (im2col)"), (size_t)block * k);
  for (long long r0 = 0; r0 < rows; r0 += block) {
    const int nr = (int)std::min(block, rows - r0);
    const long long n = (long long)nr * k;
    im2col_kernel<<<cosmos::elementwise_blocks(n), 256, 0, ctx.stream>>>(col.get(), hist, n_hist, x, h, w, d, r0, n, oh,
                                                                         ow);
    CUDA_CHECK_LAUNCH();
    matmul_cuda(out + r0 * d.cout, col.get(), wgt, wt, bias, nr, k, d.cout, ctx);
  }
}

void conv3d_window_cuda(float* out, const void* win, int frames, int h, int w, const void* wgt, WType wt,
                        const float* bias, const Conv3dDims& d, const cosmos::CudaContext& ctx,
                        const void* wgt_packed) {
  if (!conv3d_cuda_bf16_history(d, wt))
    throw std::invalid_argument(
        "conv3d_window_cuda: a bf16 window needs the implicit-GEMM path (conv3d_cuda_bf16_history)");
  conv3d_igemm_window_cuda(out, false, win, frames, h, w, wgt, bias, d, ctx, wgt_packed);
}
