#ifndef COSMOS_CUDA
#define COSMOS_CUDA 1
#endif
#include "scatter_add_rows.h"

#include "../core/cuda_common.h"

namespace {
__global__ void scatter_add_rows_kernel(float* x, const int* rows, const float* add, int dim) {
  float* xr = x + (long long)rows[blockIdx.x] * dim;
  const float* ar = add + (long long)blockIdx.x * dim;
  for (int i = threadIdx.x; i < dim; i += blockDim.x) xr[i] += ar[i];
}
}  // namespace

void scatter_add_rows_cuda(float* x, const int* rows, const float* add, int n_rows, int dim,
                           const cosmos::CudaContext& ctx) {
  if (n_rows <= 0) return;
  scatter_add_rows_kernel<<<n_rows, 256, 0, ctx.stream>>>(x, rows, add, dim);
  CUDA_CHECK_LAUNCH();
}
