// Qwen3 text decoder, CUDA backend: the same forward as qwen3_text.cc (Qwen3Text), on the GPU.
//
// Weights are uploaded once (matmul weights in bf16 or f32, norms in f32, the embedding table in bf16
// when the checkpoint stores it in bf16 — exact, and 1.2 GB less at Qwen3-VL-8B's vocab — else f32),
// the KV cache lives on the GPU ([capacity, kv_heads, head_dim] per layer, bf16 for bf16 weights at head_dim >= 64,
// else f32: set_kv_cache_bf16), activations come from
// a caching pool. Prefill and decode share one forward; decode (n = 1) uses fused q|k|v and gate|up
// weight matrices so each is one GEMV launch. The layers are the shared ones (native/src/layers/: the
// attention block, the SwiGLU MLP, RMSNorm) with the same weights struct as the CPU model
// (Qwen3TextWeights, bound by qwen3_text_bind); their fused ops (qkv_rope: q/k RMSNorm + rotary +
// KV-cache write; add_rmsnorm) are in native/src/ops with CPU twins, checked by native/test/ops_cuda_test.
//
// Entry points for the binding: Qwen3TextCuda::load (from the same Checkpoint + config as the CPU
// model), then prefill / decode (host logits) or decode_greedy / decode_sample (logits stay on the
// GPU). Include only in code built with COSMOS_CUDA.
//
// Decode steps run as one CUDA graph (328 kernels per token at 36 layers, one launch): the token id,
// its position, the KV-cache row and length are read from a small device array (step_) that is written
// before each replay, so the same graph serves every step. It is captured on the first decode and again
// whenever what it baked in changes (KV-cache capacity — the cache moves when it grows — or the logits
// buffer). If capture or instantiation fails, or COSMOS_CUDA_GRAPH=0, decode takes the eager forward;
// both paths launch the same kernels on the same numbers and give identical logits.
#pragma once
#ifndef COSMOS_CUDA
#define COSMOS_CUDA 1
#endif
#include <cuda_runtime.h>

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "../core/cuda_context.h"
#include "../core/cuda_pool.h"
#include "../layers/fp8_copies.h"
#include "../layers/weights.h"
#include "../ops/matmul.h"
#include "../ops/sample.h"
#include "qwen3_decode_persistent.h"
#include "qwen3_text.h"

namespace cosmos {

class Qwen3TextCuda {
 public:
  // Uploads the text decoder's weights from the checkpoint (names as Qwen3Text::load). wt: dtype of the
  // matmul weights on the GPU (BF16 halves memory and the per-token weight stream; F32 is exact).
  static std::unique_ptr<Qwen3TextCuda> load(const Checkpoint& ck, const Qwen3TextConfig& cfg, WType wt);
  // Random weights generated on the GPU (uniform, given std; norms = 1) — for benchmarks only.
  static std::unique_ptr<Qwen3TextCuda> random(const Qwen3TextConfig& cfg, WType wt, uint64_t seed, float std = 0.02f);
  ~Qwen3TextCuda();

  const Qwen3TextConfig& config() const { return cfg_; }

  // Same contract as Qwen3Text::prefill / decode (host ids, pos3 and logits; vis on the host).
  void prefill(const int* ids, int n, const int* pos3, const VisualInputs* vis, float* logits, bool all_logits);
  void decode(int id, float* logits);
  // Decode one token and return the argmax of its logits (only 4 bytes leave the GPU).
  int decode_greedy(int id);
  // Decode one token and sample the next with sample_cuda (penalties, temperature, top-k, top-p and the
  // draw on the GPU; only the id comes back).
  int decode_sample(int id, const SamplingParams& p, const int* history, int hist_len, uint64_t* rng_state);
  // sample_cuda on the last logits row computed (after prefill, say); the row is penalised in place.
  int sample_last(const SamplingParams& p, const int* history, int hist_len, uint64_t* rng_state);
  // Argmax of the last logits row computed (after prefill with all_logits = false, say).
  int last_argmax();

  // Opt-in FP8 prefill (issue 14 item 4; COSMOS_FP8_PREFILL=1 at load turns it on): the linears of qwen3_fp8_linears
  // (every decoder layer's q|k|v, o, gate|up, down) get an e4m3 copy with one scale per output row (Fp8Copies, made on
  // the first call), and a forward over more than kQwen3Fp8PrefillMinRows tokens (a prefill: GEMM-shaped) runs them in
  // fp8 (inputs quantized per token; the SwiGLU MLP as gemm_fp8_wgmma_swiglu), as vLLM's `--quantization fp8` does.
  // Decode (eager and graph) keeps the bf16 GEMVs on the unchanged weights, and so does lm_head everywhere: the copies
  // add to the weights (8B: ~7 GiB) and cost decode nothing. The KV cache a fp8 prefill writes is what decode then
  // reads, so its fidelity cost carries into the answer: bench/README reports it. off: the bf16 path bit for bit.
  // Returns whether it is on: false when this build or device has no sm_90a fp8 GEMM. Qwen3Text::set_fp8_prefill is the
  // CPU twin.
  bool set_fp8_prefill(bool on);
  bool fp8_prefill() const { return fp8_prefill_; }
  // FP8 weights (issue 14 item 4, vLLM's `--quantization fp8` for a decoder; COSMOS_FP8_WEIGHTS=1 at load, with
  // keep_source = false): the same copies attached for every forward: prefill on the fp8 GEMMs as above, decode (eager
  // and graph, re-captured on a switch) on the weight-only GEMVs of ops/gemv_fp8 (x in f32; half the bytes a token
  // streams), or in the persistent step on the same copies where set_decode_persistent asked for it and it serves
  // them (re-decided on every switch). lm_head stays bf16. keep_source = false gives the bf16 weights of those linears
  // back (8B: the decoder 15.3 -> ~8.6 GiB; off is then a ModelError). Returns whether it is on (false without the
  // sm_90a fp8 GEMM). Qwen3Text::set_fp8_weights is the CPU twin.
  bool set_fp8_weights(bool on, bool keep_source = true);
  bool fp8_weights() const { return fp8_weights_; }
  // Whether the last forward over more than one token wrote its GEMM inputs in bf16 from their producers (the norms,
  // the flash kernel's output; COSMOS_PREFILL_BF16_INPUTS=0: the f32 rows and a cast before each GEMM, the same
  // numbers): where every layer's q|k|v and gate|up run on the bf16 GEMM (bf16 weights, an sm_90a build on an sm_90
  // device, not with the fp8 prefill's copies attached).
  bool last_prefill_bf16_inputs() const { return last_prefill_bf16_inputs_; }
  // Whether the last prefill added its residual stream in the o and down GEMMs' epilogue (with its bf16 inputs, where
  // every layer runs those on the wgmma GEMM; COSMOS_RESIDUAL_IN_GEMM=0: in the norms as before).
  bool last_prefill_residual_in_gemm() const { return last_prefill_residual_in_gemm_; }
  // Whether the last prefill held its residual stream in bf16 (the default where its o and down GEMMs take the bf16
  // add; COSMOS_PREFILL_BF16_RESIDUAL=0: f32).
  bool last_prefill_bf16_residual() const { return last_prefill_bf16_residual_; }

  // Persistent decode step (issue 14; on at load where served, COSMOS_DECODE_PERSISTENT=0 keeps the graph of kernels):
  // the graph's decode step runs every
  // decoder layer as one kernel (models/qwen3_decode_persistent.h: producer warps stream the weights through shared
  // memory while the layers' dependencies are grid-wide waits) between the embedding / rotary tables and lm_head. Meant
  // to agree with the graph step to f32 rounding (the GEMVs sum in their order, the norms and the attention in their
  // own; qwen3_cuda_test checks it on the device). With fp8 weights (set_fp8_weights) the step reads their e4m3 copies
  // (its GEMVs sum as ops/gemv_fp8's), and a switch of set_fp8_weights re-decides it. Returns whether it is on: false
  // for f32 weights, a layer without q / k norm or with a bias, or a shape / device qwen3_decode_persistent_fits
  // refuses. The eager path (set_decode_graph(false)) is unchanged.
  bool set_decode_persistent(bool on);
  bool decode_persistent() const { return persistent_; }
  // The persistent step's tuning (Qwen3PersistentTuning: the copies' L2 policy, lm_head in the step for a bf16 lm_head
  // without bias, the attention's key splits and how they are combined, the grid's blocks) and whether it records where
  // its time goes (timing: the kernel's timed twin, its buffer zeroed here). The graph is re-captured on the next step.
  // bench/qwen3_decode_bench sweeps them.
  void set_decode_persistent_tuning(const Qwen3PersistentTuning& tuning, bool timing);
  // Whether the persistent step computes the logits itself (tuning.lm_head_in_step with a bf16 lm_head, no bias).
  bool decode_persistent_lm_head() const;
  // What the timed steps recorded since set_decode_persistent_tuning(.., true), as lines for a person
  // (qwen3_decode_persistent_timing_report); "" when timing is off.
  std::string decode_persistent_timing_report();

  // The KV cache in bf16 (layers/attention_block.h KvCache: what transformers keeps for a bf16 model; half the bytes
  // decode's attention reads and the cache holds). At load: on for bf16 weights with head_dim >= 64 (where the
  // prefill's tensor-core attention already reads its keys and values in bf16), f32 otherwise; COSMOS_KV_CACHE=f32 or
  // bf16 decides it for every model. A switch empties the cache (as reset()) and re-decides the decode graph; it
  // returns whether the cache is bf16 now.
  bool set_kv_cache_bf16(bool on);
  bool kv_cache_bf16() const { return kv_bf16_; }

  void reset();
  void reserve(int tokens);  // grows the KV cache now (else it grows on demand, doubling)
  // Decode through the CUDA graph (default; COSMOS_CUDA_GRAPH=0 turns it off) or the eager forward.
  void set_decode_graph(bool on) { graph_on_ = on; }
  bool decode_graph() const { return graph_on_ && !graph_broken_; }
  int graph_captures() const { return graph_captures_; }  // how many times the decode graph was (re)captured
  int n_past() const { return n_past_; }
  int next_pos() const { return next_pos_; }
  void set_abort_flag(const std::atomic<bool>* f) { abort_ = f; }

  size_t weight_bytes() const { return store_.bytes() + fp8_.bytes(); }  // with the fp8 copies once made
  const CudaPool& pool() const { return pool_; }
  cudaStream_t stream() const { return stream_.get(); }
  // The op context of this model (its stream and pool): for ops run on its buffers from outside.
  const CudaContext& ctx() const { return ctx_; }
  void sync() const { stream_.sync(); }

 private:
  Qwen3TextConfig cfg_;
  WType wt_ = WType::BF16;
  CudaStream stream_;
  CudaPool pool_;
  // What every op call of this model gets: its stream, and its pool for the ops' workspaces.
  CudaContext ctx_{stream_.get(), &pool_};
  CudaWeightStore store_{pool_, stream_.get(), wt_};  // weights: blocks of pool_
  Qwen3TextWeights w_;
  Fp8Copies fp8_;  // the fp8 copies (blocks of pool_): attached for a prefill's layers, or for good (set_fp8_weights)
  bool fp8_prefill_ = false, fp8_weights_ = false, fp8_sources_released_ = false;
  bool last_prefill_bf16_inputs_ = false, last_prefill_residual_in_gemm_ = false, last_prefill_bf16_residual_ = false;
  std::vector<void*> kc_, vc_;  // per layer: [capacity, kv_heads, head_dim] K and V cache, f32 or bf16 (kv_bf16_)
  bool kv_bf16_ = false;
  KvCache kv_cache(int layer) const;  // layer's cache as the attention block takes it
  float* logits_ = nullptr;           // [logits_rows_, V]
  int logits_rows_ = 0, last_rows_ = 0;
  int* tmp_int_ = nullptr;
  int* hist_ = nullptr;
  int hist_cap_ = 0;
  int n_past_ = 0, capacity_ = 0, next_pos_ = 0;
  const std::atomic<bool>* abort_ = nullptr;

  // Decode graph state. step_ = [id, pos, pos, pos, cache row (n_past), n_kv (n_past + 1)] on the GPU;
  // dec_ holds the step's activations (fixed addresses, as the graph needs); att_part_ the split-KV
  // partials for up to capacity_ keys.
  bool graph_on_ = true, graph_broken_ = false;
  int graph_captures_ = 0;
  cudaGraphExec_t graph_ = nullptr;
  int graph_cap_ = -1;
  const float* graph_logits_ = nullptr;
  int* step_ = nullptr;
  int host_step_[6] = {};
  float* dec_ = nullptr;
  float* att_part_ = nullptr;
  int att_part_cap_ = -1;
  // The persistent step (set_decode_persistent): the layers' pointer table on the GPU (rewritten before each capture:
  // the KV cache moves when it grows), its workspace and its phase counters.
  bool persistent_ = false, persistent_wanted_ = false;  // on, and asked for (set_decode_persistent)
  bool persistent_served() const;                        // whether the step serves the weights as they are now
  Qwen3PersistentLayer* persistent_layers_ = nullptr;
  float* persistent_ws_ = nullptr;
  unsigned* persistent_ctr_ = nullptr;
  Qwen3PersistentTuning persistent_tuning_;
  unsigned long long* persistent_timing_ = nullptr;  // [qwen3_decode_persistent_blocks(), fields] while timing is on
  Qwen3PersistentShape persistent_shape() const;

  Qwen3TextCuda(const Qwen3TextConfig& cfg, WType wt);
  void finish_load();  // after binding: the per-layer cache slots, small device buffers, the graph switch
  void ensure_capacity(int tokens);
  void forward(const int* ids, int n, const int* pos3, const VisualInputs* vis, bool all_logits);
  // One decode step through the graph (capturing it first when needed). false: the graph path is off or
  // could not be captured; the caller runs forward() instead. sync: wait for the step (else the caller's
  // next stream operation + sync does).
  bool decode_graph_step(int id, bool sync);
  void record_decode_step(cudaStream_t s);  // the launches of one decode step, all inputs in step_
  bool capture_decode_graph();
  void drop_graph();
  // One decoder pass over n tokens on the shared layers: x holds the embedded tokens, h the scratch row
  // block; leaves norm(x) in h. Used by forward() and, with the device-side step (step_), by the graph.
  // last_row_only: only the last row's norm(x) is read afterwards (a prefill's one logits row), so the last layer
  // runs its MLP and norms on that row alone (every row's keys and values still reach the cache).
  void layers_forward(float* x, float* h, float* scratch, const float* cos, const float* sin, int n, const int* row_dev,
                      const int* n_kv_dev, const VisualInputs* vis, const int* vis_rows_dev, float* vis_tmp,
                      bool last_row_only = false);
  size_t scratch_floats(int n) const;
};

}  // namespace cosmos
