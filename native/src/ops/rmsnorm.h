// RMSNorm: out = x * rsqrt(mean(x^2) + eps) * w, per row of length dim (Qwen3 RMSNorm, computed in f32).
#pragma once
#ifdef COSMOS_CUDA
#include "../core/cuda_context.h"
#endif

void rmsnorm_cpu(float* out, const float* x, const float* w, int rows, int dim, float eps);

#ifdef COSMOS_CUDA
void rmsnorm_cuda(float* out, const float* x, const float* w, int rows, int dim, float eps,
                  const cosmos::CudaContext& ctx);
#endif
