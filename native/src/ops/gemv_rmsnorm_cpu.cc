// CPU twins of gemv_rmsnorm_cuda / gemv_rmsnorm_swiglu_cuda: the unfused composition.
#include <vector>

#include "gemv_rmsnorm.h"
#include "gemv_swiglu.h"
#include "matmul.h"
#include "rmsnorm.h"

void gemv_rmsnorm_cpu(float* out, const float* x, const float* nw, float eps, const float* w, int k, int m,
                      const cosmos::CpuContext& ctx) {
  std::vector<float> h(k);
  rmsnorm_cpu(h.data(), x, nw, 1, k, eps);
  matmul_cpu(out, h.data(), w, nullptr, 1, k, m, ctx);
}

void gemv_rmsnorm_swiglu_cpu(float* out, const float* x, const float* nw, float eps, const float* w, int k, int inter,
                             const cosmos::CpuContext& ctx) {
  std::vector<float> h(k);
  rmsnorm_cpu(h.data(), x, nw, 1, k, eps);
  gemv_swiglu_cpu(out, h.data(), w, k, inter, ctx);
}
