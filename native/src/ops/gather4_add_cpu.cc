#include "gather4_add.h"

void gather4_add_cpu(float* x, const float* table, const int* idx, const float* wt, long long n, int dim) {
  for (long long p = 0; p < n; ++p) {
    const int* ix = idx + 4 * p;
    const float* w = wt + 4 * p;
    float* y = x + p * dim;
    for (int d = 0; d < dim; ++d) {  // summed in transformers' order
      float acc = table[(long long)ix[0] * dim + d] * w[0];
      acc = acc + table[(long long)ix[1] * dim + d] * w[1];
      acc = acc + table[(long long)ix[2] * dim + d] * w[2];
      acc = acc + table[(long long)ix[3] * dim + d] * w[3];
      y[d] = y[d] + acc;
    }
  }
}
