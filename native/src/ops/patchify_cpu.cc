#include "patchify.h"

#include <cstddef>

namespace {
// Where token (t, i, j), feature (py, px, c) lives in the latents; -1 in the padding.
inline long long latent_index(int t, int i, int j, int py, int px, int c, int T, int H, int W, int p) {
  const int y = i * p + py, x = j * p + px;
  if (y >= H || x >= W) return -1;
  return (((long long)c * T + t) * H + y) * W + x;
}
}  // namespace

void patchify_cpu(float* tokens, const float* latents, int C, int T, int H, int W, int p) {
  const int hp = (H + p - 1) / p, wp = (W + p - 1) / p, F = p * p * C;
  for (int t = 0; t < T; ++t)
    for (int i = 0; i < hp; ++i)
      for (int j = 0; j < wp; ++j) {
        float* row = tokens + (((size_t)t * hp + i) * wp + j) * F;
        for (int py = 0; py < p; ++py)
          for (int px = 0; px < p; ++px)
            for (int c = 0; c < C; ++c) {
              const long long s = latent_index(t, i, j, py, px, c, T, H, W, p);
              row[(py * p + px) * C + c] = s < 0 ? 0.f : latents[s];
            }
      }
}

void unpatchify_cpu(float* latents, const float* tokens, const int* frames, int n_frames, int C, int T, int H, int W,
                    int p) {
  const int hp = (H + p - 1) / p, wp = (W + p - 1) / p, F = p * p * C;
  for (int f = 0; f < n_frames; ++f)
    for (int i = 0; i < hp; ++i)
      for (int j = 0; j < wp; ++j) {
        const float* row = tokens + (((size_t)f * hp + i) * wp + j) * F;
        for (int py = 0; py < p; ++py)
          for (int px = 0; px < p; ++px)
            for (int c = 0; c < C; ++c) {
              const long long d = latent_index(frames[f], i, j, py, px, c, T, H, W, p);
              if (d >= 0) latents[d] = row[(py * p + px) * C + c];
            }
      }
}
