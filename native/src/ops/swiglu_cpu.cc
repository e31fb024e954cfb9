#include "swiglu.h"

#include <cmath>

void swiglu_cpu(float* out, const float* gate, const float* up, int n) {
  for (int i = 0; i < n; ++i) {
    float g = gate[i];
    out[i] = g / (1.0f + std::exp(-g)) * up[i];
  }
}
