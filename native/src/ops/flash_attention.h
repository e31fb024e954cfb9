// Tensor-core flash attention for long sequences (the Cosmos 3 Generator's joint attention: tens of
// thousands of queries and keys, head_dim 128; the Qwen3-VL tower and the Qwen3 prefill). Same contract as
// attention_cpu / attention_cuda (attention.h): f32 q [n_q, q_heads, hd], k/v [n_kv, kv_heads, hd], GQA, causal or full
// with q_offset, out f32 [n_q, q_heads, hd]. The CPU twin is attention_cpu itself.
//
// Numerics: q, k, v and the softmax probabilities are rounded to bf16 (products on mma.sync m16n8k16,
// f32 accumulation, f32 online softmax), ~1e-3 relative on the output; callers opt in
// (AttentionCall::tensor_core_attention) so exact f32 consumers keep attention_cuda.
#pragma once
#ifdef COSMOS_CUDA
#include <cuda_bf16.h>

#include "../core/cuda_context.h"

// True when flash_attention_cuda runs the tensor-core kernel for this shape (otherwise it calls
// attention_cuda): n_q >= 64, n_kv > 0 and head_dim <= 128.
bool flash_attention_supported(int n_q, int n_kv, int head_dim);

// Which kernel flash_attention_cuda runs for this call: "wgmma" (ops/flash_attention_wgmma.h: head_dim 72..128, a
// multiple of 8, full or causal, on an sm_90a build and an H100/H200; COSMOS_FLASH=mma turns it off), "mma.sync"
// (the kernel of flash_attention.cu) or "attention_cuda" (the shape is not supported).
const char* flash_attention_path(int n_q, int n_kv, int head_dim, bool causal, cudaStream_t stream);

// Workspace from ctx.pool: bf16 copies of q, k, v, head-major and zero-padded to the tiles
// ((n_q + 127) * q_heads + 2 * (n_kv + 63) * kv_heads) * padded head_dim * 2 bytes (the wgmma path pads the
// keys and the head dim to 128), given back once the kernels are enqueued.
void flash_attention_cuda(float* out, const float* q, const float* k, const float* v, int n_q, int n_kv, int q_heads,
                          int kv_heads, int head_dim, int q_offset, bool causal, float scale,
                          const cosmos::CudaContext& ctx);
// The same with k, v in bf16 (a bf16 KV cache): its rows go into the bf16 operands as they are, so the result is the
// f32 form's on the widened rows, bit for bit.
void flash_attention_cuda(float* out, const float* q, const __nv_bfloat16* k, const __nv_bfloat16* v, int n_q, int n_kv,
                          int q_heads, int kv_heads, int head_dim, int q_offset, bool causal, float scale,
                          const cosmos::CudaContext& ctx);
// The same with out in bf16 (flash_attention_wgmma's bf16 form: each value rounded to nearest even, what cast_bf16
// makes of the f32 out), the rows a bf16 GEMM reads next (the decoder prefill's o projection). Only where
// flash_attention_path(n_q, n_kv, head_dim, causal) is "wgmma" (throws otherwise).
void flash_attention_bf16_out_cuda(__nv_bfloat16* out, const float* q, const float* k, const float* v, int n_q,
                                   int n_kv, int q_heads, int kv_heads, int head_dim, int q_offset, bool causal,
                                   float scale, const cosmos::CudaContext& ctx);
void flash_attention_bf16_out_cuda(__nv_bfloat16* out, const float* q, const __nv_bfloat16* k, const __nv_bfloat16* v,
                                   int n_q, int n_kv, int q_heads, int kv_heads, int head_dim, int q_offset,
                                   bool causal, float scale, const cosmos::CudaContext& ctx);
// The same with q already in the wgmma kernel's bf16 operand layout (qb [q_heads][flash_wgmma_rows_pad(n_q)][128],
// qkv_rope_bf16q_cuda writes it): no f32 q read, no conversion of it; k and v as above.
void flash_attention_bf16q_cuda(__nv_bfloat16* out, const __nv_bfloat16* qb, const float* k, const float* v, int n_q,
                                int n_kv, int q_heads, int kv_heads, int head_dim, int q_offset, bool causal,
                                float scale, const cosmos::CudaContext& ctx);
void flash_attention_bf16q_cuda(__nv_bfloat16* out, const __nv_bfloat16* qb, const __nv_bfloat16* k,
                                const __nv_bfloat16* v, int n_q, int n_kv, int q_heads, int kv_heads, int head_dim,
                                int q_offset, bool causal, float scale, const cosmos::CudaContext& ctx);

// `segments` independent attentions of seg_len rows each, one after another in q, k, v and out (segment s: rows
// s * seg_len ..; its keys are its own rows, q_offset 0): the Qwen3-VL tower's frames. On the wgmma path all of them
// are one launch (a video's 8 frames of 1620 patches are 8 x 208 blocks: one launch fills the SMs where 8 leave
// each a partial wave); otherwise one flash_attention_cuda call each.
void flash_attention_segments_cuda(float* out, const float* q, const float* k, const float* v, int seg_len,
                                   int segments, int q_heads, int kv_heads, int head_dim, bool causal, float scale,
                                   const cosmos::CudaContext& ctx);

// Rows a segment's operands are padded to on the wgmma path (a whole number of its 128-row tiles).
int flash_wgmma_rows_pad(int seg_len);

// flash_attention_segments_cuda's wgmma path on operands already in its bf16 layout (ops/flash_attention_wgmma.h;
// qkv_rope_flash_segments_cuda writes them, rows padded to flash_wgmma_rows_pad(seg_len)): no conversion pass. Only
// where flash_attention_path(seg_len, seg_len, head_dim, causal) is "wgmma" (throws otherwise).
void flash_attention_segments_bf16_cuda(float* out, const __nv_bfloat16* qb, const __nv_bfloat16* kb,
                                        const __nv_bfloat16* vt, int seg_len, int segments, int q_heads, int kv_heads,
                                        int head_dim, bool causal, float scale, const cosmos::CudaContext& ctx);
// The same with out in bf16 (flash_attention_wgmma's bf16 form), the rows a bf16 GEMM reads next.
void flash_attention_segments_bf16_cuda(__nv_bfloat16* out, const __nv_bfloat16* qb, const __nv_bfloat16* kb,
                                        const __nv_bfloat16* vt, int seg_len, int segments, int q_heads, int kv_heads,
                                        int head_dim, bool causal, float scale, const cosmos::CudaContext& ctx);
#endif
