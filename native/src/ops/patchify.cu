#ifndef COSMOS_CUDA
#define COSMOS_CUDA 1
#endif
#include "patchify.h"

#include "../core/cuda_common.h"

namespace {
// One thread per latent element of the frames handled: reads and writes are coalesced along W on the
// latent side; the token side is strided by C (the features are channel fastest).
__global__ void patchify_kernel(float* tokens, const float* latents, int C, int T, int H, int W, int p, int hp,
                                int wp) {
  const long long Hp = (long long)hp * p, Wp = (long long)wp * p, total = (long long)C * T * Hp * Wp;
  for (long long e = blockIdx.x * (long long)blockDim.x + threadIdx.x; e < total;
       e += (long long)gridDim.x * blockDim.x) {
    const int x = (int)(e % Wp), y = (int)(e / Wp % Hp), t = (int)(e / (Wp * Hp) % T), c = (int)(e / (Wp * Hp * T));
    const int i = y / p, py = y % p, j = x / p, px = x % p;
    const float v = (y < H && x < W) ? latents[(((long long)c * T + t) * H + y) * W + x] : 0.f;
    tokens[(((long long)t * hp + i) * wp + j) * p * p * C + (py * p + px) * C + c] = v;
  }
}

__global__ void unpatchify_frame_kernel(float* latents, const float* tokens, int frame, int C, int T, int H, int W,
                                        int p, int hp, int wp) {
  const long long total = (long long)C * H * W;
  for (long long e = blockIdx.x * (long long)blockDim.x + threadIdx.x; e < total;
       e += (long long)gridDim.x * blockDim.x) {
    const int x = (int)(e % W), y = (int)(e / W % H), c = (int)(e / ((long long)W * H));
    const int i = y / p, py = y % p, j = x / p, px = x % p;
    latents[(((long long)c * T + frame) * H + y) * W + x] =
        tokens[((long long)i * wp + j) * p * p * C + (py * p + px) * C + c];
  }
}
}  // namespace

void patchify_cuda(float* tokens, const float* latents, int C, int T, int H, int W, int p,
                   const cosmos::CudaContext& ctx) {
  const int hp = (H + p - 1) / p, wp = (W + p - 1) / p;
  const long long total = (long long)C * T * hp * p * wp * p;
  if (total <= 0) return;
  patchify_kernel<<<cosmos::elementwise_blocks(total), 256, 0, ctx.stream>>>(tokens, latents, C, T, H, W, p, hp, wp);
  CUDA_CHECK_LAUNCH();
}

void unpatchify_cuda(float* latents, const float* tokens, const int* frames, int n_frames, int C, int T, int H, int W,
                     int p, const cosmos::CudaContext& ctx) {
  const int hp = (H + p - 1) / p, wp = (W + p - 1) / p;
  const long long per_frame = (long long)C * H * W;
  if (per_frame <= 0) return;
  for (int f = 0; f < n_frames; ++f) {
    unpatchify_frame_kernel<<<cosmos::elementwise_blocks(per_frame), 256, 0, ctx.stream>>>(
        latents, tokens + (long long)f * hp * wp * p * p * C, frames[f], C, T, H, W, p, hp, wp);
    CUDA_CHECK_LAUNCH();
  }
}
