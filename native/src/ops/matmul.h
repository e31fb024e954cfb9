// matmul: out[n,m] = x[n,k] · w[m,k]^T (+ bias[m]) — the PyTorch nn.Linear weight layout,
// so checkpoint weights are used as stored (no transpose copy).
#pragma once
#include <vector>

#include "../core/parallel.h"  // CpuContext
#ifdef COSMOS_CUDA
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
// GEMM runs on wgmma (ops/gemm_wgmma.h) when n >= 128 and k % 64 == 0; COSMOS_WGMMA=0 turns that off.
void matmul_cuda(float* out, const float* x, const void* w, WType wt, const float* bias, int n, int k, int m,
                 const cosmos::CudaContext& ctx);
#endif
