// flash_attention_wgmma: attention at head_dim <= 128 (operands zero-padded to 128), full or causal, on Hopper tensor
// cores (wgmma + TMA): the Generator's joint attention of tens of thousands of queries over [und | gen] keys, the
// Qwen3-VL tower's (head_dim 72) and the Qwen3 decoder's causal prefill. It runs on the bf16 operands
// flash_attention_cuda (ops/flash_attention.h) prepares and is reached through it, which keeps the f32 contract of
// attention.h (CPU twin: attention_cpu). Numerics as flash_attention.h: q, k, v and the probabilities in bf16, f32
// accumulation and f32 online softmax.
//
// Needs sm_90a machine code (wgmma, setmaxnreg): built like ops/gemm_wgmma.cu, as its own -gencode
// arch=compute_90a,code=sm_90a object (native/CMakeLists.txt). Built for anything else the kernel is empty and
// flash_attention_wgmma_available() says false, so flash_attention_cuda keeps its mma.sync kernel.
#pragma once
#ifdef COSMOS_CUDA
#include <cuda_bf16.h>
#include <cuda_runtime.h>

#include <cstdint>

namespace cosmos {

constexpr int kFlashWgmmaHeadDim = 128;
constexpr int kFlashWgmmaTile = 128;  // queries per block, keys per tile: the bf16 operands' padding
// The operand dims the bf16 kernel reads at head dim hd: 80 at hd <= 80 (the Qwen3-VL tower's 72: S takes 5 k16 steps
// and P V is m64n80), else all 128. Dims [hd, this) must be zero; past it a writer may leave the operands as they were.
constexpr int flash_wgmma_dims_read(int hd) { return hd <= 80 ? 80 : kFlashWgmmaHeadDim; }

// True when this build carries the sm_90a kernel and the device is compute capability 9.0 (probed once per
// process; during a graph capture an unprobed call answers false).
bool flash_attention_wgmma_available(cudaStream_t stream);

// out f32 [n_q][q_heads][hd] = softmax(q k^T * scale) v, GQA (q_heads % kv_heads == 0), enqueued on `stream`: over
// all n_kv keys, or causal (query i sees keys 0 .. q_offset + i, as attention.h). hd <= 128, hd % 8 == 0. Operands,
// bf16, zero-padded to whole tiles (nq_pad, nkv_pad multiples of kFlashWgmmaTile) and to 128 dims (of which only
// flash_wgmma_dims_read(hd) are read: dims, or v^T's rows, past those may hold anything):
//   qb [q_heads][nq_pad][128], kb [kv_heads][nkv_pad][128], vt [kv_heads][128][nkv_pad] (v transposed: wgmma reads
//   both of its shared-memory operands k-contiguous, and for P V the k dimension is the key).
// scale_log2 = scale * log2(e). segments > 1: that many independent attentions of the same shape in one launch (the
// Qwen3-VL tower's frames): operand blocks one after another (qb [segments][q_heads][nq_pad][128], ...), out
// [segments * n_q][q_heads][hd]. Throws std::runtime_error when the driver cannot encode the TMA descriptors.
void flash_attention_wgmma(float* out, const __nv_bfloat16* qb, const __nv_bfloat16* kb, const __nv_bfloat16* vt,
                           int n_q, int n_kv, int nq_pad, int nkv_pad, int q_heads, int kv_heads, int hd, int q_offset,
                           bool causal, float scale_log2, int segments, cudaStream_t stream);
// The same with out in bf16 (each value rounded to nearest even: what a bf16 GEMM would make of the f32 out), for a
// bf16 GEMM next (the tower's o projection).
void flash_attention_wgmma(__nv_bfloat16* out, const __nv_bfloat16* qb, const __nv_bfloat16* kb,
                           const __nv_bfloat16* vt, int n_q, int n_kv, int nq_pad, int nkv_pad, int q_heads,
                           int kv_heads, int hd, int q_offset, bool causal, float scale_log2, int segments,
                           cudaStream_t stream);

// The same on 8-bit operands (ops/attention_fp8.h prepares them), one segment: qb [q_heads][nq_pad][128] and kb
// [kv_heads][nkv_pad][128] int8, vt [kv_heads][128][nkv_pad] e4m3 with the keys of every 32 in fp8_key_order; the
// scales are device memory: q_scale [q_heads][nq_pad] (per query row), k_scale and v_scale [kv_heads]. Scores are
// exact integers (s32); the probabilities are rounded to e4m3 (times 256) for P V; f32 accumulation and online
// softmax as above.
void flash_attention_wgmma_fp8(float* out, const uint8_t* qb, const uint8_t* kb, const uint8_t* vt,
                               const float* q_scale, const float* k_scale, const float* v_scale, int n_q, int n_kv,
                               int nq_pad, int nkv_pad, int q_heads, int kv_heads, int hd, int q_offset, bool causal,
                               float scale_log2, cudaStream_t stream);

}  // namespace cosmos
#endif
