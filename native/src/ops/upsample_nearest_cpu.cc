#include <cstring>

#include <vector>

#include "cast_bf16.h"
#include "upsample_nearest.h"

void upsample_nearest2x_cpu(float* out, const float* x, int frames, int h, int w, int c, long long frame_stride,
                            int pixel_stride) {
  for (int f = 0; f < frames; ++f)
    for (int oy = 0; oy < 2 * h; ++oy)
      for (int ox = 0; ox < 2 * w; ++ox) {
        const float* src = x + f * frame_stride + ((long long)(oy / 2) * w + ox / 2) * pixel_stride;
        std::memcpy(out + (((long long)f * 2 * h + oy) * 2 * w + ox) * c, src, sizeof(float) * c);
      }
}

void upsample_nearest2x_bf16_cpu(uint16_t* out, const float* x, int frames, int h, int w, int c, long long frame_stride,
                                 int pixel_stride) {
  const size_t frame = (size_t)4 * h * w * c;
  std::vector<float> f32(frame);
  for (int f = 0; f < frames; ++f) {
    upsample_nearest2x_cpu(f32.data(), x + f * frame_stride, 1, h, w, c, frame_stride, pixel_stride);
    cast_bf16_cpu(out + f * frame, f32.data(), frame);
  }
}
