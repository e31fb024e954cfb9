#include <algorithm>

#include "pixel_patchify.h"

void pixel_patchify_cpu(float* out, const float* video, int c, int frames_total, int f0, int nf, int H, int W, int p) {
  const int h = H / p, w = W / p, cp = c * p * p;
  for (int f = 0; f < nf; ++f)
    for (int y = 0; y < h; ++y)
      for (int x = 0; x < w; ++x) {
        float* o = out + (((long long)f * h + y) * w + x) * cp;
        for (int ci = 0; ci < c; ++ci)
          for (int dx = 0; dx < p; ++dx)
            for (int dy = 0; dy < p; ++dy)
              o[(ci * p + dx) * p + dy] =
                  video[(((long long)ci * frames_total + f0 + f) * H + y * p + dy) * W + x * p + dx];
      }
}

void pixel_unpatchify_cpu(float* video, const float* in, int c, int frames_total, int f0, int nf, int h, int w, int p,
                          bool clamp) {
  const int H = h * p, W = w * p, cp = c * p * p;
  for (int f = 0; f < nf; ++f)
    for (int y = 0; y < h; ++y)
      for (int x = 0; x < w; ++x) {
        const float* s = in + (((long long)f * h + y) * w + x) * cp;
        for (int ci = 0; ci < c; ++ci)
          for (int dx = 0; dx < p; ++dx)
            for (int dy = 0; dy < p; ++dy) {
              float v = s[(ci * p + dx) * p + dy];
              if (clamp) v = std::min(1.f, std::max(-1.f, v));
              video[(((long long)ci * frames_total + f0 + f) * H + y * p + dy) * W + x * p + dx] = v;
            }
      }
}
