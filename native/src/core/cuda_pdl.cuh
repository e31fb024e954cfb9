// Programmatic dependent launch (PDL, sm_90) for the decode step's chain of small kernels.
//
// A kernel launched with launch_pdl() may start while the kernel before it in the stream is still running
// (once every block of that one has called pdl_launch_dependents() or exited). Its blocks then do work that
// does not depend on the predecessor (a GEMV's weight prefetch into L2) and call pdl_wait(), which returns
// when the predecessor has completed and its writes are visible. This hides the ~2-4 us drain + launch gap
// between the ~330 dependent kernels of a decode step (they are all in one CUDA graph; stream capture keeps
// the programmatic edges).
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

// Asks the copy engine to bring [p, p + bytes) into L2 (no registers, no completion to wait for).
// p 16-byte aligned, bytes a multiple of 16. Weights only: they never change between launches.
__device__ __forceinline__ void prefetch_l2(const void* p, unsigned bytes) {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
  if (bytes) asm volatile("cp.async.bulk.prefetch.L2.global [%0], %1;" ::"l"(p), "r"(bytes) : "memory");
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

// Per-GEMV budget of weight bytes prefetched into L2 before pdl_wait() (COSMOS_GEMV_PREFETCH_MB, default
// below; 0 = none). It is what the latency-bound kernels ahead of the GEMV (norms, RoPE, attention) leave the
// memory system time to fetch; more than that is read from DRAM twice if L2 lets it go first.
inline size_t gemv_prefetch_bytes() {
  static const size_t b = [] {
    const char* e = std::getenv("COSMOS_GEMV_PREFETCH_MB");
    double mb = e ? std::atof(e) : 16.0;
    return mb > 0 ? (size_t)(mb * 1048576.0) : (size_t)0;
  }();
  return pdl_enabled() ? b : 0;
}
// Bytes of each weight row to prefetch so that `rows` rows take at most the budget (a multiple of 16).
inline unsigned gemv_prefetch_row_bytes(long long rows, long long row_bytes) {
  const size_t budget = gemv_prefetch_bytes();
  if (!budget || rows <= 0) return 0;
  long long per = (long long)(budget / (size_t)rows);
  if (per > row_bytes) per = row_bytes;
  return (unsigned)(per / 16 * 16);
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
