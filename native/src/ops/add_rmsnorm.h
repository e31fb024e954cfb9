// add_rmsnorm: x += h, then out = rmsnorm(x) * w — a residual add fused with the RMSNorm that follows
// it (the decoder's post-attention norm and the next layer's input norm), one pass instead of two.
// x, h, out [rows, dim]; out may alias h. Same arithmetic as add_cpu + rmsnorm_cpu. h may be null (every form below):
// x already holds the sum (a GEMM's epilogue added it: gemm_wgmma_add), only the norm runs and x is not written, the
// same values as with the add.
#pragma once
#include <cstdint>
#ifdef COSMOS_CUDA
#include <cuda_bf16.h>

#include "../core/cuda_context.h"
#endif

void add_rmsnorm_cpu(float* out, float* x, const float* h, const float* w, int rows, int dim, float eps);
// The same, the normed rows written only in bf16 (round to nearest even: cast_bf16's rounding), the rows a bf16 GEMM
// reads next (the decoder prefill's q|k|v and gate|up inputs). out must not alias x or h. The CPU twin is
// add_rmsnorm_cpu then cast_bf16_cpu.
void add_rmsnorm_bf16_cpu(uint16_t* out, float* x, const float* h, const float* w, int rows, int dim, float eps);
// The same, with the normed rows written only as FP8 e4m3 with one scale per row (what an fp8 GEMM reads next, as
// quantize_fp8_rows quantizes a row: ops/quantize_fp8.h): q [rows, dim] bytes, scale [rows]; x += h as above. The CPU
// twin is add_rmsnorm_cpu then quantize_fp8_rows_cpu.
void add_rmsnorm_fp8_cpu(uint8_t* q, float* scale, float* x, const float* h, const float* w, int rows, int dim,
                         float eps);
// out [rows, dim] bf16 = rmsnorm(x) * w of bf16 rows x (a residual stream held in bf16: the decoder prefill under
// COSMOS_PREFILL_BF16_RESIDUAL=1): the values widened exactly, then add_rmsnorm_bf16's arithmetic with h null. The CPU
// twin widens x and runs add_rmsnorm_bf16_cpu.
void rmsnorm_bf16_rows_cpu(uint16_t* out, const uint16_t* x, const float* w, int rows, int dim, float eps);

#ifdef COSMOS_CUDA
void add_rmsnorm_cuda(float* out, float* x, const float* h, const float* w, int rows, int dim, float eps,
                      const cosmos::CudaContext& ctx);
// One pass instead of add_rmsnorm_cuda + cast_bf16_cuda, the f32 rows never written: the same kernel, so the same bf16
// values and x bit for bit (native/test/ops_cuda_test.cu checks it).
void add_rmsnorm_bf16_cuda(__nv_bfloat16* out, float* x, const float* h, const float* w, int rows, int dim, float eps,
                           const cosmos::CudaContext& ctx);
void rmsnorm_bf16_rows_cuda(__nv_bfloat16* out, const __nv_bfloat16* x, const float* w, int rows, int dim, float eps,
                            const cosmos::CudaContext& ctx);
// One pass instead of add_rmsnorm_cuda + quantize_fp8_rows_cuda (the f32 rows are never written): the same bytes,
// scales and x bit for bit (the same reductions in the same order; native/test/ops_cuda_test.cu checks it).
void add_rmsnorm_fp8_cuda(uint8_t* q, float* scale, float* x, const float* h, const float* w, int rows, int dim,
                          float eps, const cosmos::CudaContext& ctx);
#endif
