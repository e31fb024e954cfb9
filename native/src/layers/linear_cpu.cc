#include <cstddef>

#include "../core/errors.h"
#include "linear.h"

namespace cosmos {

Linear Linear::rows(int first, int count) const {
  Linear p = *this;
  const size_t esize = wt == WType::BF16 ? 2 : 4;
  p.w = static_cast<const char*>(w) + (size_t)first * in * esize;
  p.b = b ? b + first : nullptr;
  p.w8 = w8 ? w8 + (size_t)first * in : nullptr;
  p.w8_scale = w8_scale ? w8_scale + first : nullptr;
  p.out = count;
  return p;
}

void linear_cpu(float* y, const float* x, const Linear& l, int n, const CpuContext& ctx) {
  if (l.wt != WType::F32)
    throw ModelError("linear_cpu: bf16 weights are not supported on the CPU backend (load as f32)");
  matmul_cpu(y, x, static_cast<const float*>(l.w), l.b, n, l.in, l.out, ctx);
}

}  // namespace cosmos
