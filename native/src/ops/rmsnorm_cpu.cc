#include "rmsnorm.h"

#include <cmath>

void rmsnorm_cpu(float* out, const float* x, const float* w, int rows, int dim, float eps) {
  for (int r = 0; r < rows; ++r) {
    const float* xr = x + (size_t)r * dim;
    float* o = out + (size_t)r * dim;
    double ss = 0;  // double sum: the reference is torch's f32 mean; double keeps us at least as close
    for (int i = 0; i < dim; ++i) ss += (double)xr[i] * xr[i];
    float inv = 1.0f / std::sqrt((float)(ss / dim) + eps);
    for (int i = 0; i < dim; ++i) o[i] = w[i] * (xr[i] * inv);
  }
}
