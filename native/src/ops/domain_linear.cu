#ifndef COSMOS_CUDA
#define COSMOS_CUDA 1
#endif
#include "domain_linear.h"

#include "../core/cuda_common.h"

namespace {
// One thread per output element, k in order as the CPU twin: the action heads are narrow (out = action_dim
// or in = action_dim, a few dozen tokens per call), so this is not on any hot path.
__global__ void domain_linear_kernel(float* y, const float* x, const float* w, const float* b, const float* extra,
                                     const int* domain, int n, int in, int out) {
  const long long total = (long long)n * out;
  for (long long e = blockIdx.x * (long long)blockDim.x + threadIdx.x; e < total;
       e += (long long)gridDim.x * blockDim.x) {
    const int o = (int)(e % out);
    const long long i = e / out;
    const float* W = w + (long long)domain[i] * in * out;
    const float* xi = x + i * in;
    float a = 0.f;
    for (int k = 0; k < in; ++k) a += xi[k] * W[(long long)k * out + o];
    float v = a + b[(long long)domain[i] * out + o];
    if (extra) v += extra[o];
    y[e] = v;
  }
}
}  // namespace

void domain_linear_cuda(float* y, const float* x, const float* w, const float* b, const float* extra, const int* domain,
                        int n, int in, int out, const cosmos::CudaContext& ctx) {
  const long long total = (long long)n * out;
  if (total <= 0) return;
  domain_linear_kernel<<<cosmos::elementwise_blocks(total, 128), 128, 0, ctx.stream>>>(y, x, w, b, extra, domain, n, in,
                                                                                       out);
  CUDA_CHECK_LAUNCH();
}
