// Linear layer: y[n, out] = x[n, in] · w[out, in]^T (+ b) — nn.Linear's layout, weights used as stored.
//
// A plain struct of pointers into memory the model owns (host for the CPU backend, the model's pool for
// CUDA), as llm.c keeps its parameters. Fused projections (Qwen3's q | k | v, gate | up) are one Linear
// whose rows are the parts stacked; rows() views one part without a copy, so a caller can run one GEMV
// over all parts at decode and one GEMM per part at prefill.
#pragma once
#include <cstdint>

#include "../core/parallel.h"
#include "../ops/matmul.h"  // WType
#ifdef COSMOS_CUDA
#include "../core/cuda_context.h"
#endif

namespace cosmos {

struct Linear {
  const void* w = nullptr;   // [out, in] in wt
  WType wt = WType::F32;     // the CPU backend holds f32 only
  const float* b = nullptr;  // [out] or null
  int in = 0, out = 0;
  // Optional FP8 copy of w (opt-in: the Generator's `quantization: "fp8"` load option, set_fp8 of its transformer):
  // e4m3 [out, in] with one f32 scale per output row (ops/quantize_fp8.h). When set, for n > 1 x is quantized per
  // token and y = x scale * w8_scale * (x8 . w8) (+ b) replaces the GEMM on w: gemm_fp8_wgmma on CUDA, an f32 twin on
  // the CPU (linear_cpu); for one token (decode) y = w8_scale * (x . w8) (+ b) with x in f32: ops/gemv_fp8. w stays
  // valid unless the model gave it back (set_fp8's keep_source = false, the load option: only where the fp8 kernel runs
  // for any n); then w is null. Else set_fp8(false) goes back to it, and linear_cuda falls back to it where the fp8
  // kernel cannot run.
  const uint8_t* w8 = nullptr;
  const float* w8_scale = nullptr;

  // Output rows [first, first + count): the weight rows and bias entries of that part.
  Linear rows(int first, int count) const;
};

// x, y: [n, in], [n, out] f32; y must not alias x. Throws ModelError for bf16 weights (the CPU
// backend converts checkpoints to f32 at load). With w8 set: the fp8 twin of linear_cuda's fp8 path (x per token
// through quantize_fp8_rows_cpu, the e4m3 values decoded exactly and summed in f32 by matmul_cpu: gemm_fp8_cpu's
// formula up to the summation order).
void linear_cpu(float* y, const float* x, const Linear& l, int n, const CpuContext& ctx);

// x already in e4m3 with one scale per row (as quantize_fp8_rows_cuda makes it: q [n, in] bytes, scale [n]), device
// memory; empty (q null) when not. CUDA only (linear_cuda, mlp_cuda, AttentionCall::x8).
struct Fp8Rows {
  const uint8_t* q = nullptr;
  const float* scale = nullptr;
};

#ifdef COSMOS_CUDA
// Whether linear_cuda runs l on the fp8 GEMM for n rows here, taking e4m3 rows (l.w8 set, n > 1, an sm_90a device, a
// shape gemm_fp8_wgmma takes). One row with l.w8 set runs the weight-only gemv_fp8 instead (x in f32).
bool linear_fp8_runs(const Linear& l, int n, const CudaContext& ctx);

// Device pointers; the GEMV (n <= 8) or GEMM of matmul_cuda, workspaces from ctx.pool. Where linear_fp8_runs: x ->
// e4m3 per token (quantize_fp8_rows_cuda, workspaces from ctx.pool; or x8 when given, and then x is not read) and
// y = gemm_fp8_wgmma(x8, w8) * x scale * w8_scale (+ b), f32 out.
void linear_cuda(float* y, const float* x, const Linear& l, int n, const CudaContext& ctx, Fp8Rows x8 = {});
// Whether linear_cuda runs l for n rows on the bf16 GEMM (bf16 weights held, no fp8 GEMM, n > 8, l.in % 8 == 0, a
// 16-byte aligned weight), the one path that rounds x to bf16 first: then linear_bf16_cuda can take x already in bf16.
bool linear_bf16_runs(const Linear& l, int n, const CudaContext& ctx);
// y [n, out] f32 = xb · w^T (+ b), xb [n, in] the bf16 rows (16-byte aligned) that linear_cuda would have cast: the
// same numbers without the cast pass. Throws ModelError where linear_bf16_runs does not hold.
void linear_bf16_cuda(float* y, const __nv_bfloat16* xb, const Linear& l, int n, const CudaContext& ctx);
// y [n, out] f32 += xb · w^T (+ b): linear_bf16_cuda's values added to y's in the GEMM's epilogue (bit for bit
// linear_bf16_cuda into a temporary then add_cuda; a layer's residual add), where linear_bf16_add_runs
// (linear_bf16_runs and the wgmma GEMM: matmul_bf16_add_supported). Throws ModelError elsewhere.
bool linear_bf16_add_runs(const Linear& l, int n, const CudaContext& ctx);
void linear_bf16_add_cuda(float* y, const __nv_bfloat16* xb, const Linear& l, int n, const CudaContext& ctx);
// y [n, out] f32 += x · w^T (+ b) from f32 x (or x8), the add in the GEMM's epilogue: linear_cuda's values added to
// y's, bit for bit linear_cuda then add_cuda. Where linear_add_runs: the fp8 GEMM (linear_fp8_runs: x quantized per
// token as linear_cuda does, or x8; gemm_fp8_wgmma_add) or the bf16 wgmma GEMM (x rounded to bf16 as linear_cuda does:
// matmul_add_cuda). Throws ModelError elsewhere.
bool linear_add_runs(const Linear& l, int n, const CudaContext& ctx);
void linear_add_cuda(float* y, const float* x, const Linear& l, int n, const CudaContext& ctx, Fp8Rows x8 = {});
// Whether the models add their residual stream in the o and down / fc2 GEMMs' epilogue where those can take it
// (AttentionCall::residual, mlp_cuda's residual; the decoder's prefill, the Qwen3-VL tower and the Cosmos 3 Generator's
// gen layers): COSMOS_RESIDUAL_IN_GEMM=0 keeps the add in the norm after them (the same bits either way). Read at every
// call.
bool residual_in_gemm_requested();
// yb [n, out] bf16 = xb · w^T (+ b): linear_bf16_cuda's values rounded once by the GEMM (half the bytes out), where
// linear_bf16_out_runs (linear_bf16_runs, out even, the wgmma GEMM: matmul_bf16_out_supported). Throws ModelError
// elsewhere.
bool linear_bf16_out_runs(const Linear& l, int n, const CudaContext& ctx);
void linear_bf16_out_cuda(__nv_bfloat16* yb, const __nv_bfloat16* xb, const Linear& l, int n, const CudaContext& ctx);
// yb [n, out] bf16 += xb · w^T (+ b): linear_bf16_cuda's values added to yb's old values in f32 and rounded once, in
// the GEMM's epilogue (a residual stream held in bf16), where linear_bf16_out_runs. Throws ModelError elsewhere.
void linear_bf16_add_bf16_cuda(__nv_bfloat16* yb, const __nv_bfloat16* xb, const Linear& l, int n,
                               const CudaContext& ctx);
#endif

}  // namespace cosmos
