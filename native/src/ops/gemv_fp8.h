// Decode GEMVs on e4m3 weights (issue 14 item 4: fp8 weights for decode, as vLLM's `--quantization fp8` holds them):
// one token's x [k] f32 against a weight quantized per output row (ops/quantize_fp8.h: w[r, c] ~ scale[r] * dec(w8[r,
// c])). The activations stay f32 (weight-only: decode reads the weight once per token, so its bytes are the cost; x
// is read from cache), so the only rounding beyond bf16 decode's is the weight's.
//   gemv_fp8:        out[r] = scale[r] * sum_c dec(w8[r, c]) x[c] (+ bias[r]), r < m
//   gemv_fp8_swiglu: w8 holds the gate rows then the up rows ([2 * inter, k], the fused gate|up weight);
//                    out[j] = silu(g) * u with g = scale[j] * (gate_j . x), u = scale[inter + j] * (up_j . x)
// The CPU twins decode exactly and sum in f32 in increasing c; CUDA sums the same products in another order (16-value
// chunks per lane, then a warp sum), so the two agree to f32 rounding (native/test/ops_cuda_test.cu, rows gemv_fp8).
#pragma once
#include <cstdint>

#include "../core/parallel.h"  // CpuContext
#ifdef COSMOS_CUDA
#include "../core/cuda_context.h"
#endif

void gemv_fp8_cpu(float* out, const float* x, const uint8_t* w8, const float* scale, const float* bias, int k, int m);
void gemv_fp8_swiglu_cpu(float* out, const float* x, const uint8_t* w8, const float* scale, int k, int inter);

#ifdef COSMOS_CUDA
// Whether the CUDA GEMVs take these operands: k % 16 == 0, w8 and x 16-byte aligned (every row then is too).
bool gemv_fp8_supported(const float* x, const uint8_t* w8, int k);
// Device pointers; out must not alias x. Throws std::invalid_argument where gemv_fp8_supported is false. e4m3 -> f16 is
// cuda_fp8.h's conversion (one instruction on sm_89+, exact: every e4m3 value is an f16).
void gemv_fp8_cuda(float* out, const float* x, const uint8_t* w8, const float* scale, const float* bias, int k, int m,
                   const cosmos::CudaContext& ctx);
void gemv_fp8_swiglu_cuda(float* out, const float* x, const uint8_t* w8, const float* scale, int k, int inter,
                          const cosmos::CudaContext& ctx);
#endif
