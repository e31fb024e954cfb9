#ifndef COSMOS_CUDA
#define COSMOS_CUDA 1
#endif
#include "transpose2d.h"

#include <algorithm>
#include <stdexcept>

#include "../core/cuda_common.h"

namespace {
constexpr int kTile = 32, kRowsPerPass = 8;

// One 32x32 tile per block: read rows of x into shared memory, write rows of out (the +1 column keeps the
// column reads free of bank conflicts). Grid x over column tiles, y over row tiles (y capped: the loop strides).
__global__ void transpose2d_kernel(float* out, const float* x, long long rows, long long cols) {
  __shared__ float tile[kTile][kTile + 1];
  const long long c0 = (long long)blockIdx.x * kTile;
  for (long long r0 = (long long)blockIdx.y * kTile; r0 < rows; r0 += (long long)gridDim.y * kTile) {
    for (int i = threadIdx.y; i < kTile; i += kRowsPerPass) {
      const long long r = r0 + i, c = c0 + threadIdx.x;
      if (r < rows && c < cols) tile[i][threadIdx.x] = x[r * cols + c];
    }
    __syncthreads();
    for (int i = threadIdx.y; i < kTile; i += kRowsPerPass) {
      const long long c = c0 + i, r = r0 + threadIdx.x;
      if (r < rows && c < cols) out[c * rows + r] = tile[threadIdx.x][i];
    }
    __syncthreads();
  }
}
}  // namespace

void transpose2d_cuda(float* out, const float* x, long long rows, long long cols, const cosmos::CudaContext& ctx) {
  if (rows <= 0 || cols <= 0) return;
  const long long col_tiles = (cols + kTile - 1) / kTile, row_tiles = (rows + kTile - 1) / kTile;
  if (col_tiles > 0x7fffffffLL) throw std::runtime_error("transpose2d_cuda: too many columns");
  const dim3 grid((unsigned)col_tiles, (unsigned)std::min<long long>(row_tiles, 65535));
  transpose2d_kernel<<<grid, dim3(kTile, kRowsPerPass), 0, ctx.stream>>>(out, x, rows, cols);
  CUDA_CHECK_LAUNCH();
}
