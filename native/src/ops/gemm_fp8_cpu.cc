// CPU twin of gemm_fp8_wgmma (see gemm_fp8_wgmma.h): decode the e4m3 bytes once through a 256-entry table, then a
// plain f32 dot product per output in k order (rows in parallel).
#include <vector>

#include "../core/parallel.h"
#include "gemm_fp8_wgmma.h"
#include "quantize_fp8.h"

void gemm_fp8_cpu(float* y, const uint8_t* a, const uint8_t* b, const float* scale_row, const float* scale_col,
                  const float* bias, int m, int n, int k) {
  float table[256];
  for (int i = 0; i < 256; ++i) table[i] = fp8_e4m3_to_float((uint8_t)i);
  std::vector<float> bd((size_t)n * k);
  for (size_t i = 0; i < bd.size(); ++i) bd[i] = table[b[i]];
  cosmos::parallel_for(cosmos::CpuContext{}, m, 1, [&](int r0, int r1) {
    std::vector<float> ar(k);
    for (int r = r0; r < r1; ++r) {
      for (int i = 0; i < k; ++i) ar[i] = table[a[(size_t)r * k + i]];
      for (int c = 0; c < n; ++c) {
        const float* br = &bd[(size_t)c * k];
        float s = 0.f;
        for (int i = 0; i < k; ++i) s += ar[i] * br[i];
        float v = scale_row[r] * (scale_col[c] * s);
        if (bias) v += bias[c];
        y[(size_t)r * n + c] = v;
      }
    }
  });
}
