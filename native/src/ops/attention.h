// Scaled dot-product attention over a KV cache, GQA-aware.
#pragma once
#include "../core/parallel.h"  // CpuContext
#ifdef COSMOS_CUDA
#include "../core/cuda_context.h"
#endif

// q [n_q, q_heads, hd]; k,v [n_kv, kv_heads, hd] (KV cache rows 0..n_kv-1); query i is at position
// q_offset+i and, when causal, sees keys 0..q_offset+i. GQA: q head h reads kv head h / (q_heads/kv_heads).
// out [n_q, q_heads, hd]. Softmax in f32 with max subtraction. Parallel over (query, head) on ctx's threads.
void attention_cpu(float* out, const float* q, const float* k, const float* v, int n_q, int n_kv, int q_heads,
                   int kv_heads, int head_dim, int q_offset, bool causal, float scale, const cosmos::CpuContext& ctx);
// CPU twin of attention_decode_rope_cuda (below): qkv_rope_cpu into cache row n_kv - 1, then attention_cpu.
void attention_decode_rope_cpu(float* out, const float* q_in, const float* k_in, const float* v_in, const float* qw,
                               const float* kw, float eps, const float* cos, const float* sin, float* k_cache,
                               float* v_cache, int n_kv, int q_heads, int kv_heads, int head_dim, float scale,
                               const cosmos::CpuContext& ctx);

#ifdef COSMOS_CUDA
// Split-KV launches (few queries over a long cache) take their partials from ctx.pool.
void attention_cuda(float* out, const float* q, const float* k, const float* v, int n_q, int n_kv, int q_heads,
                    int kv_heads, int head_dim, int q_offset, bool causal, float scale, const cosmos::CudaContext& ctx);

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
size_t attention_decode_workspace(int max_kv, int q_heads, int kv_heads, int head_dim);  // in floats
// Blocks per KV head of the decode kernel that serves this shape on the current device (one thread-block cluster
// per KV head, attention.cu's cluster_decode_kernel), or 0 for the split kernel + combine (head dims other than 16,
// 32, 64, 128, 256, larger groups, COSMOS_DECODE_ATTN=old). For tests and benches.
int attention_decode_cluster(int q_heads, int kv_heads, int head_dim);

// Decode (one query per q head) with qkv_rope's step for the new token folded in: q_in, k_in, v_in are the token's
// raw projections ([q_heads * hd], [kv_heads * hd] x 2), q/k RMSNorm (qw, kw: [hd], null = none, eps) and the
// rotation (cos, sin: [hd]) as qkv_rope_cuda; k and v of the token go to row n_kv - 1 of the caches, then the
// attention over keys [0, n_kv) (n_kv from n_kv_dev when set: a captured launch). out [q_heads * hd].
// Only for the shapes of the cluster kernel (attention_decode_rope_supported; COSMOS_DECODE_ROPE_FOLD=0: none);
// the same result, graph or eager, for equal n_kv.
bool attention_decode_rope_supported(int q_heads, int kv_heads, int head_dim);
void attention_decode_rope_cuda(float* out, const float* q_in, const float* k_in, const float* v_in, const float* qw,
                                const float* kw, float eps, const float* cos, const float* sin, float* k_cache,
                                float* v_cache, int n_kv, const int* n_kv_dev, int q_heads, int kv_heads, int head_dim,
                                float scale, const cosmos::CudaContext& ctx);
#endif
