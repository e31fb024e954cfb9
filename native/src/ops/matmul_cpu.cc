// Blocked CPU GEMM in the nn.Linear layout. x rows and w rows are both contiguous along k, so each
// output is a dot product of two contiguous vectors; we compute 4x4 output tiles so every loaded x
// row is reused against 4 w rows (and vice versa), and split the work across threads by w rows
// (decode has n=1, so splitting by x rows would leave threads idle).
#include "matmul.h"

#include <algorithm>

#include "../core/parallel.h"

namespace {
constexpr int KB = 512;  // k block: 4 x rows + 4 w rows of 512 floats stay in L1/L2

inline float dot(const float* a, const float* b, int k) {
  float s0 = 0, s1 = 0, s2 = 0, s3 = 0;
  int i = 0;
  for (; i + 4 <= k; i += 4) {
    s0 += a[i] * b[i];
    s1 += a[i + 1] * b[i + 1];
    s2 += a[i + 2] * b[i + 2];
    s3 += a[i + 3] * b[i + 3];
  }
  for (; i < k; ++i) s0 += a[i] * b[i];
  return (s0 + s1) + (s2 + s3);
}

void tile(float* out, const float* x, const float* w, int n, int k, int m, int m0, int m1) {
  for (int i0 = 0; i0 < n; i0 += 4) {
    int ni = std::min(4, n - i0);
    for (int j0 = m0; j0 < m1; j0 += 4) {
      int nj = std::min(4, m1 - j0);
      float acc[4][4] = {};
      for (int kb = 0; kb < k; kb += KB) {
        int kl = std::min(KB, k - kb);
        if (ni == 4 && nj == 4) {
          const float* xr[4] = {x + (size_t)(i0 + 0) * k + kb, x + (size_t)(i0 + 1) * k + kb,
                                x + (size_t)(i0 + 2) * k + kb, x + (size_t)(i0 + 3) * k + kb};
          const float* wr[4] = {w + (size_t)(j0 + 0) * k + kb, w + (size_t)(j0 + 1) * k + kb,
                                w + (size_t)(j0 + 2) * k + kb, w + (size_t)(j0 + 3) * k + kb};
          for (int kk = 0; kk < kl; ++kk) {
            float a0 = xr[0][kk], a1 = xr[1][kk], a2 = xr[2][kk], a3 = xr[3][kk];
            float b0 = wr[0][kk], b1 = wr[1][kk], b2 = wr[2][kk], b3 = wr[3][kk];
            acc[0][0] += a0 * b0;
            acc[0][1] += a0 * b1;
            acc[0][2] += a0 * b2;
            acc[0][3] += a0 * b3;
            acc[1][0] += a1 * b0;
            acc[1][1] += a1 * b1;
            acc[1][2] += a1 * b2;
            acc[1][3] += a1 * b3;
            acc[2][0] += a2 * b0;
            acc[2][1] += a2 * b1;
            acc[2][2] += a2 * b2;
            acc[2][3] += a2 * b3;
            acc[3][0] += a3 * b0;
            acc[3][1] += a3 * b1;
            acc[3][2] += a3 * b2;
            acc[3][3] += a3 * b3;
          }
        } else {
          for (int a = 0; a < ni; ++a)
            for (int b = 0; b < nj; ++b)
              acc[a][b] += dot(x + (size_t)(i0 + a) * k + kb, w + (size_t)(j0 + b) * k + kb, kl);
        }
      }
      for (int a = 0; a < ni; ++a)
        for (int b = 0; b < nj; ++b) out[(size_t)(i0 + a) * m + j0 + b] = acc[a][b];
    }
  }
}
}  // namespace

void matmul_cpu(float* out, const float* x, const float* w, const float* bias, int n, int k, int m,
                const cosmos::CpuContext& ctx) {
  // Chunks of w rows, rounded to the 4-wide tile; ~64k multiply-adds minimum per thread.
  int min_rows = std::max(4, (int)(65536 / std::max(1L, (long)n * k)));
  int groups = (m + 3) / 4;
  cosmos::parallel_for(ctx, groups, (min_rows + 3) / 4,
                       [&](int g0, int g1) { tile(out, x, w, n, k, m, g0 * 4, std::min(m, g1 * 4)); });
  if (bias)
    for (int i = 0; i < n; ++i)
      for (int j = 0; j < m; ++j) out[(size_t)i * m + j] += bias[j];
}
