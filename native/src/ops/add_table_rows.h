// add_table_rows: x[rows[r], :] += table[idx[r], :] for r < n_rows — the Cosmos 3 Generator adds a
// timestep embedding to each noisy token (table: one embedding per distinct timestep, idx: which) and a
// modality embedding to each sound / action token (a one-row table, idx all 0). rows must be unique.
#pragma once
#ifdef COSMOS_CUDA
#include "../core/cuda_context.h"
#endif

void add_table_rows_cpu(float* x, const int* rows, const float* table, const int* idx, int n_rows, int dim);

#ifdef COSMOS_CUDA
// rows, idx: device memory.
void add_table_rows_cuda(float* x, const int* rows, const float* table, const int* idx, int n_rows, int dim,
                         const cosmos::CudaContext& ctx);
#endif
