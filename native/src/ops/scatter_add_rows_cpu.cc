#include "scatter_add_rows.h"

#include <cstddef>
#include <vector>

#include "cast_bf16.h"

void scatter_add_rows_cpu(float* x, const int* rows, const float* add, int n_rows, int dim) {
  for (int r = 0; r < n_rows; ++r) {
    float* xr = x + (size_t)rows[r] * dim;
    const float* ar = add + (size_t)r * dim;
    for (int i = 0; i < dim; ++i) xr[i] = xr[i] + ar[i];
  }
}

void scatter_add_rows_bf16_cpu(uint16_t* x, const int* rows, const float* add, int n_rows, int dim) {
  std::vector<float> row(dim);
  for (int r = 0; r < n_rows; ++r) {
    uint16_t* xr = x + (size_t)rows[r] * dim;
    widen_bf16_cpu(row.data(), xr, dim);
    for (int i = 0; i < dim; ++i) row[i] = row[i] + add[(size_t)r * dim + i];
    cast_bf16_cpu(xr, row.data(), dim);
  }
}
