// Wan's pixel patchify / unpatchify with the layout change, one thread per element of the channels-last side.
#ifndef COSMOS_CUDA
#define COSMOS_CUDA 1
#endif
#include "../core/cuda_common.h"
#include "pixel_patchify.h"

namespace {
// e indexes [nf, h, w, c*p*p]; returns the matching index into video [c, frames_total, h*p, w*p].
__device__ __forceinline__ long long video_index(long long e, int c, int frames_total, int f0, int h, int w, int p) {
  const int cp = c * p * p;
  const int ch = (int)(e % cp);
  const long long pix = e / cp;
  const int x = (int)(pix % w), y = (int)(pix / w % h);
  const long long f = pix / ((long long)h * w);
  const int ci = ch / (p * p), dx = ch / p % p, dy = ch % p;
  return (((long long)ci * frames_total + f0 + f) * h * p + (long long)y * p + dy) * w * p + (long long)x * p + dx;
}
__global__ void patchify_kernel(float* out, const float* video, int c, int ft, int f0, int h, int w, int p,
                                long long n) {
  for (long long e = blockIdx.x * (long long)blockDim.x + threadIdx.x; e < n; e += (long long)gridDim.x * blockDim.x)
    out[e] = video[video_index(e, c, ft, f0, h, w, p)];
}
__global__ void unpatchify_kernel(float* video, const float* in, int c, int ft, int f0, int h, int w, int p, bool clamp,
                                  long long n) {
  for (long long e = blockIdx.x * (long long)blockDim.x + threadIdx.x; e < n; e += (long long)gridDim.x * blockDim.x) {
    float v = in[e];
    if (clamp) v = fminf(1.f, fmaxf(-1.f, v));
    video[video_index(e, c, ft, f0, h, w, p)] = v;
  }
}
}  // namespace

void pixel_patchify_cuda(float* out, const float* video, int c, int frames_total, int f0, int nf, int H, int W, int p,
                         const cosmos::CudaContext& ctx) {
  const long long n = (long long)nf * H * W * c;
  if (n <= 0) return;
  patchify_kernel<<<cosmos::elementwise_blocks(n), 256, 0, ctx.stream>>>(out, video, c, frames_total, f0, H / p, W / p,
                                                                         p, n);
  CUDA_CHECK_LAUNCH();
}

void pixel_unpatchify_cuda(float* video, const float* in, int c, int frames_total, int f0, int nf, int h, int w, int p,
                           bool clamp, const cosmos::CudaContext& ctx) {
  const long long n = (long long)nf * h * w * c * p * p;
  if (n <= 0) return;
  unpatchify_kernel<<<cosmos::elementwise_blocks(n), 256, 0, ctx.stream>>>(video, in, c, frames_total, f0, h, w, p,
                                                                           clamp, n);
  CUDA_CHECK_LAUNCH();
}
