// qkv_rope: one attention call's q, k, v made ready from the projections — optional per-head RMSNorm
// of q and k (Qwen3's q_norm / k_norm), rotate_half rotary on q and k, and k, v copied to their rows
// (a KV cache, or plain buffers). One op because at decode each step alone is a ~3 us launch on a few KB
// (it was 5 launches per layer), and in the vision tower it also splits the fused [q | k | v] rows.
//
// Inputs are rows with a stride (in floats): q row t at q_in + t * q_stride holds heads * hd values,
// k / v rows (k_in, v_in + t * kv_stride) kv_heads * hd. Outputs are contiguous: q_out [n, heads, hd];
// k_out, v_out [rows, kv_heads, hd] of which rows row0 .. row0 + n - 1 are written. q_out may be q_in
// (in place) when q_stride == heads * hd or n == 1. qw, kw: [hd] RMSNorm weights, or both null (no
// norm). cos, sin: [n, hd] (rope.h's tables). Same arithmetic as rmsnorm_cpu + rope_apply_cpu.
#pragma once
#ifdef COSMOS_CUDA
#include <cuda_bf16.h>

#include "../core/cuda_context.h"
#include "attention_fp8.h"  // Int8QHeads
#endif

void qkv_rope_cpu(float* q_out, float* k_out, float* v_out, const float* q_in, const float* k_in, const float* v_in,
                  int q_stride, int kv_stride, const float* qw, const float* kw, const float* cos, const float* sin,
                  int n, int heads, int kv_heads, int head_dim, float eps, int row0);

#ifdef COSMOS_CUDA
// row0_dev (nullable): when set, the first output row is read from device memory when the kernel runs
// (the decode CUDA graph replays one launch at every cache row). head_dim <= 1024. With both norms, head_dim 64 or 128
// and aligned rows, one warp per head (COSMOS_QKV_ROPE=block: the block-per-head kernel; the sums' order differs,
// ~1 ulp).
void qkv_rope_cuda(float* q_out, float* k_out, float* v_out, const float* q_in, const float* k_in, const float* v_in,
                   int q_stride, int kv_stride, const float* qw, const float* kw, const float* cos, const float* sin,
                   int n, int heads, int kv_heads, int head_dim, float eps, int row0, const int* row0_dev,
                   const cosmos::CudaContext& ctx);
// The same with k and v written in bf16 (a bf16 KV cache): each the f32 form's value rounded to nearest even.
void qkv_rope_cuda(float* q_out, __nv_bfloat16* k_out, __nv_bfloat16* v_out, const float* q_in, const float* k_in,
                   const float* v_in, int q_stride, int kv_stride, const float* qw, const float* kw, const float* cos,
                   const float* sin, int n, int heads, int kv_heads, int head_dim, float eps, int row0,
                   const int* row0_dev, const cosmos::CudaContext& ctx);

// qkv_rope_cuda without norms (the Qwen3-VL tower), written straight as flash_attention_wgmma's bf16 operands for
// `segments` attentions of seg_len rows (input rows s * seg_len .. of segment s; cos / sin rows alike): qb
// [segments][heads][rows_pad][128], kb [segments][kv_heads][rows_pad][128], vt [segments][kv_heads][128][rows_pad] (v
// transposed), rows_pad = flash_wgmma_rows_pad(seg_len) (ops/flash_attention.h): every row past seg_len and dim in
// [head_dim, flash_wgmma_dims_read(head_dim)) zero, the dims past those (v^T's rows) not written (the kernel does not
// read them: 48 of 128 at head_dim <= 80). The f32 q, k, v rows are never written, and flash_attention_cuda's own
// conversion pass is not needed (the tower's video: 3 x 180 MB a layer fewer). head_dim <= 128 and a multiple of 8, q /
// k rows and the rotary tables 8-byte aligned (throws otherwise). Values as qkv_rope_cuda's rounded to bf16.
void qkv_rope_flash_segments_cuda(__nv_bfloat16* qb, __nv_bfloat16* kb, __nv_bfloat16* vt, const float* q_in,
                                  const float* k_in, const float* v_in, int q_stride, int kv_stride, const float* cos,
                                  const float* sin, int seg_len, int segments, int rows_pad, int heads, int kv_heads,
                                  int head_dim, const cosmos::CudaContext& ctx);
// The same with q, k, v in bf16 (the tower's q|k|v straight from its GEMM, matmul_bf16_out_cuda): the arithmetic in f32
// from the bf16 values (what transformers' bf16 tower does: its Linear's bf16 output, the rotary in f32), bit for bit
// the f32 form given those values widened; q / k rows 4-byte aligned.
void qkv_rope_flash_segments_cuda(__nv_bfloat16* qb, __nv_bfloat16* kb, __nv_bfloat16* vt, const __nv_bfloat16* q_in,
                                  const __nv_bfloat16* k_in, const __nv_bfloat16* v_in, int q_stride, int kv_stride,
                                  const float* cos, const float* sin, int seg_len, int segments, int rows_pad,
                                  int heads, int kv_heads, int head_dim, const cosmos::CudaContext& ctx);

// qkv_rope_cuda with q written only as the 8-bit attention's int8 operand (ops/attention_fp8.h, Int8QHeads: bytes
// [heads][attention_fp8_rows_pad(n)][128], one scale per (head, row)), its f32 rows neither written nor read back by
// the attention (at the Generator's 480p, 300 MB each way a layer): the bytes and scales attention_fp8_cuda makes from
// qkv_rope_cuda's q, bit for bit; k and v as qkv_rope_cuda writes them. Only where qkv_rope_cuda takes its warp
// kernel at head_dim 128 (both norms, aligned rows); returns false without launching anything elsewhere.
bool qkv_rope_int8q_cuda(const Int8QHeads& q8, float* k_out, float* v_out, const float* q_in, const float* k_in,
                         const float* v_in, int q_stride, int kv_stride, const float* qw, const float* kw,
                         const float* cos, const float* sin, int n, int heads, int kv_heads, int head_dim, float eps,
                         int row0, const cosmos::CudaContext& ctx);

// qkv_rope_cuda with q written only as flash_attention_wgmma's bf16 operand (qb [heads][q_rows][128], q_rows >= n a
// whole number of its tiles: flash_wgmma_rows_pad(n), the rows past n zeros), its f32 rows never written nor converted
// (the decoder's prefill: 2 x 54 MB fewer a layer at 3318 tokens): the values flash_attention_cuda's conversion makes
// from qkv_rope_cuda's q, bit for bit; k and v as qkv_rope_cuda writes them. Only where qkv_rope_cuda takes its warp
// kernel at head_dim 128 (both norms, aligned rows) and qb is 8-byte aligned; returns false without launching anything
// elsewhere. flash_attention_bf16q_cuda (ops/flash_attention.h) reads it.
bool qkv_rope_bf16q_cuda(__nv_bfloat16* qb, int q_rows, float* k_out, float* v_out, const float* q_in,
                         const float* k_in, const float* v_in, int q_stride, int kv_stride, const float* qw,
                         const float* kw, const float* cos, const float* sin, int n, int heads, int kv_heads,
                         int head_dim, float eps, int row0, const cosmos::CudaContext& ctx);
// The same with k and v written in bf16 (a bf16 KV cache), as qkv_rope_cuda's bf16 form.
bool qkv_rope_bf16q_cuda(__nv_bfloat16* qb, int q_rows, __nv_bfloat16* k_out, __nv_bfloat16* v_out, const float* q_in,
                         const float* k_in, const float* v_in, int q_stride, int kv_stride, const float* qw,
                         const float* kw, const float* cos, const float* sin, int n, int heads, int kv_heads,
                         int head_dim, float eps, int row0, const cosmos::CudaContext& ctx);
#endif
