// swiglu_quantize_fp8: the SwiGLU of one gate|up GEMM's output, quantized per row to e4m3 for the FP8 down
// projection (the fp8 MLP of layers/mlp.cu, Cosmos3TransformerCuda::set_fp8). gu [rows, 2 inter] f32, each row
// [gate | up]; h = silu(gate) * up computed as swiglu_cuda computes it, then quantize_fp8's rows: scale[r] =
// max(absmax(h row r) / 448, 1 / (448 * 512)), q[r, i] = e4m3(h[r, i] / scale[r]). The same bytes and scales as
// swiglu_cuda into [rows, inter] f32 followed by quantize_fp8_rows_cuda, without that f32 intermediate.
#pragma once
#include <cstdint>
#ifdef COSMOS_CUDA
#include "../core/cuda_context.h"

// Device pointers; one block per row, no workspace. Throws std::invalid_argument for rows or inter < 1.
void swiglu_quantize_fp8_cuda(uint8_t* q, float* scale, const float* gu, int rows, int inter,
                              const cosmos::CudaContext& ctx);
#endif
