#ifndef COSMOS_CUDA
#define COSMOS_CUDA 1
#endif
#include "set_rows.h"

#include "../core/cuda_common.h"

void set_rows_cuda(float* dst, const float* src, long long outer, long long rows, long long inner, long long r0,
                   long long r1, const cosmos::CudaContext& ctx) {
  if (r0 < 0) r0 = 0;
  if (r1 > rows) r1 = rows;
  if (r1 <= r0 || outer <= 0 || inner <= 0) return;
  const size_t pitch = (size_t)(rows * inner) * sizeof(float), width = (size_t)((r1 - r0) * inner) * sizeof(float);
  const long long off = r0 * inner;
  if (src)
    CUDA_CHECK(cudaMemcpy2DAsync(dst + off, pitch, src + off, pitch, width, (size_t)outer, cudaMemcpyDeviceToDevice,
                                 ctx.stream));
  else
    CUDA_CHECK(cudaMemset2DAsync(dst + off, pitch, 0, width, (size_t)outer, ctx.stream));
}
