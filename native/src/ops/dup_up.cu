// DupUp3D shortcut added into out, one thread per output element.
#ifndef COSMOS_CUDA
#define COSMOS_CUDA 1
#endif
#include "../core/cuda_common.h"
#include "dup_up.h"

namespace {
__global__ void dup_up_add_kernel(float* out, const float* x, int h, int w, int cin, int cout, int ft, int fs, int skip,
                                  long long n) {
  const int factor = ft * fs * fs, repeats = cout * factor / cin, oh = h * fs, ow = w * fs;
  for (long long e = blockIdx.x * (long long)blockDim.x + threadIdx.x; e < n; e += (long long)gridDim.x * blockDim.x) {
    const int oc = (int)(e % cout);
    const long long p = e / cout;
    const int xo = (int)(p % ow), y = (int)(p / ow % oh);
    const int full = (int)(p / ((long long)oh * ow)) + skip, ti = full / ft, dt = full % ft;
    const int sub = (dt * fs + y % fs) * fs + xo % fs;
    out[e] += x[(((long long)ti * h + y / fs) * w + xo / fs) * cin + (oc * factor + sub) / repeats];
  }
}
}  // namespace

void dup_up_add_cuda(float* out, const float* x, int t, int h, int w, int cin, int cout, int ft, int fs, int skip,
                     const cosmos::CudaContext& ctx) {
  const long long n = (long long)(t * ft - skip) * h * fs * w * fs * cout;
  if (n <= 0) return;
  dup_up_add_kernel<<<cosmos::elementwise_blocks(n), 256, 0, ctx.stream>>>(out, x, h, w, cin, cout, ft, fs, skip, n);
  CUDA_CHECK_LAUNCH();
}
