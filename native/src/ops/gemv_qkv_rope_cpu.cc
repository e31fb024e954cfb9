// CPU twin of gemv_qkv_rope_cuda: the unfused composition (matmul, then qkv_rope).
#include "gemv_qkv_rope.h"

#include <cstddef>
#include <vector>

#include "matmul.h"
#include "qkv_rope.h"

void gemv_qkv_rope_cpu(float* q_out, float* k_cache, float* v_cache, const float* x, const float* w, const float* qw,
                       const float* kw, const float* cos, const float* sin, int k, int heads, int kv_heads,
                       int head_dim, float eps, int row0, const cosmos::CpuContext& ctx) {
  const int QH = heads * head_dim, KH = kv_heads * head_dim;
  std::vector<float> proj((size_t)QH + 2 * KH);
  matmul_cpu(proj.data(), x, w, nullptr, 1, k, QH + 2 * KH, ctx);
  qkv_rope_cpu(q_out, k_cache, v_cache, proj.data(), proj.data() + QH, proj.data() + QH + KH, QH + 2 * KH, QH + 2 * KH,
               qw, kw, cos, sin, 1, heads, kv_heads, head_dim, eps, row0);
}
