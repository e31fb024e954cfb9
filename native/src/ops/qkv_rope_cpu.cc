#include "qkv_rope.h"

#include <cstring>
#include <vector>

#include "rmsnorm.h"

namespace {
// One head vector: optional RMSNorm (rmsnorm_cpu's double sum), then rotate_half with this token's
// cos/sin, written to dst (dst may be src).
void norm_rope(float* dst, const float* src, const float* w, const float* c, const float* s, int hd, float eps,
               float* tmp) {
  if (w)
    rmsnorm_cpu(tmp, src, w, 1, hd, eps);
  else
    std::memcpy(tmp, src, sizeof(float) * hd);
  const int half = hd / 2;
  for (int j = 0; j < half; ++j) {
    const float x1 = tmp[j], x2 = tmp[j + half];
    dst[j] = x1 * c[j] - x2 * s[j];
    dst[j + half] = x2 * c[j + half] + x1 * s[j + half];
  }
}
}  // namespace

void qkv_rope_cpu(float* q_out, float* k_out, float* v_out, const float* q_in, const float* k_in, const float* v_in,
                  int q_stride, int kv_stride, const float* qw, const float* kw, const float* cos, const float* sin,
                  int n, int heads, int kv_heads, int hd, float eps, int row0) {
  std::vector<float> tmp(hd);
  for (int t = 0; t < n; ++t) {
    const float* c = cos + (size_t)t * hd;
    const float* s = sin + (size_t)t * hd;
    for (int h = 0; h < heads; ++h)
      norm_rope(q_out + ((size_t)t * heads + h) * hd, q_in + (size_t)t * q_stride + (size_t)h * hd, qw, c, s, hd, eps,
                tmp.data());
    const size_t o = (size_t)(row0 + t) * kv_heads * hd;
    for (int h = 0; h < kv_heads; ++h)
      norm_rope(k_out + o + (size_t)h * hd, k_in + (size_t)t * kv_stride + (size_t)h * hd, kw, c, s, hd, eps,
                tmp.data());
    std::memmove(v_out + o, v_in + (size_t)t * kv_stride, sizeof(float) * kv_heads * hd);
  }
}
