// GELU of one value, both flavours, shared by ops/gelu.cu (in place over an array) and the GEMM epilogue that applies
// it to its outputs (ops/gemm_wgmma.cu), so the fused and the unfused paths compute the same expression.
#pragma once
#include <cuda_runtime.h>

namespace cosmos {

// gelu_pytorch_tanh: 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))), the Qwen3-VL vision MLP's.
__device__ __forceinline__ float gelu_tanh_value(float v) {
  const float c = 0.7978845608028654f;  // sqrt(2/pi)
  return 0.5f * v * (1.0f + tanhf(c * (v + 0.044715f * v * v * v)));
}
// The same with the SFU's tanh.approx.f32 (one instruction, max relative error ~2^-11) in place of tanhf (a software
// routine of ~20 instructions, two of them on the SFU): the fused GEMM epilogue's form (COSMOS_GELU_TANH_APPROX=0 gives
// the form above), whose output is rounded to bf16 (2^-8) anyway; not bit for bit the form above.
__device__ __forceinline__ float gelu_tanh_approx_value(float v) {
  const float c = 0.7978845608028654f;  // sqrt(2/pi)
  float t;
  asm("tanh.approx.f32 %0, %1;" : "=f"(t) : "f"(c * (v + 0.044715f * v * v * v)));
  return 0.5f * v * (1.0f + t);
}
// nn.GELU(): 0.5 x (1 + erf(x / sqrt 2)).
__device__ __forceinline__ float gelu_erf_value(float v) { return 0.5f * v * (1.0f + erff(v * 0.7071067811865476f)); }

}  // namespace cosmos
