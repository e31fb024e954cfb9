// conv3d: a 3D convolution over channels-last frames as im2col + our matmul (an implicit GEMM), with
// the causal time axis of Wan's CausalConv3d: the frames before the call's first frame come from a
// history the caller keeps (the previous chunk's last frames, or zeros at the start of a stream), so
// a video processed chunk by chunk gives the numbers of one pass over the whole video. A 2D conv is
// kt = 1 with no history; a 1x1x1 conv is a plain matmul (no im2col).
//
// Layout: every frame is [h, w, cin] row-major (channels last), so a frame's pixels are the matmul's
// rows and out comes back channels-last too. Weights stay in PyTorch's Conv3d layout
// [cout, cin, kt, kh, kw] (Conv2d: [cout, cin, kh, kw]): the im2col column of tap (ci, dt, dy, dx) is
// ci*kt*kh*kw + (dt*kh + dy)*kw + dx, the weight's own flattening, so checkpoint tensors are used as stored.
#pragma once
#include "../core/parallel.h"  // CpuContext
#include "matmul.h"            // WType
#ifdef COSMOS_CUDA
#include "../core/cuda_context.h"
#endif

struct Conv3dDims {
  int cin = 0, cout = 0;
  int kt = 1, kh = 1, kw = 1;
  int st = 1, sh = 1, sw = 1;                                    // strides (time, height, width)
  int pad_top = 0, pad_bottom = 0, pad_left = 0, pad_right = 0;  // spatial zero padding
  int taps() const { return kt * kh * kw; }
  int k() const { return cin * kt * kh * kw; }  // im2col row length = the weight's row length
  int out_h(int h) const { return (h + pad_top + pad_bottom - kh) / sh + 1; }
  int out_w(int w) const { return (w + pad_left + pad_right - kw) / sw + 1; }
  // The frames in = [hist (n_hist) | x (t)] give (n_hist + t - kt) / st + 1 output frames (0 when too few).
  int out_t(int n_hist, int t) const { return n_hist + t < kt ? 0 : (n_hist + t - kt) / st + 1; }
};

// out [out_t, out_h, out_w, cout] = conv over the virtual frames [hist (n_hist frames; null = zeros) | x
// (t frames)], each [h, w, cin]; output frame o reads virtual frames o*st .. o*st + kt - 1. w [cout, k()],
// bias [cout] or null. The im2col rows are built in blocks of at most 4M floats (heap, per call) and
// multiplied by matmul_cpu, so scratch stays bounded at any frame size.
void conv3d_cpu(float* out, const float* hist, int n_hist, const float* x, int t, int h, int w, const float* wgt,
                const float* bias, const Conv3dDims& d, const cosmos::CpuContext& ctx);

#ifdef COSMOS_CUDA
// Device pointers. im2col into a workspace from ctx.pool (row blocks of at most 256 MiB), then matmul_cuda
// (bf16 tensor cores or exact f32 by wt); the 1x1x1 stride-1 unpadded case calls matmul_cuda on x directly.
// bf16-weight convs larger than 1x1x1 with cin % 8 == 0 go to conv3d_igemm_cuda (ops/conv3d_igemm.h, no im2col
// matrix) instead, checked on the H200 by tools/device/vae_conv_check.sh; COSMOS_VAE_CONV=im2col turns that off.
// hist_bf16: hist holds bf16 frames (ops/cast_bf16.h); only where conv3d_cuda_bf16_history(d, wt)
// (std::invalid_argument otherwise). wgt_packed (nullable): the implicit GEMM's tap-major weight, packed once by the
// caller (ops/conv3d_igemm.h conv3d_igemm_pack_weight_cuda), read instead of packing wgt per call; with it, wgt may
// be null (given back) where the conv runs as an implicit GEMM (std::invalid_argument where it would need wgt).
void conv3d_cuda(float* out, const void* hist, int n_hist, const float* x, int t, int h, int w, const void* wgt,
                 WType wt, const float* bias, const Conv3dDims& d, const cosmos::CudaContext& ctx,
                 bool hist_bf16 = false, const void* wgt_packed = nullptr);
// Whether conv3d_cuda takes this conv's history in bf16: it runs it as conv3d_igemm, whose window rounds the history
// to bf16 anyway, so a caller that keeps history frames between calls (the Wan VAE's causal convs) can keep them in
// bf16, half the bytes, with a bit-identical result. Read at each call (COSMOS_VAE_CONV=im2col: false).
bool conv3d_cuda_bf16_history(const Conv3dDims& d, WType wt);
// conv3d_cuda over a bf16 window that already holds every virtual frame: win [frames, h, w, cin] bf16 = [hist |
// x] as conv3d_cuda's implicit GEMM would round them; out [d.out_t(0, frames), out_h, out_w, cout]. Bit-identical to
// conv3d_cuda with those frames as hist (bf16) and x. Only where conv3d_cuda_bf16_history(d, wt)
// (std::invalid_argument otherwise): the producer of a conv's input (the Wan VAE's norms and upsampling) writes the
// window directly, with no f32 copy of it and no rounding pass (ops/wan_rmsnorm.h, ops/upsample_nearest.h).
void conv3d_window_cuda(float* out, const void* win, int frames, int h, int w, const void* wgt, WType wt,
                        const float* bias, const Conv3dDims& d, const cosmos::CudaContext& ctx,
                        const void* wgt_packed = nullptr);
#endif
