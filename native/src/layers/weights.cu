// The GPU weight store (weights.h): pool blocks, bf16 conversion on the host, random fills on the GPU.
#ifndef COSMOS_CUDA
#define COSMOS_CUDA 1
#endif
#include "../core/cuda_common.h"
#include "../ops/fill_uniform.h"
#include "weights.h"

namespace cosmos {

void* CudaWeightStore::alloc(size_t count, bool bf16) {
  const size_t bytes = count * (bf16 ? 2 : 4);
  bytes_ += bytes;
  return pool_.alloc(bytes);
}

void CudaWeightStore::put(void* dst, const float* src, size_t count, bool bf16) {
  if (bf16) {
    staging_.resize(count);
    for (size_t i = 0; i < count; ++i) staging_[i] = f32_to_bf16(src[i]);
    CUDA_CHECK(cudaMemcpyAsync(dst, staging_.data(), count * 2, cudaMemcpyHostToDevice, stream_));
  } else {
    CUDA_CHECK(cudaMemcpyAsync(dst, src, count * 4, cudaMemcpyHostToDevice, stream_));
  }
  CUDA_CHECK(cudaStreamSynchronize(stream_));  // the caller's host buffer is reused for the next tensor
}

void CudaWeightStore::fill(void* dst, size_t count, bool bf16, uint64_t seed, float a, float c) {
  fill_uniform_cuda(dst, (long long)count, bf16, seed, a, c, CudaContext{stream_, &pool_});
}

}  // namespace cosmos
