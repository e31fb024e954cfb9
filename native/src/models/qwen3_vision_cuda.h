// Qwen3-VL vision tower, CUDA backend: the same forward as qwen3_vision.cc (qwen3_vision_forward_cpu),
// on the GPU, over the shared CUDA ops (native/src/ops/*.cu).
//
// Weights are uploaded once into the tower's own CudaPool: the matmul weights (patch embedding, qkv,
// proj, fc1/fc2, merger fc1/fc2) in bf16 or f32, biases / LayerNorm parameters / the learned position
// table in f32. Names and shapes are bound by qwen3_vision_bind through a WeightBinder with a
// CudaWeightStore (layers/weights.h), the CPU tower's listing, so both backends read exactly the same
// tensors; the blocks run on the shared layers' CUDA paths (layers/: attention block, GELU MLP, LayerNorm).
//
// Per run, the index math that depends only on the grids (bilinear corners of the position table,
// 2D rotary cos/sin, per-frame segments) is done on the host with the CPU tower's helpers and uploaded;
// everything else runs on the GPU. Activations come from the pool and are handed back to CUDA at the
// end of every run (success, error or abort), so between runs the tower holds only its weights:
// towers run once per image/video and their activations (hundreds of MB at 16 frames) should not stay
// reserved next to the decoder's KV cache.
//
// With COSMOS_TOWER_GRAPH=1 the blocks run as CUDA graphs per shape (Qwen3VisionCuda::run): the second run of the same
// grids (and the same COSMOS_* switches) records the blocks between the tower's host steps (the pixels' staging, the
// mergers) as graphs, later runs of that shape launch them; the graph holds its run's blocks (and gives them back when
// a run of other grids comes, or when another pool runs out of memory while no run is on).
//
// Include only in code built with COSMOS_CUDA.
#pragma once
#ifndef COSMOS_CUDA
#define COSMOS_CUDA 1
#endif
#include <cuda_runtime.h>

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "../core/cuda_context.h"
#include "../core/cuda_graph_segments.h"
#include "../core/cuda_pool.h"
#include "../layers/weights.h"
#include "../ops/matmul.h"
#include "qwen3_vision.h"

namespace cosmos {

class Qwen3VisionCuda {
 public:
  // Uploads every model.visual.* tensor the config names (shape-checked through qwen3_vision_bind;
  // ModelError / SafetensorsError as Qwen3Vision::load). wt: dtype of the matmul weights on the GPU.
  static std::unique_ptr<Qwen3VisionCuda> load(const Checkpoint& ck, const Qwen3VisionConfig& cfg, WType wt);
  // Random weights generated on the GPU (uniform with the given std; LayerNorm gains 1, biases 0) —
  // for benchmarks only.
  static std::unique_ptr<Qwen3VisionCuda> random(const Qwen3VisionConfig& cfg, WType wt, uint64_t seed,
                                                 float std = 0.02f);
  ~Qwen3VisionCuda();
  Qwen3VisionCuda(const Qwen3VisionCuda&) = delete;
  Qwen3VisionCuda& operator=(const Qwen3VisionCuda&) = delete;

  const Qwen3VisionConfig& config() const { return cfg_; }
  WType weight_type() const { return wt_; }
  size_t weight_bytes() const { return store_.bytes(); }

  // Same contract as Qwen3Vision::forward: checks the grids and the pixel_values length (host
  // floats, patches x patch_dim), runs the tower, fills `out` on the host. Throws ModelError on bad
  // input, AbortedError when the abort flag is seen between blocks (between the graphs' segments where a run replays
  // them: at most the blocks between two mergers). Runs of one object are serialised.
  void forward(const float* pixel_values, size_t n_floats, const std::vector<Qwen3VisionGrid>& grids,
               Qwen3VisionOutput& out);
  // The same run with the outputs left on the GPU: each merger writes straight into the caller's
  // device buffers (embeds_dev and one deepstack_dev[k] per deepstack index, tokens x out_hidden_size
  // floats each, usually blocks of pool() that outlive the run), so the next model reads them without a
  // host round trip. The stream is synchronised before it returns.
  void forward_device(const float* pixel_values, size_t n_floats, const std::vector<Qwen3VisionGrid>& grids,
                      float* embeds_dev, const std::vector<float*>& deepstack_dev);

  void set_abort_flag(const std::atomic<bool>* f) { abort_ = f; }

  CudaPool& pool() { return pool_; }
  // Pool bytes at the high-water mark of the last forward() (weights + that run's activations).
  size_t last_run_peak_bytes() const { return last_peak_; }
  cudaStream_t stream() const { return stream_.get(); }
  // The op context of this model (its stream and pool): for ops run on its buffers from outside.
  const CudaContext& ctx() const { return ctx_; }
  // Page-locked host staging (pixels in, one output slab out), kept between runs and grown as needed:
  // host memory the tower holds beyond its GPU pool. Freed by the destructor.
  size_t host_pinned_bytes() const { return in_pin_.bytes + out_pin_.bytes; }
  // Host wall time of the last forward()'s phases, ms: pixel staging + upload enqueue, the grid tables (computed on
  // a host thread of their own during the pixels: what is left is the wait for them and their upload enqueue),
  // the blocks (host paced a few blocks behind the GPU), the last output's wait + copy, and the end's sync and cache
  // release (only the blocks this run did not use, unless COSMOS_TOWER_KEEP_BLOCKS=0); the cudaMalloc calls the run
  // made (none when the run before had the same grids and kept its blocks) and their host time; and whether the run's
  // GEMM inputs came in bf16 from their producers (where every GEMM they feed takes them, unless
  // COSMOS_TOWER_BF16_INPUTS=0: qwen3_vision_cuda.cu) and its residual adds rode in the o and fc2 GEMMs' epilogue
  // (with them, where every block runs those on the wgmma GEMM, unless COSMOS_RESIDUAL_IN_GEMM=0).
  // With a head (several frames: qwen3_vision_cuda.cu, tower_head_plan), head_rows rows ran the first head_layers
  // blocks while the host staged the other frames' pixels (pixels and tables count both parts' host time).
  // graph: how the run's blocks ran (kGraphEager: enqueued op by op; kGraphCaptured: recorded as graph_segments graphs,
  // then launched; kGraphReplayed: the shape's graphs launched; core/cuda_graph_segments.h).
  struct Phases {
    double tables = 0, pixels = 0, blocks = 0, outputs = 0, release = 0;
    int head_rows = 0, head_layers = 0;
    size_t mallocs = 0;
    double malloc_ms = 0;
    bool bf16_inputs = false, residual_in_gemm = false;
    GraphUse graph = kGraphEager;
    int graph_segments = 0;
  };
  const Phases& last_phases() const { return phases_; }
  // Whether a shape's graphs are held (with their run's blocks: pool().bytes_in_use() counts them), and letting go of
  // them (their blocks back to the pool's cache; the next run of any grids runs eagerly).
  bool graph_held() const;
  void drop_graph();

 private:
  struct Pinned {
    void* p = nullptr;
    size_t bytes = 0;
    void* get(size_t want);  // grows (cudaFreeHost + cudaHostAlloc) when too small
    ~Pinned();
  };
  Qwen3VisionConfig cfg_;
  WType wt_ = WType::F32;
  CudaStream stream_;
  CudaStream up_stream_;  // the head's other frames' pixels go up here while the head's blocks run on stream_
  CudaPool pool_;
  // What every op call of this model gets: its stream, and its pool for the ops' workspaces.
  CudaContext ctx_{stream_.get(), &pool_};
  CudaWeightStore store_{pool_, stream_.get(), wt_};  // weights: blocks of pool_
  Qwen3VisionWeights w_;                              // device pointers bound by name
  size_t last_peak_ = 0;
  const std::atomic<bool>* abort_ = nullptr;
  Pinned in_pin_, out_pin_;
  Phases phases_;
  // The graphs of one shape (qwen3_vision_cuda.cu): declared after pool_, so they go before it. run_mu_ is held by a
  // run; the pool's reclaim hook drops the graphs only when it can take it at once.
  struct RunBuffers;
  struct TowerGraph;
  std::unique_ptr<TowerGraph> graph_;
  std::string last_key_;       // the key of the last run recorded by none (a second run of it records its graphs)
  bool graph_broken_ = false;  // a capture failed: eager from then on (not retried every run)
  mutable std::mutex run_mu_;

  Qwen3VisionCuda(const Qwen3VisionConfig& cfg, WType wt);
  // forward() and forward_device(): host outputs into `out`, or device outputs when embeds_dev is set.
  void run(const float* pixel_values, size_t n_floats, const std::vector<Qwen3VisionGrid>& grids,
           Qwen3VisionOutput* out, float* embeds_dev, const std::vector<float*>* deepstack_dev);
  // At load: the blocks' MLP width padded for aligned GEMM rows (qwen3_vision_cuda.cu).
  void pad_mlp_widths();
  // scratch: 2 N x hidden floats.
  void merger(const Qwen3VisionMerger& m, const float* x, int N, float* out_dev, float* scratch);
};

}  // namespace cosmos
