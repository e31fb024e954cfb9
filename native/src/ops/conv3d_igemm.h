// conv3d_igemm: the Wan VAE's 3D convolution (ops/conv3d.h, same arguments and numbers up to bf16 rounding) as
// an implicit GEMM on tensor cores: no im2col matrix. out[M, cout] = A[M, K] · B[cout, K]^T with M the output
// pixels and K = taps * cin ordered tap-major (tap = (dt*kh + dy)*kw + dx, then the channel), so a k-tile is
// 64 channels of one tap: 64 consecutive bf16 of one input pixel (channels-last) and of one packed weight row.
//
// Per call (conv3d_igemm_cuda):
//  1. the weight [cout, cin, kt, kh, kw] (bf16, PyTorch's layout) is repacked tap-major [cout, taps, cin] into a
//     pool workspace (one gather pass, <= 57 MB on Wan2.2), unless the caller packed it once already
//     (conv3d_igemm_pack_weight_cuda, wgt_packed: the Wan VAE does at load);
//  2. output frames go in groups whose input window ((g-1)*st + kt virtual frames of [hist | x]) fits 256 MiB as
//     bf16 (at least one output frame): the window is rounded to bf16 into a pool workspace (zeros for a null
//     history), the only copy of the activations — 1/27 of the f32 im2col matrix of a 3x3x3 conv;
//  3. one kernel per group: 128x128x64 block tiles, 8 warps of 64x32, mma.sync m16n8k16 bf16 -> f32, the A tile
//     gathered straight from the window (16-byte cp.async per 8 channels, zero-filled outside the frame, i.e.
//     the conv's zero padding), 3-stage cp.async pipeline, XOR-swizzled shared memory read by ldmatrix; bias in
//     the epilogue; f32 or bf16 output.
// The index math below is shared by the kernel and by conv3d_igemm_emulate_cpu (conv3d_igemm_cpu.cc), which
// runs the same tiles, windows and bf16 rounding on the host, so the CPU tests check it (ops_cpu_test).
//
// Needs cin % 8 == 0 (16-byte chunks of channels; Wan2.2's decoder: 48, 256, 512, 1024 — the tiny fixture's
// 12-channel convs are not eligible) and bf16 weights: conv3d_igemm_supported. Results vs conv3d_cpu: the
// operands rounded to bf16, f32 accumulation (~1e-2 of max |out|, as matmul_cuda's bf16 GEMM).
//
// Checked on the H200 by tools/device/vae_conv_check.sh (2026-11-30: vs its host emulation and conv3d_cpu, the
// tiny fixture's VAE vs CPU and diffusers, the 480x832 decoder vs im2col; HMMA, no local memory). conv3d_cuda uses
// it by default; COSMOS_VAE_CONV=im2col turns it off.
#pragma once
#include <cstddef>
#include <cstdint>
#include <cstring>

#include "conv3d.h"

#if defined(__CUDACC__)
#define COSMOS_IGEMM_HD __host__ __device__ __forceinline__
#else
#define COSMOS_IGEMM_HD inline
#endif

namespace cosmos {

// Block tile (rows = output pixels, columns = output channels, k-tile = channels of one tap).
constexpr int kIgemmBM = 128, kIgemmBN = 128, kIgemmBK = 64;
// The bf16 input window of one launch is at most this many bytes (unless one output frame needs more).
constexpr size_t kIgemmWindowCapBytes = (size_t)256 << 20;

// The geometry of one launch: input frames [h, w, cin] of a window of virtual frames, output frames [oh, ow].
struct IgemmGeometry {
  int cin = 0, cout = 0;
  int kt = 1, kh = 1, kw = 1;
  int st = 1, sh = 1, sw = 1;
  int pad_top = 0, pad_left = 0;
  int h = 0, w = 0, oh = 0, ow = 0;
  COSMOS_IGEMM_HD int taps() const { return kt * kh * kw; }
  COSMOS_IGEMM_HD int kblocks() const { return (cin + kIgemmBK - 1) / kIgemmBK; }  // k-tiles per tap
  COSMOS_IGEMM_HD int ktiles() const { return taps() * kblocks(); }
};

inline IgemmGeometry igemm_geometry(const Conv3dDims& d, int h, int w) {
  IgemmGeometry g;
  g.cin = d.cin, g.cout = d.cout, g.kt = d.kt, g.kh = d.kh, g.kw = d.kw, g.st = d.st, g.sh = d.sh, g.sw = d.sw;
  g.pad_top = d.pad_top, g.pad_left = d.pad_left, g.h = h, g.w = w, g.oh = d.out_h(h), g.ow = d.out_w(w);
  return g;
}

// Where output row r (of the launch) reads from: its window frame for dt = 0 and its top-left input pixel
// (possibly in the padding, negative).
struct IgemmRowOrigin {
  int v = 0, iy = 0, ix = 0;
};
COSMOS_IGEMM_HD IgemmRowOrigin igemm_row_origin(const IgemmGeometry& g, int r) {
  const int plane = g.oh * g.ow, o = r / plane, p = r - o * plane, oy = p / g.ow, ox = p - oy * g.ow;
  return IgemmRowOrigin{o * g.st, oy * g.sh - g.pad_top, ox * g.sw - g.pad_left};
}

// k-tile kt: tap (dt, dy, dx) and first channel ci0.
struct IgemmKTile {
  int tap = 0, dt = 0, dy = 0, dx = 0, ci0 = 0;
};
COSMOS_IGEMM_HD IgemmKTile igemm_ktile(const IgemmGeometry& g, int kt) {
  const int kb = g.kblocks(), tap = kt / kb, plane = g.kh * g.kw;
  IgemmKTile t;
  t.tap = tap, t.ci0 = (kt - tap * kb) * kIgemmBK;
  t.dt = tap / plane;
  const int rest = tap - t.dt * plane;
  t.dy = rest / g.kw, t.dx = rest - t.dy * g.kw;
  return t;
}

// The k-tile after t, igemm_ktile(g, kt + 1) without divisions (k-tiles run channel blocks fastest, then dx, dy,
// dt): the kernel walks its k-tiles in order with it.
COSMOS_IGEMM_HD void igemm_ktile_next(const IgemmGeometry& g, IgemmKTile& t) {
  t.ci0 += kIgemmBK;
  if (t.ci0 < g.cin) return;
  t.ci0 = 0, ++t.tap;
  if (++t.dx < g.kw) return;
  t.dx = 0;
  if (++t.dy < g.kh) return;
  t.dy = 0, ++t.dt;
}

// Element offset of A[row, (tap, ci)] in the window [frames, h, w, cin], or -1 where the conv reads its zero
// padding or ci >= cin (the k-tile's tail past the channels).
COSMOS_IGEMM_HD long long igemm_a_offset(const IgemmGeometry& g, const IgemmRowOrigin& o, const IgemmKTile& t, int ci) {
  const int iy = o.iy + t.dy, ix = o.ix + t.dx;
  if (ci >= g.cin || iy < 0 || iy >= g.h || ix < 0 || ix >= g.w) return -1;
  return ((long long)((o.v + t.dt) * g.h + iy) * g.w + ix) * g.cin + ci;
}

// Element offset of B[n, (tap, ci)] in the packed weight [cout, taps, cin], or -1 past cout / cin.
COSMOS_IGEMM_HD long long igemm_b_offset(const IgemmGeometry& g, int n, int tap, int ci) {
  if (n >= g.cout || ci >= g.cin) return -1;
  return ((long long)n * g.taps() + tap) * g.cin + ci;
}

// The packed weight's element i = (n*taps + tap)*cin + ci comes from PyTorch's w[n, ci, tap] at this offset.
COSMOS_IGEMM_HD long long igemm_pack_source(int cin, int taps, long long i) {
  const int ci = (int)(i % cin);
  const long long nt = i / cin;
  const int tap = (int)(nt % taps);
  const long long n = nt / taps;
  return (n * cin + ci) * taps + tap;
}

// Output frames per launch: the most whose window fits `cap` bytes as bf16 (at least 1, at most ot).
inline int igemm_frames_per_launch(const Conv3dDims& d, int ot, int h, int w, size_t cap = kIgemmWindowCapBytes) {
  const size_t frame = (size_t)h * w * d.cin * 2;
  const long long fit = (long long)(cap / (frame ? frame : 1));
  long long g = fit < d.kt ? 1 : (fit - d.kt) / d.st + 1;
  return (int)(g < 1 ? 1 : (g > ot ? ot : g));
}
// Window of output frames [o0, o0 + g): virtual frames [o0*st, o0*st + (g-1)*st + kt).
inline int igemm_window_frames(const Conv3dDims& d, int g) { return (g - 1) * d.st + d.kt; }

// f32 -> bf16 -> f32 on the host, round to nearest even as __float2bfloat16_rn (NaN stays NaN).
inline float igemm_round_bf16(float f) {
  uint32_t u;
  std::memcpy(&u, &f, 4);
  if ((u & 0x7fffffffu) > 0x7f800000u) return f;
  u += 0x7fffu + ((u >> 16) & 1u);
  u &= 0xffff0000u;
  std::memcpy(&f, &u, 4);
  return f;
}

}  // namespace cosmos

// Whether conv3d_igemm_cuda takes this conv: cin % 8 == 0 (16-byte channel chunks), any kernel, stride, padding.
inline bool conv3d_igemm_supported(const Conv3dDims& d) { return d.cin > 0 && d.cin % 8 == 0 && d.cout > 0; }

// The kernel's tiling, window grouping and bf16 rounding on the host (f32 accumulation): out as conv3d_cuda /
// conv3d_cpu with x, hist and wgt rounded to bf16. wgt: PyTorch's layout in f32. For the CPU tests of the index
// math (the op's twin for results is conv3d_cpu); slow, single-threaded. out_bf16 rounds the outputs to bf16;
// window_cap_bytes as conv3d_igemm_cuda's.
void conv3d_igemm_emulate_cpu(float* out, const float* hist, int n_hist, const float* x, int t, int h, int w,
                              const float* wgt, const float* bias, const Conv3dDims& d, bool out_bf16,
                              size_t window_cap_bytes = cosmos::kIgemmWindowCapBytes);

#ifdef COSMOS_CUDA
#include "../core/cuda_context.h"
// Device pointers; arguments as conv3d_cuda with bf16 weights (wgt [cout, cin, kt, kh, kw]). out is f32
// [out_t, out_h, out_w, cout], or bf16 when out_bf16. Workspaces (packed weight, bf16 window) from ctx.pool.
// Throws std::invalid_argument when !conv3d_igemm_supported(d). window_cap_bytes bounds the bf16 window of one
// launch (tests pass a small one to run several launches on small frames).
// COSMOS_VAE_CONV, the VAE convolutions' path: unset = the fastest the device has; "im2col" = im2col + matmul_cuda
// (conv3d.cu, the old baseline); "mma" = conv3d_igemm on mma.sync; "gather" = conv3d_igemm on wgmma with the
// cp.async tap gather for every conv (not the TMA kernel). Read at each call, so a test can switch it (setenv).
enum class VaeConvSwitch { Fastest, Im2col, MmaSync, WgmmaGather };
VaeConvSwitch vae_conv_switch();
// Which kernel conv3d_igemm_cuda launches for this conv: "wgmma tma" (ops/conv3d_igemm_wgmma.h: stride 1, on an
// sm_90 device with the sm_90a object), "wgmma gather" (the same device, other strides or COSMOS_VAE_CONV=gather) or
// "mma.sync" (conv3d_igemm.cu's; also where COSMOS_VAE_CONV=mma).
const char* conv3d_igemm_kernel(cudaStream_t stream, const Conv3dDims& d);
// hist_bf16: the history frames are bf16 already (ops/cast_bf16.h), copied into the window as they are; the window
// would round f32 ones the same way, so the result is bit-identical.
// wgt_packed: wgt_bf16 packed by conv3d_igemm_pack_weight_cuda (the same bytes step 1 makes, so the same result), or
// null to pack it here.
void conv3d_igemm_cuda(void* out, bool out_bf16, const void* hist, int n_hist, const float* x, int t, int h, int w,
                       const void* wgt_bf16, const float* bias, const Conv3dDims& d, const cosmos::CudaContext& ctx,
                       size_t window_cap_bytes = cosmos::kIgemmWindowCapBytes, bool hist_bf16 = false,
                       const void* wgt_packed = nullptr);
// The same over a window the caller built: win holds all `frames` virtual frames [frames, h, w, cin] in bf16 (what
// step 2 above would round [hist | x] to), so nothing is copied or rounded here; bit-identical to conv3d_igemm_cuda
// with those frames as hist / x. Output frames d.out_t(0, frames).
void conv3d_igemm_window_cuda(void* out, bool out_bf16, const void* win, int frames, int h, int w, const void* wgt_bf16,
                              const float* bias, const Conv3dDims& d, const cosmos::CudaContext& ctx,
                              const void* wgt_packed = nullptr);
// Step 1 once, for a caller that keeps the result: packed [cout, taps, cin] bf16 (conv3d_igemm_packed_count(d)
// elements, device memory) from wgt_bf16 [cout, cin, kt, kh, kw], enqueued on ctx.stream.
size_t conv3d_igemm_packed_count(const Conv3dDims& d);
void conv3d_igemm_pack_weight_cuda(void* packed, const void* wgt_bf16, const Conv3dDims& d,
                                   const cosmos::CudaContext& ctx);
#endif
