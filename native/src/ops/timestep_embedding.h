// timestep_sinusoid: the sinusoidal timestep features of diffusers' Timesteps(dim, flip_sin_to_cos=True,
// downscale_freq_shift=0), the input of the Cosmos 3 Generator's time_embedder:
//   out[i] = [cos(t_i f_0) .. cos(t_i f_{h-1}) | sin(t_i f_0) .. sin(t_i f_{h-1})], h = dim / 2,
//   f_j = exp(-ln(10000) * j / h).
// Every step in f32 as the reference (exponent product and division, t * f), with exp / cos / sin taken in
// double and rounded once, so the CPU and CUDA tables agree to an ulp.
#pragma once
#include <cmath>

#ifdef COSMOS_CUDA
#include "../core/cuda_context.h"
#endif

void timestep_sinusoid_cpu(float* out, const float* t, int n, int dim);  // out [n, dim], dim even

#ifdef COSMOS_CUDA
void timestep_sinusoid_cuda(float* out, const float* t, int n, int dim, const cosmos::CudaContext& ctx);  // device
#endif

// The frequencies f_j (host), shared by both twins.
inline float timestep_sinusoid_freq(int j, int half) {
  const float e = (-9.210340371976184f * (float)j) / (float)half;  // -ln(10000) as f32, then the f32 steps
  return (float)std::exp((double)e);
}
