// Scaled dot-product attention over a KV cache, GQA-aware.
#pragma once
#include "../core/parallel.h"  // CpuContext
#ifdef COSMOS_CUDA
#include <cuda_bf16.h>

#include "../core/cuda_context.h"
#endif

// q [n_q, q_heads, hd]; k,v [n_kv, kv_heads, hd] (KV cache rows 0..n_kv-1); query i is at position
// q_offset+i and, when causal, sees keys 0..q_offset+i. GQA: q head h reads kv head h / (q_heads/kv_heads).
// out [n_q, q_heads, hd]. Softmax in f32 with max subtraction. Parallel over (query, head) on ctx's threads.
void attention_cpu(float* out, const float* q, const float* k, const float* v, int n_q, int n_kv, int q_heads,
                   int kv_heads, int head_dim, int q_offset, bool causal, float scale, const cosmos::CpuContext& ctx);

#ifdef COSMOS_CUDA
// Split-KV launches (few queries over a long cache) take their partials from ctx.pool.
void attention_cuda(float* out, const float* q, const float* k, const float* v, int n_q, int n_kv, int q_heads,
                    int kv_heads, int head_dim, int q_offset, bool causal, float scale, const cosmos::CudaContext& ctx);
// The same with k, v in bf16 (a bf16 KV cache): the same kernels, each value widened as it is read, so the result is
// the f32 form's on the widened rows, bit for bit.
void attention_cuda(float* out, const float* q, const __nv_bfloat16* k, const __nv_bfloat16* v, int n_q, int n_kv,
                    int q_heads, int kv_heads, int head_dim, int q_offset, bool causal, float scale,
                    const cosmos::CudaContext& ctx);

// Decode step (one query, causal, at position n_kv - 1) with n_kv read from device memory (*n_kv_dev,
// 1 <= n_kv <= max_kv) when the kernel runs, so a CUDA graph can replay the launch at every step.
// Same kernel and split plan as attention_cuda(n_q = 1, q_offset = n_kv - 1): identical results.
// (attention_cuda with n_q = 1 takes the same kernel: the graph and the eager decode agree bit for bit.)
// part: attention_decode_workspace(...) floats of device memory, owned by the caller, whose address a
// captured graph keeps (no allocation, no sync here: ctx.pool is not used). The grid is sized for max_kv:
// relaunch (re-capture) when max_kv grows.
void attention_decode_cuda(float* out, const float* q, const float* k, const float* v, const int* n_kv_dev, int max_kv,
                           int q_heads, int kv_heads, int head_dim, float scale, float* part,
                           const cosmos::CudaContext& ctx);
// The same over a bf16 KV cache (widened as read: the f32 form's result on the widened rows, bit for bit).
void attention_decode_cuda(float* out, const float* q, const __nv_bfloat16* k, const __nv_bfloat16* v,
                           const int* n_kv_dev, int max_kv, int q_heads, int kv_heads, int head_dim, float scale,
                           float* part, const cosmos::CudaContext& ctx);
size_t attention_decode_workspace(int max_kv, int q_heads, int kv_heads, int head_dim);  // in floats
// Blocks per KV head of the decode kernel that serves this shape on the current device (one thread-block cluster
// per KV head, attention.cu's cluster_decode_kernel), or 0 for the split kernel + combine (head dims other than 16,
// 32, 64, 128, 256, larger groups, COSMOS_DECODE_ATTN=old). For tests and benches.
int attention_decode_cluster(int q_heads, int kv_heads, int head_dim);
#endif
