#include "../ops/add_layernorm.h"
#include "../ops/add_rmsnorm.h"
#include "../ops/layernorm.h"
#include "../ops/rmsnorm.h"
#include "norm.h"

namespace cosmos {

void norm_cpu(float* y, const float* x, const RmsNorm& n, int rows) { rmsnorm_cpu(y, x, n.w, rows, n.dim, n.eps); }
void norm_cpu(float* y, const float* x, const LayerNorm& n, int rows) {
  layernorm_cpu(y, x, n.w, n.b, rows, n.dim, n.eps);
}
void add_norm_cpu(float* y, float* x, const float* h, const RmsNorm& n, int rows) {
  add_rmsnorm_cpu(y, x, h, n.w, rows, n.dim, n.eps);
}
void add_norm_cpu(float* y, float* x, const float* h, const LayerNorm& n, int rows) {
  add_layernorm_cpu(y, x, h, n.w, n.b, rows, n.dim, n.eps);
}

}  // namespace cosmos
