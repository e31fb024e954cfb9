#ifndef COSMOS_CUDA
#define COSMOS_CUDA 1
#endif
#include <string>

#include "../core/cuda_common.h"
#include "../core/cuda_pool.h"
#include "../core/errors.h"
#include "../ops/add.h"
#include "../ops/gelu.h"
#include "../ops/gemm_fp8_wgmma.h"
#include "../ops/gemv_fp8.h"
#include "../ops/gemv_swiglu.h"
#include "../ops/quantize_fp8.h"
#include "../ops/relu2.h"
#include "../ops/swiglu.h"
#include "mlp.h"
#include "weights.h"

namespace cosmos {

bool mlp_fp8_fused_runs(const SwiGluMlp& m, int n, const CudaContext& ctx) {
  return n > 1 && mlp_fp8_fused(m) && gemm_fp8_wgmma_available(ctx.stream) &&
         gemm_fp8_wgmma_swiglu_shape_ok(m.gate_up.w8, m.gate_up.w8, n, m.gate_up.in, m.gate_up.out / 2);
}

namespace {
// gate|up + SwiGLU in one bf16 GEMM (matmul_swiglu_supported), its bf16 h into the down projection.
bool swiglu_fused_runs(const SwiGluMlp& m, const void* x, int n, const CudaContext& ctx) {
  return !m.gate_up.b && !m.gate_up.w8 && m.down.wt == WType::BF16 &&
         matmul_swiglu_supported(x, m.gate_up.w, m.gate_up.wt, n, m.gate_up.in, m.gate_up.out / 2, ctx);
}
}  // namespace

bool mlp_bf16_input_runs(const SwiGluMlp& m, const __nv_bfloat16* xb, int n, const CudaContext& ctx) {
  return xb && swiglu_fused_runs(m, xb, n, ctx);
}

bool mlp_residual_in_epilogue(const SwiGluMlp& m, const float* x, const __nv_bfloat16* xb, int n,
                              const CudaContext& ctx) {
  const int inter = m.gate_up.out / 2;
  if (mlp_fp8_fused_runs(m, n, ctx)) return true;  // gemm_fp8_wgmma_add for down
  if (xb || swiglu_fused_runs(m, x, n, ctx))       // matmul_bf16_add_cuda from the bf16 h (a pool block)
    return matmul_bf16_add_supported(m.down.w, m.down.w, m.down.wt, n, inter, m.down.out, ctx);
  // The steps apart (not one row on the fp8 GEMV): down through linear_add_cuda.
  return n > 1 && linear_add_runs(m.down, n, ctx);
}

namespace {
// y += mlp(x) where the residual add cannot ride in the last GEMM's epilogue: the MLP into a workspace (back to the
// pool once the add is enqueued), then add_cuda: the same sums.
template <class Mlp, class... Rest>
void mlp_then_add(float* y, const float* x, const Mlp& m, int out, int n, float* scratch, const CudaContext& ctx,
                  Rest... rest) {
  DeviceBuffer<float> t(workspace_pool(ctx, "mlp_cuda (residual)"), (size_t)n * out);
  mlp_cuda(t.get(), x, m, n, scratch, ctx, rest..., false);
  add_cuda(y, y, t.get(), n * out, ctx);
}
}  // namespace

void mlp_cuda(float* y, const float* x, const SwiGluMlp& m, int n, float* scratch, const CudaContext& ctx, Fp8Rows x8,
              const __nv_bfloat16* xb, bool residual) {
  const int inter = m.gate_up.out / 2;
  float* g = scratch;
  if (xb) {
    if (x8.q) throw ModelError("mlp_cuda: both e4m3 and bf16 rows given; give one form of x");
    if (!mlp_bf16_input_runs(m, xb, n, ctx))
      throw ModelError("mlp_cuda: bf16 rows given where gate|up + SwiGLU does not run on the fused bf16 GEMM");
  }
  // The residual add in the down projection's epilogue where it can ride there, else after (a workspace).
  if (residual && !mlp_residual_in_epilogue(m, x, xb, n, ctx))
    return mlp_then_add(y, x, m, m.down.out, n, scratch, ctx, x8, xb);
  const bool fused_fp8 = mlp_fp8_fused_runs(m, n, ctx);
  if (x8.q && !fused_fp8) throw ModelError("mlp_cuda: e4m3 rows given where the fused fp8 path does not run");
  if (fused_fp8) {
    // x per token to e4m3; gate|up + SwiGLU in one fp8 GEMM writing h in bf16 (no [n, 2 inter] f32, no activation
    // pass); h per token to e4m3; down in fp8. h and its e4m3 copy live in the scratch (2 n inter floats: h takes a
    // quarter, h8 an eighth; h8 starts 2 n inter bytes in, a multiple of 256 as inter % 128 == 0).
    CudaPool& pool = workspace_pool(ctx, "mlp_cuda (fp8)");
    DeviceBuffer<uint8_t> q;
    DeviceBuffer<float> qs, hs(pool, (size_t)n);
    auto* h = reinterpret_cast<__nv_bfloat16*>(scratch);
    auto* h8 = reinterpret_cast<uint8_t*>(scratch) + (size_t)n * inter * 2;
    if (!x8.q) {
      q = DeviceBuffer<uint8_t>(pool, (size_t)n * m.gate_up.in);
      qs = DeviceBuffer<float>(pool, (size_t)n);
      quantize_fp8_rows_cuda(q.get(), qs.get(), x, n, m.gate_up.in, ctx);
      x8 = Fp8Rows{q.get(), qs.get()};
    }
    gemm_fp8_wgmma_swiglu(h, x8.q, m.gate_up.w8, x8.scale, m.gate_up.w8_scale, n, m.gate_up.in, inter, ctx);
    quantize_fp8_rows_bf16_cuda(h8, hs.get(), h, n, inter, ctx);
    if (residual)
      gemm_fp8_wgmma_add(y, h8, m.down.w8, hs.get(), m.down.w8_scale, m.down.b, n, m.down.out, inter, ctx);
    else
      gemm_fp8_wgmma(y, h8, m.down.w8, hs.get(), m.down.w8_scale, m.down.b, n, m.down.out, inter, ctx);
    return;
  }
  // One token on fp8 copies: gate|up + SwiGLU in one weight-only GEMV (x in f32), then down's (linear_cuda).
  if (n == 1 && m.gate_up.w8 && m.gate_up.w8_scale && m.down.w8 && !m.gate_up.b &&
      gemv_fp8_supported(x, m.gate_up.w8, m.gate_up.in)) {
    gemv_fp8_swiglu_cuda(g, x, m.gate_up.w8, m.gate_up.w8_scale, m.gate_up.in, inter, ctx);
    linear_cuda(y, g, m.down, 1, ctx);
    return;
  }
  // FP8 weights (Linear::w8) where mlp_fp8_fused does not hold: gate and up as two fp8 GEMMs, swiglu_cuda, down.
  if (xb || swiglu_fused_runs(m, x, n, ctx)) {
    // One GEMM with the activation in its epilogue, bf16 into the down projection: no [n, 2 inter] f32 in between.
    // The scratch holds 2 n inter floats (mlp_scratch_floats); the bf16 h takes a quarter of it.
    auto* h = reinterpret_cast<__nv_bfloat16*>(scratch);
    if (xb)
      matmul_swiglu_bf16_cuda(h, xb, m.gate_up.w, n, m.gate_up.in, inter, ctx);
    else
      matmul_swiglu_cuda(h, x, m.gate_up.w, n, m.gate_up.in, inter, ctx);
    if (residual)
      matmul_bf16_add_cuda(y, h, m.down.w, m.down.b, n, inter, m.down.out, ctx);
    else
      matmul_bf16_cuda(y, h, m.down.w, m.down.b, n, inter, m.down.out, ctx);
    return;
  }
  if (n == 1 && !m.gate_up.b && !m.gate_up.w8) {  // (with w8 the bf16 weight may be gone: set_fp8's keep_source)
    gemv_swiglu_cuda(g, x, m.gate_up.w, m.gate_up.wt, m.gate_up.in, inter, ctx);
  } else {
    float* u = scratch + (size_t)n * inter;
    linear_cuda(g, x, m.gate_up.rows(0, inter), n, ctx);
    linear_cuda(u, x, m.gate_up.rows(inter, inter), n, ctx);
    swiglu_cuda(g, g, u, n * inter, ctx);
  }
  if (residual)
    linear_add_cuda(y, g, m.down, n, ctx);
  else
    linear_cuda(y, g, m.down, n, ctx);
}

namespace {
bool gelu_fused_runs(const GeluMlp& m, const void* x, int n, const CudaContext& ctx) {
  return !m.fc1.w8 && m.fc2.wt == WType::BF16 &&
         matmul_gelu_supported(x, m.fc1.w, m.fc1.wt, n, m.fc1.in, m.fc1.out, ctx);
}
}  // namespace

bool mlp_bf16_input_runs(const GeluMlp& m, const __nv_bfloat16* xb, int n, const CudaContext& ctx) {
  return xb && gelu_fused_runs(m, xb, n, ctx);
}

bool mlp_residual_in_epilogue(const GeluMlp& m, const float* x, const __nv_bfloat16* xb, int n,
                              const CudaContext& ctx) {
  // fc2 from the fused path's bf16 h (a pool block) on matmul_bf16_add_cuda
  return (xb || gelu_fused_runs(m, x, n, ctx)) &&
         matmul_bf16_add_supported(m.fc2.w, m.fc2.w, m.fc2.wt, n, m.fc1.out, m.fc2.out, ctx);
}

void mlp_cuda(float* y, const float* x, const GeluMlp& m, int n, float* scratch, const CudaContext& ctx,
              const __nv_bfloat16* xb, bool residual) {
  if (xb && !mlp_bf16_input_runs(m, xb, n, ctx))
    throw ModelError("mlp_cuda: bf16 rows given where fc1 + GELU does not run on the fused bf16 GEMM");
  if (residual && !mlp_residual_in_epilogue(m, x, xb, n, ctx))
    return mlp_then_add(y, x, m, m.fc2.out, n, scratch, ctx, xb);
  if (xb || gelu_fused_runs(m, x, n, ctx)) {
    // fc1 + bias + GELU in one GEMM, bf16 into fc2 (the scratch holds n x fc1.out floats; the bf16 h takes half).
    auto* h = reinterpret_cast<__nv_bfloat16*>(scratch);
    if (xb)
      matmul_gelu_bf16_cuda(h, xb, m.fc1.w, m.fc1.b, n, m.fc1.in, m.fc1.out, m.tanh, ctx);
    else
      matmul_gelu_cuda(h, x, m.fc1.w, m.fc1.b, n, m.fc1.in, m.fc1.out, m.tanh, ctx);
    if (residual)
      matmul_bf16_add_cuda(y, h, m.fc2.w, m.fc2.b, n, m.fc1.out, m.fc2.out, ctx);
    else
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

bool mlp_add_bf16_runs(const SwiGluMlp& m, const __nv_bfloat16* xb, int n, const CudaContext& ctx) {
  return mlp_bf16_input_runs(m, xb, n, ctx) && !mlp_fp8_fused_runs(m, n, ctx) &&
         matmul_bf16_out_supported(m.down.w, m.down.w, m.down.wt, n, m.gate_up.out / 2, m.down.out, ctx);
}

void mlp_add_bf16_cuda(__nv_bfloat16* yb, const __nv_bfloat16* xb, const SwiGluMlp& m, int n, float* scratch,
                       const CudaContext& ctx) {
  if (!mlp_add_bf16_runs(m, xb, n, ctx))
    throw ModelError(
        "mlp_add_bf16_cuda: the bf16 residual add needs gate|up + SwiGLU on the fused bf16 GEMM and down on the wgmma "
        "GEMM (mlp_add_bf16_runs)");
  const int inter = m.gate_up.out / 2;
  auto* h = reinterpret_cast<__nv_bfloat16*>(scratch);  // as mlp_cuda's fused path: a quarter of the scratch
  matmul_swiglu_bf16_cuda(h, xb, m.gate_up.w, n, m.gate_up.in, inter, ctx);
  matmul_bf16_add_bf16_cuda(yb, h, m.down.w, m.down.b, n, inter, m.down.out, ctx);
}

void mlp_cuda(float* y, const float* x, const Relu2Mlp& m, int n, float* scratch, const CudaContext& ctx) {
  linear_cuda(scratch, x, m.up, n, ctx);
  relu2_cuda(scratch, (long long)n * m.up.out, ctx);
  linear_cuda(y, scratch, m.down, n, ctx);
}

void gelu_mlp_pad_width_cuda(GeluMlp& m, WeightStore& store, int multiple, cudaStream_t stream) {
  const int width = m.fc1.out, padded = (width + multiple - 1) / multiple * multiple;
  if (padded == width || m.fc1.w8 || m.fc2.w8) return;
  if (m.fc2.in != width || m.fc1.wt != m.fc2.wt)
    throw ModelError("gelu_mlp_pad_width_cuda: fc1.out " + std::to_string(width) + " != fc2.in " +
                     std::to_string(m.fc2.in) + " or the two weights differ in dtype");
  const bool bf16 = m.fc1.wt == WType::BF16;
  const size_t es = bf16 ? 2 : 4, in = m.fc1.in, out = m.fc2.out;
  // fc1: [width, in] rows, then zero rows; its bias likewise (an absent bias stays absent: 0 + 0 past the width).
  void* w1 = store.alloc((size_t)padded * in, bf16);
  CUDA_CHECK(cudaMemcpyAsync(w1, m.fc1.w, (size_t)width * in * es, cudaMemcpyDeviceToDevice, stream));
  CUDA_CHECK(cudaMemsetAsync((char*)w1 + (size_t)width * in * es, 0, (size_t)(padded - width) * in * es, stream));
  float* b1 = nullptr;
  if (m.fc1.b) {
    b1 = (float*)store.alloc(padded, false);
    CUDA_CHECK(cudaMemcpyAsync(b1, m.fc1.b, (size_t)width * 4, cudaMemcpyDeviceToDevice, stream));
    CUDA_CHECK(cudaMemsetAsync(b1 + width, 0, (size_t)(padded - width) * 4, stream));
  }
  // fc2: [out, width] -> [out, padded], each row's tail zero.
  void* w2 = store.alloc(out * padded, bf16);
  CUDA_CHECK(cudaMemsetAsync(w2, 0, out * padded * es, stream));
  CUDA_CHECK(
      cudaMemcpy2DAsync(w2, padded * es, m.fc2.w, width * es, width * es, out, cudaMemcpyDeviceToDevice, stream));
  CUDA_CHECK(cudaStreamSynchronize(stream));  // the copies have read the old blocks before they go back
  for (const void* old : {m.fc1.w, (const void*)m.fc1.b, m.fc2.w})
    if (old) store.release(old);
  m.fc1.w = w1, m.fc1.b = b1, m.fc1.out = padded;
  m.fc2.w = w2, m.fc2.in = padded;
}

}  // namespace cosmos
