#include "domain_linear.h"

#include <cstddef>

void domain_linear_cpu(float* y, const float* x, const float* w, const float* b, const float* extra, const int* domain,
                       int n, int in, int out) {
  for (int i = 0; i < n; ++i) {
    const float* W = w + (size_t)domain[i] * in * out;
    const float* B = b + (size_t)domain[i] * out;
    const float* xi = x + (size_t)i * in;
    for (int o = 0; o < out; ++o) {
      float a = 0.f;
      for (int k = 0; k < in; ++k) a += xi[k] * W[(size_t)k * out + o];
      float v = a + B[o];
      if (extra) v += extra[o];
      y[(size_t)i * out + o] = v;
    }
  }
}
