// Latent patchify for the Cosmos 3 transformer (the reference's c t (h p) (w q) -> t h w (p q c)): latents
// [C, T, H, W] channel-first -> tokens [T, hp, wp, p*p*C] with hp = ceil(H/p), wp = ceil(W/p); pixels past H or
// W (the zero pad) read as 0. unpatchify writes the listed frames back, cropping the pad.
// (Header and CPU twin restored from patchify.cu after a concurrent overwrite; see the commit message.)
#pragma once
#ifdef COSMOS_CUDA
#include "../core/cuda_context.h"
#endif

void patchify_cpu(float* tokens, const float* latents, int C, int T, int H, int W, int p);
// tokens: n_frames frames of [hp, wp, p*p*C], frame f written to latents' frame frames[f] (of T).
void unpatchify_cpu(float* latents, const float* tokens, const int* frames, int n_frames, int C, int T, int H, int W,
                    int p);

#ifdef COSMOS_CUDA
void patchify_cuda(float* tokens, const float* latents, int C, int T, int H, int W, int p,
                   const cosmos::CudaContext& ctx);
void unpatchify_cuda(float* latents, const float* tokens, const int* frames, int n_frames, int C, int T, int H, int W,
                     int p, const cosmos::CudaContext& ctx);
#endif
