// Wan's RMS_norm over channels: out = x / max(||x||_2, 1e-12) * sqrt(dim) * gamma (F.normalize over the
// channel axis, then the learned gain; the Wan VAE has no bias), optionally followed by SiLU, which every
// norm in the VAE's residual blocks and heads is. Not ops/rmsnorm: the epsilon clamps the L2 norm instead of
// being added to the mean square, so a zero row stays zero. Rows are pixels of channels-last frames.
#pragma once
#ifdef COSMOS_CUDA
#include "../core/cuda_context.h"
#endif

// x, out [rows, dim] (out may alias x); gamma [dim].
void wan_rmsnorm_cpu(float* out, const float* x, const float* gamma, long long rows, int dim, bool silu);

#ifdef COSMOS_CUDA
void wan_rmsnorm_cuda(float* out, const float* x, const float* gamma, long long rows, int dim, bool silu,
                      const cosmos::CudaContext& ctx);
#endif
