// Decode GEMVs that read the un-normed residual stream x of one token and apply the RMSNorm before them in their
// prologue (each block sums x's squares with every load in flight and stages h = rmsnorm(x) * nw in shared
// memory), so the norm needs no launch of its own:
//   gemv_rmsnorm:        out[m]     = W[m, k] . h                                  (the q|k|v projection)
//   gemv_rmsnorm_swiglu: out[inter] = silu(gate_j . h) * (up_j . h), W = [gate; up] (gemv_swiglu's contract)
// Same arithmetic as rmsnorm_cpu, then matmul_cpu (and swiglu_cpu); nw must not be null.
#pragma once
#include "../core/parallel.h"  // CpuContext
#ifdef COSMOS_CUDA
#include "../core/cuda_context.h"

#include "matmul.h"
#endif

void gemv_rmsnorm_cpu(float* out, const float* x, const float* nw, float eps, const float* w, int k, int m,
                      const cosmos::CpuContext& ctx);
void gemv_rmsnorm_swiglu_cpu(float* out, const float* x, const float* nw, float eps, const float* w, int k, int inter,
                             const cosmos::CpuContext& ctx);

#ifdef COSMOS_CUDA
// Whether the CUDA kernels serve this x / w / k: k % 8 == 0, k <= 12288 (h in 48 KB of shared memory), 16-byte
// aligned x and w. The calls below throw otherwise.
bool gemv_rmsnorm_supported(const float* x, const void* w, int k);
// Device pointers; x [k], nw [k] f32, w [m, k] (or [2 * inter, k]) f32 or bf16; out must not alias x.
void gemv_rmsnorm_cuda(float* out, const float* x, const float* nw, float eps, const void* w, WType wt, int k, int m,
                       const cosmos::CudaContext& ctx);
void gemv_rmsnorm_swiglu_cuda(float* out, const float* x, const float* nw, float eps, const void* w, WType wt, int k,
                              int inter, const cosmos::CudaContext& ctx);
#endif
