// add_rmsnorm: x += h, then out = rmsnorm(x) * w — a residual add fused with the RMSNorm that follows
// it (the decoder's post-attention norm and the next layer's input norm), one pass instead of two.
// x, h, out [rows, dim]; out may alias h. Same arithmetic as add_cpu + rmsnorm_cpu.
#pragma once
#ifdef COSMOS_CUDA
#include "../core/cuda_context.h"
#endif

void add_rmsnorm_cpu(float* out, float* x, const float* h, const float* w, int rows, int dim, float eps);

#ifdef COSMOS_CUDA
void add_rmsnorm_cuda(float* out, float* x, const float* h, const float* w, int rows, int dim, float eps,
                      const cosmos::CudaContext& ctx);
#endif
