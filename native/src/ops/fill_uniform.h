// fill_uniform: p[i] = a * u(i, seed) + c with u uniform in [-1, 1), a counter-based hash (splitmix64 of
// the element index), so any element is reproducible without generator state and the CPU and GPU give
// the same values. For benchmark weights generated where they live (a = 0 gives the constant c).
#pragma once
#include <cstdint>
#ifdef COSMOS_CUDA
#include "../core/cuda_context.h"
#endif

void fill_uniform_cpu(float* p, long long n, uint64_t seed, float a, float c);

#ifdef COSMOS_CUDA
// bf16: p holds bf16 values (rounded to nearest even) instead of f32.
void fill_uniform_cuda(void* p, long long n, bool bf16, uint64_t seed, float a, float c,
                       const cosmos::CudaContext& ctx);
#endif
