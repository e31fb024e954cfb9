#include "add_table_rows.h"

#include <cstddef>

void add_table_rows_cpu(float* x, const int* rows, const float* table, const int* idx, int n_rows, int dim) {
  for (int r = 0; r < n_rows; ++r) {
    float* xr = x + (size_t)rows[r] * dim;
    const float* tr = table + (size_t)idx[r] * dim;
    for (int i = 0; i < dim; ++i) xr[i] = xr[i] + tr[i];
  }
}
