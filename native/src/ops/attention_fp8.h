// attention_fp8: attention on 8-bit operands (issue 14 item 4), the attention of the Generator's fp8 mode: q and k in
// int8, v and the probabilities in FP8 e4m3, the products on Hopper's 8-bit tensor cores at twice the bf16 rate
// (as SageAttention2's int8 QK / fp8 PV; FlashAttention-3's fp8 path has q and k in e4m3 too, which a trained model's
// peaked scores do not survive: bench/fp8_notes.md). The contract of attention.h: f32 q [n_q, q_heads, hd], k / v
// [n_kv, kv_heads, hd], GQA, causal (query i sees keys 0 .. q_offset + i) or full, out f32 [n_q, q_heads, hd].
//
// What is rounded, the same on both backends:
//  * q: one scale per (query row, head), k: one per kv head over all n_kv rows (a per-key factor could not be
//    applied inside the tensor-core product); s = max(absmax / 127, 1 / (127 * 512)) (int8_scale_for_absmax), each
//    value rint(x / s) within +-127. v: one scale per kv head, s = max(absmax / 448, 1 / (448 * 512)), each value
//    e4m3(x / s), round to nearest even, saturating (fp8_e4m3_from_float).
//  * scores (q8 . k8, an exact integer) * (scale * log2(e) * s_q * s_k); the online softmax in f32 over tiles of
//    kFp8AttentionTile keys in order (the running max moves once per tile); each tile's probabilities times 256 (so
//    that small ones stay in e4m3's range) rounded to e4m3 for P V; the row sum l from the unrounded ones; out =
//    o * s_v / l.
// The CPU twin (attention_fp8_cpu) runs exactly those steps. The CUDA kernel differs from it only in the order of its
// f32 sums, in exp2 (ex2.approx) and in the tensor cores' fp8 accumulation of P V, and by the e4m3 roundings of P
// those move across a rounding boundary.
#pragma once
#include "../core/parallel.h"  // CpuContext
#include "quantize_fp8.h"      // COSMOS_FP8_HD, fp8_scale_for_absmax
#ifdef COSMOS_CUDA
#include "../core/cuda_context.h"
#endif

constexpr int kFp8AttentionTile = 128;  // keys per online-softmax step (the CUDA kernel's key tile)
constexpr float kInt8Max = 127.f;

// The int8 scale of values whose largest magnitude is amax, host and device alike (as fp8_scale_for_absmax, with
// 127 for 448): one f32 division, then the floor.
COSMOS_FP8_HD float int8_scale_for_absmax(float amax) { return fmaxf(amax / kInt8Max, 1.f / (kInt8Max * 512.f)); }
// x / scale rounded to the nearest integer (ties to even, as cvt.rni), within +-127 (NaN becomes 127 on both
// backends: fminf drops it, as the absmax does).
COSMOS_FP8_HD int int8_round(float x) { return (int)fmaxf(-kInt8Max, fminf(kInt8Max, rintf(x))); }
// The same as the byte the CUDA operands hold, in the low 8 bits.
COSMOS_FP8_HD uint32_t int8_bits(float x) { return (uint32_t)(uint8_t)(int8_t)int8_round(x); }

// The key stored at position i (0..31) of every 32 keys in the CUDA kernel's V^T operand: the order in which each
// thread's probabilities already sit in wgmma's 8-bit A fragment (ops/flash_attention_wgmma.cu, Int8E4m3Tiles::pack_p).
constexpr int fp8_key_order(int i) { return 16 * (i >> 4) + 8 * ((i & 3) >> 1) + 2 * ((i >> 2) & 3) + (i & 1); }

// Throws std::invalid_argument for head_dim outside 1..128 or q_heads % kv_heads != 0. Parallel over (query, head).
void attention_fp8_cpu(float* out, const float* q, const float* k, const float* v, int n_q, int n_kv, int q_heads,
                       int kv_heads, int head_dim, int q_offset, bool causal, float scale,
                       const cosmos::CpuContext& ctx);

#ifdef COSMOS_CUDA
// True when attention_fp8_cuda can run this shape here: head_dim <= 128 and a multiple of 8, n_kv >= 1, and the sm_90a
// kernel on an H100 / H200 (ops/flash_attention_wgmma.h).
bool attention_fp8_cuda_supported(int n_kv, int head_dim, cudaStream_t stream);

// Workspace from ctx.pool: the 8-bit operands, zero-padded to 128-row tiles and 128 dims (q_heads * nq_pad + 2 *
// kv_heads * nkv_pad) * 128 bytes, and the scales; given back once the kernels are enqueued. Throws
// std::invalid_argument where attention_fp8_cuda_supported is false.
void attention_fp8_cuda(float* out, const float* q, const float* k, const float* v, int n_q, int n_kv, int q_heads,
                        int kv_heads, int head_dim, int q_offset, bool causal, float scale,
                        const cosmos::CudaContext& ctx);
// The same with the keys and values in two parts: rows [0, n_a) of k_a / v_a, then n_b rows of k_b / v_b (the
// Generator's [und | gen] keys), read where they are instead of copied into one tensor first (n_kv = n_a + n_b).
void attention_fp8_cuda(float* out, const float* q, const float* k_a, const float* v_a, int n_a, const float* k_b,
                        const float* v_b, int n_b, int n_q, int q_heads, int kv_heads, int head_dim, int q_offset,
                        bool causal, float scale, const cosmos::CudaContext& ctx);

// q already in the kernel's int8 operand (ops/qkv_rope.h's qkv_rope_int8q_cuda writes it with the norm and the rotary,
// so q's f32 rows are never written and read back): bytes [q_heads][attention_fp8_rows_pad(n_q)][128], row r of head
// h at (h * rows_pad + r) * 128, dims past head_dim and rows past n_q zero; scale [q_heads][rows_pad], the padding
// rows' int8_scale_for_absmax(0). The same bytes and scales the f32 form makes from q, so the same output bit for bit.
struct Int8QHeads {
  uint8_t* q;
  float* scale;
};
int attention_fp8_rows_pad(int n_q);
void attention_fp8_cuda(float* out, Int8QHeads q, const float* k_a, const float* v_a, int n_a, const float* k_b,
                        const float* v_b, int n_b, int n_q, int q_heads, int kv_heads, int head_dim, int q_offset,
                        bool causal, float scale, const cosmos::CudaContext& ctx);
#endif
