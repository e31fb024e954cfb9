// Single-head attention as GEMMs: S = q kᵀ (matmul_cuda, k as the "weight"), a scaled row softmax in place,
// out = S (vᵀ)ᵀ (matmul_cuda with vᵀ as the weight). Query rows in blocks so S stays <= 64 MiB.
#ifndef COSMOS_CUDA
#define COSMOS_CUDA 1
#endif
#include <algorithm>

#include "../core/cuda_common.h"
#include "../core/cuda_reduce.h"
#include "attention_gemm.h"
#include "matmul.h"

namespace {
__global__ void transpose_kernel(float* out, const float* in, int rows, int cols) {  // in [rows, cols] -> [cols, rows]
  __shared__ float tile[32][33];
  const int bx = blockIdx.x * 32, by = blockIdx.y * 32;
  for (int j = threadIdx.y; j < 32; j += blockDim.y) {
    const int r = by + j, c = bx + threadIdx.x;
    if (r < rows && c < cols) tile[j][threadIdx.x] = in[(long long)r * cols + c];
  }
  __syncthreads();
  for (int j = threadIdx.y; j < 32; j += blockDim.y) {
    const int c = bx + j, r = by + threadIdx.x;
    if (r < rows && c < cols) out[(long long)c * rows + r] = tile[threadIdx.x][j];
  }
}
__global__ void scaled_softmax_kernel(float* s, int cols, float scale) {
  __shared__ float sh[32];
  float* row = s + (long long)blockIdx.x * cols;
  float m = -INFINITY;
  for (int i = threadIdx.x; i < cols; i += blockDim.x) m = fmaxf(m, row[i] * scale);
  m = cosmos::block_max(m, sh);
  float sum = 0.f;
  for (int i = threadIdx.x; i < cols; i += blockDim.x) {
    const float e = expf(row[i] * scale - m);
    row[i] = e;
    sum += e;
  }
  sum = cosmos::block_sum(sum, sh);
  const float inv = 1.f / sum;
  for (int i = threadIdx.x; i < cols; i += blockDim.x) row[i] *= inv;
}
}  // namespace

void attention_gemm_cuda(float* out, const float* q, const float* k, const float* v, int n_q, int n_kv, int hd,
                         float scale, const cosmos::CudaContext& ctx) {
  if (n_q <= 0 || n_kv <= 0 || hd <= 0) return;
  cosmos::CudaPool& pool = cosmos::workspace_pool(ctx, "attention_gemm_cuda");
  cosmos::DeviceBuffer<float> vt(pool, (size_t)hd * n_kv);
  transpose_kernel<<<dim3(cosmos::ceil_div(hd, 32), cosmos::ceil_div(n_kv, 32)), dim3(32, 8), 0, ctx.stream>>>(
      vt.get(), v, n_kv, hd);
  CUDA_CHECK_LAUNCH();
  const int block = (int)std::max(1ll, std::min<long long>(n_q, (16ll << 20) / n_kv));
  cosmos::DeviceBuffer<float> s(pool, (size_t)block * n_kv);
  for (int r0 = 0; r0 < n_q; r0 += block) {
    const int nr = std::min(block, n_q - r0);
    matmul_cuda(s.get(), q + (long long)r0 * hd, k, WType::F32, nullptr, nr, hd, n_kv, ctx);
    scaled_softmax_kernel<<<nr, cosmos::row_threads(n_kv), 0, ctx.stream>>>(s.get(), n_kv, scale);
    CUDA_CHECK_LAUNCH();
    matmul_cuda(out + (long long)r0 * hd, s.get(), vt.get(), WType::F32, nullptr, nr, n_kv, hd, ctx);
  }
}
