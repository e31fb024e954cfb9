#include "gpu_backend.h"

#ifdef COSMOS_CUDA
#include <algorithm>
#include <cstdlib>
#include <mutex>
#include <set>

#include "../core/cuda_pool.h"
#include "../layers/weights.h"

namespace cosmos {
namespace {
std::mutex mu;
std::set<CudaPool*> pools;
int64_t peak = 0;

int64_t others_in_use(const CudaPool* self) {
  // Weight blocks that models share live in no model's pool (layers/weights.h): counted once, here.
  int64_t n = (int64_t)shared_weight_pool().bytes_in_use();
  for (CudaPool* q : pools)
    if (q != self) n += (int64_t)q->bytes_in_use();
  return n;
}
}  // namespace

void gpu_pool_register(CudaPool* p) {
  std::lock_guard<std::mutex> l(mu);
  pools.insert(p);
  peak = std::max(peak, others_in_use(p) + (int64_t)p->peak_bytes());
}

void gpu_pool_unregister(CudaPool* p) {
  std::lock_guard<std::mutex> l(mu);
  pools.erase(p);
}

void gpu_call_begin(CudaPool* p) { p->reset_peak(); }

void gpu_call_end(CudaPool* p) {
  std::lock_guard<std::mutex> l(mu);
  if (!pools.count(p)) return;
  peak = std::max(peak, others_in_use(p) + (int64_t)p->peak_bytes());
}

WType gpu_weight_type(const Checkpoint& ck, const std::string& probe_suffix) {
  if (const char* e = std::getenv("COSMOS_CUDA_WEIGHTS")) {
    std::string v = e;
    if (v == "bf16") return WType::BF16;
    if (v == "f32") return WType::F32;
  }
  for (const auto& n : ck.names()) {
    if (n.size() >= probe_suffix.size() &&
        n.compare(n.size() - probe_suffix.size(), probe_suffix.size(), probe_suffix) == 0) {
      StDType t = ck.info(n).dtype;
      return t == StDType::BF16 || t == StDType::F16 ? WType::BF16 : WType::F32;
    }
  }
  return WType::F32;
}

GpuMemory gpu_memory() {
  std::lock_guard<std::mutex> l(mu);
  GpuMemory g;
  g.bytes_in_use = (int64_t)shared_weight_pool().bytes_in_use();
  for (CudaPool* q : pools) {
    g.bytes_in_use += (int64_t)q->bytes_in_use();
    g.cached_bytes += (int64_t)q->bytes_cached();
  }
  g.peak_bytes = std::max(peak, g.bytes_in_use);
  g.pools = (int)pools.size();
  return g;
}

}  // namespace cosmos

#else
namespace cosmos {
GpuMemory gpu_memory() { return {}; }
}  // namespace cosmos
#endif
