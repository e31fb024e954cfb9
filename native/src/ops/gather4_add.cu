#ifndef COSMOS_CUDA
#define COSMOS_CUDA 1
#endif
#include "gather4_add.h"

#include "../core/cuda_common.h"

namespace {
__global__ void gather4_add_kernel(float* x, const float* table, const int* idx, const float* wt, long long N, int D) {
  for (long long e = blockIdx.x * (long long)blockDim.x + threadIdx.x; e < N * D;
       e += (long long)gridDim.x * blockDim.x) {
    const long long p = e / D;
    const int d = (int)(e - p * D);
    const int* ix = idx + 4 * p;
    const float* w = wt + 4 * p;
    float acc = __fmul_rn(table[(long long)ix[0] * D + d], w[0]);
    acc = __fadd_rn(acc, __fmul_rn(table[(long long)ix[1] * D + d], w[1]));
    acc = __fadd_rn(acc, __fmul_rn(table[(long long)ix[2] * D + d], w[2]));
    acc = __fadd_rn(acc, __fmul_rn(table[(long long)ix[3] * D + d], w[3]));
    x[e] = __fadd_rn(x[e], acc);
  }
}
}  // namespace

void gather4_add_cuda(float* x, const float* table, const int* idx, const float* wt, long long n, int dim,
                      const cosmos::CudaContext& ctx) {
  if (n <= 0 || dim <= 0) return;
  gather4_add_kernel<<<cosmos::elementwise_blocks(n * dim), 256, 0, ctx.stream>>>(x, table, idx, wt, n, dim);
  CUDA_CHECK_LAUNCH();
}
