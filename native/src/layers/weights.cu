// The GPU weight store (weights.h): pool blocks, bf16 conversion on the host, random fills on the GPU.
#ifndef COSMOS_CUDA
#define COSMOS_CUDA 1
#endif
#include "../core/cuda_common.h"
#include "../ops/fill_uniform.h"
#include "weights.h"

namespace cosmos {

CudaPool& shared_weight_pool() {
  static CudaPool* pool = new CudaPool();  // never destroyed: blocks may outlive static destruction order
  return *pool;
}

namespace {
// A block of shared_weight_pool(); its memory goes back to CUDA with the last holder (weights are large and
// rarely the size of the next load's, so the pool keeps no cache of them).
class CudaWeightBlock : public WeightBlock {
 public:
  explicit CudaWeightBlock(size_t bytes) {
    data_ = shared_weight_pool().alloc(bytes);
    bytes_ = bytes;
  }
  ~CudaWeightBlock() override {
    CudaPool& pool = shared_weight_pool();
    pool.free(data_);
    pool.release_cached();
  }
};
}  // namespace

std::shared_ptr<WeightBlock> CudaWeightStore::new_block(size_t count, bool bf16) {
  return std::make_shared<CudaWeightBlock>(count * (bf16 ? 2 : 4));
}

std::string CudaWeightStore::device() const {
  int d = 0;
  CUDA_CHECK(cudaGetDevice(&d));
  return "cuda:" + std::to_string(d);
}

void* CudaWeightStore::alloc(size_t count, bool bf16) {
  const size_t bytes = count * (bf16 ? 2 : 4);
  void* p = pool_.alloc(bytes);
  bytes_ += bytes;
  own_.emplace_back(p, bytes);
  return p;
}

size_t CudaWeightStore::release_own(const void* data) {
  for (auto it = own_.begin(); it != own_.end(); ++it)
    if (it->first == data) {
      const size_t bytes = it->second;
      CUDA_CHECK(cudaStreamSynchronize(stream_));  // no work queued on the store's stream still reads it
      pool_.free(it->first);
      own_.erase(it);
      return bytes;
    }
  return 0;
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
