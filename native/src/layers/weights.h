// Weight binding: the one way a model gets its weights, whatever the backend and wherever the values
// come from. A model lists its tensors once — checkpoint name, the shape its config implies, and what
// the tensor is used as (a parameter, a matmul weight, an embedding table) — through a WeightBinder;
// the binder checks each name and shape against the checkpoint and hands the values to a WeightStore,
// which puts them in the backend's memory and dtype (host f32; GPU pool with bf16 or f32 matmul
// weights). The same listing serves the CPU model, the CUDA model and the benchmarks' random weights.
//
// Replaces the three styles the models had: load-into-OwnedTensor (CPU decoder), upload lambdas into
// preallocated fused buffers (CUDA decoder) and a lookup callback (both towers).
//
// Shared weights: every tensor bound from a checkpoint (param, linear, table) goes through one process-wide
// cache keyed by what the block holds: the backend's device, the stored dtype (f32 / bf16) and the sources
// of its parts in order (file identity + stored name, Checkpoint::source_of). A second model that binds the
// same tensors in the same form — the Reasoner's text decoder and the Generator's und stream of one Cosmos 3
// checkpoint — gets the same block instead of a copy; the block is freed when the last store holding it
// goes. Values a model transforms first (values() + linear_from_values()) and random weights are its own.
#pragma once
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "../core/tensor.h"
#include "../safetensors/safetensors.h"
#include "linear.h"
#ifdef COSMOS_CUDA
#include <cuda_runtime.h>

#include "../core/cuda_pool.h"
#endif

namespace cosmos {

// Weight memory that outlives any one model: held by every store that bound it (shared_ptr), freed with
// the last. Made by the store's backend (host Buffer; a block of the process-wide GPU weight pool).
class WeightBlock {
 public:
  virtual ~WeightBlock() = default;
  void* data() const { return data_; }
  size_t bytes() const { return bytes_; }

 protected:
  void* data_ = nullptr;
  size_t bytes_ = 0;

 private:
  friend class SharedWeights;
  std::mutex fill_mu_;  // held by the first binder while it writes the values; later binders wait on it
  bool filled_ = false;
};

// The process-wide cache: key -> the block while some store holds it (weak references only, so the cache
// itself never keeps memory alive).
class SharedWeights {
 public:
  // The live block of `key`, or a new one from `make` that `fill` writes (by the first caller; concurrent
  // callers of one key wait until it is written; if that fill throws, the next caller writes it).
  static std::shared_ptr<WeightBlock> acquire(const std::string& key,
                                              const std::function<std::shared_ptr<WeightBlock>()>& make,
                                              const std::function<void(void*)>& fill);
  // Blocks alive now and their bytes (tests, memory reports).
  static size_t live_blocks();
  static size_t live_bytes();
};

// The backend half: memory for bound tensors, filled from f32 host values or generated in place.
class WeightStore {
 public:
  virtual ~WeightStore() = default;
  virtual void* alloc(size_t count, bool bf16) = 0;                                            // count elements
  virtual void put(void* dst, const float* src, size_t count, bool bf16) = 0;                  // f32 host values in
  virtual void fill(void* dst, size_t count, bool bf16, uint64_t seed, float a, float c) = 0;  // fill_uniform
  virtual WType matmul_type() const = 0;
  // Whether an embedding table stored in bf16 stays bf16 (exact either way; the GPU saves 1.2 GB at
  // Qwen3-VL-8B's vocab); the host keeps f32 for its f32 ops.
  virtual bool bf16_tables() const = 0;
  // count elements holding the checkpoint tensors whose sources (Checkpoint::source_of) are `sources`, in
  // order, in this dtype: the block any store of this backend and device holds for them, else a new one
  // that `write` fills. This store holds it until it is destroyed.
  void* shared(const std::vector<std::string>& sources, size_t count, bool bf16,
               const std::function<void(void*)>& write);
  // Bytes of the weights this store's model uses (its own and shared blocks), and of those the shared ones.
  size_t bytes() const { return bytes_; }
  size_t shared_bytes() const { return shared_bytes_; }
  // One use of the block at `data` (a pointer alloc() or shared() returned) is over: the model no longer reads it
  // through that binding. When it was the block's last use in this store, the store lets it go (an own block
  // is freed at once; a shared one when its last holder lets go) and stops counting it. Returns the bytes this
  // store stopped counting: 0 while another binding of the model still uses the block (a tensor bound twice,
  // e.g. tied weights) or when `data` is none of its blocks. Used by the Generator's fp8 load option to give
  // back the unquantized copies of the linears it quantized.
  size_t release(const void* data);

 protected:
  size_t bytes_ = 0;
  // A block outside any one model's memory, for shared(); `device` names where it lives ("cpu", "cuda:0").
  virtual std::shared_ptr<WeightBlock> new_block(size_t count, bool bf16) = 0;
  virtual std::string device() const = 0;
  // release() of an own block (alloc()): frees it and returns its bytes, 0 if `data` is not one.
  virtual size_t release_own(const void* data) = 0;

 private:
  struct Held {
    std::shared_ptr<WeightBlock> block;
    int uses;  // bindings of this store that returned it (shared() calls)
  };
  size_t shared_bytes_ = 0;
  std::vector<Held> held_;
};

// Host memory, f32 only (the CPU backend's ops are f32).
class HostWeightStore : public WeightStore {
 public:
  void* alloc(size_t count, bool bf16) override;
  void put(void* dst, const float* src, size_t count, bool bf16) override;
  void fill(void* dst, size_t count, bool bf16, uint64_t seed, float a, float c) override;
  WType matmul_type() const override { return WType::F32; }
  bool bf16_tables() const override { return false; }

 protected:
  std::shared_ptr<WeightBlock> new_block(size_t count, bool bf16) override;
  std::string device() const override { return "cpu"; }
  size_t release_own(const void* data) override;

 private:
  std::vector<Buffer> blocks_;
};

#ifdef COSMOS_CUDA
// Blocks of a model's CudaPool; matmul weights in wt, everything else f32. Uploads are synchronous per
// tensor so one host staging buffer serves all (loading is I/O bound anyway).
class CudaWeightStore : public WeightStore {
 public:
  CudaWeightStore(CudaPool& pool, cudaStream_t stream, WType wt) : pool_(pool), stream_(stream), wt_(wt) {}
  void* alloc(size_t count, bool bf16) override;
  void put(void* dst, const float* src, size_t count, bool bf16) override;
  void fill(void* dst, size_t count, bool bf16, uint64_t seed, float a, float c) override;
  WType matmul_type() const override { return wt_; }
  bool bf16_tables() const override { return true; }

 protected:
  // Shared blocks come from shared_weight_pool(), not pool_: freeing this model must not free a block
  // another model still reads.
  std::shared_ptr<WeightBlock> new_block(size_t count, bool bf16) override;
  std::string device() const override;
  size_t release_own(const void* data) override;

 private:
  CudaPool& pool_;
  cudaStream_t stream_;
  WType wt_;
  std::vector<uint16_t> staging_;
  std::vector<std::pair<void*, size_t>> own_;  // alloc()'s blocks of pool_ and their bytes (for release_own)
};

// The pool of the shared weight blocks of the current device (its bytes_in_use() count in the engine's GPU
// memory once, whichever models hold them); a block goes back to CUDA when its last holder is freed.
CudaPool& shared_weight_pool();
#endif

// One part of a (possibly fused) linear layer: a checkpoint weight [rows, ...in] and its bias (or "").
struct LinearPart {
  std::string weight;
  std::vector<int64_t> shape;  // [rows, in] (or [rows, c, t, p, p] for a conv used as a matmul)
  std::string bias;
};

class WeightBinder {
 public:
  // Values from a checkpoint; shape mismatches throw ModelError "tensor 'x' has shape [..], <config_name>
  // expects [..]", missing tensors SafetensorsError (Missing) naming the tensor.
  WeightBinder(const Checkpoint& ck, WeightStore& store, std::string config_name = "config");
  // Random values for benchmarks (shapes trusted): matmul weights, tables, biases and other parameters
  // uniform with this std, 1-D "*weight" parameters (norm gains) 1, norm biases 0. Each tensor its own seed.
  WeightBinder(uint64_t seed, float std, WeightStore& store);

  bool has(const std::string& name) const;  // random: every name exists
  // An f32 parameter (norm gain, bias, position table).
  const float* param(const std::string& name, const std::vector<int64_t>& shape);
  // A matmul weight in the store's matmul dtype: the parts stacked by rows (q | k | v, gate | up) into one
  // [sum rows, in] matrix, with their biases stacked the same way (all parts have one, or none has).
  Linear linear(const std::vector<LinearPart>& parts);
  Linear linear(const std::string& weight, const std::vector<int64_t>& shape, const std::string& bias = "") {
    return linear({LinearPart{weight, shape, bias}});
  }
  // An embedding table [rows, dim]: bf16 when the checkpoint stores bf16 (random: when the store's matmul
  // weights are bf16) and the store keeps bf16 tables, else f32. *bf16 says which.
  const void* table(const std::string& name, const std::vector<int64_t>& shape, bool* bf16);
  // A tensor's f32 values on the host (checkpoint; random: the rules of param() or of a matmul weight), for
  // weights a model transforms before binding them (a weight-norm fold g * v / ||v||, a repacked layout).
  std::vector<float> values(const std::string& name, const std::vector<int64_t>& shape, bool is_param = false);
  // A matmul weight [rows, in] (+ bias [rows], nullable) from host values, in the store's matmul dtype.
  Linear linear_from_values(const float* w, int rows, int in, const float* bias);
  WeightStore& store() { return store_; }

 private:
  const Checkpoint* ck_ = nullptr;
  WeightStore& store_;
  std::string config_name_;
  uint64_t seed_ = 0;
  float amp_ = 0;  // uniform half-width of random values
  std::vector<float> host_;

  void check_shape(const std::string& name, const std::vector<int64_t>& shape) const;
  // A block for checkpoint tensors (ck_ set: shared, keyed by the sources of `names`) or the store's own
  // memory (random values), written by `write`.
  void* block(const std::vector<std::string>& names, size_t count, bool bf16, const std::function<void(void*)>& write);
  // Writes one tensor's values (checkpoint or random) to dst; role_param: random rules for parameters.
  void write(void* dst, const std::string& name, const std::vector<int64_t>& shape, bool bf16, bool is_param);
};

size_t numel_of(const std::vector<int64_t>& shape);

}  // namespace cosmos
