// Scaled dot-product attention over a KV cache, GQA-aware.
#pragma once
#ifdef COSMOS_CUDA
#include <cuda_runtime.h>
#endif

// q [n_q, q_heads, hd]; k,v [n_kv, kv_heads, hd] (KV cache rows 0..n_kv-1); query i is at position
// q_offset+i and, when causal, sees keys 0..q_offset+i. GQA: q head h reads kv head h / (q_heads/kv_heads).
// out [n_q, q_heads, hd]. Softmax in f32 with max subtraction.
void attention_cpu(float* out, const float* q, const float* k, const float* v, int n_q, int n_kv, int q_heads,
                   int kv_heads, int head_dim, int q_offset, bool causal, float scale);

#ifdef COSMOS_CUDA
void attention_cuda(float* out, const float* q, const float* k, const float* v, int n_q, int n_kv, int q_heads,
                    int kv_heads, int head_dim, int q_offset, bool causal, float scale, cudaStream_t stream);
#endif
