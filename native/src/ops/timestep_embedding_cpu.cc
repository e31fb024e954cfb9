#include "timestep_embedding.h"

#include <cmath>
#include <cstddef>

void timestep_sinusoid_cpu(float* out, const float* t, int n, int dim) {
  const int half = dim / 2;
  for (int j = 0; j < half; ++j) {
    const float f = timestep_sinusoid_freq(j, half);
    for (int i = 0; i < n; ++i) {
      const float a = t[i] * f;
      out[(size_t)i * dim + j] = (float)std::cos((double)a);
      out[(size_t)i * dim + half + j] = (float)std::sin((double)a);
    }
  }
}
