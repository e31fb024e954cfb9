#include <algorithm>
#include <vector>

#include "conv_transpose1d.h"

void conv_transpose1d_pack_weight(float* packed, const float* w, int cin, int cout, int k) {
  for (int ci = 0; ci < cin; ++ci)
    for (int co = 0; co < cout; ++co)
      for (int j = 0; j < k; ++j) packed[((size_t)j * cout + co) * cin + ci] = w[((size_t)ci * cout + co) * k + j];
}

void conv_transpose1d_cpu(float* out, const float* x, int t, const float* packed_w, const float* bias,
                          const ConvTranspose1dDims& d, const cosmos::CpuContext& ctx) {
  const int ot = d.out_t(t);
  if (ot <= 0) return;
  const int row = d.k * d.cout;
  const int block = conv_transpose1d_block(d, ot, 4ll << 20);
  std::vector<float> y;
  for (int o0 = 0; o0 < ot; o0 += block) {
    const int o1 = std::min(ot, o0 + block);
    const ConvTranspose1dSpan span = conv_transpose1d_span(d, t, o0, o1);
    if (span.count() > 0) {
      y.resize((size_t)span.count() * row);
      matmul_cpu(y.data(), x + (size_t)span.first * d.cin, packed_w, nullptr, span.count(), d.cin, row, ctx);
    }
    cosmos::parallel_for(ctx, o1 - o0, 64, [&](int b, int e) {
      for (int o = o0 + b; o < o0 + e; ++o) {
        float* dst = out + (size_t)o * d.cout;
        for (int co = 0; co < d.cout; ++co) dst[co] = bias ? bias[co] : 0.f;
        const int hi = std::min(span.last, (o + d.pad) / d.stride);
        for (int i = hi; i >= span.first; --i) {  // taps in increasing order
          const int tap = o + d.pad - i * d.stride;
          if (tap >= d.k) break;
          const float* src = y.data() + (size_t)(i - span.first) * row + (size_t)tap * d.cout;
          for (int co = 0; co < d.cout; ++co) dst[co] += src[co];
        }
      }
    });
  }
}
