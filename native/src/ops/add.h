// Elementwise add: out = a + b. out may alias a (residual add in place).
#pragma once
#ifdef COSMOS_CUDA
#include "../core/cuda_context.h"
#endif

void add_cpu(float* out, const float* a, const float* b, int n);

#ifdef COSMOS_CUDA
void add_cuda(float* out, const float* a, const float* b, int n, const cosmos::CudaContext& ctx);
#endif
