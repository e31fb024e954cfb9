#include "cuda_pool.h"

#include <atomic>
#include <chrono>

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

CudaPool::~CudaPool() {
  release_cached();
  for (auto& kv : live_) {
    cudaFree(kv.first);
    reserved_sub(kv.second);
  }
}

void* CudaPool::alloc(size_t bytes) {
  size_t r = round(bytes);
  std::lock_guard<std::mutex> lock(mu_);
  void* p = nullptr;
  // Exact-size reuse only: handing a 64 MiB block to a 1 MiB request would hide memory from later
  // large requests, and the decode loop asks for the same sizes every step anyway.
  auto it = free_.find(r);
  if (it != free_.end()) {
    p = it->second;
    free_.erase(it);
    cached_ -= r;
  } else {
    auto t = std::chrono::steady_clock::now();
    cudaError_t e = cudaMalloc(&p, r);
    ++calls_.mallocs;
    calls_.malloc_ms += ms_since(t);
    if (e == cudaErrorMemoryAllocation && !free_.empty()) {
      cudaGetLastError();  // clear the sticky-free error state of the failed call
      free_cached_locked();
      t = std::chrono::steady_clock::now();
      e = cudaMalloc(&p, r);
      ++calls_.mallocs;
      calls_.malloc_ms += ms_since(t);
    }
    CUDA_CHECK(e);
    reserved_add(r);
  }
  live_[p] = r;
  in_use_ += r;
  if (in_use_ > peak_) peak_ = in_use_;
  return p;
}

void CudaPool::free(void* p) {
  if (!p) return;
  std::lock_guard<std::mutex> lock(mu_);
  auto it = live_.find(p);
  if (it == live_.end()) return;  // not ours: ignore rather than corrupt the accounting
  size_t r = it->second;
  live_.erase(it);
  in_use_ -= r;
  free_.emplace(r, p);
  cached_ += r;
}

void CudaPool::free_cached_locked() {
  const auto t = std::chrono::steady_clock::now();
  for (auto& kv : free_) cudaFree(kv.second);
  calls_.frees += free_.size();
  calls_.free_ms += ms_since(t);
  reserved_sub(cached_);
  free_.clear();
  cached_ = 0;
}

void CudaPool::release_cached() {
  std::lock_guard<std::mutex> lock(mu_);
  free_cached_locked();
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
