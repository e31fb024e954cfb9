// GELU, in place. tanh: 0.5x(1+tanh(sqrt(2/pi)(x+0.044715x^3))) (gelu_pytorch_tanh); erf: 0.5x(1+erf(x/sqrt2)).
#pragma once
#ifdef COSMOS_CUDA
#include "../core/cuda_context.h"
#endif

void gelu_tanh_cpu(float* x, int n);
void gelu_erf_cpu(float* x, int n);

#ifdef COSMOS_CUDA
void gelu_tanh_cuda(float* x, int n, const cosmos::CudaContext& ctx);
void gelu_erf_cuda(float* x, int n, const cosmos::CudaContext& ctx);
#endif
