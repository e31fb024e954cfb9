// Nearest 2x upsampling. f32: one thread per output element (channels fastest: coalesced both ways). bf16: one
// thread per 4 channels of an input pixel (one 16-byte load, four 8-byte stores of its 2x2 copies) where c, the
// strides and the pointers allow, else one thread per output element.
#ifndef COSMOS_CUDA
#define COSMOS_CUDA 1
#endif
#include <cuda_bf16.h>

#include <cstdint>

#include "../core/cuda_common.h"
#include "mma_bf16.cuh"
#include "upsample_nearest.h"

namespace {
__device__ __forceinline__ void store(float* o, float v) { *o = v; }
__device__ __forceinline__ void store(__nv_bfloat16* o, float v) { *o = __float2bfloat16_rn(v); }
template <class Out>
__global__ void upsample2x_kernel(Out* out, const float* x, int h, int w, int c, long long frame_stride,
                                  int pixel_stride, long long n) {
  for (long long e = blockIdx.x * (long long)blockDim.x + threadIdx.x; e < n; e += (long long)gridDim.x * blockDim.x) {
    const int ci = (int)(e % c);
    const long long p = e / c;
    const int ox = (int)(p % (2 * w)), oy = (int)(p / (2 * w) % (2 * h));
    const long long f = p / (4ll * h * w);
    store(out + e, x[f * frame_stride + ((long long)(oy / 2) * w + ox / 2) * pixel_stride + ci]);
  }
}
// n = frames * h * w * (c / 4) input quads.
__global__ void upsample2x_bf16_vec_kernel(uint2* out, const float* x, int h, int w, int c4, long long frame_stride,
                                           int pixel_stride, long long n) {
  for (long long e = blockIdx.x * (long long)blockDim.x + threadIdx.x; e < n; e += (long long)gridDim.x * blockDim.x) {
    const int q = (int)(e % c4);
    const long long p = e / c4;
    const int ix = (int)(p % w), iy = (int)(p / w % h);
    const long long f = p / ((long long)h * w);
    const float4 v =
        __ldg(reinterpret_cast<const float4*>(x + f * frame_stride + ((long long)iy * w + ix) * pixel_stride) + q);
    const uint2 u = cosmos::pack_bf16x4(v);
    const long long row = (long long)2 * w * c4;  // an output row, in quads
    uint2* o = out + (f * 2 * h + 2 * iy) * row + (long long)2 * ix * c4 + q;
    o[0] = u, o[c4] = u, o[row] = u, o[row + c4] = u;
  }
}
}  // namespace

void upsample_nearest2x_bf16_cuda(void* out, const float* x, int frames, int h, int w, int c, long long frame_stride,
                                  int pixel_stride, const cosmos::CudaContext& ctx) {
  const long long n = (long long)frames * 4 * h * w * c;
  if (n <= 0) return;
  const bool vec = c % 4 == 0 && pixel_stride % 4 == 0 && frame_stride % 4 == 0 &&
                   reinterpret_cast<uintptr_t>(x) % 16 == 0 && reinterpret_cast<uintptr_t>(out) % 8 == 0;
  if (vec) {
    const long long quads = n / 16;  // input pixels x c / 4
    upsample2x_bf16_vec_kernel<<<cosmos::elementwise_blocks(quads), 256, 0, ctx.stream>>>(
        static_cast<uint2*>(out), x, h, w, c / 4, frame_stride, pixel_stride, quads);
  } else {
    upsample2x_kernel<<<cosmos::elementwise_blocks(n), 256, 0, ctx.stream>>>(static_cast<__nv_bfloat16*>(out), x, h, w,
                                                                             c, frame_stride, pixel_stride, n);
  }
  CUDA_CHECK_LAUNCH();
}

void upsample_nearest2x_cuda(float* out, const float* x, int frames, int h, int w, int c, long long frame_stride,
                             int pixel_stride, const cosmos::CudaContext& ctx) {
  const long long n = (long long)frames * 4 * h * w * c;
  if (n <= 0) return;
  upsample2x_kernel<<<cosmos::elementwise_blocks(n), 256, 0, ctx.stream>>>(out, x, h, w, c, frame_stride, pixel_stride,
                                                                           n);
  CUDA_CHECK_LAUNCH();
}
