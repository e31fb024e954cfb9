#include "add_rmsnorm.h"

#include <vector>

#include "add.h"
#include "cast_bf16.h"
#include "quantize_fp8.h"
#include "rmsnorm.h"

void add_rmsnorm_cpu(float* out, float* x, const float* h, const float* w, int rows, int dim, float eps) {
  if (h) add_cpu(x, x, h, rows * dim);  // null: x already holds the sum
  rmsnorm_cpu(out, x, w, rows, dim, eps);
}

void add_rmsnorm_bf16_cpu(uint16_t* out, float* x, const float* h, const float* w, int rows, int dim, float eps) {
  std::vector<float> y((size_t)rows * dim);
  add_rmsnorm_cpu(y.data(), x, h, w, rows, dim, eps);
  cast_bf16_cpu(out, y.data(), y.size());
}

void add_rmsnorm_fp8_cpu(uint8_t* q, float* scale, float* x, const float* h, const float* w, int rows, int dim,
                         float eps) {
  std::vector<float> out((size_t)rows * dim);
  add_rmsnorm_cpu(out.data(), x, h, w, rows, dim, eps);
  quantize_fp8_rows_cpu(q, scale, out.data(), rows, dim);
}

void rmsnorm_bf16_rows_cpu(uint16_t* out, const uint16_t* x, const float* w, int rows, int dim, float eps) {
  std::vector<float> xf((size_t)rows * dim);
  widen_bf16_cpu(xf.data(), x, xf.size());
  add_rmsnorm_bf16_cpu(out, xf.data(), nullptr, w, rows, dim, eps);
}
