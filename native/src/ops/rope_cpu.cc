#include "rope.h"

#include <cmath>
#include <vector>

namespace {
// Integer or f32 positions: the angle is (float)pos * inv_freq either way.
template <typename Pos>
void mrope_tables(float* cos, float* sin, const Pos* pos3, int tokens, int head_dim, float theta, const int* section,
                  bool interleaved) {
  int half = head_dim / 2;
  // inv_freq as transformers computes it: f32 of theta ** (2j/head_dim), then 1/x in f32.
  std::vector<float> inv(half);
  std::vector<int> axis(half, 0);  // which pos3 row drives frequency j
  for (int j = 0; j < half; ++j) {
    float p = std::pow((float)theta, (float)(2 * j) / (float)head_dim);
    inv[j] = 1.0f / p;
    if (interleaved) {
      if (j % 3 == 1 && j < 3 * section[1])
        axis[j] = 1;
      else if (j % 3 == 2 && j < 3 * section[2])
        axis[j] = 2;
    } else {
      axis[j] = j < section[0] ? 0 : (j < section[0] + section[1] ? 1 : 2);
    }
  }
  for (int t = 0; t < tokens; ++t) {
    for (int j = 0; j < half; ++j) {
      float ang = (float)pos3[axis[j] * tokens + t] * inv[j];  // f32 product, as in the reference
      float c = (float)std::cos((double)ang), s = (float)std::sin((double)ang);
      cos[(size_t)t * head_dim + j] = cos[(size_t)t * head_dim + j + half] = c;
      sin[(size_t)t * head_dim + j] = sin[(size_t)t * head_dim + j + half] = s;
    }
  }
}
}  // namespace

void mrope_tables_cpu(float* cos, float* sin, const int* pos3, int tokens, int head_dim, float theta,
                      const int* section, bool interleaved) {
  mrope_tables(cos, sin, pos3, tokens, head_dim, theta, section, interleaved);
}

void mrope_tables_cpu(float* cos, float* sin, const float* pos3, int tokens, int head_dim, float theta,
                      const int* section, bool interleaved) {
  mrope_tables(cos, sin, pos3, tokens, head_dim, theta, section, interleaved);
}

void rope_apply_cpu(float* x, const float* cos, const float* sin, int tokens, int heads, int head_dim) {
  int half = head_dim / 2;
  for (int t = 0; t < tokens; ++t) {
    const float* c = cos + (size_t)t * head_dim;
    const float* s = sin + (size_t)t * head_dim;
    for (int h = 0; h < heads; ++h) {
      float* v = x + ((size_t)t * heads + h) * head_dim;
      for (int j = 0; j < half; ++j) {
        float x1 = v[j], x2 = v[j + half];
        v[j] = x1 * c[j] - x2 * s[j];
        v[j + half] = x2 * c[j + half] + x1 * s[j + half];
      }
    }
  }
}
