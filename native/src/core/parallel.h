// parallel_for over [0, n) with std::thread, and the CPU ops' context. Threads are spawned per call: the
// ops that use this are large (matmul, attention) so the ~20 us spawn cost is noise next to the work,
// and having no pool means no global state to tear down when Node unloads the addon.
#pragma once
#include <functional>

namespace cosmos {
// Number of worker threads: COSMOS_THREADS if set (>0), else the CPUs this process may use (the online cores,
// capped by the affinity mask and a cgroup v2 CPU quota).
int num_threads();

// The CPU twin of CudaContext (core/cuda_context.h), taken by the CPU ops that run in parallel
// (matmul_cpu, attention_cpu, gemv_swiglu_cpu): how many threads one op may use. CPU ops need no
// workspace pool (their scratch is small and per thread). A model holds one and passes it to every op.
struct CpuContext {
  int threads = 0;  // <= 0: num_threads()
};

// Calls fn(begin, end) on disjoint chunks covering [0, n), on at most ctx's thread count. Runs inline
// when n is small relative to min_chunk or only one thread is available.
void parallel_for(const CpuContext& ctx, int n, int min_chunk, const std::function<void(int, int)>& fn);
}  // namespace cosmos
