// LayerNorm: out = (x - mean) / sqrt(var + eps) * w + b, per row (biased variance, like torch).
#pragma once
#ifdef COSMOS_CUDA
#include "../core/cuda_context.h"
#endif

void layernorm_cpu(float* out, const float* x, const float* w, const float* b, int rows, int dim, float eps);

#ifdef COSMOS_CUDA
void layernorm_cuda(float* out, const float* x, const float* w, const float* b, int rows, int dim, float eps,
                    const cosmos::CudaContext& ctx);
#endif
