// Row softmax, in place, max-subtracted for stability.
#pragma once
#ifdef COSMOS_CUDA
#include "../core/cuda_context.h"
#endif

void softmax_cpu(float* x, int rows, int cols);

#ifdef COSMOS_CUDA
void softmax_cuda(float* x, int rows, int cols, const cosmos::CudaContext& ctx);
#endif
