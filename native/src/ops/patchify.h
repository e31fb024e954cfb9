// patchify / unpatchify: the Cosmos 3 Generator's vision latents <-> tokens (diffusers
// Cosmos3OmniTransformer._patchify_and_pack_latents / _unpatchify_and_unpack_latents).
//
// latents [C, T, H, W]; p x p patches over zero-padded Hp = ceil(H/p)*p, Wp = ceil(W/p)*p; tokens
// [T * hp * wp, p*p*C] in (t, i, j) order with features (py, px, c), channel fastest — the reference's
// einsum "cthpwq->thwpqc". So token (t, i, j) feature (py*p + px)*C + c = latents[c, t, i*p+py, j*p+px]
// (0 in the padding). (Not the VAE's pixel patchify: that one is ops/pixel_patchify.)
#pragma once
#ifdef COSMOS_CUDA
#include "../core/cuda_context.h"
#endif

void patchify_cpu(float* tokens, const float* latents, int C, int T, int H, int W, int p);
// The inverse for chosen frames: tokens [n_frames * hp * wp, p*p*C] hold frames frames[0..n_frames) in
// that order; each is written, cropped to H x W, into latents[:, frames[f]]. Other frames are untouched
// (the caller zeroes them: the reference returns 0 at conditioned frames). frames: host memory, in [0, T).
void unpatchify_cpu(float* latents, const float* tokens, const int* frames, int n_frames, int C, int T, int H, int W,
                    int p);

#ifdef COSMOS_CUDA
// Device tensors; frames stays host memory (one launch per frame, a handful per call).
void patchify_cuda(float* tokens, const float* latents, int C, int T, int H, int W, int p,
                   const cosmos::CudaContext& ctx);
void unpatchify_cuda(float* latents, const float* tokens, const int* frames, int n_frames, int C, int T, int H, int W,
                     int p, const cosmos::CudaContext& ctx);
#endif
