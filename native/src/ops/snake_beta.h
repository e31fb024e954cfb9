// SnakeBeta with log-scale parameters, the activation of the Cosmos 3 AVAE (Oobleck) audio decoder
// (diffusers' Snake1d, logscale=True):  y = x + 1 / (exp(beta_c) + 1e-9) * sin(exp(alpha_c) * x)^2.
// The checkpoint stores log(alpha) and log(beta) per channel ([1, C, 1]); they are used as stored.
//
// Layout: x [rows, c] channels-last (a time step's channels contiguous), as conv1d's activations.
// out may alias x. f32 steps in the reference's order: exp of each parameter, the reciprocal of
// (beta + 1e-9), sin, square, product, then the add.
#pragma once
#ifdef COSMOS_CUDA
#include "../core/cuda_context.h"
#endif

void snake_beta_cpu(float* out, const float* x, const float* log_alpha, const float* log_beta, long long rows, int c);

#ifdef COSMOS_CUDA
// Device pointers; one thread per element (grid-stride), the per-channel exps recomputed per element.
void snake_beta_cuda(float* out, const float* x, const float* log_alpha, const float* log_beta, long long rows, int c,
                     const cosmos::CudaContext& ctx);
#endif
