#ifndef COSMOS_CUDA
#define COSMOS_CUDA 1
#endif
#include "timestep_embedding.h"

#include <stdexcept>

#include "../core/cuda_common.h"

namespace {
constexpr int kMaxHalf = 512;
struct Freqs {
  float f[kMaxHalf];
};

__global__ void timestep_sinusoid_kernel(float* out, const float* t, int n, int half, Freqs fr) {
  const long long total = (long long)n * half;
  for (long long e = blockIdx.x * (long long)blockDim.x + threadIdx.x; e < total;
       e += (long long)gridDim.x * blockDim.x) {
    const int j = (int)(e % half);
    const long long i = e / half;
    const float a = t[i] * fr.f[j];
    out[i * 2 * half + j] = (float)::cos((double)a);
    out[i * 2 * half + half + j] = (float)::sin((double)a);
  }
}
}  // namespace

void timestep_sinusoid_cuda(float* out, const float* t, int n, int dim, const cosmos::CudaContext& ctx) {
  const int half = dim / 2;
  if (n <= 0 || half <= 0) return;
  if (half > kMaxHalf) throw std::runtime_error("timestep_sinusoid_cuda: dim > 1024 is not supported");
  Freqs fr;  // from the host, as the CPU twin computes them: the GPU's exp may differ by an ulp
  for (int j = 0; j < half; ++j) fr.f[j] = timestep_sinusoid_freq(j, half);
  timestep_sinusoid_kernel<<<cosmos::elementwise_blocks((long long)n * half), 256, 0, ctx.stream>>>(out, t, n, half,
                                                                                                    fr);
  CUDA_CHECK_LAUNCH();
}
