#ifndef COSMOS_CUDA
#define COSMOS_CUDA 1
#endif
#include "add_table_rows.h"

#include "../core/cuda_common.h"

namespace {
__global__ void add_table_rows_kernel(float* x, const int* rows, const float* table, const int* idx, int dim) {
  float* xr = x + (long long)rows[blockIdx.x] * dim;
  const float* tr = table + (long long)idx[blockIdx.x] * dim;
  for (int i = threadIdx.x; i < dim; i += blockDim.x) xr[i] += tr[i];
}
}  // namespace

void add_table_rows_cuda(float* x, const int* rows, const float* table, const int* idx, int n_rows, int dim,
                         const cosmos::CudaContext& ctx) {
  if (n_rows <= 0) return;
  add_table_rows_kernel<<<n_rows, 256, 0, ctx.stream>>>(x, rows, table, idx, dim);
  CUDA_CHECK_LAUNCH();
}
