// add_layernorm: x += h, then out = layernorm(x) * w + b — a residual add fused with the LayerNorm that follows it
// (the Qwen3-VL tower's norm2 after the attention, and the next block's norm1 after the MLP), one kernel instead of
// two. x, h, out [rows, dim]; out may alias h; w and b nullable. Same arithmetic as add_cpu + layernorm_cpu.
#pragma once
#ifdef COSMOS_CUDA
#include "../core/cuda_context.h"
#endif

void add_layernorm_cpu(float* out, float* x, const float* h, const float* w, const float* b, int rows, int dim,
                       float eps);

#ifdef COSMOS_CUDA
void add_layernorm_cuda(float* out, float* x, const float* h, const float* w, const float* b, int rows, int dim,
                        float eps, const cosmos::CudaContext& ctx);
#endif
