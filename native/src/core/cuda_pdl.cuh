// Programmatic dependent launch (PDL, sm_90) for the decode step's chain of small kernels.
//
// A kernel launched with launch_pdl() may start while the kernel before it in the stream is still running
// (once every block of that one has called pdl_launch_dependents() or exited). Its blocks call pdl_wait()
// before touching memory; it returns when the predecessor has completed and its writes are visible. This
// hides part of the drain + launch gap between the ~330 dependent kernels of a decode step (they are all in
// one CUDA graph; stream capture keeps the programmatic edges). H200, Qwen3-8B bf16 decode, one device call
// at 55cb38f, COSMOS_PDL=0 vs on: 185.3 -> 192.3 tokens/s at 128/128, 163.8 -> 168.5 at 1024/256.
// Measured and left out (b6e9748): an L2 prefetch (cp.async.bulk.prefetch) of each GEMV's first weight
// bytes before its wait, 185.8 tokens/s at a 16 MB budget per GEMV and 182.6 at 32 MB against 189.6 with
// none (issued while the previous GEMV still streams: L2 drops much of it before it is read); the down
// GEMV's x staged in shared memory, 182.5 against 185.4 without.
//
// The contract, for every kernel launched through launch_pdl: no global read of anything an earlier kernel
// writes, and no global write at all, before pdl_wait(). The wait is transitive (the predecessor itself
// waited for its own predecessor before finishing), so a kernel may also trigger its dependents early.
// Without the launch attribute (COSMOS_PDL=0, or a device below sm_90) pdl_wait() returns at once and the
// launch is an ordinary stream-ordered one.
#pragma once
#include <cuda_runtime.h>

#include <cstdlib>
#include <utility>

#include "cuda_common.h"

namespace cosmos {

__device__ __forceinline__ void pdl_wait() {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
  asm volatile("griddepcontrol.wait;" ::: "memory");
#endif
}

// Lets the next kernel in the stream be scheduled now (it still waits for this one in its pdl_wait()).
__device__ __forceinline__ void pdl_launch_dependents() {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
  asm volatile("griddepcontrol.launch_dependents;" ::: "memory");
#endif
}

// COSMOS_PDL=0 turns the attribute off (the kernels then run stream-ordered, as before); read once.
inline bool pdl_enabled() {
  static const bool on = [] {
    const char* e = std::getenv("COSMOS_PDL");
    if (e && e[0] == '0' && e[1] == 0) return false;
    int dev = 0, major = 0;
    if (cudaGetDevice(&dev) != cudaSuccess) return false;
    if (cudaDeviceGetAttribute(&major, cudaDevAttrComputeCapabilityMajor, dev) != cudaSuccess) return false;
    return major >= 9;
  }();
  return on;
}

// kernel<<<grid, block, smem, stream>>>(args...) with the programmatic-serialization attribute when on.
template <typename... KArgs, typename... Args>
void launch_pdl(void (*kernel)(KArgs...), dim3 grid, dim3 block, size_t smem, cudaStream_t stream, Args&&... args) {
  cudaLaunchConfig_t cfg = {};
  cfg.gridDim = grid;
  cfg.blockDim = block;
  cfg.dynamicSmemBytes = smem;
  cfg.stream = stream;
  cudaLaunchAttribute attr[1];
  attr[0].id = cudaLaunchAttributeProgrammaticStreamSerialization;
  attr[0].val.programmaticStreamSerializationAllowed = 1;
  cfg.attrs = attr;
  cfg.numAttrs = pdl_enabled() ? 1 : 0;
  CUDA_CHECK(cudaLaunchKernelEx(&cfg, kernel, std::forward<Args>(args)...));
}

}  // namespace cosmos
