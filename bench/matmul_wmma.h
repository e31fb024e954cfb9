// The previous bf16 tensor-core GEMM (WMMA 16x16x16, 64x128x32 block tiles, x rounded to bf16 while it
// is staged in shared memory), kept out of the engine for comparisons with matmul.cu's mma.sync kernel
// (bench/gemm_bench.cu; figures in bench/README.md). ~120 TFLOP/s on an H100 where the mma.sync GEMM
// gives 220-380. Not linked into the addon.
#pragma once
#include <cuda_runtime.h>

// out[n, m] = bf16(x)[n, k] . w[m, k]^T (+ bias[m]); w bf16 (__nv_bfloat16), k % 8 == 0, x and w 16-byte
// aligned. Same contract and rounding as matmul_cuda's bf16 GEMM path (n > 8).
void matmul_wmma_cuda(float* out, const float* x, const void* w, const float* bias, int n, int k, int m,
                      cudaStream_t stream);
