// gemm_fp8_wgmma: y[m, n] f32 = (a[m, k] · b[n, k]^T) * scale_row[m] * scale_col[n] (+ bias[n]) on Hopper's FP8
// tensor cores (wgmma m64nNk32 e4m3.e4m3, f32 accumulate), the GEMM of vLLM's `--quantization fp8` on sm_90 (its
// CUTLASS scaled_mm: weights e4m3 with per-output-channel scales, activations quantized per token at every call,
// both scales applied in the epilogue). a holds the activations' e4m3 bytes (row-major, k-contiguous), b the
// weights' in the nn.Linear layout ([n, k], k-contiguous); both made by quantize_fp8 (ops/quantize_fp8.h), whose
// per-row scales are scale_row (a's, [m]) and scale_col (b's, [n]).
//
// Names: here m counts the rows of a (tokens) and n the output channels, as in the y[M,N] = A·B^T;
// gemm_wgmma (ops/gemm_wgmma.h) calls the same two n and m. Written as gemm_fp8_wgmma so the sm_90a build rule for
// ops/*_wgmma.cu (native/CMakeLists.txt, the test and bench scripts) applies to it unchanged.
//
// Accumulation: the f32 accumulators of wgmma only (CUTLASS's "FP8 fast accumulation", the kernel schedule vLLM
// picks on Hopper); the FP8 tensor cores add each k32 product in reduced internal precision, so the result differs
// from an exact f32 sum of the same e4m3 products by more than a bf16 GEMM's rounding (gemm_fp8_cuda_test reports
// by how much), and far less than the e4m3 quantization itself moves it.
//
// Needs sm_90a machine code (compiled with -gencode arch=compute_90a,code=sm_90a). Built for anything else the
// kernels are empty and gemm_fp8_wgmma_available() says false.
#pragma once
#include <cstdint>
#ifdef COSMOS_CUDA
#include <cuda_bf16.h>
#include <cuda_runtime.h>

#include "../core/cuda_context.h"
#endif

// CPU twin: y[m, n] = scale_row[r] * (scale_col[c] * Σ_i dec(a[r, i]) dec(b[c, i])) (+ bias[c]), each e4m3 decoded
// to f32 (fp8_e4m3_to_float), the products (exact in f32) summed in f32 in k order. The device applies the scales
// in the same order; only the summation differs.
void gemm_fp8_cpu(float* y, const uint8_t* a, const uint8_t* b, const float* scale_row, const float* scale_col,
                  const float* bias /*nullable*/, int m, int n, int k);

#ifdef COSMOS_CUDA
namespace cosmos {

// Every tile shape stays selectable so one device run checks and times them all.
enum class Fp8Variant : int {
  Tile128x128OneConsumer = 0,  // 1 producer + 1 consumer warpgroup (2 x m64n128k32), 1 block per tile
  Tile256x128Persistent,       // 2 consumers of 128 x 128 each (cooperative), grid = SM count
  PingPong128x128,             // persistent; each consumer owns whole 128 x 128 tiles in turns (epilogue hidden)
  Tile128x256Persistent,       // 2 consumers of 64 x 256 (m64n256k32), grid = SM count
};
constexpr int kFp8VariantCount = 4;
const char* fp8_variant_name(Fp8Variant v);

// Shapes the kernels take: m, n >= 1, k >= 16 and k % 16 == 0 (TMA: rows of whole 16-byte units; a last k-tile
// short of 128 is zero-filled by TMA), a and b 16-byte aligned.
bool gemm_fp8_wgmma_shape_ok(const void* a, const void* b, int m, int n, int k);

// True when this build carries the sm_90a kernels and the device is compute capability 9.0 (probed once; false
// while `stream` is being captured and no probe has run yet).
bool gemm_fp8_wgmma_available(cudaStream_t stream = nullptr);

// The variant for a shape (H200, gemm_fp8_cuda_test time): see the .cu.
Fp8Variant gemm_fp8_wgmma_pick(int m, int n, int k);

// Enqueues the GEMM on ctx.stream (no workspace: ctx.pool may be null). Throws std::invalid_argument naming the field
// when gemm_fp8_wgmma_shape_ok fails, std::runtime_error when the TMA descriptors cannot be encoded or the launch
// fails. y is [m, n] f32; scale_row [m], scale_col [n], bias [n] f32 device pointers.
void gemm_fp8_wgmma(float* y, const uint8_t* a, const uint8_t* b, const float* scale_row, const float* scale_col,
                    const float* bias /*nullable*/, int m, int n, int k, Fp8Variant variant, const CudaContext& ctx);
// The same on gemm_fp8_wgmma_pick's variant.
void gemm_fp8_wgmma(float* y, const uint8_t* a, const uint8_t* b, const float* scale_row, const float* scale_col,
                    const float* bias /*nullable*/, int m, int n, int k, const CudaContext& ctx);

// y [m, n] f32 += the same values (y's old values read in the epilogue: a layer's residual add, bit for bit
// gemm_fp8_wgmma then add_cuda), on gemm_fp8_wgmma_pick's tiles. y must not overlap a or b.
void gemm_fp8_wgmma_add(float* y, const uint8_t* a, const uint8_t* b, const float* scale_row, const float* scale_col,
                        const float* bias /*nullable*/, int m, int n, int k, const CudaContext& ctx);

// The gate|up projection with SwiGLU in the epilogue (the fp8 form of gemm_wgmma_swiglu): b holds 2 inter rows
// (gate rows, then up rows: the fused gate_up weight), scale_col their 2 inter scales;
// out[r, j] = bf16(silu(g) * u), g = the f32 GEMM's [r, j] and u its [r, inter + j], each scaled as above (no bias).
// The CPU twin: gemm_fp8_cpu to [m, 2 inter], swiglu, then bf16 rounding (round to nearest even).
bool gemm_fp8_wgmma_swiglu_shape_ok(const void* a, const void* b, int m, int k, int inter);  // + inter % 128 == 0
void gemm_fp8_wgmma_swiglu(__nv_bfloat16* out, const uint8_t* a, const uint8_t* b, const float* scale_row,
                           const float* scale_col, int m, int k, int inter, const CudaContext& ctx);

}  // namespace cosmos
#endif
