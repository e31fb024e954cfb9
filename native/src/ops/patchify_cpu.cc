#include "patchify.h"

void patchify_cpu(float* tokens, const float* latents, int C, int T, int H, int W, int p) {
  const int hp = (H + p - 1) / p, wp = (W + p - 1) / p;
  for (int t = 0; t < T; ++t)
    for (int i = 0; i < hp; ++i)
      for (int j = 0; j < wp; ++j)
        for (int py = 0; py < p; ++py)
          for (int px = 0; px < p; ++px)
            for (int c = 0; c < C; ++c) {
              const int y = i * p + py, x = j * p + px;
              tokens[(((long long)t * hp + i) * wp + j) * p * p * C + (py * p + px) * C + c] =
                  (y < H && x < W) ? latents[(((long long)c * T + t) * H + y) * W + x] : 0.f;
            }
}

void unpatchify_cpu(float* latents, const float* tokens, const int* frames, int n_frames, int C, int T, int H, int W,
                    int p) {
  const int hp = (H + p - 1) / p, wp = (W + p - 1) / p;
  for (int f = 0; f < n_frames; ++f) {
    const float* tk = tokens + (long long)f * hp * wp * p * p * C;
    for (int c = 0; c < C; ++c)
      for (int y = 0; y < H; ++y)
        for (int x = 0; x < W; ++x)
          latents[(((long long)c * T + frames[f]) * H + y) * W + x] =
              tk[((long long)(y / p) * wp + x / p) * p * p * C + ((y % p) * p + x % p) * C + c];
  }
}
