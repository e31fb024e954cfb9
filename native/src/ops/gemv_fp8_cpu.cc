#include <cmath>

#include "gemv_fp8.h"
#include "quantize_fp8.h"

namespace {
struct E4m3Table {
  float v[256];
  E4m3Table() {
    for (int i = 0; i < 256; ++i) v[i] = fp8_e4m3_to_float((uint8_t)i);
  }
};
const E4m3Table& table() {
  static const E4m3Table t;
  return t;
}
float row_dot(const float* x, const uint8_t* w, int k) {
  const float* t = table().v;
  float acc = 0.f;
  for (int c = 0; c < k; ++c) acc += t[w[c]] * x[c];
  return acc;
}
}  // namespace

void gemv_fp8_cpu(float* out, const float* x, const uint8_t* w8, const float* scale, const float* bias, int k, int m) {
  for (int r = 0; r < m; ++r) {
    out[r] = scale[r] * row_dot(x, w8 + (size_t)r * k, k);
    if (bias) out[r] += bias[r];
  }
}

void gemv_fp8_swiglu_cpu(float* out, const float* x, const uint8_t* w8, const float* scale, int k, int inter) {
  for (int j = 0; j < inter; ++j) {
    const float g = scale[j] * row_dot(x, w8 + (size_t)j * k, k);
    const float u = scale[inter + j] * row_dot(x, w8 + (size_t)(inter + j) * k, k);
    out[j] = g / (1.0f + std::exp(-g)) * u;
  }
}
