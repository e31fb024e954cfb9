// Phases of a persistent kernel (one block an SM, every block resident at once): a block's consumer warps signal
// through a counter in global memory that their share of a phase is written, and wait until every block has, before
// reading what the others wrote (from L2: __ldcg, never a stale L1 line). Barrier 1 is the consumers' own (the
// kernel's producer warps never reach it; __syncthreads is barrier 0). Every wait is bounded: past its timeout it
// prints who waited for what and traps, so a schedule bug fails the kernel instead of hanging the process. Used by
// models/qwen3_decode_persistent.cu and its bench model, bench/decode_chain_bench.cu. Device code only.
#pragma once
#include <cuda_runtime.h>

#include <cstdint>
#include <cstdio>

#include "cuda_mbarrier.cuh"

namespace cosmos::phases {

__device__ __forceinline__ unsigned long long now_ns() {
  unsigned long long t;
  asm volatile("mov.u64 %0, %%globaltimer;" : "=l"(t));
  return t;
}
__device__ __noinline__ void timed_out(const char* kernel, const char* what, int tag) {
  printf("%s: block %d thread %d gave up waiting for %s (layer %d)\n", kernel, blockIdx.x, threadIdx.x, what, tag);
  __trap();
}
// mbar_wait with a bound; poll() runs between the tries (a no-op unless given).
struct NoPoll {
  __device__ void operator()() const {}
};
template <class Poll = NoPoll>
__device__ __forceinline__ void mbar_wait(uint32_t bar, uint32_t parity, unsigned long long timeout_ns,
                                          const char* kernel, const char* what, int tag, Poll poll = {}) {
  if (mbar_try_wait(bar, parity)) return;
  const unsigned long long t0 = now_ns();
  while (!mbar_try_wait(bar, parity)) {
    poll();
    if (now_ns() - t0 > timeout_ns) timed_out(kernel, what, tag);
  }
}

// Barrier 1 among the NT consumer threads (threads 0 .. NT-1).
template <int NT>
__device__ __forceinline__ void consumers_sync() {
  asm volatile("bar.sync 1, %0;" ::"n"(NT) : "memory");
}
// One release increment of ctr (the caller's earlier writes, and those ordered before them by a barrier, are visible
// to whoever acquires the new value: PTX release is cumulative, as CUTLASS's grid barrier relies on).
__device__ __forceinline__ void release_add(unsigned* ctr, unsigned v) {
  asm volatile("red.release.gpu.global.add.u32 [%0], %1;" ::"l"(ctr), "r"(v) : "memory");
}
// One acquire-release increment of ctr, returning the old value: the caller's earlier writes (as release_add) are
// visible to whoever acquires a later value, and the writes released by earlier increments are visible to the caller.
__device__ __forceinline__ unsigned acq_rel_add(unsigned* ctr, unsigned v) {
  unsigned old;
  asm volatile("atom.acq_rel.gpu.global.add.u32 %0, [%1], %2;" : "=r"(old) : "l"(ctr), "r"(v) : "memory");
  return old;
}
// This block's share of a phase is written: every consumer past its stores, then one release increment.
template <int NT>
__device__ __forceinline__ void signal(unsigned* ctr) {
  consumers_sync<NT>();
  if (threadIdx.x == 0) release_add(ctr, 1);
}
// The counter reached `target` (thread 0 acquires, then lets the consumers go).
template <int NT>
__device__ __forceinline__ void wait_for(const unsigned* ctr, unsigned target, unsigned long long timeout_ns,
                                         const char* kernel, const char* what, int tag) {
  if (threadIdx.x == 0) {
    unsigned v;
    unsigned long long t0 = 0;
    for (bool first = true;; first = false) {
      asm volatile("ld.acquire.gpu.global.u32 %0, [%1];" : "=r"(v) : "l"(ctr) : "memory");
      if (v >= target) break;
      if (first)
        t0 = now_ns();
      else if (now_ns() - t0 > timeout_ns)
        timed_out(kernel, what, tag);
    }
  }
  consumers_sync<NT>();
}
// Every block's share is written (the counter reached gridDim.x).
template <int NT>
__device__ __forceinline__ void wait(const unsigned* ctr, unsigned long long timeout_ns, const char* kernel,
                                     const char* what, int tag) {
  wait_for<NT>(ctr, gridDim.x, timeout_ns, kernel, what, tag);
}

}  // namespace cosmos::phases
