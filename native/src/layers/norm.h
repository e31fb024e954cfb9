// Normalisation layers: RMSNorm (Qwen3's decoder) and LayerNorm (the vision tower), per row.
// Plain structs over weights the model owns; the calls are the ops (rmsnorm, add_rmsnorm, layernorm, add_layernorm)
// with the layer's own sizes, so a model body reads as layers, not as argument lists.
#pragma once
#ifdef COSMOS_CUDA
#include <cuda_bf16.h>

#include "../core/cuda_context.h"
#endif

namespace cosmos {

struct RmsNorm {
  const float* w = nullptr;  // [dim]
  int dim = 0;
  float eps = 1e-6f;
};

struct LayerNorm {
  const float* w = nullptr;  // [dim] or null (gain 1)
  const float* b = nullptr;  // [dim] or null (no shift)
  int dim = 0;
  float eps = 1e-6f;
};

// y [rows, dim] = norm(x); y may be x.
void norm_cpu(float* y, const float* x, const RmsNorm& n, int rows);
void norm_cpu(float* y, const float* x, const LayerNorm& n, int rows);
// The residual step of a pre-norm block: x += h, then y = norm(x). y may be h. h may be null where x already holds the
// sum (the residual add rode in a GEMM's epilogue: AttentionCall::residual, mlp_cuda's residual): the norm alone, with
// the values add_norm would have normed (bit for bit the same rows).
void add_norm_cpu(float* y, float* x, const float* h, const RmsNorm& n, int rows);
void add_norm_cpu(float* y, float* x, const float* h, const LayerNorm& n, int rows);

#ifdef COSMOS_CUDA
void norm_cuda(float* y, const float* x, const RmsNorm& n, int rows, const CudaContext& ctx);
void norm_cuda(float* y, const float* x, const LayerNorm& n, int rows, const CudaContext& ctx);
void add_norm_cuda(float* y, float* x, const float* h, const RmsNorm& n, int rows, const CudaContext& ctx);
void add_norm_cuda(float* y, float* x, const float* h, const LayerNorm& n, int rows, const CudaContext& ctx);
// The same with y written only in bf16 (the rows linear_bf16_cuda / mlp_cuda's xb read; y must not alias x or h).
void add_norm_bf16_cuda(__nv_bfloat16* y, float* x, const float* h, const RmsNorm& n, int rows, const CudaContext& ctx);
void add_norm_bf16_cuda(__nv_bfloat16* y, float* x, const float* h, const LayerNorm& n, int rows,
                        const CudaContext& ctx);
// y [rows, dim] bf16 = norm(x) of a stream held in bf16 (x exact in f32, then add_norm_bf16_cuda's arithmetic with h
// null; y must not alias x).
void norm_bf16_rows_cuda(__nv_bfloat16* y, const __nv_bfloat16* x, const RmsNorm& n, int rows, const CudaContext& ctx);
#endif

}  // namespace cosmos
