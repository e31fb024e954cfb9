// CPU twin of gemv_add_cuda: matmul, then the add.
#include <vector>

#include "add.h"
#include "gemv_add.h"
#include "matmul.h"

void gemv_add_cpu(float* x, const float* a, const float* w, int k, int m, const cosmos::CpuContext& ctx) {
  std::vector<float> y(m);
  matmul_cpu(y.data(), a, w, nullptr, 1, k, m, ctx);
  add_cpu(x, x, y.data(), m);
}
