// The context every CUDA op takes, as ggml-cuda's ops take their backend context: the stream the op's
// kernels are enqueued on and the pool its workspaces come from. A plain struct, copied freely; the
// model that owns the stream and the pool hands out one per call (Qwen3TextCuda::ctx()).
//
// Workspaces (the bf16 copy of x in the GEMM, the split-KV partials in attention) are taken from
// `pool` for the duration of the op and given back as soon as its kernels are enqueued. That is safe
// because a pool serves one stream: a block it hands out again is only used by work enqueued later on
// the same stream, which runs after the op's kernels (PyTorch's caching allocator relies on the same
// stream order). So every workspace byte is a pool byte: counted in the pool's in-use / peak / cached
// figures (nativeMemory()), and returned to CUDA when the model is freed. Ops never cudaMalloc.
#pragma once
#include <cuda_runtime.h>

#include <stdexcept>
#include <string>

#include "cuda_pool.h"

namespace cosmos {

struct CudaContext {
  cudaStream_t stream = nullptr;  // every kernel and copy of the op goes here
  CudaPool* pool = nullptr;       // workspaces; may be null for ops that need none (see each op's header)
};

// The pool of an op that needs a workspace; a context without one is a programming error.
inline CudaPool& workspace_pool(const CudaContext& ctx, const char* op) {
  if (!ctx.pool) throw std::runtime_error(std::string(op) + ": the CudaContext has no pool for its workspace");
  return *ctx.pool;
}

}  // namespace cosmos
