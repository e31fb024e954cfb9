// Binding-side helpers of the CUDA backend, shared by addon.cc (decoder) and vision.cc (tower).
//
// Process-wide GPU memory figures for memory(): the sum over every live model's CudaPool (decoders
// and vision towers each own one).
//
// Bytes in use are exact (sum of the pools' bytes_in_use). The peak is sampled, because CudaPool has no
// allocation hook: each model call resets its pool's peak before it starts (gpu_call_begin) and, when
// it ends (gpu_call_end), the process peak becomes max(peak, that pool's peak during the call + every
// other pool's bytes in use now). That is exact while calls on different models do not overlap in time
// (the engine's normal use: tower, then prefill, then decode); overlapping calls can under-count.
#pragma once
#include <cstdint>

namespace cosmos {

struct GpuMemory {
  int64_t bytes_in_use = 0;  // handed out by the pools
  int64_t peak_bytes = 0;    // high-water mark of bytes_in_use, see above
  int64_t cached_bytes = 0;  // freed into the pools' caches, still held from CUDA
  int pools = 0;             // live pools (loaded CUDA models)
};

GpuMemory gpu_memory();

}  // namespace cosmos

#ifdef COSMOS_CUDA
#include <string>

#include "../ops/matmul.h"
#include "../safetensors/safetensors.h"

namespace cosmos {
class CudaPool;
// dtype of the matmul weights on the GPU: bf16 when the checkpoint stores them in a 16-bit float
// (the tensor found first whose name ends with `probe_suffix`; Qwen3-VL ships bf16), else f32 (the
// f32 test fixtures run exactly). COSMOS_CUDA_WEIGHTS=bf16|f32 overrides.
WType gpu_weight_type(const Checkpoint& ck, const std::string& probe_suffix);

// After a model's weights are uploaded: counts the pool and its bytes towards the peak.
void gpu_pool_register(CudaPool* p);
// Before the pool is destroyed (model freed).
void gpu_pool_unregister(CudaPool* p);
void gpu_call_begin(CudaPool* p);
void gpu_call_end(CudaPool* p);

// RAII: gpu_call_begin now, gpu_call_end at scope exit (also when the call throws).
struct GpuCallScope {
  CudaPool* p;
  explicit GpuCallScope(CudaPool* pool) : p(pool) {
    if (p) gpu_call_begin(p);
  }
  ~GpuCallScope() {
    if (p) gpu_call_end(p);
  }
  GpuCallScope(const GpuCallScope&) = delete;
  GpuCallScope& operator=(const GpuCallScope&) = delete;
};
}  // namespace cosmos
#endif
