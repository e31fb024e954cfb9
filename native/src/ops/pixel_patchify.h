// Wan2.2's pixel patchify and its inverse, fused with the layout change between the API's channel-first
// video [C, F, H, W] and the VAE's channels-last frames [f, H/p, W/p, C*p*p]. Channel order as diffusers'
// patchify / unpatchify (autoencoder_kl_wan.py): channel = c*p*p + dx*p + dy, the width offset dx before
// the height offset dy (its permute puts patch-w ahead of patch-h), the same order both ways.
#pragma once
#ifdef COSMOS_CUDA
#include "../core/cuda_context.h"
#endif

// Frames f0 .. f0+nf-1 of video [c, frames_total, H, W] -> out [nf, H/p, W/p, c*p*p]; H, W multiples of p.
void pixel_patchify_cpu(float* out, const float* video, int c, int frames_total, int f0, int nf, int H, int W, int p);
// in [nf, h, w, c*p*p] -> frames f0 .. f0+nf-1 of video [c, frames_total, h*p, w*p]; clamp: to [-1, 1] on the way
// (the decode's final torch.clamp).
void pixel_unpatchify_cpu(float* video, const float* in, int c, int frames_total, int f0, int nf, int h, int w, int p,
                          bool clamp);

#ifdef COSMOS_CUDA
void pixel_patchify_cuda(float* out, const float* video, int c, int frames_total, int f0, int nf, int H, int W, int p,
                         const cosmos::CudaContext& ctx);
void pixel_unpatchify_cuda(float* video, const float* in, int c, int frames_total, int f0, int nf, int h, int w, int p,
                           bool clamp, const cosmos::CudaContext& ctx);
#endif
