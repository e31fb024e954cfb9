// Fused decode MLP input: out[j] = silu(gate_j . x) * (up_j . x) for one token, where w holds the gate
// rows then the up rows ([2 * inter, k], the fused gate|up weight of the decoder). Equals matmul (n = 1)
// into [gate | up] followed by swiglu, without the 2 * inter intermediate and the extra launch.
#pragma once
#include "../core/parallel.h"  // CpuContext
#ifdef COSMOS_CUDA
#include "../core/cuda_context.h"

#include "matmul.h"
#endif

void gemv_swiglu_cpu(float* out, const float* x, const float* w, int k, int inter, const cosmos::CpuContext& ctx);

#ifdef COSMOS_CUDA
// Device pointers; x [k] f32, w [2 * inter, k] f32 or bf16, out [inter] f32 (must not alias x).
void gemv_swiglu_cuda(float* out, const float* x, const void* w, WType wt, int k, int inter,
                      const cosmos::CudaContext& ctx);
#endif
