// Embedding lookup: out[i,:] = table[ids[i],:]. Callers validate ids (0 <= id < vocab) before calling.
#pragma once
#ifdef COSMOS_CUDA
#include <cuda_runtime.h>
#endif

void embedding_cpu(float* out, const float* table, const int* ids, int n, int dim);

#ifdef COSMOS_CUDA
void embedding_cuda(float* out, const float* table, const int* ids, int n, int dim, cudaStream_t stream);
#endif
