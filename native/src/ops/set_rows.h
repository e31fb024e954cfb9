// set_rows: a tensor seen as [outer, rows, inner] (row-major f32); rows [r0, r1) of every outer block are
// set to zero (src == nullptr) or copied from src (same layout). The denoising loop uses it on a
// modality's latents: the velocity zeroed at conditioned latent frames (vision [C, T, H, W]: outer C, rows
// T, inner H·W; action [L, D]: outer 1, rows L, inner D), action channels past the raw action width
// zeroed (outer L, rows D, inner 1), and the clean conditioning frames re-imposed after a distilled step.
#pragma once
#ifdef COSMOS_CUDA
#include "../core/cuda_context.h"
#endif

void set_rows_cpu(float* dst, const float* src, long long outer, long long rows, long long inner, long long r0,
                  long long r1);

#ifdef COSMOS_CUDA
// One cudaMemset2DAsync / cudaMemcpy2DAsync on ctx.stream (pitch rows·inner floats); no kernel.
void set_rows_cuda(float* dst, const float* src, long long outer, long long rows, long long inner, long long r0,
                   long long r1, const cosmos::CudaContext& ctx);
#endif
