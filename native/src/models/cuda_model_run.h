// The bookkeeping of one run of a CUDA model on its own stream and pool (WanVaeCuda, Cosmos3AudioDecoderCuda):
// the run's high-water mark of pool bytes above what was in use at its start (weights, the caller's input and
// output), and a stream drained at the end, also when the run throws, so that no kernel still reads a block that
// the code above it frees while unwinding. Header-only; it changes nothing in what the kernels compute.
#pragma once
#ifndef COSMOS_CUDA
#define COSMOS_CUDA 1
#endif
#include <cuda_runtime.h>

#include <cstddef>

#include "../core/cuda_common.h"
#include "../core/cuda_pool.h"

namespace cosmos {

// Starts a peak measurement: the pool's peak is reset and bytes() is its high-water mark since, above the bytes in
// use at construction.
class PoolRunPeak {
 public:
  explicit PoolRunPeak(CudaPool& pool) : pool_(pool), base_(pool.bytes_in_use()) { pool.reset_peak(); }
  size_t bytes() const { return pool_.peak_bytes() - base_; }

 private:
  CudaPool& pool_;
  size_t base_;
};

// body() enqueues work on `stream`; then the stream is drained: on success with CUDA_CHECK (a kernel fault surfaces
// here), on an exception quietly before it is rethrown.
template <class Body>
void run_drained(cudaStream_t stream, Body&& body) {
  try {
    body();
  } catch (...) {
    cudaStreamSynchronize(stream);
    throw;
  }
  CUDA_CHECK(cudaStreamSynchronize(stream));
}

}  // namespace cosmos
