#include "../core/tensor.h"
#include "../ops/gelu.h"
#include "../ops/relu2.h"
#include "../ops/swiglu.h"
#include "mlp.h"

namespace cosmos {

size_t mlp_scratch_floats(const SwiGluMlp& m, int n) { return (size_t)n * m.gate_up.out; }
size_t mlp_scratch_floats(const GeluMlp& m, int n) { return (size_t)n * m.fc1.out; }
size_t mlp_scratch_floats(const Relu2Mlp& m, int n) { return (size_t)n * m.up.out; }

bool mlp_fp8_fused(const SwiGluMlp& m) {
  return m.gate_up.w8 && m.gate_up.w8_scale && m.down.w8 && m.down.w8_scale && !m.gate_up.b &&
         (m.gate_up.out / 2) % 128 == 0 && m.gate_up.in % 16 == 0;
}

void mlp_cpu(float* y, const float* x, const SwiGluMlp& m, int n, float* scratch, const CpuContext& ctx) {
  const int inter = m.gate_up.out / 2;
  float* g = scratch;
  float* u = scratch + (size_t)n * inter;
  linear_cpu(g, x, m.gate_up.rows(0, inter), n, ctx);
  linear_cpu(u, x, m.gate_up.rows(inter, inter), n, ctx);
  swiglu_cpu(g, g, u, n * inter);
  // The CUDA epilogue's bf16 h (round to nearest even), quantized by the down projection; one token (gemv_fp8_swiglu
  // there) keeps h in f32.
  if (mlp_fp8_fused(m) && n > 1)
    for (size_t i = 0; i < (size_t)n * inter; ++i) g[i] = bf16_to_f32(f32_to_bf16(g[i]));
  linear_cpu(y, g, m.down, n, ctx);
}

void mlp_cpu(float* y, const float* x, const GeluMlp& m, int n, float* scratch, const CpuContext& ctx) {
  linear_cpu(scratch, x, m.fc1, n, ctx);
  if (m.tanh)
    gelu_tanh_cpu(scratch, n * m.fc1.out);
  else
    gelu_erf_cpu(scratch, n * m.fc1.out);
  linear_cpu(y, scratch, m.fc2, n, ctx);
}

void mlp_cpu(float* y, const float* x, const Relu2Mlp& m, int n, float* scratch, const CpuContext& ctx) {
  linear_cpu(scratch, x, m.up, n, ctx);
  relu2_cpu(scratch, (long long)n * m.up.out);
  linear_cpu(y, scratch, m.down, n, ctx);
}

}  // namespace cosmos
