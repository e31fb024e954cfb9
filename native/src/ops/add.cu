// Elementwise add (residual stream). Grid-stride so any n fits one launch; out may alias a.
#ifndef COSMOS_CUDA
#define COSMOS_CUDA 1
#endif
#include "add.h"

#include <cstdint>

#include "../core/cuda_common.h"

namespace {
__global__ void add_kernel(float* out, const float* a, const float* b, long long n) {
  for (long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x; i < n; i += (long long)gridDim.x * blockDim.x)
    out[i] = a[i] + b[i];
}
// The same four floats a thread (16-byte loads and stores; the Wan VAE's residual adds run over ~1 GB of f32
// frames, where one float a thread left the add at ~3% of a decode's kernel time). n4 float4s.
__global__ void add4_kernel(float4* out, const float4* a, const float4* b, long long n4) {
  for (long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x; i < n4; i += (long long)gridDim.x * blockDim.x) {
    const float4 x = a[i], y = b[i];
    out[i] = make_float4(x.x + y.x, x.y + y.y, x.z + y.z, x.w + y.w);
  }
}
bool aligned16(const void* p) { return reinterpret_cast<uintptr_t>(p) % 16 == 0; }
}  // namespace

void add_cuda(float* out, const float* a, const float* b, int n, const cosmos::CudaContext& ctx) {
  const cudaStream_t stream = ctx.stream;
  if (n <= 0) return;
  long long head = 0;  // elements done as float4s
  if (aligned16(out) && aligned16(a) && aligned16(b) && n >= 4) {
    const long long n4 = n / 4;
    add4_kernel<<<cosmos::elementwise_blocks(n4), 256, 0, stream>>>(
        reinterpret_cast<float4*>(out), reinterpret_cast<const float4*>(a), reinterpret_cast<const float4*>(b), n4);
    CUDA_CHECK_LAUNCH();
    head = 4 * n4;
  }
  if (head == n) return;
  add_kernel<<<cosmos::elementwise_blocks(n - head), 256, 0, stream>>>(out + head, a + head, b + head, n - head);
  CUDA_CHECK_LAUNCH();
}
