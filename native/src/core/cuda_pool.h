// Device memory for the CUDA path: a stream wrapper and a caching pool with byte accounting.
//
// Why a pool: cudaMalloc/cudaFree synchronise the device and cost ~10-100 us each; a decode step
// allocates the same activation sizes every token, so freed blocks are kept in per-size free lists
// and handed out again. bytes_in_use() / peak_bytes() are what the engine reports as GPU memory.
#pragma once
#include <cuda_runtime.h>

#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <unordered_map>
#include <vector>

namespace cosmos {

// Owns one cudaStream_t (non-blocking w.r.t. the legacy default stream).
class CudaStream {
 public:
  CudaStream();
  ~CudaStream();
  CudaStream(const CudaStream&) = delete;
  CudaStream& operator=(const CudaStream&) = delete;
  cudaStream_t get() const { return s_; }
  void sync() const;

 private:
  cudaStream_t s_ = nullptr;
};

class CudaPool {
 public:
  CudaPool();   // registers the pool with the process's (out-of-memory: alloc)
  ~CudaPool();  // frees every block, cached or not
  CudaPool(const CudaPool&) = delete;
  CudaPool& operator=(const CudaPool&) = delete;

  // Returns a device block of at least `bytes` (rounded up to 256 B; blocks >= 1 MiB to 1 MiB so
  // slightly different sizes share a free list). When CUDA is out of memory it gives this pool's cache back and
  // tries again, then every other pool's cache (after a device sync: their streams may still use the blocks they
  // cached), and throws std::runtime_error if even that is not enough.
  void* alloc(size_t bytes);
  // Returns a block to the cache (not to CUDA). nullptr is ignored.
  void free(void* p);
  // Gives every cached (free) block back to CUDA.
  void release_cached();

  // Epochs: a workload that runs again and again with the same sizes (the Qwen3-VL tower) keeps its last run's blocks
  // cached instead of giving them back and allocating them again (13 cudaMalloc + cudaFree calls, ~2 ms, a video
  // run), without hoarding the blocks of earlier runs' other sizes. begin_epoch() starts a run: blocks handed out from
  // then on carry its number; release_cached_before(e) gives back the cached blocks not handed out since epoch e
  // began.
  uint64_t begin_epoch();
  void release_cached_before(uint64_t epoch);
  // Holds for a CUDA graph: hands out (as in use) every cached block last handed out in `epoch` or after, and returns
  // them; the caller gives each back with free() when it lets go. A graph captured during a run bakes in the addresses
  // of the workspaces its ops took and gave back: held, no later alloc (nor another pool's out-of-memory path) hands
  // them to anyone else while the graph may replay.
  std::vector<void*> hold_cached_since(uint64_t epoch);
  // What another pool out of memory asks of this one before it takes this pool's cache: its owner gives back what it
  // holds only for speed (the vision tower's graph and its blocks). Called on the thread that ran out, after a device
  // sync; it must not wait for the owner's own work (take a lock only if it is free). nullptr removes it; after
  // set_reclaim returns, no call of the old hook is running.
  void set_reclaim(std::function<void()> hook);

  size_t bytes_in_use() const;  // handed out and not freed
  size_t peak_bytes() const;    // max of bytes_in_use since construction / reset_peak
  size_t bytes_cached() const;  // held in free lists
  void reset_peak();

  // The CUDA calls this pool made since construction, with their host time: cudaMalloc where no cached block fit,
  // cudaFree where the cache was given back. What a workload pays for not finding its blocks in the cache.
  struct CudaCalls {
    size_t mallocs = 0, frees = 0;
    double malloc_ms = 0, free_ms = 0;
  };
  CudaCalls cuda_calls() const;

 private:
  struct Block {
    size_t bytes;    // rounded
    uint64_t epoch;  // when it was last handed out
  };
  static size_t round(size_t bytes);
  mutable std::mutex mu_;
  std::unordered_map<void*, Block> live_;                   // handed out
  std::multimap<size_t, std::pair<void*, uint64_t>> free_;  // rounded size -> cached block, its epoch
  size_t in_use_ = 0, peak_ = 0, cached_ = 0;
  uint64_t epoch_ = 0;
  CudaCalls calls_;
  std::function<void()> reclaim_;  // set_reclaim's hook (read and written under the pools' registry lock)
  // cudaMalloc, counted; on failure with `release_own`, the cache given back and one more try (mu_ held).
  cudaError_t malloc_locked(void** p, size_t r, bool release_own);
  void* hand_out_locked(void* p, size_t r);  // p (r rounded bytes) recorded as handed out in this epoch (mu_ held)
  template <class Keep>
  void free_cached_locked(Keep&& keep);  // cached blocks back to CUDA but those keep(epoch) holds (mu_ held)
};

// Bytes all pools of the process hold from CUDA at once (in use + cached; what the device carries for them), and the
// high-water mark of that sum since the start or the last reset: the peak a request really needs, where each pool's
// peak_bytes() counts its own in-use bytes at its own moment.
size_t cuda_pools_reserved_bytes();
size_t cuda_pools_reserved_peak();
void cuda_pools_reset_reserved_peak();

// A device array owned through a pool (RAII); typed view over the bytes.
template <typename T>
class DeviceBuffer {
 public:
  DeviceBuffer() = default;
  DeviceBuffer(CudaPool& pool, size_t count) : pool_(&pool), n_(count) {
    p_ = count ? static_cast<T*>(pool.alloc(count * sizeof(T))) : nullptr;
  }
  ~DeviceBuffer() { reset(); }
  DeviceBuffer(DeviceBuffer&& o) noexcept : pool_(o.pool_), p_(o.p_), n_(o.n_) {
    o.p_ = nullptr;
    o.n_ = 0;
  }
  DeviceBuffer& operator=(DeviceBuffer&& o) noexcept {
    if (this != &o) {
      reset();
      pool_ = o.pool_;
      p_ = o.p_;
      n_ = o.n_;
      o.p_ = nullptr;
      o.n_ = 0;
    }
    return *this;
  }
  DeviceBuffer(const DeviceBuffer&) = delete;
  DeviceBuffer& operator=(const DeviceBuffer&) = delete;
  void reset() {
    if (p_ && pool_) pool_->free(p_);
    p_ = nullptr;
    n_ = 0;
  }
  T* get() const { return p_; }
  size_t size() const { return n_; }
  size_t bytes() const { return n_ * sizeof(T); }

 private:
  CudaPool* pool_ = nullptr;
  T* p_ = nullptr;
  size_t n_ = 0;
};

// Number of CUDA devices usable by this process; 0 when there is no driver or no GPU (a static
// cudart on a machine without a driver reports cudaErrorInsufficientDriver: that means "no GPU").
int cuda_device_count();

}  // namespace cosmos
