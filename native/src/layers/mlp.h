// MLP layers: the SwiGLU MLP of Qwen3 decoder layers (down(silu(gate(x)) * up(x))) and the GELU MLP
// of the vision tower (fc2(gelu(fc1(x)))). Like linear.h: plain structs over the model's weights,
// scratch from the caller (mlp_scratch_floats) so a captured CUDA graph keeps its addresses.
#pragma once
#include <cstddef>

#include "../core/parallel.h"
#include "linear.h"
#ifdef COSMOS_CUDA
#include "../core/cuda_context.h"
#endif

namespace cosmos {

class WeightStore;  // layers/weights.h

struct SwiGluMlp {
  Linear gate_up;  // rows [gate: inter | up: inter]: one weight, so decode streams both in one GEMV
  Linear down;     // [width, inter]
};

// Nemotron's MLP (hidden_act "relu2", the Cosmos 3 Edge Generator): down(relu(up(x))^2), no gate.
struct Relu2Mlp {
  Linear up;    // [inter, width]
  Linear down;  // [width, inter]
};

struct GeluMlp {
  Linear fc1, fc2;
  bool tanh = true;  // gelu_pytorch_tanh (Qwen3-VL's hidden_act); false: exact erf GELU (nn.GELU())
};

size_t mlp_scratch_floats(const SwiGluMlp& m, int n);  // n x 2 inter
size_t mlp_scratch_floats(const GeluMlp& m, int n);    // n x inter
size_t mlp_scratch_floats(const Relu2Mlp& m, int n);   // n x inter

// Whether a SwiGLU MLP in fp8 (set_fp8) runs fused: gate|up + SwiGLU in one fp8 GEMM whose epilogue writes h in
// bf16, h quantized per token, down in fp8 (CUDA: gemm_fp8_wgmma_swiglu). The CPU twin takes the same shapes and
// rounds h to bf16 before the down projection, so both quantize the same values. For more than one row only: one row
// (decode) on fp8 copies runs weight-only GEMVs (ops/gemv_fp8: gate|up + SwiGLU fused, then down), h in f32.
bool mlp_fp8_fused(const SwiGluMlp& m);

// y [n, width] = mlp(x [n, width]); y may alias x.
void mlp_cpu(float* y, const float* x, const SwiGluMlp& m, int n, float* scratch, const CpuContext& ctx);
void mlp_cpu(float* y, const float* x, const GeluMlp& m, int n, float* scratch, const CpuContext& ctx);
void mlp_cpu(float* y, const float* x, const Relu2Mlp& m, int n, float* scratch, const CpuContext& ctx);

#ifdef COSMOS_CUDA
// SwiGLU at n = 1: gemv_swiglu_cuda (gate and up rows streamed together, silu(g) * u written directly).
// x8: x in e4m3 per row (linear.h), used where the fused fp8 path runs (mlp_fp8_fused_runs; then x is not read).
// xb: x already in bf16 rows (16-byte aligned), where mlp_bf16_input_runs (gate|up + SwiGLU on the fused bf16 GEMM,
// which would round x to bf16 first: the same numbers); x is then not read. Not both.
// residual: y += mlp(x) instead of y = it (a layer's residual add), in the down projection's epilogue where
// mlp_residual_in_epilogue (the same bits as y = mlp(x) then add_cuda), else through a workspace and add_cuda.
void mlp_cuda(float* y, const float* x, const SwiGluMlp& m, int n, float* scratch, const CudaContext& ctx,
              Fp8Rows x8 = {}, const __nv_bfloat16* xb = nullptr, bool residual = false);
bool mlp_bf16_input_runs(const SwiGluMlp& m, const __nv_bfloat16* xb, int n, const CudaContext& ctx);
// Whether mlp_cuda's residual rides in the down projection's epilogue for these rows (x f32, or xb): the fused fp8 path
// (gemm_fp8_wgmma_add), the fused bf16 path (matmul_bf16_add_cuda) or the steps apart on linear_add_runs.
bool mlp_residual_in_epilogue(const SwiGluMlp& m, const float* x, const __nv_bfloat16* xb, int n,
                              const CudaContext& ctx);
// Whether mlp_cuda runs m's fused fp8 GEMM path for n rows here (n > 1).
bool mlp_fp8_fused_runs(const SwiGluMlp& m, int n, const CudaContext& ctx);
// yb [n, width] bf16 += mlp(xb): a residual stream held in bf16 (the decoder prefill, prefill_bf16_residual in
// qwen3_text_cuda.cu): gate|up + SwiGLU on the fused bf16 GEMM, down's values added to yb's in its epilogue in f32 and
// rounded once (matmul_bf16_add_bf16_cuda), where mlp_add_bf16_runs. Throws ModelError elsewhere.
bool mlp_add_bf16_runs(const SwiGluMlp& m, const __nv_bfloat16* xb, int n, const CudaContext& ctx);
void mlp_add_bf16_cuda(__nv_bfloat16* yb, const __nv_bfloat16* xb, const SwiGluMlp& m, int n, float* scratch,
                       const CudaContext& ctx);
// xb: x already in bf16 rows (16-byte aligned), where mlp_bf16_input_runs (fc1 + GELU on the fused bf16 GEMM, which
// would round x to bf16 first: the same numbers); x is then not read.
// residual: y += mlp(x), in fc2's epilogue where mlp_residual_in_epilogue (the fused bf16 path), else through a
// workspace and add_cuda (as above).
void mlp_cuda(float* y, const float* x, const GeluMlp& m, int n, float* scratch, const CudaContext& ctx,
              const __nv_bfloat16* xb = nullptr, bool residual = false);
bool mlp_bf16_input_runs(const GeluMlp& m, const __nv_bfloat16* xb, int n, const CudaContext& ctx);
bool mlp_residual_in_epilogue(const GeluMlp& m, const float* x, const __nv_bfloat16* xb, int n, const CudaContext& ctx);
// m's width (fc1.out = fc2.in) padded up to a multiple of `multiple` in place: fc1's weight rows and bias entries and
// fc2's weight columns past the width are zeros, in new blocks of `store` (the old ones released). GELU(0) = 0 and the
// zero columns add exact zeros, so every output is the same, bit for bit (the GEMMs already took the last k-step's
// missing columns as TMA's zero fill). What changes is the rows' alignment: the Qwen3-VL tower's width 4304 makes
// rows of 8608 bytes for fc1's bf16 output and fc2's operands, 4352 makes 8704 = 68 x 128. No-op where the width is a
// multiple already. stream: the store's.
void gelu_mlp_pad_width_cuda(GeluMlp& m, WeightStore& store, int multiple, cudaStream_t stream);
void mlp_cuda(float* y, const float* x, const Relu2Mlp& m, int n, float* scratch, const CudaContext& ctx);
#endif

}  // namespace cosmos
