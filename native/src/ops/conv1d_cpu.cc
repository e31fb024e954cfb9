#include <algorithm>
#include <vector>

#include "conv1d.h"

void conv1d_cpu(float* out, const float* x, int t, const float* w, const float* bias, const Conv1dDims& d,
                const cosmos::CpuContext& ctx) {
  const int ot = d.out_t(t);
  if (ot <= 0) return;
  if (d.pointwise()) {
    matmul_cpu(out, x, w, bias, ot, d.cin, d.cout, ctx);
    return;
  }
  const int cols = d.cols();
  const int block = std::max(1, std::min(ot, (4 << 20) / cols));
  std::vector<float> col((size_t)block * cols);
  for (int r0 = 0; r0 < ot; r0 += block) {
    const int nr = std::min(block, ot - r0);
    cosmos::parallel_for(ctx, nr, 64, [&](int b, int e) {
      for (int i = b; i < e; ++i) {
        const int o = r0 + i;
        float* c = col.data() + (size_t)i * cols;
        for (int j = 0; j < d.k; ++j) {
          const int it = o * d.stride - d.pad_left + j * d.dilation;
          const float* p = it >= 0 && it < t ? x + (size_t)it * d.cin : nullptr;
          for (int ci = 0; ci < d.cin; ++ci) c[(size_t)ci * d.k + j] = p ? p[ci] : 0.f;
        }
      }
    });
    matmul_cpu(out + (size_t)r0 * d.cout, col.data(), w, bias, nr, cols, d.cout, ctx);
  }
}
