#include "parallel.h"

#include <algorithm>
#include <cstdlib>
#include <thread>
#include <vector>

namespace cosmos {
int num_threads() {
  static int n = [] {
    const char* e = std::getenv("COSMOS_THREADS");
    if (e) {
      int v = std::atoi(e);
      if (v > 0) return v;
    }
    unsigned h = std::thread::hardware_concurrency();
    return h == 0 ? 1 : static_cast<int>(h);
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
