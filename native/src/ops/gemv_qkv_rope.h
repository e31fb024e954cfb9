// gemv_qkv_rope: the decode step's q|k|v projection with qkv_rope folded in — proj = w . x (w = [q heads | k heads
// | v heads] rows of head_dim, k-wide), then q_out = rope(rmsnorm(q) * qw), k row `row0` of the cache =
// rope(rmsnorm(k) * kw), v row `row0` = v, for one token. One launch instead of GEMV + qkv_rope (~5 us of latency
// per layer on the H200): v rows go straight to the cache from the GEMV, and for each q / k head the block that
// finishes the head's rows last (a counter per head) normalises and rotates that head, as qkv_rope's block does.
// Same arithmetic as matmul_cpu (n = 1) + qkv_rope_cpu (the CPU twin composes them).
#pragma once
#include "../core/parallel.h"  // CpuContext
#ifdef COSMOS_CUDA
#include "../core/cuda_context.h"

#include "matmul.h"
#endif

// x [k]; w [(heads + 2 kv_heads) hd, k] f32; qw, kw [hd]; cos, sin [hd] (this token's rope.h tables); q_out
// [heads hd]; k_cache, v_cache [rows, kv_heads, hd] of which row row0 is written.
void gemv_qkv_rope_cpu(float* q_out, float* k_cache, float* v_cache, const float* x, const float* w, const float* qw,
                       const float* kw, const float* cos, const float* sin, int k, int heads, int kv_heads,
                       int head_dim, float eps, int row0, const cosmos::CpuContext& ctx);

#ifdef COSMOS_CUDA
// Whether the CUDA kernel takes this call (k % 8 == 0, 16-byte aligned x and w, head_dim % 4 == 0 and <= 1024, both
// norms present); else use GEMV + qkv_rope.
bool gemv_qkv_rope_supported(const float* x, const void* w, int k, int head_dim, const float* qw, const float* kw);
// Device pointers; w f32 or bf16. proj: (heads + kv_heads) hd floats of workspace (the q and k projections before
// the norm). counters: heads + kv_heads zeroed unsigneds in device memory, left zeroed by every launch. row0_dev
// (nullable): the cache row is read from device memory when the kernel runs (the decode graph). Launched with PDL.
void gemv_qkv_rope_cuda(float* q_out, float* k_cache, float* v_cache, float* proj, const float* x, const void* w,
                        WType wt, const float* qw, const float* kw, const float* cos, const float* sin, int k,
                        int heads, int kv_heads, int head_dim, float eps, int row0, const int* row0_dev,
                        unsigned* counters, const cosmos::CudaContext& ctx);
#endif
