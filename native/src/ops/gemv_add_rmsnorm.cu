// See gemv_add_rmsnorm.h. One warp per output row (matmul.cu's GEMV: 4 warps per block, the same dot product via
// gemv_row.cuh), the residual added by the row's lane 0; then the last block to finish normalises the whole row.
// The tail is one block reading 2 x m floats from L2 (~1-2 us at m = 4096), against a separate add_rmsnorm launch.
#ifndef COSMOS_CUDA
#define COSMOS_CUDA 1
#endif
#include "gemv_add_rmsnorm.h"

#include <cstdint>
#include <stdexcept>

#include "../core/cuda_common.h"
#include "../core/cuda_pdl.cuh"
#include "../core/cuda_reduce.h"
#include "gemv_row.cuh"

namespace {
constexpr int kWarps = 4;

template <bool BF16>
__global__ void __launch_bounds__(kWarps * 32)
    gemv_add_rmsnorm_kernel(float* __restrict__ out, float* __restrict__ x, const float* __restrict__ a,
                            const void* __restrict__ w, const float* __restrict__ lnw, int k, int m, float eps,
                            unsigned* counter) {
  __shared__ float red[32];
  __shared__ bool last;
  const int row = blockIdx.x * kWarps + (threadIdx.x >> 5);
  const int lane = threadIdx.x & 31;
  cosmos::pdl_wait();  // PDL: a (and x) come from the kernels before this one
  if (row < m) {
    const float s = cosmos::gemv::row_dot<BF16>(w, row, a, k, lane);
    if (lane == 0) x[row] = x[row] + s;  // add_cpu's x + y
  }
  if (!lnw) return;
  if (!cosmos::gemv::last_block_arrives(counter, gridDim.x, &last)) return;
  // The last block: rmsnorm_cpu's row (sum of squares, inv = 1 / sqrt(mean + eps), w * (x * inv)).
  float ss = 0.f;
  for (int i = threadIdx.x; i < m; i += blockDim.x) {
    const float v = __ldcg(x + i);
    ss += v * v;
  }
  ss = cosmos::block_sum(ss, red);
  const float inv = 1.0f / sqrtf(ss / (float)m + eps);
  for (int i = threadIdx.x; i < m; i += blockDim.x) out[i] = lnw[i] * (__ldcg(x + i) * inv);
  if (threadIdx.x == 0) *counter = 0u;
}

inline bool aligned16(const void* p) { return (reinterpret_cast<uintptr_t>(p) & 15) == 0; }
}  // namespace

bool gemv_add_rmsnorm_supported(const float* a, const void* w, int k) {
  return k > 0 && k % 8 == 0 && aligned16(a) && aligned16(w);
}

void gemv_add_rmsnorm_cuda(float* out, float* x, const float* a, const void* w, WType wt, const float* lnw, int k,
                           int m, float eps, unsigned* counter, const cosmos::CudaContext& ctx) {
  if (m <= 0) return;
  if (!gemv_add_rmsnorm_supported(a, w, k)) throw std::invalid_argument("gemv_add_rmsnorm: k % 8 or alignment");
  const dim3 grid(cosmos::ceil_div(m, kWarps)), block(kWarps * 32);
  if (wt == WType::BF16)
    cosmos::launch_pdl(gemv_add_rmsnorm_kernel<true>, grid, block, 0, ctx.stream, out, x, a, w, lnw, k, m, eps,
                       counter);
  else
    cosmos::launch_pdl(gemv_add_rmsnorm_kernel<false>, grid, block, 0, ctx.stream, out, x, a, w, lnw, k, m, eps,
                       counter);
  CUDA_CHECK_LAUNCH();
}
