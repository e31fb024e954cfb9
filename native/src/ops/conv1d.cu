// conv1d on the GPU: im2col of a block of output steps into a pool workspace, then matmul_cuda. See conv1d.h.
#ifndef COSMOS_CUDA
#define COSMOS_CUDA 1
#endif
#include <algorithm>

#include "../core/cuda_common.h"
#include "conv1d.h"

namespace {
// One thread per im2col element, ci fastest so the reads of a time step's channels coalesce (channels-last);
// the writes go to column ci*k + j, the weight's own order.
__global__ void im2col1d_kernel(float* col, const float* x, int t, Conv1dDims d, long long r0, long long n) {
  const long long cols = (long long)d.cin * d.k;
  for (long long e = blockIdx.x * (long long)blockDim.x + threadIdx.x; e < n; e += (long long)gridDim.x * blockDim.x) {
    const int ci = (int)(e % d.cin);
    const long long rj = e / d.cin;
    const int j = (int)(rj % d.k);
    const long long i = rj / d.k;
    const long long it = (r0 + i) * d.stride - d.pad_left + (long long)j * d.dilation;
    col[i * cols + (long long)ci * d.k + j] = it >= 0 && it < t ? x[it * d.cin + ci] : 0.f;
  }
}
}  // namespace

void conv1d_cuda(float* out, const float* x, int t, const void* w, WType wt, const float* bias, const Conv1dDims& d,
                 const cosmos::CudaContext& ctx) {
  const int ot = d.out_t(t);
  if (ot <= 0) return;
  if (d.pointwise()) {
    matmul_cuda(out, x, w, wt, bias, ot, d.cin, d.cout, ctx);
    return;
  }
  const int cols = d.cols();
  const int block = std::max(1, std::min(ot, (64 << 20) / cols));  // <= 256 MiB: GEMMs tall enough to fill the GPU
  cosmos::DeviceBuffer<float> col(cosmos::workspace_pool(ctx, "conv1d_cuda (im2col)"), (size_t)block * cols);
  for (int r0 = 0; r0 < ot; r0 += block) {
    const int nr = std::min(block, ot - r0);
    const long long n = (long long)nr * cols;
    im2col1d_kernel<<<cosmos::elementwise_blocks(n), 256, 0, ctx.stream>>>(col.get(), x, t, d, r0, n);
    CUDA_CHECK_LAUNCH();
    matmul_cuda(out + (size_t)r0 * d.cout, col.get(), w, wt, bias, nr, cols, d.cout, ctx);
  }
}
