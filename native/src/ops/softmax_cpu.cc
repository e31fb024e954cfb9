#include "softmax.h"

#include <algorithm>
#include <cmath>

void softmax_cpu(float* x, int rows, int cols) {
  for (int r = 0; r < rows; ++r) {
    float* v = x + (size_t)r * cols;
    float mx = -INFINITY;
    for (int i = 0; i < cols; ++i) mx = std::max(mx, v[i]);
    double s = 0;
    for (int i = 0; i < cols; ++i) {
      v[i] = std::exp(v[i] - mx);
      s += v[i];
    }
    float inv = (float)(1.0 / s);
    for (int i = 0; i < cols; ++i) v[i] *= inv;
  }
}
