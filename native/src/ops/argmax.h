// Index of the maximum; the first max wins (same tie rule as torch.argmax).
#pragma once
#ifdef COSMOS_CUDA
#include "../core/cuda_context.h"
#endif

int argmax_cpu(const float* x, int n);

#ifdef COSMOS_CUDA
// Writes the index to *out_idx (device int).
void argmax_cuda(int* out_idx, const float* x, int n, const cosmos::CudaContext& ctx);
#endif
