// Row softmax, in place, max-subtracted for stability.
#pragma once
#ifdef COSMOS_CUDA
#include <cuda_runtime.h>
#endif

void softmax_cpu(float* x, int rows, int cols);

#ifdef COSMOS_CUDA
void softmax_cuda(float* x, int rows, int cols, cudaStream_t stream);
#endif
