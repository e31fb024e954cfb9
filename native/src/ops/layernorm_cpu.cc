#include "layernorm.h"

#include <cmath>

void layernorm_cpu(float* out, const float* x, const float* w, const float* b, int rows, int dim, float eps) {
  for (int r = 0; r < rows; ++r) {
    const float* xr = x + (size_t)r * dim;
    float* o = out + (size_t)r * dim;
    double mean = 0;
    for (int i = 0; i < dim; ++i) mean += xr[i];
    mean /= dim;
    double var = 0;  // two-pass variance: no cancellation for large-mean rows
    for (int i = 0; i < dim; ++i) var += (xr[i] - mean) * (xr[i] - mean);
    var /= dim;
    float inv = (float)(1.0 / std::sqrt(var + eps));
    for (int i = 0; i < dim; ++i) {
      float v = (float)(xr[i] - mean) * inv;
      o[i] = (w ? v * w[i] : v) + (b ? b[i] : 0.f);
    }
  }
}
