// LayerNorm, one block per row, two passes (mean, then centred variance) like the CPU reference, so
// rows with a large mean do not lose the variance to cancellation. w and b are nullable.
#ifndef COSMOS_CUDA
#define COSMOS_CUDA 1
#endif
#include "layernorm.h"

#include "../core/cuda_common.h"
#include "../core/cuda_reduce.h"

namespace {
__global__ void layernorm_kernel(float* out, const float* x, const float* w, const float* b, int dim, float eps) {
  __shared__ float sh[32];
  const float* xr = x + (long long)blockIdx.x * dim;
  float* o = out + (long long)blockIdx.x * dim;
  float s = 0.f;
  for (int i = threadIdx.x; i < dim; i += blockDim.x) s += xr[i];
  float mean = cosmos::block_sum(s, sh) / (float)dim;
  float v = 0.f;
  for (int i = threadIdx.x; i < dim; i += blockDim.x) {
    float d = xr[i] - mean;
    v += d * d;
  }
  float var = cosmos::block_sum(v, sh) / (float)dim;
  float inv = 1.0f / sqrtf(var + eps);
  for (int i = threadIdx.x; i < dim; i += blockDim.x) {
    float y = (xr[i] - mean) * inv;
    o[i] = (w ? y * w[i] : y) + (b ? b[i] : 0.f);
  }
}
}  // namespace

void layernorm_cuda(float* out, const float* x, const float* w, const float* b, int rows, int dim, float eps,
                    const cosmos::CudaContext& ctx) {
  const cudaStream_t stream = ctx.stream;
  if (rows <= 0 || dim <= 0) return;
  layernorm_kernel<<<rows, cosmos::row_threads(dim), 0, stream>>>(out, x, w, b, dim, eps);
  CUDA_CHECK_LAUNCH();
}
