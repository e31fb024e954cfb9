#include "cuda_pool.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <vector>

#include "cuda_common.h"

namespace cosmos {

namespace {
// Bytes every pool of the process holds from CUDA (in use + cached), and their high-water mark: what the device
// really carries at once, where the pools' own peaks count in-use bytes per pool at different times.
std::atomic<size_t> g_reserved{0}, g_reserved_peak{0};
void reserved_add(size_t r) {
  const size_t now = g_reserved.fetch_add(r) + r;
  size_t peak = g_reserved_peak.load();
  while (now > peak && !g_reserved_peak.compare_exchange_weak(peak, now)) {
  }
}
void reserved_sub(size_t r) { g_reserved.fetch_sub(r); }

// Every pool of the process, for alloc's last resort: the other pools' caches. Lock order: pools_mu(), then a pool's
// mu_; a pool never takes pools_mu() while it holds its own. Function statics: a pool may be a static of another file.
std::mutex& pools_mu() {
  static std::mutex m;
  return m;
}
std::vector<CudaPool*>& pools() {
  static std::vector<CudaPool*> v;
  return v;
}

double ms_since(std::chrono::steady_clock::time_point t) {
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t).count();
}
}  // namespace

size_t cuda_pools_reserved_bytes() { return g_reserved.load(); }
size_t cuda_pools_reserved_peak() { return g_reserved_peak.load(); }
void cuda_pools_reset_reserved_peak() { g_reserved_peak.store(g_reserved.load()); }

CudaStream::CudaStream() { CUDA_CHECK(cudaStreamCreateWithFlags(&s_, cudaStreamNonBlocking)); }
CudaStream::~CudaStream() {
  if (s_) cudaStreamDestroy(s_);  // no throw from a destructor
}
void CudaStream::sync() const { CUDA_CHECK(cudaStreamSynchronize(s_)); }

size_t CudaPool::round(size_t bytes) {
  if (bytes == 0) bytes = 1;
  const size_t mib = size_t(1) << 20;
  if (bytes >= mib) return (bytes + mib - 1) / mib * mib;
  return (bytes + 255) / 256 * 256;
}

CudaPool::CudaPool() {
  std::lock_guard<std::mutex> l(pools_mu());
  pools().push_back(this);
}

CudaPool::~CudaPool() {
  {
    std::lock_guard<std::mutex> l(pools_mu());
    pools().erase(std::remove(pools().begin(), pools().end(), this), pools().end());
  }
  release_cached();
  for (auto& kv : live_) {
    cudaFree(kv.first);
    reserved_sub(kv.second.bytes);
  }
}

cudaError_t CudaPool::malloc_locked(void** p, size_t r, bool release_own) {
  auto t = std::chrono::steady_clock::now();
  cudaError_t e = cudaMalloc(p, r);
  ++calls_.mallocs;
  calls_.malloc_ms += ms_since(t);
  if (e == cudaErrorMemoryAllocation && release_own && !free_.empty()) {
    cudaGetLastError();  // clear the error state of the failed call
    free_cached_locked([](uint64_t) { return false; });
    t = std::chrono::steady_clock::now();
    e = cudaMalloc(p, r);
    ++calls_.mallocs;
    calls_.malloc_ms += ms_since(t);
  }
  if (e == cudaErrorMemoryAllocation) cudaGetLastError();
  return e;
}

void* CudaPool::alloc(size_t bytes) {
  const size_t r = round(bytes);
  void* p = nullptr;
  {
    std::lock_guard<std::mutex> lock(mu_);
    // Exact-size reuse only: handing a 64 MiB block to a 1 MiB request would hide memory from later
    // large requests, and the decode loop asks for the same sizes every step anyway.
    auto it = free_.find(r);
    if (it != free_.end()) {
      p = it->second.first;
      free_.erase(it);
      cached_ -= r;
    } else {
      const cudaError_t e = malloc_locked(&p, r, true);
      if (e != cudaErrorMemoryAllocation) {
        CUDA_CHECK(e);
        reserved_add(r);
      }
    }
    if (p) return hand_out_locked(p, r);
  }
  // Out of memory with this pool's cache given back: the other pools' caches (the tower's last run's blocks while the
  // decoder prefills, say), then one more try.
  {
    std::lock_guard<std::mutex> l(pools_mu());
    bool synced = false;
    for (CudaPool* other : pools()) {
      if (other == this || (other->bytes_cached() == 0 && !other->reclaim_)) continue;
      if (!synced) cudaDeviceSynchronize();  // their streams may still use what they cached
      synced = true;
      if (other->reclaim_) other->reclaim_();  // what it holds for speed, back into its cache
      other->release_cached();
    }
  }
  std::lock_guard<std::mutex> lock(mu_);
  CUDA_CHECK(malloc_locked(&p, r, true));
  reserved_add(r);
  return hand_out_locked(p, r);
}

void* CudaPool::hand_out_locked(void* p, size_t r) {
  live_[p] = Block{r, epoch_};
  in_use_ += r;
  if (in_use_ > peak_) peak_ = in_use_;
  return p;
}

void CudaPool::free(void* p) {
  if (!p) return;
  std::lock_guard<std::mutex> lock(mu_);
  auto it = live_.find(p);
  if (it == live_.end()) return;  // not ours: ignore rather than corrupt the accounting
  const Block b = it->second;
  live_.erase(it);
  in_use_ -= b.bytes;
  free_.emplace(b.bytes, std::make_pair(p, b.epoch));
  cached_ += b.bytes;
}

template <class Keep>
void CudaPool::free_cached_locked(Keep&& keep) {
  const auto t = std::chrono::steady_clock::now();
  for (auto it = free_.begin(); it != free_.end();) {
    if (keep(it->second.second)) {
      ++it;
      continue;
    }
    cudaFree(it->second.first);
    ++calls_.frees;
    reserved_sub(it->first);
    cached_ -= it->first;
    it = free_.erase(it);
  }
  calls_.free_ms += ms_since(t);
}

void CudaPool::release_cached() {
  std::lock_guard<std::mutex> lock(mu_);
  free_cached_locked([](uint64_t) { return false; });
}

uint64_t CudaPool::begin_epoch() {
  std::lock_guard<std::mutex> lock(mu_);
  return ++epoch_;
}

void CudaPool::release_cached_before(uint64_t epoch) {
  std::lock_guard<std::mutex> lock(mu_);
  free_cached_locked([epoch](uint64_t e) { return e >= epoch; });
}

std::vector<void*> CudaPool::hold_cached_since(uint64_t epoch) {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<void*> held;
  for (auto it = free_.begin(); it != free_.end();) {
    if (it->second.second < epoch) {
      ++it;
      continue;
    }
    void* p = it->second.first;
    const size_t r = it->first;
    cached_ -= r;
    it = free_.erase(it);
    held.push_back(hand_out_locked(p, r));
  }
  return held;
}

void CudaPool::set_reclaim(std::function<void()> hook) {
  std::lock_guard<std::mutex> l(pools_mu());  // the out-of-memory path calls hooks under it
  reclaim_ = std::move(hook);
}

CudaPool::CudaCalls CudaPool::cuda_calls() const {
  std::lock_guard<std::mutex> l(mu_);
  return calls_;
}

size_t CudaPool::bytes_in_use() const {
  std::lock_guard<std::mutex> l(mu_);
  return in_use_;
}
size_t CudaPool::peak_bytes() const {
  std::lock_guard<std::mutex> l(mu_);
  return peak_;
}
size_t CudaPool::bytes_cached() const {
  std::lock_guard<std::mutex> l(mu_);
  return cached_;
}
void CudaPool::reset_peak() {
  std::lock_guard<std::mutex> l(mu_);
  peak_ = in_use_;
}

int cuda_device_count() {
  int n = 0;
  cudaError_t e = cudaGetDeviceCount(&n);
  if (e != cudaSuccess) {
    cudaGetLastError();
    return 0;
  }
  return n;
}

}  // namespace cosmos
