// SiLU, in place: x = x / (1 + exp(-x)) — the activation inside diffusers' TimestepEmbedding (linear_1,
// SiLU, linear_2), the Cosmos 3 Generator's time_embedder.
#pragma once
#ifdef COSMOS_CUDA
#include "../core/cuda_context.h"
#endif

void silu_cpu(float* x, long long n);

#ifdef COSMOS_CUDA
void silu_cuda(float* x, long long n, const cosmos::CudaContext& ctx);
#endif
