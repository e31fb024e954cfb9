#include <cmath>
#include <cstring>
#include <string>
#include <vector>

#include "../core/errors.h"
#include "../ops/add.h"
#include "../ops/attention.h"
#include "../ops/attention_fp8.h"
#include "../ops/qkv_rope.h"
#include "attention_block.h"

namespace cosmos {

bool attention_fused_projection(const AttentionBlock& b, int n) { return n == 1 || b.fused_prefill_gemm; }

namespace {
// q / k / v can be written over their own projection rows when those are contiguous: one row (decode)
// or one GEMM per part (each part is then a dense [n, width] block).
bool in_place(const AttentionBlock& b, int n) { return n == 1 || !b.fused_prefill_gemm; }
}  // namespace

size_t attention_scratch_floats(const AttentionBlock& b, int n, bool has_cache) {
  const size_t QH = (size_t)b.heads * b.head_dim, KH = (size_t)b.kv_heads * b.head_dim;
  size_t f = (size_t)n * (QH + 2 * KH) + (size_t)n * QH;  // projections, attention output
  if (!in_place(b, n)) f += (size_t)n * QH + (has_cache ? 0 : 2 * (size_t)n * KH);
  return f;
}

AttentionPlan attention_plan(const AttentionBlock& b, const AttentionCall& call, float* scratch) {
  const int n = call.n, QH = b.heads * b.head_dim, KH = b.kv_heads * b.head_dim;
  AttentionPlan p{};
  p.fused = attention_fused_projection(b, n);
  p.proj = scratch;
  if (p.fused) {  // rows [q | k | v]
    p.q_in = p.proj;
    p.k_in = p.proj + QH;
    p.v_in = p.proj + QH + KH;
    p.q_stride = p.kv_stride = QH + 2 * KH;
  } else {  // [n, QH] then [n, KH] then [n, KH]
    p.q_in = p.proj;
    p.k_in = p.proj + (size_t)n * QH;
    p.v_in = p.k_in + (size_t)n * KH;
    p.q_stride = QH;
    p.kv_stride = KH;
  }
  float* next = p.proj + (size_t)n * (QH + 2 * KH);
  p.att = next;
  next += (size_t)n * QH;
  const bool inplace = in_place(b, n);
  if (inplace)
    p.q = p.q_in;
  else
    p.q = next, next += (size_t)n * QH;
  if (call.cache) {
    p.k = call.cache->k;
    p.v = call.cache->v;
    p.kv_row0 = call.cache->n_past;
  } else if (inplace) {
    p.k = p.k_in;
    p.v = p.v_in;
    p.kv_row0 = 0;
  } else {
    p.k = next, next += (size_t)n * KH;
    p.v = next;
    p.kv_row0 = 0;
  }
  return p;
}

void attention_check(const AttentionBlock& b, const AttentionCall& call) {
  if (call.n <= 0) throw ModelError("attention: a call needs at least one token");
  if (b.heads <= 0 || b.kv_heads <= 0 || b.heads % b.kv_heads != 0 || b.head_dim <= 0 || b.head_dim % 2 != 0)
    throw ModelError("attention: heads must be a multiple of kv_heads and head_dim even");
  if ((b.q_norm == nullptr) != (b.k_norm == nullptr)) throw ModelError("attention: q_norm and k_norm come together");
  if (b.qkv.out != (b.heads + 2 * b.kv_heads) * b.head_dim || b.o.in != b.heads * b.head_dim)
    throw ModelError("attention: qkv / o projection widths do not match the heads");
  if (call.cache && call.cache->n_past + call.n > call.cache->capacity)
    throw ModelError("attention: the KV cache holds " + std::to_string(call.cache->capacity) +
                     " rows, the call needs " + std::to_string(call.cache->n_past + call.n));
  if (call.cache && (call.cache->bf16() ? (!call.cache->v_bf16 || call.cache->k || call.cache->v)
                                        : (!call.cache->k || !call.cache->v || call.cache->v_bf16)))
    throw ModelError("attention: a KV cache is k and v in f32 or k_bf16 and v_bf16, not a mix");
  if (call.cache && call.cache->bf16() && (call.extra.n > 0 || call.fp8_attention))
    throw ModelError("attention: a bf16 KV cache does not take extra K/V or the 8-bit attention");
  if (call.segments && (call.cache || call.extra.n > 0))
    throw ModelError("attention: segments are for calls without a KV cache or extra K/V");
  if (call.segments && (call.n_segments < 1 || call.segments[0] != 0 || call.segments[call.n_segments] != call.n))
    throw ModelError("attention: segments must run from 0 to the call's token count");
  if (call.extra.n < 0 || (call.extra.n > 0 && (!call.extra.k || !call.extra.v)))
    throw ModelError("attention: extra K/V needs keys and values");
  if ((call.row_dev || call.n_kv_dev) && (call.n != 1 || !call.cache || call.extra.n > 0 || !call.causal))
    throw ModelError("attention: the device-side decode step is one causal token over a KV cache");
}

void attention_block_cpu(float* y, const float* x, const AttentionBlock& b, const AttentionCall& call, float* scratch,
                         const CpuContext& ctx) {
  attention_check(b, call);
  if (call.row_dev || call.n_kv_dev) throw ModelError("attention: device-side decode steps are CUDA only");
  if (call.residual_bf16) throw ModelError("attention: a bf16 residual stream (residual_bf16) is CUDA only");
  if (call.cache && call.cache->bf16()) throw ModelError("attention: a bf16 KV cache is CUDA only");
  const int n = call.n, H = b.heads, KVH = b.kv_heads, D = b.head_dim, QH = H * D, KH = KVH * D;
  const AttentionPlan p = attention_plan(b, call, scratch);
  for_each_qkv_projection(b, p, [&](float* out, const Linear& l) { linear_cpu(out, x, l, n, ctx); });
  qkv_rope_cpu(p.q, p.k, p.v, p.q_in, p.k_in, p.v_in, p.q_stride, p.kv_stride, b.q_norm, b.k_norm, call.cos, call.sin,
               n, H, KVH, D, b.eps, p.kv_row0);
  const float scale = 1.0f / std::sqrt((float)D);
  const int own = p.kv_row0 + n;  // this stream's keys: the cache's rows up to this call, or the call's
  if (call.segments) {
    for (int s = 0; s < call.n_segments; ++s) {
      const size_t o = (size_t)call.segments[s];
      const int len = call.segments[s + 1] - call.segments[s];
      attention_cpu(p.att + o * QH, p.q + o * QH, p.k + o * KH, p.v + o * KH, len, len, H, KVH, D, 0, call.causal,
                    scale, ctx);
    }
  } else if (call.extra.n > 0) {
    // Keys [extra | own]: a query at position extra.n + kv_row0 + i sees every extra key and, when causal,
    // its own stream's keys up to itself.
    const int e = call.extra.n, total = e + own;
    std::vector<float> k((size_t)total * KH), v((size_t)total * KH);
    std::memcpy(k.data(), call.extra.k, sizeof(float) * e * KH);
    std::memcpy(v.data(), call.extra.v, sizeof(float) * e * KH);
    std::memcpy(k.data() + (size_t)e * KH, p.k, sizeof(float) * own * KH);
    std::memcpy(v.data() + (size_t)e * KH, p.v, sizeof(float) * own * KH);
    auto* attend = call.fp8_attention ? attention_fp8_cpu : attention_cpu;
    attend(p.att, p.q, k.data(), v.data(), n, total, H, KVH, D, e + p.kv_row0, call.causal, scale, ctx);
  } else {
    auto* attend = call.fp8_attention ? attention_fp8_cpu : attention_cpu;
    attend(p.att, p.q, p.k, p.v, n, own, H, KVH, D, p.kv_row0, call.causal, scale, ctx);
  }
  if (!call.residual) return linear_cpu(y, p.att, b.o, n, ctx);
  std::vector<float> t((size_t)n * b.o.out);  // y += o(attention): the CUDA epilogue's sum, y + the product
  linear_cpu(t.data(), p.att, b.o, n, ctx);
  add_cpu(y, y, t.data(), n * b.o.out);
}

}  // namespace cosmos
