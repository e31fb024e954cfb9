// CPU twin of gemv_swiglu_cuda: the unfused composition (matmul, then swiglu).
#include "gemv_swiglu.h"

#include <cstddef>
#include <vector>

#include "matmul.h"
#include "swiglu.h"

void gemv_swiglu_cpu(float* out, const float* x, const float* w, int k, int inter, const cosmos::CpuContext& ctx) {
  std::vector<float> gu(2 * (size_t)inter);
  matmul_cpu(gu.data(), x, w, nullptr, 1, k, 2 * inter, ctx);
  swiglu_cpu(out, gu.data(), gu.data() + inter, inter);
}
