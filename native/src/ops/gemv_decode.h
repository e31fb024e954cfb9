// Decode GEMV: out[m] = w[m, k] . x[k] for one token (n = 1), w f32 or bf16. Same numbers as matmul_cuda
// with n = 1 (each row's dot product is accumulated in the same order, so the results are identical), but
// each lane keeps 8 independent 16-byte weight loads in flight instead of 4. Measured on an H100 (bf16,
// back-to-back launches): the lm_head (m = 151936, k = 4096) reads at 3.1 TB/s vs 2.7-2.8 with matmul's
// GEMV, but the decoder layers' shapes got slower (down k = 12288 m = 4096: 2.14 vs 2.25 TB/s; qkv
// 2.1-2.4 vs 2.47), so the decoder uses it for the lm_head only. CPU twin: matmul_cpu with n = 1.
#pragma once
#ifdef COSMOS_CUDA
#include "../core/cuda_context.h"

#include "matmul.h"

// Device pointers; x [k] f32 (16-byte aligned for the vector path), out [m] f32, must not alias x.
void gemv_decode_cuda(float* out, const float* x, const void* w, WType wt, int k, int m,
                      const cosmos::CudaContext& ctx);
#endif
