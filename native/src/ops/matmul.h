// matmul: out[n,m] = x[n,k] · w[m,k]^T (+ bias[m]) — the PyTorch nn.Linear weight layout,
// so checkpoint weights are used as stored (no transpose copy).
#pragma once
#include <vector>

#include "../core/parallel.h"  // CpuContext
#ifdef COSMOS_CUDA
#include <cuda_bf16.h>

#include "../core/cuda_context.h"
#endif

// CPU: on x86-64 with AVX2+FMA or AVX-512 (detected at run time) a packed SIMD GEMM for n >= 4 — every output one
// sequential FMA chain over k, so the numbers do not depend on the thread count, the tiling or the vector width —
// split across ctx's threads by (row block, column panel); else (n < 4, other CPUs, COSMOS_CPU_GEMM=portable) the
// portable blocked kernel split by output columns. COSMOS_CPU_GEMM=avx2 caps the ISA at AVX2.
void matmul_cpu(float* out, const float* x, const float* w, const float* bias /*nullable*/, int n, int k, int m,
                const cosmos::CpuContext& ctx);

// One thread: c[i*ldc + j] = sum_kk a[i*lda + kk] * B(kk, j) for i < n, j < m, where B(kk, j) = b[j*ldb + kk]
// (nn.Linear layout) or, b_kmajor, b[kk*ldb + j]. Strided operands (a head of a [tokens, heads, dim] tensor) are
// read in place; scratch holds the packed B (resized as needed, reused across calls). The attention's GEMMs.
void gemm_f32_cpu(float* c, int ldc, const float* a, int lda, const float* b, int ldb, bool b_kmajor, int n, int k,
                  int m, std::vector<float>& scratch);
// Whether gemm_f32_cpu / matmul_cpu run the packed SIMD kernel on this CPU (else the portable loops).
bool gemm_f32_cpu_packed();

// Dtype of a matmul weight in memory. Declared for both builds: layers (layers/linear.h) carry it on
// the CPU too, where only F32 runs.
enum class WType { F32, BF16 };

#ifdef COSMOS_CUDA
// Device pointers. GEMV kernel for n <= 8; otherwise an mma.sync tensor-core GEMM (bf16 weights; x is
// rounded to bf16 into a workspace from ctx.pool, at most 64 MiB at a time) or an exact f32 GEMM (no cuBLAS:
// the build machines have only cudart). ctx.pool may be null when n <= 8 or the weights are f32. On sm_90 the bf16
// GEMM runs on wgmma (ops/gemm_wgmma.h) when n >= 128 and k % 8 == 0; COSMOS_WGMMA=0 turns that off.
void matmul_cuda(float* out, const float* x, const void* w, WType wt, const float* bias, int n, int k, int m,
                 const cosmos::CudaContext& ctx);

// A SwiGLU MLP's gate and up projections and its activation in one GEMM (ops/gemm_wgmma.h, gemm_wgmma_swiglu):
// h [n, inter] bf16 = silu(x · w[0:inter]^T) * (x · w[inter:2 inter]^T), w the bf16 gate_up weight [2 inter, k], x
// f32 rounded to bf16 as matmul_cuda rounds it. The same numbers as matmul_cuda + swiglu_cuda + the down
// projection's bf16 cast, without the [n, 2 inter] f32 intermediate. Only on the wgmma path:
// matmul_swiglu_supported says when (bf16 weights, n >= 128, k % 8 == 0, inter % 128 == 0, an sm_90a build on an
// sm_90 device, COSMOS_WGMMA and COSMOS_FUSED_SWIGLU not 0).
bool matmul_swiglu_supported(const void* x, const void* w, WType wt, int n, int k, int inter,
                             const cosmos::CudaContext& ctx);
void matmul_swiglu_cuda(__nv_bfloat16* h, const float* x, const void* w, int n, int k, int inter,
                        const cosmos::CudaContext& ctx);
// The same with x already in bf16 (the rows matmul_swiglu_cuda would have cast: the same numbers, a row's values do not
// depend on how the rows are split into launches), where matmul_swiglu_supported(xb, ...) holds.
void matmul_swiglu_bf16_cuda(__nv_bfloat16* h, const __nv_bfloat16* xb, const void* w, int n, int k, int inter,
                             const cosmos::CudaContext& ctx);
// A GELU MLP's fc1, its bias and its activation in one GEMM (gemm_wgmma_gelu): h [n, m] bf16 = gelu(x · w^T + bias)
// (tanh: gelu_pytorch_tanh, else erf), the same numbers as matmul_cuda + gelu_*_cuda + fc2's bf16 cast without the
// [n, m] f32 intermediate (the tanh form on tanh.approx by default: within bf16's rounding of them; bit for bit with
// COSMOS_GELU_TANH_APPROX=0). Only on the wgmma path: matmul_gelu_supported says when (bf16 weights, n >= 128,
// k % 8 == 0, m % 8 == 0, an sm_90a build on an sm_90 device, COSMOS_WGMMA and COSMOS_FUSED_GELU not 0).
bool matmul_gelu_supported(const void* x, const void* w, WType wt, int n, int k, int m, const cosmos::CudaContext& ctx);
void matmul_gelu_cuda(__nv_bfloat16* h, const float* x, const void* w, const float* bias, int n, int k, int m,
                      bool tanh, const cosmos::CudaContext& ctx);
// The same with x already in bf16 (the rows matmul_gelu_cuda would have cast: the same numbers), where
// matmul_gelu_supported(xb, ...) holds.
void matmul_gelu_bf16_cuda(__nv_bfloat16* h, const __nv_bfloat16* xb, const void* w, const float* bias, int n, int k,
                           int m, bool tanh, const cosmos::CudaContext& ctx);
// out [n, m] bf16 = xb · w^T (+ bias), x already bf16: matmul_bf16_cuda's values rounded once in the GEMM's epilogue
// (cast_bf16 of its f32 out, bit for bit) and half its bytes out (the Qwen3-VL tower's q|k|v for its rotary). Only on
// the wgmma path: matmul_bf16_out_supported says when (bf16 weights, n >= 128, k % 8 == 0, m even, 16-byte aligned xb
// and w, an sm_90a build on an sm_90 device, COSMOS_WGMMA not 0).
bool matmul_bf16_out_supported(const void* xb, const void* w, WType wt, int n, int k, int m,
                               const cosmos::CudaContext& ctx);
void matmul_bf16_out_cuda(__nv_bfloat16* out, const __nv_bfloat16* xb, const void* w, const float* bias, int n, int k,
                          int m, const cosmos::CudaContext& ctx);
// out [n, m] f32 += xb · w^T (+ bias): matmul_bf16_cuda's values added to out's in the GEMM's epilogue
// (gemm_wgmma_add: bit for bit matmul_bf16_cuda into a temporary then add_cuda, the residual add of a decoder layer's o
// or down projection without that temporary written and read back). Only on the wgmma path:
// matmul_bf16_add_supported says when (bf16 weights, n >= 128, k % 8 == 0, 16-byte aligned xb and w, an sm_90a build
// on an sm_90 device, COSMOS_WGMMA not 0).
bool matmul_bf16_add_supported(const void* xb, const void* w, WType wt, int n, int k, int m,
                               const cosmos::CudaContext& ctx);
void matmul_bf16_add_cuda(float* out, const __nv_bfloat16* xb, const void* w, const float* bias, int n, int k, int m,
                          const cosmos::CudaContext& ctx);
// out [n, m] bf16 += xb · w^T (+ bias): matmul_bf16_cuda's values added to out's old bf16 values in f32, rounded once
// (gemm_wgmma_add_bf16; a residual stream held in bf16). Where matmul_bf16_out_supported (m even) holds.
void matmul_bf16_add_bf16_cuda(__nv_bfloat16* out, const __nv_bfloat16* xb, const void* w, const float* bias, int n,
                               int k, int m, const cosmos::CudaContext& ctx);
// The same from f32 x, rounded to bf16 in row chunks as matmul_cuda rounds it (matmul_cuda + add_cuda bit for bit),
// where matmul_bf16_add_supported(w, w, ...) holds.
void matmul_add_cuda(float* out, const float* x, const void* w, const float* bias, int n, int k, int m,
                     const cosmos::CudaContext& ctx);
// out [n, m] f32 = xb · w^T (+ bias) with x already bf16 (the down projection after matmul_swiglu_cuda or fc2 after
// matmul_gelu_cuda); bf16 w.
void matmul_bf16_cuda(float* out, const __nv_bfloat16* xb, const void* w, const float* bias, int n, int k, int m,
                      const cosmos::CudaContext& ctx);
#endif
