// The decode step (one token) of a Qwen3 decoder layer with the small kernels folded into the GEMVs around them:
//   gemv_qkv_rope      (q|k|v GEMV + q/k RMSNorm + rotary + the cache row's k and v; was GEMV + qkv_rope)
//   decode attention   (as attention_block_cuda: attention_decode_cuda in the graph, else attention_cuda / flash)
//   gemv_add_rmsnorm   (o GEMV + x += attn + h = post_ln(x); was GEMV + add_rmsnorm)
//   gemv_swiglu        (gate|up GEMV + SwiGLU, as mlp_cuda at n = 1)
//   gemv_add_rmsnorm   (down GEMV + x += mlp + h = next_ln(x); was GEMV + add_rmsnorm)
// 5 launches per layer instead of 8. The result is what attention_block_cuda + add_norm_cuda + mlp_cuda +
// add_norm_cuda give (the CPU path, attention_block_cpu + add/rmsnorm + mlp_cpu, is the reference), up to the order
// of the sums of squares in the norms. Only the CUDA decode path has it; prefill keeps the layers' own calls.
#pragma once
#include "attention_block.h"
#include "mlp.h"
#include "norm.h"

#ifdef COSMOS_CUDA
namespace cosmos {

// Counters (zeroed device memory, left zeroed) the fused kernels need: heads + kv_heads + 1.
inline int decode_fused_counters(const AttentionBlock& b) { return b.heads + b.kv_heads + 1; }

// Whether decoder_layer_decode_cuda takes this layer and call (n = 1 with a cache, no extra K/V or segments, no
// biases, f32 / bf16 weights with k % 8 == 0, 16-byte aligned operands).
bool decoder_layer_decode_supported(const float* h, const AttentionBlock& a, const SwiGluMlp& m,
                                    const AttentionCall& call, float* scratch);

// x [width]: the residual stream; h [width] = in_ln(x) on entry. On return x = x + attn(h) + mlp(post_ln(...)) and
// h = next(x) (the next layer's input norm, or the model's final norm). scratch: max(attention_scratch_floats(a, 1,
// true), mlp_scratch_floats(m, 1)) floats; counters: decode_fused_counters(a).
void decoder_layer_decode_cuda(float* x, float* h, const AttentionBlock& a, const RmsNorm& post_ln, const SwiGluMlp& m,
                               const RmsNorm& next, const AttentionCall& call, float* scratch, unsigned* counters,
                               const CudaContext& ctx);

}  // namespace cosmos
#endif
