// scatter_add_rows: x[rows[r], :] += add[r, :] for r < n_rows — the decoder's deepstack step (visual
// features added to the hidden state at the visual tokens' rows). rows must be unique.
#pragma once
#ifdef COSMOS_CUDA
#include "../core/cuda_context.h"
#endif

void scatter_add_rows_cpu(float* x, const int* rows, const float* add, int n_rows, int dim);

#ifdef COSMOS_CUDA
// rows: device memory.
void scatter_add_rows_cuda(float* x, const int* rows, const float* add, int n_rows, int dim,
                           const cosmos::CudaContext& ctx);
#endif
