// Row softmax in place, one block per row: max, sum of exp(x - max), scale. expf for accuracy.
#ifndef COSMOS_CUDA
#define COSMOS_CUDA 1
#endif
#include "softmax.h"

#include "../core/cuda_common.h"
#include "../core/cuda_reduce.h"

namespace {
__global__ void softmax_kernel(float* x, int cols) {
  __shared__ float sh[32];
  float* r = x + (long long)blockIdx.x * cols;
  float mx = -INFINITY;
  for (int i = threadIdx.x; i < cols; i += blockDim.x) mx = fmaxf(mx, r[i]);
  mx = cosmos::block_max(mx, sh);
  float s = 0.f;
  for (int i = threadIdx.x; i < cols; i += blockDim.x) {
    float e = expf(r[i] - mx);
    r[i] = e;
    s += e;
  }
  s = cosmos::block_sum(s, sh);
  float inv = 1.0f / s;
  for (int i = threadIdx.x; i < cols; i += blockDim.x) r[i] *= inv;
}
}  // namespace

void softmax_cuda(float* x, int rows, int cols, const cosmos::CudaContext& ctx) {
  const cudaStream_t stream = ctx.stream;
  if (rows <= 0 || cols <= 0) return;
  softmax_kernel<<<rows, cosmos::row_threads(cols), 0, stream>>>(x, cols);
  CUDA_CHECK_LAUNCH();
}
