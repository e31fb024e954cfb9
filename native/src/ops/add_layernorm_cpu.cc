#include "add_layernorm.h"

#include <vector>

#include "add.h"
#include "cast_bf16.h"
#include "layernorm.h"

void add_layernorm_cpu(float* out, float* x, const float* h, const float* w, const float* b, int rows, int dim,
                       float eps) {
  if (h) add_cpu(x, x, h, rows * dim);  // null: x already holds the sum
  layernorm_cpu(out, x, w, b, rows, dim, eps);
}

void add_layernorm_bf16_cpu(uint16_t* out, float* x, const float* h, const float* w, const float* b, int rows, int dim,
                            float eps) {
  std::vector<float> y((size_t)rows * dim);
  add_layernorm_cpu(y.data(), x, h, w, b, rows, dim, eps);
  cast_bf16_cpu(out, y.data(), y.size());
}

void layernorm_bf16_rows_cpu(uint16_t* out, const uint16_t* x, const float* w, const float* b, int rows, int dim,
                             float eps) {
  std::vector<float> xf((size_t)rows * dim);
  widen_bf16_cpu(xf.data(), x, xf.size());
  add_layernorm_bf16_cpu(out, xf.data(), nullptr, w, b, rows, dim, eps);
}
