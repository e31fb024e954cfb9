// matmul: out[n,m] = x[n,k] · w[m,k]^T (+ bias[m]) — the PyTorch nn.Linear weight layout,
// so checkpoint weights are used as stored (no transpose copy).
#pragma once
#ifdef COSMOS_CUDA
#include <cuda_runtime.h>
#endif

// CPU reference: cache-blocked, split across std::thread workers by output rows/columns.
void matmul_cpu(float* out, const float* x, const float* w, const float* bias /*nullable*/, int n, int k, int m);

#ifdef COSMOS_CUDA
enum class WType { F32, BF16 };
// Device pointers. GEMV kernel for n <= 8; otherwise an mma.sync tensor-core GEMM (bf16 weights; x is
// rounded to bf16 into the op's own per-stream workspace) or an exact f32 GEMM (no cuBLAS: the build
// machines have only cudart). scratch: unused (nullptr is fine), kept for the contract.
void matmul_cuda(float* out, const float* x, const void* w, WType wt, const float* bias, int n, int k, int m,
                 void* scratch, cudaStream_t stream);
#endif
