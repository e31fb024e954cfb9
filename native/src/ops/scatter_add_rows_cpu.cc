#include "scatter_add_rows.h"

#include <cstddef>

void scatter_add_rows_cpu(float* x, const int* rows, const float* add, int n_rows, int dim) {
  for (int r = 0; r < n_rows; ++r) {
    float* xr = x + (size_t)rows[r] * dim;
    const float* ar = add + (size_t)r * dim;
    for (int i = 0; i < dim; ++i) xr[i] = xr[i] + ar[i];
  }
}
