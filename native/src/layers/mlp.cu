#ifndef COSMOS_CUDA
#define COSMOS_CUDA 1
#endif
#include <cstdlib>
#include <cstring>

#include "../core/cuda_pool.h"
#include "../ops/gelu.h"
#include "../ops/gemm_fp8_wgmma.h"
#include "../ops/gemv_swiglu.h"
#include "../ops/relu2.h"
#include "../ops/swiglu.h"
#include "../ops/swiglu_fp8.h"
#include "mlp.h"

namespace cosmos {

namespace {
// FP8 weights (Linear::w8, opt-in) on both projections: gate|up as one fp8 GEMM (x quantized once) into the
// scratch's [n, 2 inter] f32, SwiGLU and the per-token e4m3 quantization of h in one pass (swiglu_quantize_fp8),
// the down projection on e4m3 h. The same numbers as the unfused fp8 path (gate, up, swiglu_cuda, down through
// linear_cuda), which COSMOS_FP8_FUSED_SWIGLU=0 selects. False (nothing done) when the kernel cannot run here.
bool mlp_fp8_swiglu(float* y, const float* x, const SwiGluMlp& m, int n, float* scratch, const CudaContext& ctx) {
  const int inter = m.gate_up.out / 2;
  if (!m.gate_up.w8 || !m.gate_up.w8_scale || !m.down.w8 || !m.down.w8_scale || m.down.in != inter) return false;
  const char* env = std::getenv("COSMOS_FP8_FUSED_SWIGLU");
  if (env && std::strcmp(env, "0") == 0) return false;
  if (!gemm_fp8_wgmma_available(ctx.stream) ||
      !gemm_fp8_wgmma_shape_ok(m.gate_up.w8, m.gate_up.w8, n, 2 * inter, m.gate_up.in) ||
      !gemm_fp8_wgmma_shape_ok(m.down.w8, m.down.w8, n, m.down.out, inter))
    return false;
  linear_cuda(scratch, x, m.gate_up, n, ctx);  // the fp8 path of linear_cuda (the checks above are its own)
  CudaPool& pool = workspace_pool(ctx, "mlp_cuda (fp8)");
  DeviceBuffer<uint8_t> h8(pool, (size_t)n * inter);
  DeviceBuffer<float> hs(pool, (size_t)n);
  swiglu_quantize_fp8_cuda(h8.get(), hs.get(), scratch, n, inter, ctx);
  gemm_fp8_wgmma(y, h8.get(), m.down.w8, hs.get(), m.down.w8_scale, m.down.b, n, m.down.out, inter, ctx);
  return true;
}
}  // namespace

void mlp_cuda(float* y, const float* x, const SwiGluMlp& m, int n, float* scratch, const CudaContext& ctx) {
  const int inter = m.gate_up.out / 2;
  float* g = scratch;
  if (mlp_fp8_swiglu(y, x, m, n, scratch, ctx)) return;
  // FP8 weights (Linear::w8) have no fused SwiGLU GEMM: else gate and up as two fp8 GEMMs, swiglu_cuda, down in fp8.
  if (!m.gate_up.b && !m.gate_up.w8 && m.down.wt == WType::BF16 &&
      matmul_swiglu_supported(x, m.gate_up.w, m.gate_up.wt, n, m.gate_up.in, inter, ctx)) {
    // One GEMM with the activation in its epilogue, bf16 into the down projection: no [n, 2 inter] f32 in between.
    // The scratch holds 2 n inter floats (mlp_scratch_floats); the bf16 h takes a quarter of it.
    auto* h = reinterpret_cast<__nv_bfloat16*>(scratch);
    matmul_swiglu_cuda(h, x, m.gate_up.w, n, m.gate_up.in, inter, ctx);
    matmul_bf16_cuda(y, h, m.down.w, m.down.b, n, inter, m.down.out, ctx);
    return;
  }
  if (n == 1 && !m.gate_up.b) {
    gemv_swiglu_cuda(g, x, m.gate_up.w, m.gate_up.wt, m.gate_up.in, inter, ctx);
  } else {
    float* u = scratch + (size_t)n * inter;
    linear_cuda(g, x, m.gate_up.rows(0, inter), n, ctx);
    linear_cuda(u, x, m.gate_up.rows(inter, inter), n, ctx);
    swiglu_cuda(g, g, u, n * inter, ctx);
  }
  linear_cuda(y, g, m.down, n, ctx);
}

void mlp_cuda(float* y, const float* x, const GeluMlp& m, int n, float* scratch, const CudaContext& ctx) {
  if (!m.fc1.w8 && m.fc2.wt == WType::BF16 &&
      matmul_gelu_supported(x, m.fc1.w, m.fc1.wt, n, m.fc1.in, m.fc1.out, ctx)) {
    // fc1 + bias + GELU in one GEMM, bf16 into fc2 (the scratch holds n x fc1.out floats; the bf16 h takes half).
    auto* h = reinterpret_cast<__nv_bfloat16*>(scratch);
    matmul_gelu_cuda(h, x, m.fc1.w, m.fc1.b, n, m.fc1.in, m.fc1.out, m.tanh, ctx);
    matmul_bf16_cuda(y, h, m.fc2.w, m.fc2.b, n, m.fc1.out, m.fc2.out, ctx);
    return;
  }
  linear_cuda(scratch, x, m.fc1, n, ctx);
  if (m.tanh)
    gelu_tanh_cuda(scratch, n * m.fc1.out, ctx);
  else
    gelu_erf_cuda(scratch, n * m.fc1.out, ctx);
  linear_cuda(y, scratch, m.fc2, n, ctx);
}

void mlp_cuda(float* y, const float* x, const Relu2Mlp& m, int n, float* scratch, const CudaContext& ctx) {
  linear_cuda(scratch, x, m.up, n, ctx);
  relu2_cuda(scratch, (long long)n * m.up.out, ctx);
  linear_cuda(y, scratch, m.down, n, ctx);
}

}  // namespace cosmos
