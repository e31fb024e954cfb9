#include <algorithm>
#include <cmath>
#include <vector>

#include "cast_bf16.h"
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

void wan_rmsnorm_bf16_cpu(uint16_t* out, const float* x, const float* gamma, long long rows, int dim, bool silu) {
  std::vector<float> row(dim > 0 ? dim : 0);
  for (long long r = 0; r < rows; ++r) {
    wan_rmsnorm_cpu(row.data(), x + r * dim, gamma, 1, dim, silu);
    cast_bf16_cpu(out + r * dim, row.data(), (size_t)dim);
  }
}
