#include "memory.h"

#include <atomic>

namespace cosmos {
namespace {
std::atomic<int64_t> g_use[2];
std::atomic<int64_t> g_peak[2];
}  // namespace

void memory_track_alloc(DeviceKind dev, size_t bytes) {
  int d = (int)dev;
  int64_t now = g_use[d].fetch_add((int64_t)bytes) + (int64_t)bytes;
  int64_t pk = g_peak[d].load();
  while (now > pk && !g_peak[d].compare_exchange_weak(pk, now)) {
  }
}

void memory_track_free(DeviceKind dev, size_t bytes) { g_use[(int)dev].fetch_sub((int64_t)bytes); }

MemoryStats memory_stats(DeviceKind dev) { return {g_use[(int)dev].load(), g_peak[(int)dev].load()}; }

void memory_reset_peak(DeviceKind dev) { g_peak[(int)dev].store(g_use[(int)dev].load()); }

}  // namespace cosmos
