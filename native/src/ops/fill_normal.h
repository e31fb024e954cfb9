// fill_normal: p[i] = mean + std * z(i, seed), z standard normal by Box-Muller over two counter-based uniforms
// (splitmix64 of 2i and 2i + 1, as fill_uniform hashes an index), so any element is reproducible without
// generator state, the CPU and the GPU draw the same numbers, and a draw does not depend on how the tensor is
// split into launches. The Generator's initial noise when the caller gives none (the pipeline's randn_tensor;
// torch's Philox stream is not reproduced, only the distribution).
//   u1 in (0, 1] (24 bits, never 0), u2 in [0, 1); z = sqrt(-2 ln u1) * cos(2 pi u2), in double, then rounded
//   to f32 — double so the two twins round the same way (libm and CUDA double log / cos are within 1 ulp,
//   far below f32's).
#pragma once
#include <cstdint>
#ifdef COSMOS_CUDA
#include "../core/cuda_context.h"
#endif

void fill_normal_cpu(float* p, long long n, uint64_t seed, float mean, float std);

#ifdef COSMOS_CUDA
void fill_normal_cuda(float* p, long long n, uint64_t seed, float mean, float std, const cosmos::CudaContext& ctx);
#endif
