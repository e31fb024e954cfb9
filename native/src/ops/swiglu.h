// SwiGLU: out = silu(gate) * up, silu(x) = x / (1 + exp(-x)). out may alias gate or up.
#pragma once
#ifdef COSMOS_CUDA
#include "../core/cuda_context.h"
#endif

void swiglu_cpu(float* out, const float* gate, const float* up, int n);

#ifdef COSMOS_CUDA
void swiglu_cuda(float* out, const float* gate, const float* up, int n, const cosmos::CudaContext& ctx);
#endif
