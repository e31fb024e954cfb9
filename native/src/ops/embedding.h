// Embedding lookup: out[i,:] = table[ids[i],:]. Callers validate ids (0 <= id < vocab) before calling.
#pragma once
#ifdef COSMOS_CUDA
#include "../core/cuda_context.h"
#endif

void embedding_cpu(float* out, const float* table, const int* ids, int n, int dim);

#ifdef COSMOS_CUDA
void embedding_cuda(float* out, const float* table, const int* ids, int n, int dim, const cosmos::CudaContext& ctx);
// Same gather from a bf16 table ([vocab, dim] __nv_bfloat16), rows widened to f32 (exact). Its CPU twin
// is embedding_cpu on the table's values as f32.
void embedding_bf16_cuda(float* out, const void* table, const int* ids, int n, int dim, const cosmos::CudaContext& ctx);
#endif
