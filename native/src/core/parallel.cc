#include "parallel.h"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <thread>
#include <vector>
#ifdef __linux__
#include <sched.h>
#endif

namespace cosmos {
namespace {
// The CPUs this process may really use: the online cores, fewer when the affinity mask (taskset, a container's
// cpuset) or a cgroup v2 CPU quota (docker --cpus, a CI runner's limit: "200000 100000" = 2 CPUs) allows fewer.
// hardware_concurrency() alone counts the host's cores, and a thread per host core on a 2-CPU quota runs every
// parallel op oversubscribed.
int usable_cpus() {
  unsigned h = std::thread::hardware_concurrency();
  int n = h == 0 ? 1 : static_cast<int>(h);
#ifdef __linux__
  cpu_set_t set;
  if (sched_getaffinity(0, sizeof(set), &set) == 0) {
    const int c = CPU_COUNT(&set);
    if (c > 0) n = std::min(n, c);
  }
  if (FILE* f = std::fopen("/sys/fs/cgroup/cpu.max", "r")) {
    long long quota = 0, period = 0;
    if (std::fscanf(f, "%lld %lld", &quota, &period) == 2 && quota > 0 && period > 0)  // "max ..." reads 0 fields
      n = std::min(n, (int)std::max(1LL, (quota + period - 1) / period));
    std::fclose(f);
  }
#endif
  return n;
}
}  // namespace

int num_threads() {
  static int n = [] {
    const char* e = std::getenv("COSMOS_THREADS");
    if (e) {
      int v = std::atoi(e);
      if (v > 0) return v;
    }
    return usable_cpus();
  }();
  return n;
}

void parallel_for(const CpuContext& ctx, int n, int min_chunk, const std::function<void(int, int)>& fn) {
  if (n <= 0) return;
  const int threads = ctx.threads > 0 ? ctx.threads : num_threads();
  int t = std::min(threads, std::max(1, n / std::max(1, min_chunk)));
  if (t <= 1) {
    fn(0, n);
    return;
  }
  std::vector<std::thread> ws;
  ws.reserve(t - 1);
  int chunk = (n + t - 1) / t;
  for (int i = 1; i < t; ++i) {
    int b = i * chunk, e = std::min(n, b + chunk);
    if (b >= e) break;
    ws.emplace_back([&fn, b, e] { fn(b, e); });
  }
  fn(0, std::min(n, chunk));  // the calling thread takes the first chunk
  for (auto& w : ws) w.join();
}
}  // namespace cosmos
