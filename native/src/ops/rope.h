// Rotary position embedding, including Qwen3-VL's interleaved multimodal RoPE (mRoPE).
// Plain 1D RoPE = all three rows of pos3 equal.
#pragma once
#ifdef COSMOS_CUDA
#include "../core/cuda_context.h"
#endif

// cos,sin: [tokens, head_dim]; pos3: [3][tokens] (t, h, w rows); section: 3 ints, sum = head_dim/2.
// Frequency j (0..head_dim/2-1) has inv_freq theta^(-2j/head_dim) and uses the t position, except when
// interleaved: j%3==1 && j < 3*section[1] -> h, j%3==2 && j < 3*section[2] -> w (transformers
// apply_interleaved_mrope). Not interleaved: contiguous chunks [section0 | section1 | section2] -> t,h,w.
// Both halves of the head (j and j+head_dim/2) get the same angle (emb = cat(freqs, freqs)).
void mrope_tables_cpu(float* cos, float* sin, const int* pos3, int tokens, int head_dim, float theta,
                      const int* section, bool interleaved);
// The same from f32 positions (the Cosmos 3 Generator's fps-modulated temporal ids are fractional): the
// angle is the same f32 product pos * inv_freq as the reference's fp32 position matmul.
void mrope_tables_cpu(float* cos, float* sin, const float* pos3, int tokens, int head_dim, float theta,
                      const int* section, bool interleaved);
// x [tokens, heads, head_dim], in place: x*cos + rotate_half(x)*sin, rotate_half(x) = cat(-x2, x1).
void rope_apply_cpu(float* x, const float* cos, const float* sin, int tokens, int heads, int head_dim);

#ifdef COSMOS_CUDA
void mrope_tables_cuda(float* cos, float* sin, const int* pos3, int tokens, int head_dim, float theta,
                       const int* section /*host pointer, 3 ints*/, bool interleaved, const cosmos::CudaContext& ctx);
void mrope_tables_cuda(float* cos, float* sin, const float* pos3, int tokens, int head_dim, float theta,
                       const int* section /*host pointer, 3 ints*/, bool interleaved, const cosmos::CudaContext& ctx);
void rope_apply_cuda(float* x, const float* cos, const float* sin, int tokens, int heads, int head_dim,
                     const cosmos::CudaContext& ctx);
#endif
