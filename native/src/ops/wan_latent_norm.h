// The Cosmos 3 pipeline's per-channel latent normalisation around the Wan VAE (pipeline_cosmos3_omni.py):
// encode side `(mu - mean) * inv_std`, decode side `z / inv_std + mean`, with inv_std = 1 / std rounded to f32
// first, exactly the pipeline's arithmetic. Rows are pixels of channels-last latent frames.
#pragma once
#ifdef COSMOS_CUDA
#include "../core/cuda_context.h"
#endif

// x [rows, c] in place; mean, std [c]. inverse = false: normalise (encode); true: back to raw VAE latents (decode).
void wan_latent_norm_cpu(float* x, long long rows, int c, const float* mean, const float* std, bool inverse);

#ifdef COSMOS_CUDA
void wan_latent_norm_cuda(float* x, long long rows, int c, const float* mean, const float* std, bool inverse,
                          const cosmos::CudaContext& ctx);
#endif
