// lincomb: out[i] = c[0]·x[0][i] + c[1]·x[1][i] + ... (f32, up to kLincombMaxTerms inputs). Every tensor
// update of the flow-matching samplers (UniPC predictor / corrector, Euler, CFG) is one of these, with the
// scalar coefficients worked out on the host, so latents never leave the device.
//
// Rounding: each product is rounded, then added left to right (acc = c0·x0; acc += c_k·x_k), with no fused
// multiply-add, so the CPU and CUDA twins give the same bits and `x + dt·v` rounds as PyTorch's two ops do.
// out may alias any input (each element reads all its inputs before it is written).
#pragma once
#ifdef COSMOS_CUDA
#include "../core/cuda_context.h"
#endif

constexpr int kLincombMaxTerms = 6;

// x: n_terms pointers (1 <= n_terms <= kLincombMaxTerms), c: n_terms coefficients; n elements each.
void lincomb_cpu(float* out, const float* const* x, const float* c, int n_terms, long long n);

#ifdef COSMOS_CUDA
// Device pointers; x and c are host arrays (passed to the kernel by value).
void lincomb_cuda(float* out, const float* const* x, const float* c, int n_terms, long long n,
                  const cosmos::CudaContext& ctx);
#endif
