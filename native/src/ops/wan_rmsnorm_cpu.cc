#include <algorithm>
#include <cmath>

#include "wan_rmsnorm.h"

void wan_rmsnorm_cpu(float* out, const float* x, const float* gamma, long long rows, int dim, bool silu) {
  const float scale = std::sqrt((float)dim);
  for (long long r = 0; r < rows; ++r) {
    const float* xr = x + r * dim;
    float* o = out + r * dim;
    double ss = 0;
    for (int i = 0; i < dim; ++i) ss += (double)xr[i] * xr[i];
    const float denom = std::max((float)std::sqrt(ss), 1e-12f);
    for (int i = 0; i < dim; ++i) {
      const float v = xr[i] / denom * scale * gamma[i];  // torch's order: normalize, * sqrt(dim), * gamma
      o[i] = silu ? v / (1.f + std::exp(-v)) : v;
    }
  }
}
