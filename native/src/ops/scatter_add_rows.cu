#ifndef COSMOS_CUDA
#define COSMOS_CUDA 1
#endif
#include "scatter_add_rows.h"

#include <cuda_bf16.h>

#include "../core/cuda_common.h"

namespace {
__global__ void scatter_add_rows_kernel(float* x, const int* rows, const float* add, int dim) {
  float* xr = x + (long long)rows[blockIdx.x] * dim;
  const float* ar = add + (long long)blockIdx.x * dim;
  for (int i = threadIdx.x; i < dim; i += blockDim.x) xr[i] += ar[i];
}
__global__ void scatter_add_rows_bf16_kernel(__nv_bfloat16* x, const int* rows, const float* add, int dim) {
  __nv_bfloat16* xr = x + (long long)rows[blockIdx.x] * dim;
  const float* ar = add + (long long)blockIdx.x * dim;
  for (int i = threadIdx.x; i < dim; i += blockDim.x) xr[i] = __float2bfloat16_rn(__bfloat162float(xr[i]) + ar[i]);
}
}  // namespace

void scatter_add_rows_cuda(float* x, const int* rows, const float* add, int n_rows, int dim,
                           const cosmos::CudaContext& ctx) {
  if (n_rows <= 0) return;
  scatter_add_rows_kernel<<<n_rows, 256, 0, ctx.stream>>>(x, rows, add, dim);
  CUDA_CHECK_LAUNCH();
}

void scatter_add_rows_bf16_cuda(void* x, const int* rows, const float* add, int n_rows, int dim,
                                const cosmos::CudaContext& ctx) {
  if (n_rows <= 0) return;
  scatter_add_rows_bf16_kernel<<<n_rows, 256, 0, ctx.stream>>>(static_cast<__nv_bfloat16*>(x), rows, add, dim);
  CUDA_CHECK_LAUNCH();
}
