// transpose2d: out[c, r] = x[r, c] for x [rows, cols] (row-major f32). The Generator's sound stream keeps its
// latents channels-first [sound_dim, T] and its tokens time-first [T, sound_dim] (the reference's
// _pack_sound_latents / _unpack_sound_latents); on the GPU the step turns one into the other with this op.
#pragma once
#ifdef COSMOS_CUDA
#include "../core/cuda_context.h"
#endif

void transpose2d_cpu(float* out, const float* x, long long rows, long long cols);

#ifdef COSMOS_CUDA
// Device pointers; out must not alias x. 32x32 tiles through shared memory (coalesced reads and writes).
void transpose2d_cuda(float* out, const float* x, long long rows, long long cols, const cosmos::CudaContext& ctx);
#endif
