// The Cosmos 3 Generator's MoT transformer, CUDA backend: the same prefill_text / forward_gen as
// cosmos3_transformer.h (Cosmos3Transformer), on the shared layers' CUDA paths, with the same weights struct
// and binding (cosmos3_transformer_bind) and the same host-side plan of a step (cosmos3_gen_plan).
//
// Weights are uploaded once: matmul weights in bf16 or f32 (wt), the time_embedder always in f32 (the
// reference's _keep_in_fp32_modules), norms / embeddings / DomainAwareLinear tables in f32, a bf16 token table
// kept bf16. The text cache (Cosmos3UndCacheCuda) holds every layer's und K/V on the GPU, computed once per
// text and CFG branch and read by every step. A step's latents and velocities stay on the GPU through
// forward_gen_device (the denoising loop's CudaLatentDevice on ctx()); forward_gen is its host wrapper.
// Activations come from the model's pool.
// Include only in code built with COSMOS_CUDA.
#pragma once
#ifndef COSMOS_CUDA
#define COSMOS_CUDA 1
#endif
#include <cuda_runtime.h>

#include <atomic>
#include <cstdint>
#include <memory>
#include <vector>

#include "../core/cuda_context.h"
#include "../core/cuda_pool.h"
#include "../layers/fp8_copies.h"
#include "../layers/weights.h"
#include "../ops/matmul.h"
#include "cosmos3_transformer.h"

namespace cosmos {

// Cosmos3UndCache on the GPU: per layer [n, kv_heads, head_dim] keys (as the gen stream sees them) and values,
// blocks of the model's pool (free the cache before the model).
struct Cosmos3UndCacheCuda {
  int n = 0;
  std::vector<DeviceBuffer<float>> k, v;
};

class Cosmos3TransformerCuda {
 public:
  static std::unique_ptr<Cosmos3TransformerCuda> load(const Checkpoint& ck, const Cosmos3TransformerConfig& cfg,
                                                      WType wt);
  // Random weights generated on the GPU: with wt = F32 the same values as Cosmos3Transformer::random(cfg, seed, std).
  static std::unique_ptr<Cosmos3TransformerCuda> random(const Cosmos3TransformerConfig& cfg, WType wt, uint64_t seed,
                                                        float std);
  ~Cosmos3TransformerCuda();

  const Cosmos3TransformerConfig& config() const { return cfg_; }
  // Host ids and positions, as Cosmos3Transformer::prefill_text.
  Cosmos3UndCacheCuda prefill_text(const int* ids, int n, const float* pos3);
  // Device in, device out: the step's tensors stay on the GPU. in.latents [latent_channel, T, H, W], in.sound
  // [sound_dim, sound_len] and in.action [action_len, action_dim] are device pointers, as are out.vision /
  // sound / action (same shapes; 0 at clean frames / tokens). The rest of `in` stays host memory: the noisy
  // index lists, the timesteps (the sampler's host scalars; equal ones are embedded once) and pos3 (the step's
  // plan is worked out on the host). Runs on ctx().stream; returns when the outputs are written. The inputs
  // may live in any pool of this device once their producers' work is complete; the outputs must not alias
  // the inputs.
  void forward_gen_device(const Cosmos3UndCacheCuda& und, const Cosmos3GenInputs& in, const Cosmos3GenOutputs& out);
  // Host inputs and outputs, as Cosmos3Transformer::forward_gen: forward_gen_device through pool copies.
  void forward_gen(const Cosmos3UndCacheCuda& und, const Cosmos3GenInputs& in, const Cosmos3GenOutputs& out);

  // Opt-in FP8 (issue 14 item 4; the Generator's `quantization: "fp8"` load option; default off, the bf16 path
  // unchanged): on = every linear of cosmos3_fp8_linears (the gen stream's attention qkv and o, the MLP's gate|up (or
  // relu2's up) and down) gets an e4m3 copy with one scale per output channel, quantized once from the bf16 (or f32)
  // weights on the first call; linear_cuda then quantizes their inputs per token and runs gemm_fp8_wgmma (the SwiGLU
  // MLP as gemm_fp8_wgmma_swiglu where mlp_fp8_fused holds; the norms before the gen stream's q|k|v and MLP write
  // those e4m3 inputs directly, add_rmsnorm_fp8_cuda, unless COSMOS_FP8_NORM=0); with cosmos3_fp8_attention (opt-in)
  // the gen stream's attention runs attention_fp8_cuda too. The und stream (the cached text prefill) keeps the model's
  // precision. keep_source (tests, the bench's bf16-vs-fp8 runs) keeps the bf16 weights, so that off gives the bf16
  // path back bit for bit; keep_source = false (the load option: vLLM-Omni's fp8 shrinks the weights, it does not add
  // to them) gives back the bf16 (or f32) weight of every linear the fp8 GEMM takes for any token count (in % 16 == 0,
  // 16-byte aligned: all of them at Cosmos 3's sizes), WeightStore::release; off then throws ModelError. Returns
  // whether fp8 is on: false when this build or device has no sm_90a fp8 GEMM. Cosmos3Transformer::set_fp8 is the
  // CPU twin.
  bool set_fp8(bool on, bool keep_source = true);
  bool fp8() const { return fp8_on_; }

  void set_abort_flag(const std::atomic<bool>* f) { abort_ = f; }
  const Cosmos3TransformerWeights& weights() const { return w_; }
  // Includes the fp8 copies once set_fp8(true) has made them.
  size_t weight_bytes() const { return store_.bytes() + store_f32_.bytes() + fp8_.bytes(); }
  const CudaPool& pool() const { return pool_; }
  const CudaContext& ctx() const { return ctx_; }
  // Gives the pool's cached (free) blocks back to CUDA: the forward's activations between requests. The engine calls
  // it before the VAE decode, whose activations (11 GiB at 720p) then fit where the forward's were.
  void release_cached_blocks();

 private:
  Cosmos3TransformerConfig cfg_;
  WType wt_ = WType::BF16;
  CudaStream stream_;
  CudaPool pool_;
  CudaContext ctx_{stream_.get(), &pool_};
  CudaWeightStore store_{pool_, stream_.get(), wt_};
  CudaWeightStore store_f32_{pool_, stream_.get(), WType::F32};  // the time_embedder
  Cosmos3TransformerWeights w_;
  const std::atomic<bool>* abort_ = nullptr;
  Fp8Copies fp8_;  // set_fp8's copies (blocks of pool_, declared after it)
  bool fp8_on_ = false;
  bool fp8_sources_released_ = false;

  struct Stream;
  Cosmos3TransformerCuda(const Cosmos3TransformerConfig& cfg, WType wt) : cfg_(cfg), wt_(wt) {}
  void check_abort() const;
  void check_und(const Cosmos3UndCacheCuda& und) const;
  void und_layer(Stream& s, int l, float* k, float* v, float* k_gen);
  void gen_layer(Stream& s, int l, const float* k_und, const float* v_und, int n_und);
};

}  // namespace cosmos
