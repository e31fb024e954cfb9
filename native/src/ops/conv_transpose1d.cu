// conv_transpose1d on the GPU: per block of output steps, Y = x · W (matmul_cuda into a pool workspace),
// then one gather kernel. See conv_transpose1d.h.
#ifndef COSMOS_CUDA
#define COSMOS_CUDA 1
#endif
#include <algorithm>

#include "../core/cuda_common.h"
#include "conv_transpose1d.h"

namespace {
// One thread per output element (co fastest: coalesced reads of Y's tap rows and writes of out); taps in
// increasing order as the CPU twin, so both sum in the same order.
__global__ void gather_taps_kernel(float* out, const float* y, const float* bias, ConvTranspose1dDims d, int o0,
                                   long long n, int first, int last) {
  const int row = d.k * d.cout;
  for (long long e = blockIdx.x * (long long)blockDim.x + threadIdx.x; e < n; e += (long long)gridDim.x * blockDim.x) {
    const int co = (int)(e % d.cout);
    const int o = o0 + (int)(e / d.cout);
    float acc = bias ? bias[co] : 0.f;
    const int hi = min(last, (o + d.pad) / d.stride);
    for (int i = hi; i >= first; --i) {
      const int tap = o + d.pad - i * d.stride;
      if (tap >= d.k) break;
      acc += y[(long long)(i - first) * row + (long long)tap * d.cout + co];
    }
    out[(long long)o * d.cout + co] = acc;
  }
}
}  // namespace

void conv_transpose1d_cuda(float* out, const float* x, int t, const void* packed_w, WType wt, const float* bias,
                           const ConvTranspose1dDims& d, const cosmos::CudaContext& ctx) {
  const int ot = d.out_t(t);
  if (ot <= 0) return;
  const int row = d.k * d.cout;
  const int block = conv_transpose1d_block(d, ot, 64ll << 20);  // <= 256 MiB: GEMMs tall enough to fill the GPU
  int max_rows = 1;  // the widest block's input span (the first block's is clipped at 0, so look at all)
  for (int o0 = 0; o0 < ot; o0 += block)
    max_rows = std::max(max_rows, conv_transpose1d_span(d, t, o0, std::min(ot, o0 + block)).count());
  cosmos::DeviceBuffer<float> y(cosmos::workspace_pool(ctx, "conv_transpose1d_cuda (Y)"), (size_t)max_rows * row);
  for (int o0 = 0; o0 < ot; o0 += block) {
    const int o1 = std::min(ot, o0 + block);
    const ConvTranspose1dSpan span = conv_transpose1d_span(d, t, o0, o1);
    if (span.count() > 0) {
      matmul_cuda(y.get(), x + (size_t)span.first * d.cin, packed_w, wt, nullptr, span.count(), d.cin, row, ctx);
    }
    const long long n = (long long)(o1 - o0) * d.cout;
    gather_taps_kernel<<<cosmos::elementwise_blocks(n), 256, 0, ctx.stream>>>(out, y.get(), bias, d, o0, n, span.first,
                                                                              span.last);
    CUDA_CHECK_LAUNCH();
  }
}
