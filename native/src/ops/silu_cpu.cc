#include "silu.h"

#include <cmath>

void silu_cpu(float* x, long long n) {
  for (long long i = 0; i < n; ++i) x[i] = x[i] / (1.f + std::exp(-x[i]));
}
