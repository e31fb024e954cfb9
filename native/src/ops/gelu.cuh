// GELU of one value, both flavours, shared by ops/gelu.cu (in place over an array) and the GEMM epilogue that applies
// it to its outputs (ops/gemm_wgmma.cu), so the fused and the unfused paths compute the same expression.
#pragma once
#include <cuda_runtime.h>

namespace cosmos {

// gelu_pytorch_tanh: 0.5 x (1 + tanh(u)), u = sqrt(2/pi) (x + 0.044715 x^3), the Qwen3-VL vision MLP's, computed as
// x / (1 + exp(-2u)) (the same function: 0.5 (1 + tanh(u)) is the logistic of 2u): one ex2 and one reciprocal on the
// MUFU pipe and a few FMAs, where tanhf takes ~20 instructions and a branch. In the fc1 GEMM's epilogue (gemm_wgmma.cu)
// that is 128 values a thread a tile, which the other consumer's main loop (18 k-steps at the tower's k = 1152) must
// hide. Within a few f32 ulps of the tanh form (the CPU twin's, ops/gelu_cpu.cc); x -> -inf gives -0 through the
// reciprocal of inf.
__device__ __forceinline__ float gelu_tanh_value(float v) {
  const float c2 = 2.0f * 0.7978845608028654f;  // 2 sqrt(2/pi)
  return v * __frcp_rn(1.0f + __expf(-c2 * (v + 0.044715f * v * v * v)));
}
// nn.GELU(): 0.5 x (1 + erf(x / sqrt 2)).
__device__ __forceinline__ float gelu_erf_value(float v) { return 0.5f * v * (1.0f + erff(v * 0.7071067811865476f)); }

}  // namespace cosmos
