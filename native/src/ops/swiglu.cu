// SwiGLU: out = silu(gate) * up. expf (not __expf) so the result tracks the CPU reference to ~1 ulp.
#ifndef COSMOS_CUDA
#define COSMOS_CUDA 1
#endif
#include "swiglu.h"

#include "../core/cuda_common.h"

namespace {
__global__ void swiglu_kernel(float* out, const float* gate, const float* up, long long n) {
  for (long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x; i < n; i += (long long)gridDim.x * blockDim.x) {
    float g = gate[i];
    out[i] = g / (1.0f + expf(-g)) * up[i];
  }
}
}  // namespace

void swiglu_cuda(float* out, const float* gate, const float* up, int n, const cosmos::CudaContext& ctx) {
  const cudaStream_t stream = ctx.stream;
  if (n <= 0) return;
  swiglu_kernel<<<cosmos::elementwise_blocks(n), 256, 0, stream>>>(out, gate, up, n);
  CUDA_CHECK_LAUNCH();
}
