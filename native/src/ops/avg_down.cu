// AvgDown3D shortcut added into out, one thread per output element (the group summed in the CPU twin's order).
#ifndef COSMOS_CUDA
#define COSMOS_CUDA 1
#endif
#include "../core/cuda_common.h"
#include "avg_down.h"

namespace {
__global__ void avg_down_add_kernel(float* out, const float* x, int h, int w, int cin, int cout, int ft, int fs,
                                    int pad, long long n) {
  const int factor = ft * fs * fs, group = cin * factor / cout, oh = h / fs, ow = w / fs;
  for (long long e = blockIdx.x * (long long)blockDim.x + threadIdx.x; e < n; e += (long long)gridDim.x * blockDim.x) {
    const int oc = (int)(e % cout);
    const long long p = e / cout;
    const int xo = (int)(p % ow), y = (int)(p / ow % oh);
    const int to = (int)(p / ((long long)oh * ow));
    float s = 0.f;
    for (int j = 0; j < group; ++j) {
      const int g = oc * group + j, c = g / factor, sub = g % factor;
      const int dt = sub / (fs * fs), dy = sub / fs % fs, dx = sub % fs;
      const int ti = to * ft + dt - pad;
      if (ti >= 0) s += x[(((long long)ti * h + y * fs + dy) * w + xo * fs + dx) * cin + c];
    }
    out[e] += s / (float)group;
  }
}
}  // namespace

void avg_down_add_cuda(float* out, const float* x, int t, int h, int w, int cin, int cout, int ft, int fs,
                       const cosmos::CudaContext& ctx) {
  const int pad = (ft - t % ft) % ft;
  const long long n = (long long)((t + pad) / ft) * (h / fs) * (w / fs) * cout;
  if (n <= 0) return;
  avg_down_add_kernel<<<cosmos::elementwise_blocks(n), 256, 0, ctx.stream>>>(out, x, h, w, cin, cout, ft, fs, pad, n);
  CUDA_CHECK_LAUNCH();
}
