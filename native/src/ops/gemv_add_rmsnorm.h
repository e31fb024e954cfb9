// gemv_add_rmsnorm: the decode step's output projections (attention o, MLP down) with the residual add and the
// RMSNorm that follows them folded in — x[j] += w_j . a for j < m, then out = rmsnorm(x) * lnw (x and out [m]).
// In the decoder this replaces GEMV + add_rmsnorm (two launches, the second a ~5 us latency-bound row on the H200)
// by one launch: each output element has one writer (no race on x), and the block that finishes last (a counter
// in device memory) computes the norm of the whole row, so every other block streams its weights as before.
// Same arithmetic as matmul_cpu (n = 1) + add_cpu + rmsnorm_cpu (the CPU twin composes them); lnw null: no norm.
#pragma once
#include "../core/parallel.h"  // CpuContext
#ifdef COSMOS_CUDA
#include "../core/cuda_context.h"

#include "matmul.h"
#endif

// x [m] in place, a [k], w [m, k] f32, lnw [m] or null, out [m] (not aliasing x or a).
void gemv_add_rmsnorm_cpu(float* out, float* x, const float* a, const float* w, const float* lnw, int k, int m,
                          float eps, const cosmos::CpuContext& ctx);

#ifdef COSMOS_CUDA
// Whether the CUDA kernel takes these operands (k % 8 == 0, 16-byte aligned a and w); else use GEMV + add_rmsnorm.
bool gemv_add_rmsnorm_supported(const float* a, const void* w, int k);
// Device pointers; w f32 or bf16. counter: one zeroed unsigned in device memory, left zeroed by every launch (one
// counter may serve every call on a stream, since the launches are ordered). The kernel is launched with PDL
// (core/cuda_pdl.cuh).
void gemv_add_rmsnorm_cuda(float* out, float* x, const float* a, const void* w, WType wt, const float* lnw, int k,
                           int m, float eps, unsigned* counter, const cosmos::CudaContext& ctx);
#endif
