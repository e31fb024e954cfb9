// lincomb on the GPU: one grid-stride pass, the pointers and coefficients passed by value (no device
// copy of the term list), unrolled per term count. __fmul_rn / __fadd_rn keep nvcc from fusing the
// multiply-adds, so the result is the CPU twin's bit for bit.
#ifndef COSMOS_CUDA
#define COSMOS_CUDA 1
#endif
#include "lincomb.h"

#include <stdexcept>
#include <string>

#include "../core/cuda_common.h"

namespace {
struct Terms {
  const float* x[kLincombMaxTerms];
  float c[kLincombMaxTerms];
};

template <int N>
__global__ void lincomb_kernel(float* out, Terms t, long long n) {
  for (long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x; i < n; i += (long long)gridDim.x * blockDim.x) {
    float acc = __fmul_rn(t.c[0], t.x[0][i]);
#pragma unroll
    for (int k = 1; k < N; ++k) acc = __fadd_rn(acc, __fmul_rn(t.c[k], t.x[k][i]));
    out[i] = acc;
  }
}

template <int N>
void launch(float* out, const Terms& t, long long n, cudaStream_t s) {
  lincomb_kernel<N><<<cosmos::elementwise_blocks(n), 256, 0, s>>>(out, t, n);
}
}  // namespace

void lincomb_cuda(float* out, const float* const* x, const float* c, int n_terms, long long n,
                  const cosmos::CudaContext& ctx) {
  if (n_terms < 1 || n_terms > kLincombMaxTerms)
    throw std::invalid_argument("lincomb: n_terms " + std::to_string(n_terms) + " outside 1.." +
                                std::to_string(kLincombMaxTerms));
  if (n <= 0) return;
  Terms t{};
  for (int k = 0; k < n_terms; ++k) t.x[k] = x[k], t.c[k] = c[k];
  switch (n_terms) {
    case 1:
      launch<1>(out, t, n, ctx.stream);
      break;
    case 2:
      launch<2>(out, t, n, ctx.stream);
      break;
    case 3:
      launch<3>(out, t, n, ctx.stream);
      break;
    case 4:
      launch<4>(out, t, n, ctx.stream);
      break;
    case 5:
      launch<5>(out, t, n, ctx.stream);
      break;
    default:
      launch<6>(out, t, n, ctx.stream);
      break;
  }
  CUDA_CHECK_LAUNCH();
}
