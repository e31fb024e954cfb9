// Nearest 2x spatial upsampling of channels-last frames (Wan's Upsample(scale 2, "nearest-exact"): for an
// integer factor 2 nearest-exact and nearest agree, out[2y + a, 2x + b] = in[y, x]). The input is read
// through a frame stride and a pixel stride so one half of a wider row can be upsampled in place: the
// decoder's time upsampling conv writes frame 2i's channels then frame 2i+1's in one [.., 2c] row.
//
// The bf16 form writes the values rounded to bf16 (round to nearest even): the input window of the 3x3 conv that
// follows every upsampling in the decoder (ops/conv3d.h conv3d_window_cuda), which rounds its operands so anyway.
#pragma once
#include <cstdint>
#ifdef COSMOS_CUDA
#include "../core/cuda_context.h"
#endif

// out [frames, 2h, 2w, c] (contiguous); in pixel (f, y, x) starts at x + f*frame_stride + (y*w + x)*pixel_stride.
void upsample_nearest2x_cpu(float* out, const float* x, int frames, int h, int w, int c, long long frame_stride,
                            int pixel_stride);
// out [frames, 2h, 2w, c] bf16 bits = cast_bf16(upsample_nearest2x_cpu(...)).
void upsample_nearest2x_bf16_cpu(uint16_t* out, const float* x, int frames, int h, int w, int c, long long frame_stride,
                                 int pixel_stride);

#ifdef COSMOS_CUDA
void upsample_nearest2x_cuda(float* out, const float* x, int frames, int h, int w, int c, long long frame_stride,
                             int pixel_stride, const cosmos::CudaContext& ctx);
// out: frames * 4h * w * c bf16 values (= cast_bf16_cuda of upsample_nearest2x_cuda's output, bit for bit).
void upsample_nearest2x_bf16_cuda(void* out, const float* x, int frames, int h, int w, int c, long long frame_stride,
                                  int pixel_stride, const cosmos::CudaContext& ctx);
#endif
