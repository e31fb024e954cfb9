// The Qwen3 attention block, shared by every stream that runs a Qwen3 decoder layer and by the Qwen3-VL
// vision tower: fused q|k|v projection, optional per-head q/k RMSNorm, rotary from precomputed cos/sin
// tables (the decoder's interleaved mRoPE or the tower's 2D rotary — rope.h, qwen3_vision_rotary_cpu),
// GQA, causal or full, an optional KV cache, optional extra K/V from another stream, output projection.
//
// As llama.cpp's build_attn serves every model, this is the one place the attention sequence is
// written; models differ only in the struct's weights and flags and in the call's arguments. The extra
// K/V is the Cosmos 3 Generator's joint attention (../shared/reference/cosmos3-generator.md §1.1): the
// gen stream's queries see cat(K_und, K_gen) — the und stream's keys in full, then their own — and the
// und stream never sees gen keys (it simply gets no extra).
//
// Scratch is the caller's (attention_scratch_floats), not allocated here, so a captured CUDA graph can
// keep its addresses; only the extra-K/V concatenation takes a workspace (CPU: heap, CUDA: ctx.pool).
#pragma once
#include <cstddef>
#include <cstdint>

#include "../core/parallel.h"
#include "linear.h"
#ifdef COSMOS_CUDA
#include "../core/cuda_context.h"
#endif

namespace cosmos {

struct AttentionBlock {
  Linear qkv;  // rows [q: heads * hd | k: kv_heads * hd | v: kv_heads * hd], input width = model width
  Linear o;    // [model width, heads * hd]
  const float* q_norm = nullptr;  // [hd] per-head RMSNorm weights of q and k (Qwen3), or both null
  const float* k_norm = nullptr;
  int heads = 0, kv_heads = 0, head_dim = 0;
  float eps = 1e-6f;
  // Prefill (n > 1) projection: one GEMM over q|k|v then a split into q, k, v buffers (the tower and the
  // decoder: one [n, q+k+v] GEMM beats three narrower ones on a GPU, at the price of a second n x heads*hd buffer
  // for q), or one GEMM per part (q is then normed and rotated in place). Decode (n = 1) always runs the single
  // fused GEMV.
  bool fused_prefill_gemm = false;
};

// Keys and values of earlier tokens, [capacity, kv_heads, hd] each; rows [0, n_past) are filled. In f32 (k, v), or,
// CUDA only, in bf16 (k_bf16, v_bf16, bits; k and v null): what transformers keeps for a bf16 model, half the bytes
// decode's attention reads. Every kernel reading a bf16 cache widens its values (exact) and computes as on f32 rows;
// the rows are written as the f32 values rounded to nearest even. Not with extra K/V or the 8-bit attention.
struct KvCache {
  float* k = nullptr;
  float* v = nullptr;
  int capacity = 0, n_past = 0;
  uint16_t* k_bf16 = nullptr;  // (uint16_t, not __nv_bfloat16: the CPU build compiles this struct too)
  uint16_t* v_bf16 = nullptr;
  bool bf16() const { return k_bf16 != nullptr; }
};

// Another stream's keys and values ([n, kv_heads, hd], already normed and rotated), seen by every query
// of this call, before this stream's own keys.
struct ExtraKv {
  const float* k = nullptr;
  const float* v = nullptr;
  int n = 0;
};

struct AttentionCall {
  int n = 0;                                   // tokens of this call
  const float *cos = nullptr, *sin = nullptr;  // [n, hd] rotary tables of these tokens
  bool causal = true;                          // over this stream's own keys
  const KvCache* cache = nullptr;              // set: k/v go to rows n_past.., keys = rows [0, n_past + n)
  ExtraKv extra;                               // extra.n > 0: see ExtraKv
  // Attention within segments [seg[i], seg[i+1]) of the call's rows only (the tower's per-frame
  // cu_seqlens, host memory, n_segments + 1 offsets); not with a cache or extra K/V.
  const int* segments = nullptr;
  int n_segments = 0;
  // CUDA decode graph (n = 1, causal, with a cache, no extra): the cache row and the KV length are read
  // from device memory when the kernels run; decode_part: attention_decode_workspace floats for
  // cache->capacity keys.
  const int* row_dev = nullptr;
  const int* n_kv_dev = nullptr;
  float* decode_part = nullptr;
  // CUDA: the long-sequence attention runs on tensor cores (ops/flash_attention.h: q, k, v and P rounded to
  // bf16, ~1e-3 relative) instead of attention_cuda. Opt-in, so callers fidelity-tested in f32 keep theirs.
  // (A new member: every object that builds an AttentionCall must be rebuilt with this header.)
  bool tensor_core_attention = false;
  // Attention in 8 bits (ops/attention_fp8.h: q and k in int8, v and P in e4m3; the Generator's fp8 mode with
  // COSMOS_FP8_ATTENTION=1), except with segments or in the decode graph. CPU: attention_fp8_cpu; CUDA:
  // attention_fp8_cuda where it takes the shape (an sm_90a build on an H100 / H200, head_dim <= 128), otherwise as if
  // unset.
  bool fp8_attention = false;
  // CUDA: x already in e4m3 per row (linear.h's Fp8Rows; add_rmsnorm_fp8_cuda writes it), for the q|k|v projection
  // where it runs in fp8 (linear_fp8_runs); x is then not read.
  Fp8Rows x8;
  // CUDA: x already in bf16 (bits, [n, qkv.in], 16-byte aligned; add_norm_bf16_cuda writes it), for the q|k|v
  // projection where it runs on the bf16 GEMM (attention_qkv_bf16_runs), which would round x to bf16 first: the same
  // numbers; x is then not read. With it, segments on the bf16 flash path also hand their output to the o projection
  // in bf16 where o runs on the bf16 GEMM (the same numbers again). (uint16_t, not __nv_bfloat16: the CPU build
  // compiles this struct too.)
  const uint16_t* xb = nullptr;
  // y += the block's output instead of y = it (a layer's residual add, so the norm after it reads the stream once).
  // CUDA: in the o projection's epilogue where o runs on the bf16 wgmma GEMM from bf16 rows (linear_bf16_add_runs) or
  // from f32 rows on the fp8 or wgmma GEMM (linear_add_runs), the same bits as the block's output then add_cuda; else
  // through a workspace and add_cuda. CPU: a temporary and add_cpu.
  bool residual = false;
  // CUDA, with residual: the stream y stands for is held in bf16 here ([n, o.out], 16-byte aligned): the block's
  // output is added to these rows in the o projection's epilogue in f32 and rounded once (linear_bf16_add_bf16_cuda),
  // and y is not written. Where attention_residual_bf16_runs (o from bf16 rows on the wgmma GEMM): the decoder prefill
  // (qwen3_text_cuda.cu, prefill_bf16_residual_requested). Not on the CPU (attention_block_cpu throws).
  uint16_t* residual_bf16 = nullptr;
};

// Floats of scratch one call of n tokens needs (projections, split q/k/v when not in place, attention).
size_t attention_scratch_floats(const AttentionBlock& b, int n, bool has_cache);
// Whether n tokens are projected to q|k|v by one GEMM(V) over b.qkv (else by one per part: b.qkv.rows(...)).
bool attention_fused_projection(const AttentionBlock& b, int n);

// y [n, o.out] = o(attention(...)) for x [n, qkv.in]; y may alias x. Throws ModelError on arguments that
// do not fit together (a cache too small, segments with a cache, ...).
void attention_block_cpu(float* y, const float* x, const AttentionBlock& b, const AttentionCall& call, float* scratch,
                         const CpuContext& ctx);

#ifdef COSMOS_CUDA
void attention_block_cuda(float* y, const float* x, const AttentionBlock& b, const AttentionCall& call, float* scratch,
                          const CudaContext& ctx);
// Whether attention_block_cuda projects n tokens to q|k|v in fp8 (every projection GEMM it runs: linear_fp8_runs), so
// that AttentionCall::x8 can stand in for x.
bool attention_qkv_fp8_runs(const AttentionBlock& b, int n, const CudaContext& ctx);
// Whether attention_block_cuda projects n tokens to q|k|v on the bf16 GEMM (linear_bf16_runs for every projection GEMM
// it runs), so that AttentionCall::xb can stand in for x.
bool attention_qkv_bf16_runs(const AttentionBlock& b, int n, const CudaContext& ctx);
// Whether attention_block_cuda takes call with residual_bf16 set: residual, o on the wgmma GEMM with bf16 out
// (linear_bf16_out_runs), and the prefill's rows on the wgmma flash kernel with q in bf16 (the decoder's path with xb:
// no segments, no fp8 attention), so the o projection reads bf16 rows and can add into the bf16 stream.
bool attention_residual_bf16_runs(const AttentionBlock& b, const AttentionCall& call, const CudaContext& ctx);
// Whether, where its attention runs in 8 bits, the block writes q straight as the attention's int8 operand
// (ops/qkv_rope.h qkv_rope_int8q_cuda: head_dim 128 with q / k norms; the same bits as the attention quantizing f32 q).
// COSMOS_FP8_Q_INT8=0 writes f32 q as before.
bool attention_fp8_q_int8(const AttentionBlock& b);
#endif

// Where the pieces of one call live in the scratch (shared by both backends).
struct AttentionPlan {
  float *proj, *q_in, *k_in, *v_in;  // projection output and the q/k/v parts in it
  int q_stride, kv_stride;           // row strides of the parts, in floats
  float *q, *k, *v;                  // normed + rotated q [n, heads, hd]; k/v rows of this call
  int kv_row0;                       // first row of this call in k / v (n_past with a cache, else 0)
  float* att;                        // attention output [n, heads * hd]
  bool fused;                        // one projection GEMM(V) over q|k|v
};
AttentionPlan attention_plan(const AttentionBlock& b, const AttentionCall& call, float* scratch);
// fn(out, linear) for each q|k|v projection GEMM of a plan: b.qkv into p.proj where p.fused, else each part into
// p.q_in, p.k_in, p.v_in (both backends, and the CUDA checks of which GEMMs would run, on a plan with only fused set).
template <class F>
void for_each_qkv_projection(const AttentionBlock& b, const AttentionPlan& p, F&& fn) {
  const int QH = b.heads * b.head_dim, KH = b.kv_heads * b.head_dim;
  if (p.fused) {
    fn(p.proj, b.qkv);
    return;
  }
  fn(p.q_in, b.qkv.rows(0, QH));
  fn(p.k_in, b.qkv.rows(QH, KH));
  fn(p.v_in, b.qkv.rows(QH + KH, KH));
}
// Checks the call against the block; throws ModelError naming what does not fit.
void attention_check(const AttentionBlock& b, const AttentionCall& call);

}  // namespace cosmos
