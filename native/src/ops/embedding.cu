// Embedding gather: one block per token row; ids live on the device (callers validated them).
#ifndef COSMOS_CUDA
#define COSMOS_CUDA 1
#endif
#include "embedding.h"

#include "../core/cuda_common.h"

namespace {
__global__ void embedding_kernel(float* out, const float* table, const int* ids, int dim) {
  long long row = ids[blockIdx.x];
  const float* src = table + row * dim;
  float* dst = out + (long long)blockIdx.x * dim;
  for (int i = threadIdx.x; i < dim; i += blockDim.x) dst[i] = src[i];
}
}  // namespace

void embedding_cuda(float* out, const float* table, const int* ids, int n, int dim, cudaStream_t stream) {
  if (n <= 0 || dim <= 0) return;
  embedding_kernel<<<n, 256, 0, stream>>>(out, table, ids, dim);
  CUDA_CHECK_LAUNCH();
}
