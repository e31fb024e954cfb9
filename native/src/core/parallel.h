// parallel_for over [0, n) with std::thread. Threads are spawned per call: the ops that use this are
// large (matmul, attention) so the ~20 us spawn cost is noise next to the work, and having no pool
// means no global state to tear down when Node unloads the addon.
#pragma once
#include <functional>

namespace cosmos {
// Number of worker threads: COSMOS_THREADS if set (>0), else std::thread::hardware_concurrency().
int num_threads();
// Calls fn(begin, end) on disjoint chunks covering [0, n). Runs inline when n is small relative to
// min_chunk or only one thread is available.
void parallel_for(int n, int min_chunk, const std::function<void(int, int)>& fn);
}  // namespace cosmos
