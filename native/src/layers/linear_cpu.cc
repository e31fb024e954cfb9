#include <cstddef>
#include <vector>

#include "../core/errors.h"
#include "../ops/gemv_fp8.h"
#include "../ops/quantize_fp8.h"
#include "linear.h"

namespace cosmos {

Linear Linear::rows(int first, int count) const {
  Linear p = *this;
  const size_t esize = wt == WType::BF16 ? 2 : 4;
  p.w = w ? static_cast<const char*>(w) + (size_t)first * in * esize : nullptr;  // null: given back for w8
  p.b = b ? b + first : nullptr;
  p.w8 = w8 ? w8 + (size_t)first * in : nullptr;
  p.w8_scale = w8_scale ? w8_scale + first : nullptr;
  p.out = count;
  return p;
}

// The fp8 path, twin of linear_cuda's: x quantized per token, then y[r, c] = xs[r] * (ws[c] * Σ dec(x8) dec(w8))
// (+ b[c]), the formula of gemm_fp8_cpu. The e4m3 values are decoded to f32 (exact) and the sum runs through
// matmul_cpu's blocked kernel instead of gemm_fp8_cpu's plain dot products: the products of two e4m3 values are
// exact in f32, so only the summation order differs, and the CPU models stay usable with fp8 on. The weight is
// decoded at every call (out * in floats of scratch): the CPU backend runs small models.
static void linear_fp8_cpu(float* y, const float* x, const Linear& l, int n, const CpuContext& ctx) {
  float table[256];
  for (int i = 0; i < 256; ++i) table[i] = fp8_e4m3_to_float((uint8_t)i);
  std::vector<uint8_t> x8((size_t)n * l.in);
  std::vector<float> xs(n), xd((size_t)n * l.in), wd((size_t)l.out * l.in);
  quantize_fp8_rows_cpu(x8.data(), xs.data(), x, n, l.in);
  for (size_t i = 0; i < x8.size(); ++i) xd[i] = table[x8[i]];
  for (size_t i = 0; i < wd.size(); ++i) wd[i] = table[l.w8[i]];
  matmul_cpu(y, xd.data(), wd.data(), nullptr, n, l.in, l.out, ctx);
  for (int r = 0; r < n; ++r) {
    float* yr = y + (size_t)r * l.out;
    for (int c = 0; c < l.out; ++c) {
      yr[c] = xs[r] * (l.w8_scale[c] * yr[c]);
      if (l.b) yr[c] += l.b[c];
    }
  }
}

void linear_cpu(float* y, const float* x, const Linear& l, int n, const CpuContext& ctx) {
  if (l.w8 && l.w8_scale && n == 1) return gemv_fp8_cpu(y, x, l.w8, l.w8_scale, l.b, l.in, l.out);  // linear_cuda's
  if (l.w8 && l.w8_scale) return linear_fp8_cpu(y, x, l, n, ctx);
  if (!l.w) throw ModelError("linear_cpu: the weight was given back for its fp8 copy, which is not set");
  if (l.wt != WType::F32)
    throw ModelError("linear_cpu: bf16 weights are not supported on the CPU backend (load as f32)");
  matmul_cpu(y, x, static_cast<const float*>(l.w), l.b, n, l.in, l.out, ctx);
}

}  // namespace cosmos
