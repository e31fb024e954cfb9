// matmul: out[n,m] = x[n,k] · w[m,k]^T (+ bias[m]) — the PyTorch nn.Linear weight layout,
// so checkpoint weights are used as stored (no transpose copy).
#pragma once
#include "../core/parallel.h"  // CpuContext
#ifdef COSMOS_CUDA
#include "../core/cuda_context.h"
#endif

// CPU reference: cache-blocked, split across ctx's threads by output columns.
void matmul_cpu(float* out, const float* x, const float* w, const float* bias /*nullable*/, int n, int k, int m,
                const cosmos::CpuContext& ctx);

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
