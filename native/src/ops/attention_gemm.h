// Single-head full attention as two GEMMs, for heads too wide for the flash kernels (attention_cuda takes
// head_dim <= 256): the Wan VAE's mid-block attention is one head of width C = 640 (encoder) / 1024
// (decoder) over a frame's pixels. out = softmax(q kᵀ * scale) v, exact f32 (matmul_cuda's f32 GEMM).
#pragma once
#include "../core/parallel.h"  // CpuContext
#ifdef COSMOS_CUDA
#include "../core/cuda_context.h"
#endif

// q [n_q, hd], k, v [n_kv, hd], out [n_q, hd]. CPU: attention_cpu with one head (the same formula).
void attention_gemm_cpu(float* out, const float* q, const float* k, const float* v, int n_q, int n_kv, int hd,
                        float scale, const cosmos::CpuContext& ctx);

#ifdef COSMOS_CUDA
// Workspaces from ctx.pool: vᵀ [hd, n_kv] and the scores of a block of queries (at most 64 MiB at a time).
void attention_gemm_cuda(float* out, const float* q, const float* k, const float* v, int n_q, int n_kv, int hd,
                         float scale, const cosmos::CudaContext& ctx);
#endif
