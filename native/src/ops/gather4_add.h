// gather4_add: x[p, :] += sum_i table[idx[4p + i], :] * wt[4p + i], i = 0..3, summed in that order —
// the vision tower's bilinearly interpolated learned position embedding (the four corners and their
// weights come from qwen3_vision_pos_corners on the host). x [n, dim], table [*, dim].
#pragma once
#ifdef COSMOS_CUDA
#include "../core/cuda_context.h"
#endif

void gather4_add_cpu(float* x, const float* table, const int* idx, const float* wt, long long n, int dim);

#ifdef COSMOS_CUDA
// idx, wt: device memory. Rounded as the CPU twin (no FMA contraction), so both agree bit for bit.
void gather4_add_cuda(float* x, const float* table, const int* idx, const float* wt, long long n, int dim,
                      const cosmos::CudaContext& ctx);
#endif
