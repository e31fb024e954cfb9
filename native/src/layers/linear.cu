#ifndef COSMOS_CUDA
#define COSMOS_CUDA 1
#endif
#include "../core/cuda_pool.h"
#include "../core/env.h"
#include "../core/errors.h"
#include "../ops/gemm_fp8_wgmma.h"
#include "../ops/gemv_fp8.h"
#include "../ops/quantize_fp8.h"
#include "linear.h"

namespace cosmos {

bool linear_fp8_runs(const Linear& l, int n, const CudaContext& ctx) {
  return n > 1 && l.w8 && l.w8_scale && gemm_fp8_wgmma_available(ctx.stream) &&
         gemm_fp8_wgmma_shape_ok(l.w8, l.w8, n, l.out, l.in);
}

void linear_cuda(float* y, const float* x, const Linear& l, int n, const CudaContext& ctx, Fp8Rows x8) {
  const bool fp8 = linear_fp8_runs(l, n, ctx);
  // The caller decides with linear_fp8_runs; x8 without the fp8 GEMM would leave x unread-but-needed.
  if (x8.q && !fp8) throw ModelError("linear_cuda: e4m3 rows given where the fp8 GEMM does not run");
  if (fp8) {
    if (x8.q) {
      gemm_fp8_wgmma(y, x8.q, l.w8, x8.scale, l.w8_scale, l.b, n, l.out, l.in, ctx);
      return;
    }
    // The workspaces go back to the pool once enqueued (the pool serves this stream only).
    CudaPool& pool = workspace_pool(ctx, "linear_cuda (fp8)");
    DeviceBuffer<uint8_t> q(pool, (size_t)n * l.in);
    DeviceBuffer<float> qs(pool, (size_t)n);
    quantize_fp8_rows_cuda(q.get(), qs.get(), x, n, l.in, ctx);
    gemm_fp8_wgmma(y, q.get(), l.w8, qs.get(), l.w8_scale, l.b, n, l.out, l.in, ctx);
    return;
  }
  // One token on the fp8 copy: the weight-only GEMV (x stays f32; the weight's bytes are the cost).
  if (n == 1 && l.w8 && l.w8_scale && gemv_fp8_supported(x, l.w8, l.in)) {
    gemv_fp8_cuda(y, x, l.w8, l.w8_scale, l.b, l.in, l.out, ctx);
    return;
  }
  // A weight given back for its fp8 copy (set_fp8's keep_source = false) is only given back where the fp8 GEMM runs
  // for every n; reaching here without it is a broken invariant, not a shape to fall back on.
  if (!l.w) throw ModelError("linear_cuda: the weight was given back for its fp8 copy, and the fp8 GEMM cannot run");
  matmul_cuda(y, x, l.w, l.wt, l.b, n, l.in, l.out, ctx);
}

bool linear_bf16_runs(const Linear& l, int n, const CudaContext& ctx) {
  return l.w && l.wt == WType::BF16 && n > 8 && l.in % 8 == 0 && reinterpret_cast<uintptr_t>(l.w) % 16 == 0 &&
         !linear_fp8_runs(l, n, ctx);
}

void linear_bf16_cuda(float* y, const __nv_bfloat16* xb, const Linear& l, int n, const CudaContext& ctx) {
  if (!linear_bf16_runs(l, n, ctx))
    throw ModelError("linear_bf16_cuda: bf16 rows given where linear_cuda would not cast x to bf16 (linear_bf16_runs)");
  matmul_bf16_cuda(y, xb, l.w, l.b, n, l.in, l.out, ctx);
}

bool linear_bf16_add_runs(const Linear& l, int n, const CudaContext& ctx) {
  // xb stands in for itself, as in linear_bf16_out_runs
  return linear_bf16_runs(l, n, ctx) && matmul_bf16_add_supported(l.w, l.w, l.wt, n, l.in, l.out, ctx);
}

void linear_bf16_add_cuda(float* y, const __nv_bfloat16* xb, const Linear& l, int n, const CudaContext& ctx) {
  if (!linear_bf16_add_runs(l, n, ctx) || reinterpret_cast<uintptr_t>(xb) % 16 != 0)
    throw ModelError(
        "linear_bf16_add_cuda: the residual add in the epilogue needs the wgmma GEMM and 16-byte aligned rows "
        "(linear_bf16_add_runs)");
  matmul_bf16_add_cuda(y, xb, l.w, l.b, n, l.in, l.out, ctx);
}

bool linear_add_runs(const Linear& l, int n, const CudaContext& ctx) {
  return linear_fp8_runs(l, n, ctx) || linear_bf16_add_runs(l, n, ctx);  // (the latter: linear_cuda's cast path)
}

void linear_add_cuda(float* y, const float* x, const Linear& l, int n, const CudaContext& ctx, Fp8Rows x8) {
  if (linear_fp8_runs(l, n, ctx)) {
    DeviceBuffer<uint8_t> q;
    DeviceBuffer<float> qs;
    if (!x8.q) {  // as linear_cuda: x per token to e4m3 in workspaces, back to the pool once enqueued
      CudaPool& pool = workspace_pool(ctx, "linear_add_cuda (fp8)");
      q = DeviceBuffer<uint8_t>(pool, (size_t)n * l.in);
      qs = DeviceBuffer<float>(pool, (size_t)n);
      quantize_fp8_rows_cuda(q.get(), qs.get(), x, n, l.in, ctx);
      x8 = Fp8Rows{q.get(), qs.get()};
    }
    gemm_fp8_wgmma_add(y, x8.q, l.w8, x8.scale, l.w8_scale, l.b, n, l.out, l.in, ctx);
    return;
  }
  if (x8.q) throw ModelError("linear_add_cuda: e4m3 rows given where the fp8 GEMM does not run");
  if (!linear_add_runs(l, n, ctx))
    throw ModelError(
        "linear_add_cuda: the residual add in the epilogue needs the fp8 or the wgmma GEMM (linear_add_runs)");
  matmul_add_cuda(y, x, l.w, l.b, n, l.in, l.out, ctx);
}

bool residual_in_gemm_requested() { return env_switch("COSMOS_RESIDUAL_IN_GEMM", true); }

bool linear_bf16_out_runs(const Linear& l, int n, const CudaContext& ctx) {
  // xb stands in for itself: any 16-byte aligned pool block (the caller's rows) passes the alignment part
  return linear_bf16_runs(l, n, ctx) && matmul_bf16_out_supported(l.w, l.w, l.wt, n, l.in, l.out, ctx);
}

void linear_bf16_out_cuda(__nv_bfloat16* yb, const __nv_bfloat16* xb, const Linear& l, int n, const CudaContext& ctx) {
  if (!linear_bf16_out_runs(l, n, ctx) || reinterpret_cast<uintptr_t>(xb) % 16 != 0)
    throw ModelError(
        "linear_bf16_out_cuda: bf16 out needs the wgmma GEMM, an even out width and 16-byte aligned rows "
        "(linear_bf16_out_runs)");
  matmul_bf16_out_cuda(yb, xb, l.w, l.b, n, l.in, l.out, ctx);
}

void linear_bf16_add_bf16_cuda(__nv_bfloat16* yb, const __nv_bfloat16* xb, const Linear& l, int n,
                               const CudaContext& ctx) {
  if (!linear_bf16_out_runs(l, n, ctx) || reinterpret_cast<uintptr_t>(xb) % 16 != 0)
    throw ModelError(
        "linear_bf16_add_bf16_cuda: the bf16 residual add needs the wgmma GEMM, an even out width and 16-byte aligned "
        "rows (linear_bf16_out_runs)");
  matmul_bf16_add_bf16_cuda(yb, xb, l.w, l.b, n, l.in, l.out, ctx);
}

}  // namespace cosmos
