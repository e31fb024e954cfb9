// CPU twin of gemv_add_rmsnorm_cuda: the unfused composition (matmul, add, rmsnorm).
#include "gemv_add_rmsnorm.h"

#include <vector>

#include "add.h"
#include "matmul.h"
#include "rmsnorm.h"

void gemv_add_rmsnorm_cpu(float* out, float* x, const float* a, const float* w, const float* lnw, int k, int m,
                          float eps, const cosmos::CpuContext& ctx) {
  std::vector<float> y(m);
  matmul_cpu(y.data(), a, w, nullptr, 1, k, m, ctx);
  add_cpu(x, x, y.data(), m);
  if (lnw) rmsnorm_cpu(out, x, lnw, 1, m, eps);
}
