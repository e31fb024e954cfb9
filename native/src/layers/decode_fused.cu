// See decode_fused.h.
#ifndef COSMOS_CUDA
#define COSMOS_CUDA 1
#endif
#include "decode_fused.h"

#include <cmath>

#include "../core/cuda_common.h"
#include "../ops/attention.h"
#include "../ops/flash_attention.h"
#include "../ops/gemv_add_rmsnorm.h"
#include "../ops/gemv_qkv_rope.h"
#include "../ops/gemv_swiglu.h"

namespace cosmos {

bool decoder_layer_decode_supported(const float* h, const AttentionBlock& a, const SwiGluMlp& m,
                                    const AttentionCall& call, float* scratch) {
  if (call.n != 1 || !call.cache || call.extra.n > 0 || call.segments) return false;
  if (a.qkv.b || a.o.b || m.gate_up.b || m.down.b) return false;
  const AttentionPlan p = attention_plan(a, call, scratch);
  return gemv_qkv_rope_supported(h, a.qkv.w, a.qkv.in, a.head_dim, a.q_norm, a.k_norm) &&
         gemv_add_rmsnorm_supported(p.att, a.o.w, a.o.in) && gemv_add_rmsnorm_supported(scratch, m.down.w, m.down.in);
}

void decoder_layer_decode_cuda(float* x, float* h, const AttentionBlock& a, const RmsNorm& post_ln, const SwiGluMlp& m,
                               const RmsNorm& next, const AttentionCall& call, float* scratch, unsigned* counters,
                               const CudaContext& ctx) {
  attention_check(a, call);
  const int H = a.heads, KVH = a.kv_heads, D = a.head_dim;
  const AttentionPlan p = attention_plan(a, call, scratch);  // n = 1: one projection row, q normed in place
  gemv_qkv_rope_cuda(p.q, p.k, p.v, p.proj, h, a.qkv.w, a.qkv.wt, a.q_norm, a.k_norm, call.cos, call.sin, a.qkv.in, H,
                     KVH, D, a.eps, p.kv_row0, call.row_dev, counters, ctx);
  // The attention as attention_block_cuda runs it for one query (the graph and the eager path alike).
  const float scale = 1.0f / std::sqrt((float)D);
  if (call.n_kv_dev) {
    attention_decode_cuda(p.att, p.q, p.k, p.v, call.n_kv_dev, call.cache->capacity, H, KVH, D, scale, call.decode_part,
                          ctx);
  } else {
    auto* attend = call.tensor_core_attention ? flash_attention_cuda : attention_cuda;
    attend(p.att, p.q, p.k, p.v, 1, p.kv_row0 + 1, H, KVH, D, p.kv_row0, call.causal, scale, ctx);
  }
  unsigned* norm_counter = counters + H + KVH;
  gemv_add_rmsnorm_cuda(h, x, p.att, a.o.w, a.o.wt, post_ln.w, a.o.in, a.o.out, post_ln.eps, norm_counter, ctx);
  // The MLP: the attention's scratch is free again (as in layers_forward, which hands both the same block).
  const int inter = m.gate_up.out / 2;
  gemv_swiglu_cuda(scratch, h, m.gate_up.w, m.gate_up.wt, m.gate_up.in, inter, ctx);
  gemv_add_rmsnorm_cuda(h, x, scratch, m.down.w, m.down.wt, next.w, m.down.in, m.down.out, next.eps, norm_counter, ctx);
}

}  // namespace cosmos
