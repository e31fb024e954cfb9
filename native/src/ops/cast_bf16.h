// cast_bf16: f32 -> bf16, round to nearest even (NaN stays NaN), the rounding the tensor-core paths apply to their
// operands. What a bf16 consumer would round anyway can be stored through it and read back bit-identical: the
// Wan VAE's causal-conv history frames (ops/conv3d.h, hist_bf16), half the bytes of an f32 copy.
#pragma once
#include <cstddef>
#include <cstdint>
#ifdef COSMOS_CUDA
#include "../core/cuda_context.h"
#endif

// out[i] = bf16 bits of x[i].
void cast_bf16_cpu(uint16_t* out, const float* x, size_t n);
// out[i] = the f32 value of bf16 bits x[i] (exact): rows held in bf16 read by an f32 consumer (the decoder prefill's
// bf16 stream into the final norm and the logits row's MLP).
void widen_bf16_cpu(float* out, const uint16_t* x, size_t n);

#ifdef COSMOS_CUDA
// Device pointers; out holds n bf16 values.
void cast_bf16_cuda(void* out, const float* x, size_t n, const cosmos::CudaContext& ctx);
void widen_bf16_cuda(float* out, const void* x, size_t n, const cosmos::CudaContext& ctx);
#endif
