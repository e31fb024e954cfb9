// scatter_add_rows: x[rows[r], :] += add[r, :] for r < n_rows — the decoder's deepstack step (visual
// features added to the hidden state at the visual tokens' rows). rows must be unique.
#pragma once
#include <cstdint>
#ifdef COSMOS_CUDA
#include "../core/cuda_context.h"
#endif

void scatter_add_rows_cpu(float* x, const int* rows, const float* add, int n_rows, int dim);
// The same into rows held in bf16 (the decoder prefill's stream under COSMOS_PREFILL_BF16_RESIDUAL=1, as transformers
// adds the deepstack features to its bf16 hidden states): x[row] = bf16(widen(x[row]) + add) in f32, rounded once.
void scatter_add_rows_bf16_cpu(uint16_t* x, const int* rows, const float* add, int n_rows, int dim);

#ifdef COSMOS_CUDA
// rows: device memory.
void scatter_add_rows_cuda(float* x, const int* rows, const float* add, int n_rows, int dim,
                           const cosmos::CudaContext& ctx);
void scatter_add_rows_bf16_cuda(void* x, const int* rows, const float* add, int n_rows, int dim,
                                const cosmos::CudaContext& ctx);
#endif
