// CUDA path of the attention block (attention.h); the same plan and steps as attention_block_cpu.
#ifndef COSMOS_CUDA
#define COSMOS_CUDA 1
#endif
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <cstring>

#include "../core/cuda_common.h"
#include "../core/env.h"
#include "../core/errors.h"
#include "../ops/add.h"
#include "../ops/attention.h"
#include "../ops/attention_fp8.h"
#include "../ops/flash_attention.h"
#include "../ops/flash_attention_wgmma.h"  // kFlashWgmmaHeadDim
#include "../ops/qkv_rope.h"
#include "attention_block.h"

namespace cosmos {

namespace {
// Whether runs(l, n, ctx) holds for every q|k|v projection GEMM a call of n tokens runs.
bool every_qkv_projection(const AttentionBlock& b, int n, const CudaContext& ctx,
                          bool (*runs)(const Linear&, int, const CudaContext&)) {
  AttentionPlan which{};
  which.fused = attention_fused_projection(b, n);
  bool all = true;
  for_each_qkv_projection(b, which, [&](float*, const Linear& l) { all = all && runs(l, n, ctx); });
  return all;
}
}  // namespace

bool attention_qkv_fp8_runs(const AttentionBlock& b, int n, const CudaContext& ctx) {
  return every_qkv_projection(b, n, ctx, linear_fp8_runs);
}
bool attention_qkv_bf16_runs(const AttentionBlock& b, int n, const CudaContext& ctx) {
  return every_qkv_projection(b, n, ctx, linear_bf16_runs);
}

namespace {
// Runs of equal segments (a video's frames): [first, first + run) all of len rows. The tensor-core paths batch a run in
// one launch; f32 attention takes one segment at a time (run 1).
template <class F>
void for_each_segment_run(const AttentionCall& call, bool batch, F&& f) {
  for (int s = 0; s < call.n_segments;) {
    const int len = call.segments[s + 1] - call.segments[s];
    int run = 1;
    while (batch && s + run < call.n_segments && call.segments[s + run + 1] - call.segments[s + run] == len) ++run;
    f((size_t)call.segments[s], len, run);
    s += run;
  }
}

// Whether the call's frames (the Qwen3-VL tower's) run on the wgmma flash path with q, k, v written by
// qkv_rope_flash_segments_cuda straight as the kernel's bf16 operands (no f32 q, k, v and no conversion pass): not with
// q/k norms (that kernel has none), a segment off the wgmma path, or COSMOS_ATTENTION_BF16_QKV=0 (the f32 q, k, v and
// flash_attention_segments_cuda's conversion: measured against each other in bench/README).
bool segments_on_bf16_flash(const AttentionBlock& b, const AttentionCall& call, const CudaContext& ctx) {
  if (!call.segments || !call.tensor_core_attention || b.q_norm || b.k_norm) return false;
  if (!env_switch("COSMOS_ATTENTION_BF16_QKV", true)) return false;
  for (int s = 0; s < call.n_segments; ++s) {
    const int len = call.segments[s + 1] - call.segments[s];
    if (std::strcmp(flash_attention_path(len, len, b.head_dim, call.causal, ctx.stream), "wgmma") != 0) return false;
  }
  return true;
}

// The q|k|v projection in bf16 straight from the GEMM for the frames on the bf16 flash path (the Qwen3-VL tower): the
// values transformers' bf16 tower hands its rotary (its Linear's bf16 output), half the projection's bytes out of the
// GEMM and into qkv_rope_flash. The default since the GEMM's bf16 epilogue stores 16 bytes a lane (H100, 2026-12-07:
// the video tower ~1.3 ms faster, bench/README); COSMOS_QKV_BF16_OUT=0 keeps q|k|v in f32 (q and k then rounded after
// the rotary only: ~1e-3 a block apart, ops_cuda_test). Read at every call (tests switch it).
bool qkv_bf16_out_wanted() { return env_switch("COSMOS_QKV_BF16_OUT", true); }

// q / k rows and the rotary tables aligned for qkv_rope_flash_segments_cuda's pair reads (the wgmma path's head dims
// are multiples of 8, so every segment's offset keeps them aligned).
template <class In>
bool flash_prep_aligned(const In* q_in, const In* k_in, int q_stride, int kv_stride, const AttentionCall& call) {
  auto aligned = [](const void* ptr, uintptr_t a) { return reinterpret_cast<uintptr_t>(ptr) % a == 0; };
  return q_stride % 2 == 0 && kv_stride % 2 == 0 && aligned(q_in, 2 * sizeof(In)) && aligned(k_in, 2 * sizeof(In)) &&
         aligned(call.cos, 8) && aligned(call.sin, 8);
}

// The frames on the bf16 flash path (segments_on_bf16_flash, flash_prep_aligned): q, k, v (f32, or bf16 from the GEMM)
// through qkv_rope_flash_segments_cuda into the kernel's operands, a run of equal segments a launch. att_b set: the
// kernel writes its output there in bf16 instead of f32 into att.
template <class In>
void attention_segments_bf16(const AttentionBlock& b, const AttentionCall& call, const In* q_in, const In* k_in,
                             const In* v_in, int q_stride, int kv_stride, float scale, float* att, __nv_bfloat16* att_b,
                             const CudaContext& ctx) {
  const int H = b.heads, KVH = b.kv_heads, D = b.head_dim;
  CudaPool& pool = workspace_pool(ctx, "attention_block_cuda (bf16 q/k/v)");
  for_each_segment_run(call, true, [&](size_t o, int len, int run) {
    const int pad = flash_wgmma_rows_pad(len);
    const size_t dims = kFlashWgmmaHeadDim;  // the operands' padded head dim
    const size_t qs = (size_t)run * H * pad * dims, ks = (size_t)run * KVH * pad * dims;
    DeviceBuffer<__nv_bfloat16> qb(pool, qs), kb(pool, ks), vt(pool, ks);  // back to the pool once enqueued
    qkv_rope_flash_segments_cuda(qb.get(), kb.get(), vt.get(), q_in + o * q_stride, k_in + o * kv_stride,
                                 v_in + o * kv_stride, q_stride, kv_stride, call.cos + o * D, call.sin + o * D, len,
                                 run, pad, H, KVH, D, ctx);
    auto attend = [&](auto* out) {  // f32 or bf16 out
      flash_attention_segments_bf16_cuda(out + o * H * D, qb.get(), kb.get(), vt.get(), len, run, H, KVH, D,
                                         call.causal, scale, ctx);
    };
    if (att_b)
      attend(att_b);
    else
      attend(att);
  });
}
}  // namespace

bool attention_fp8_q_int8(const AttentionBlock& b) {
  return env_switch("COSMOS_FP8_Q_INT8", true) && b.head_dim == 128 && b.q_norm && b.k_norm;
}

// The decoder prefill's path with xb (below in attention_block_cuda): q from the rotary straight into the wgmma flash
// kernel's bf16 operand, its output to the o projection in bf16. own: the rows of keys of this stream (cached + new).
bool prefill_on_bf16_flash(const AttentionBlock& b, const AttentionCall& call, bool fp8, int own,
                           const CudaContext& ctx) {
  return call.xb && !call.n_kv_dev && !call.segments && !fp8 && call.extra.n == 0 && call.tensor_core_attention &&
         linear_bf16_runs(b.o, call.n, ctx) &&
         std::strcmp(flash_attention_path(call.n, own, b.head_dim, call.causal, ctx.stream), "wgmma") == 0;
}

bool attention_residual_bf16_runs(const AttentionBlock& b, const AttentionCall& call, const CudaContext& ctx) {
  if (!call.residual || call.fp8_attention || !linear_bf16_out_runs(b.o, call.n, ctx)) return false;
  const int own = (call.cache ? call.cache->n_past : 0) + call.n;  // (attention_plan's kv_row0 + n)
  return prefill_on_bf16_flash(b, call, false, own, ctx);
}

void attention_block_cuda(float* y, const float* x, const AttentionBlock& b, const AttentionCall& call, float* scratch,
                          const CudaContext& ctx) {
  attention_check(b, call);
  const int n = call.n, H = b.heads, KVH = b.kv_heads, D = b.head_dim, QH = H * D, KH = KVH * D;
  const AttentionPlan p = attention_plan(b, call, scratch);
  const float scale = 1.0f / std::sqrt((float)D);
  const bool bf16_flash = segments_on_bf16_flash(b, call, ctx);
  // With xb (the caller's GEMM inputs come in bf16 from their producers) the frames' attention output goes to the o
  // projection in bf16 too, where o runs on the bf16 GEMM: the values its cast would make, in p.att's space.
  auto* att_b =
      bf16_flash && call.xb && linear_bf16_runs(b.o, n, ctx) ? reinterpret_cast<__nv_bfloat16*>(p.att) : nullptr;
  // y = o(attention), or y += it (call.residual): in the GEMM's epilogue from bf16 rows where that runs, else the
  // product through a workspace (back to the pool once the add is enqueued) and add_cuda.
  auto o_from_bf16 = [&](const __nv_bfloat16* att16) {
    if (call.residual_bf16)
      linear_bf16_add_bf16_cuda(reinterpret_cast<__nv_bfloat16*>(call.residual_bf16), att16, b.o, n, ctx);
    else if (!call.residual)
      linear_bf16_cuda(y, att16, b.o, n, ctx);
    else if (linear_bf16_add_runs(b.o, n, ctx))
      linear_bf16_add_cuda(y, att16, b.o, n, ctx);
    else {
      DeviceBuffer<float> t(workspace_pool(ctx, "attention_block_cuda (residual)"), (size_t)n * b.o.out);
      linear_bf16_cuda(t.get(), att16, b.o, n, ctx);
      add_cuda(y, y, t.get(), n * b.o.out, ctx);
    }
  };
  auto o_from_f32 = [&](const float* att) {
    if (call.residual_bf16)  // (attention_residual_bf16_runs holds: the bf16 flash path's o takes bf16 rows)
      throw ModelError("attention_block_cuda: residual_bf16 reached the o projection from f32 rows");
    if (!call.residual) return linear_cuda(y, att, b.o, n, ctx);
    if (linear_add_runs(b.o, n, ctx)) return linear_add_cuda(y, att, b.o, n, ctx);
    DeviceBuffer<float> t(workspace_pool(ctx, "attention_block_cuda (residual)"), (size_t)n * b.o.out);
    linear_cuda(t.get(), att, b.o, n, ctx);
    add_cuda(y, y, t.get(), n * b.o.out, ctx);
  };
  if (call.residual_bf16 && !attention_residual_bf16_runs(b, call, ctx))
    throw ModelError(
        "attention_block_cuda: AttentionCall::residual_bf16 needs residual and the o projection from bf16 rows with "
        "bf16 "
        "out (the prefill's rows on the wgmma flash path with xb: attention_residual_bf16_runs)");
  auto o_projection = [&] {
    if (att_b)
      o_from_bf16(att_b);
    else
      o_from_f32(p.att);
  };
  if (call.xb) {
    if (call.x8.q) throw ModelError("attention_block_cuda: AttentionCall has both x8 and xb; give one form of x");
    if (!attention_qkv_bf16_runs(b, n, ctx))
      throw ModelError("attention_block_cuda: bf16 rows (AttentionCall::xb) given where q|k|v is not on the bf16 GEMM");
    const auto* xb = reinterpret_cast<const __nv_bfloat16*>(call.xb);
    if (bf16_flash && p.fused && qkv_bf16_out_wanted() && linear_bf16_out_runs(b.qkv, n, ctx)) {
      // q|k|v in bf16 from the GEMM (a workspace, back to the pool once the attention is enqueued): the pool's
      // blocks are 256-byte aligned and QH, KH even, so the pair reads stay aligned.
      const int W = QH + 2 * KH;
      DeviceBuffer<__nv_bfloat16> proj(workspace_pool(ctx, "attention_block_cuda (bf16 q|k|v)"), (size_t)n * W);
      const __nv_bfloat16* q_in = proj.get();
      if (flash_prep_aligned(q_in, q_in + QH, W, W, call)) {
        linear_bf16_out_cuda(proj.get(), xb, b.qkv, n, ctx);
        attention_segments_bf16(b, call, q_in, q_in + QH, q_in + QH + KH, W, W, scale, p.att, att_b, ctx);
        o_projection();
        return;
      }
    }
    for_each_qkv_projection(b, p, [&](float* out, const Linear& l) { linear_bf16_cuda(out, xb, l, n, ctx); });
  } else {
    for_each_qkv_projection(b, p, [&](float* out, const Linear& l) { linear_cuda(out, x, l, n, ctx, call.x8); });
  }
  const int own = p.kv_row0 + n;
  const bool fp8 = !call.n_kv_dev && !call.segments && call.fp8_attention &&
                   attention_fp8_cuda_supported(call.extra.n + own, D, ctx.stream);
  if (fp8 && attention_fp8_q_int8(b)) {
    // q straight into the 8-bit attention's int8 operand (a workspace given back once the attention is enqueued)
    CudaPool& pool = workspace_pool(ctx, "attention_block_cuda (int8 q)");
    const int pad = attention_fp8_rows_pad(n);
    DeviceBuffer<uint8_t> q8(pool, (size_t)H * pad * 128);
    DeviceBuffer<float> q8_scale(pool, (size_t)H * pad);
    const Int8QHeads q{q8.get(), q8_scale.get()};
    if (qkv_rope_int8q_cuda(q, p.k, p.v, p.q_in, p.k_in, p.v_in, p.q_stride, p.kv_stride, b.q_norm, b.k_norm, call.cos,
                            call.sin, n, H, KVH, D, b.eps, p.kv_row0, ctx)) {
      attention_fp8_cuda(p.att, q, call.extra.k, call.extra.v, call.extra.n, p.k, p.v, own, n, H, KVH, D,
                         call.extra.n + p.kv_row0, call.causal, scale, ctx);
      o_from_f32(p.att);
      return;
    }
  }
  if (bf16_flash && flash_prep_aligned(p.q_in, p.k_in, p.q_stride, p.kv_stride, call)) {
    attention_segments_bf16(b, call, p.q_in, p.k_in, p.v_in, p.q_stride, p.kv_stride, scale, p.att, att_b, ctx);
    o_projection();
    return;
  }
  // The keys and values of this stream: p.k / p.v (f32: the cache, or the call's rows), or a bf16 cache. with_kv(f)
  // calls f(k, v) with the pointers in their own type, so every step below that reads or writes them takes the
  // matching overload (ops/qkv_rope.h, attention.h, flash_attention.h).
  const bool kv_bf16 = call.cache && call.cache->bf16();
  auto with_kv = [&](auto&& f) {
    if (kv_bf16)
      f(reinterpret_cast<__nv_bfloat16*>(call.cache->k_bf16), reinterpret_cast<__nv_bfloat16*>(call.cache->v_bf16));
    else
      f(p.k, p.v);
  };
  // With xb (the caller's GEMM inputs come in bf16 from their producers: the decoder's prefill) on the wgmma flash
  // path, q goes from the rotary straight into the kernel's bf16 operand (qkv_rope_bf16q_cuda: no f32 q written or
  // converted) where that kernel serves the shape, and the attention's output to the o projection in bf16 (p.att's
  // space): the values the conversion and o's cast would make.
  if (prefill_on_bf16_flash(b, call, fp8, own, ctx)) {
    auto* att_b16 = reinterpret_cast<__nv_bfloat16*>(p.att);
    const int q_rows = flash_wgmma_rows_pad(n);
    DeviceBuffer<__nv_bfloat16> qb(workspace_pool(ctx, "attention_block_cuda (bf16 q)"),
                                   (size_t)H * q_rows * kFlashWgmmaHeadDim);  // back to the pool once enqueued
    with_kv([&](auto* k, auto* v) {
      if (qkv_rope_bf16q_cuda(qb.get(), q_rows, k, v, p.q_in, p.k_in, p.v_in, p.q_stride, p.kv_stride, b.q_norm,
                              b.k_norm, call.cos, call.sin, n, H, KVH, D, b.eps, p.kv_row0, ctx)) {
        flash_attention_bf16q_cuda(att_b16, qb.get(), k, v, n, own, H, KVH, D, p.kv_row0, call.causal, scale, ctx);
      } else {
        qkv_rope_cuda(p.q, k, v, p.q_in, p.k_in, p.v_in, p.q_stride, p.kv_stride, b.q_norm, b.k_norm, call.cos,
                      call.sin, n, H, KVH, D, b.eps, p.kv_row0, nullptr, ctx);
        flash_attention_bf16_out_cuda(att_b16, p.q, k, v, n, own, H, KVH, D, p.kv_row0, call.causal, scale, ctx);
      }
    });
    o_from_bf16(att_b16);
    return;
  }
  with_kv([&](auto* k, auto* v) {
    qkv_rope_cuda(p.q, k, v, p.q_in, p.k_in, p.v_in, p.q_stride, p.kv_stride, b.q_norm, b.k_norm, call.cos, call.sin, n,
                  H, KVH, D, b.eps, p.kv_row0, call.row_dev, ctx);
  });
  // The call's own keys only (no segments, no extra K/V, not in 8 bits): the decode step, or every row's queries over
  // the cache and this call's rows.
  auto attend_own = [&](auto* k, auto* v) {
    if (call.n_kv_dev)
      attention_decode_cuda(p.att, p.q, k, v, call.n_kv_dev, call.cache->capacity, H, KVH, D, scale, call.decode_part,
                            ctx);
    else if (call.tensor_core_attention)
      flash_attention_cuda(p.att, p.q, k, v, n, own, H, KVH, D, p.kv_row0, call.causal, scale, ctx);
    else
      attention_cuda(p.att, p.q, k, v, n, own, H, KVH, D, p.kv_row0, call.causal, scale, ctx);
  };
  if (kv_bf16) {  // (attention_check: no extra K/V, no 8-bit attention; a cache has no segments)
    with_kv(attend_own);
  } else if (call.segments) {
    for_each_segment_run(call, call.tensor_core_attention, [&](size_t o, int len, int run) {
      if (call.tensor_core_attention)
        flash_attention_segments_cuda(p.att + o * QH, p.q + o * QH, p.k + o * KH, p.v + o * KH, len, run, H, KVH, D,
                                      call.causal, scale, ctx);
      else
        attention_cuda(p.att + o * QH, p.q + o * QH, p.k + o * KH, p.v + o * KH, len, len, H, KVH, D, 0, call.causal,
                       scale, ctx);
    });
  } else if (fp8) {
    // fp8 reads the keys [extra | own] in two parts where they are (its e4m3 copy is the concatenation).
    attention_fp8_cuda(p.att, p.q, call.extra.k, call.extra.v, call.extra.n, p.k, p.v, own, n, H, KVH, D,
                       call.extra.n + p.kv_row0, call.causal, scale, ctx);
  } else if (call.extra.n > 0) {
    // Keys [extra | own] in a workspace from ctx.pool (given back once the attention is enqueued: the
    // pool serves this stream only, so later work that reuses the block runs after it).
    const int e = call.extra.n, total = e + own;
    CudaPool& pool = workspace_pool(ctx, "attention_block_cuda (extra K/V)");
    DeviceBuffer<float> k(pool, (size_t)total * KH), v(pool, (size_t)total * KH);
    const size_t eb = sizeof(float) * e * KH, ob = sizeof(float) * own * KH;
    CUDA_CHECK(cudaMemcpyAsync(k.get(), call.extra.k, eb, cudaMemcpyDeviceToDevice, ctx.stream));
    CUDA_CHECK(cudaMemcpyAsync(v.get(), call.extra.v, eb, cudaMemcpyDeviceToDevice, ctx.stream));
    CUDA_CHECK(cudaMemcpyAsync(k.get() + (size_t)e * KH, p.k, ob, cudaMemcpyDeviceToDevice, ctx.stream));
    CUDA_CHECK(cudaMemcpyAsync(v.get() + (size_t)e * KH, p.v, ob, cudaMemcpyDeviceToDevice, ctx.stream));
    if (call.tensor_core_attention)
      flash_attention_cuda(p.att, p.q, k.get(), v.get(), n, total, H, KVH, D, e + p.kv_row0, call.causal, scale, ctx);
    else
      attention_cuda(p.att, p.q, k.get(), v.get(), n, total, H, KVH, D, e + p.kv_row0, call.causal, scale, ctx);
  } else {
    attend_own(p.k, p.v);
  }
  o_from_f32(p.att);
}

}  // namespace cosmos
