// Wan's RMS_norm over channels: out = x / max(||x||_2, 1e-12) * sqrt(dim) * gamma (F.normalize over the
// channel axis, then the learned gain; the Wan VAE has no bias), optionally followed by SiLU, which every
// norm in the VAE's residual blocks and heads is. Not ops/rmsnorm: the epsilon clamps the L2 norm instead of
// being added to the mean square, so a zero row stays zero. Rows are pixels of channels-last frames.
//
// The bf16 form writes the same values rounded to bf16 (round to nearest even): the input window of a conv that
// rounds its operands so anyway (ops/conv3d.h conv3d_window_cuda; the Wan VAE's causal convs read their norm's
// output and nothing else does), one pass instead of an f32 write and a cast.
#pragma once
#include <cstdint>
#ifdef COSMOS_CUDA
#include "../core/cuda_context.h"
#endif

// x, out [rows, dim] (out may alias x); gamma [dim].
void wan_rmsnorm_cpu(float* out, const float* x, const float* gamma, long long rows, int dim, bool silu);
// out [rows, dim] bf16 bits = cast_bf16(wan_rmsnorm_cpu(x)).
void wan_rmsnorm_bf16_cpu(uint16_t* out, const float* x, const float* gamma, long long rows, int dim, bool silu);

#ifdef COSMOS_CUDA
void wan_rmsnorm_cuda(float* out, const float* x, const float* gamma, long long rows, int dim, bool silu,
                      const cosmos::CudaContext& ctx);
// out: rows * dim bf16 values (not aliasing x). The same arithmetic as wan_rmsnorm_cuda, so it equals
// cast_bf16_cuda of that op's output bit for bit.
void wan_rmsnorm_bf16_cuda(void* out, const float* x, const float* gamma, long long rows, int dim, bool silu,
                           const cosmos::CudaContext& ctx);
#endif
