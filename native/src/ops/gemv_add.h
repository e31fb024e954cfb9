// Decode GEMV with the residual add in its epilogue: x[j] += W[j, :] . a for one token (the o and down
// projections of a pre-norm decoder layer adding into the residual stream), written by the lane that owns row j,
// so the add needs no launch of its own. Same arithmetic as matmul_cpu, then add_cpu.
#pragma once
#include "../core/parallel.h"  // CpuContext
#ifdef COSMOS_CUDA
#include "../core/cuda_context.h"

#include "matmul.h"
#endif

void gemv_add_cpu(float* x, const float* a, const float* w, int k, int m, const cosmos::CpuContext& ctx);

#ifdef COSMOS_CUDA
// Device pointers; x [m], a [k] f32 (a must not alias x), w [m, k] f32 or bf16.
void gemv_add_cuda(float* x, const float* a, const void* w, WType wt, int k, int m, const cosmos::CudaContext& ctx);
#endif
