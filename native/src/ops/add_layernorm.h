// add_layernorm: x += h, then out = layernorm(x) * w + b — a residual add fused with the LayerNorm that follows it
// (the Qwen3-VL tower's norm2 after the attention, and the next block's norm1 after the MLP), one kernel instead of
// two. x, h, out [rows, dim]; out may alias h; w and b nullable. Same arithmetic as add_cpu + layernorm_cpu. h may be
// null: x already holds the sum (a GEMM's epilogue added it: gemm_wgmma_add), only the norm runs and x is not written,
// the same values as with the add.
#pragma once
#include <cstdint>
#ifdef COSMOS_CUDA
#include <cuda_bf16.h>

#include "../core/cuda_context.h"
#endif

void add_layernorm_cpu(float* out, float* x, const float* h, const float* w, const float* b, int rows, int dim,
                       float eps);
// The same, the normed rows written only in bf16 (round to nearest even: cast_bf16's rounding), the rows a bf16 GEMM
// reads next (the tower's q|k|v and fc1 inputs). out must not alias x or h. The CPU twin is add_layernorm_cpu then
// cast_bf16_cpu.
void add_layernorm_bf16_cpu(uint16_t* out, float* x, const float* h, const float* w, const float* b, int rows, int dim,
                            float eps);

#ifdef COSMOS_CUDA
void add_layernorm_cuda(float* out, float* x, const float* h, const float* w, const float* b, int rows, int dim,
                        float eps, const cosmos::CudaContext& ctx);
// One pass instead of add_layernorm_cuda + cast_bf16_cuda, the f32 rows never written: the same kernel, so the same
// bf16 values and x bit for bit (native/test/ops_cuda_test.cu checks it).
void add_layernorm_bf16_cuda(__nv_bfloat16* out, float* x, const float* h, const float* w, const float* b, int rows,
                             int dim, float eps, const cosmos::CudaContext& ctx);
#endif
