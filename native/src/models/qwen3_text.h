// Qwen3 text decoder of Qwen3VLForConditionalGeneration (CPU backend, f32 compute).
// Per layer: x += o_proj(attn(rope(q_norm(q)), rope(k_norm(k)), v)) on input_layernorm(x);
//            x += down(silu(gate(h)) * up(h)) on h = post_attention_layernorm(x).
// q_norm/k_norm are per-head RMSNorms applied BEFORE rotary, as in transformers' Qwen3VLTextAttention.
// Rotary is interleaved mRoPE driven by 3D position ids (t, h, w); text tokens have t = h = w.
#pragma once
#include <atomic>
#include <memory>
#include <string>
#include <vector>

#include "../core/config.h"    // parse_config_object
#include "../core/errors.h"    // ModelError, AbortedError
#include "../core/parallel.h"  // CpuContext
#include "../core/tensor.h"
#include "../layers/attention_block.h"
#include "../layers/fp8_copies.h"
#include "../layers/mlp.h"
#include "../layers/norm.h"
#include "../layers/weights.h"
#include "../safetensors/safetensors.h"

namespace cosmos {

struct Qwen3TextConfig {
  int vocab_size = 0, hidden_size = 0, intermediate_size = 0, num_layers = 0;
  int num_heads = 0, num_kv_heads = 0, head_dim = 0;
  float rms_norm_eps = 1e-6f, rope_theta = 5000000.f;
  int mrope_section[3] = {0, 0, 0};
  bool mrope_interleaved = true;
  bool tie_word_embeddings = false;
  // Accepts a full Qwen3-VL config.json (uses text_config) or a bare text config. Throws ModelError naming the field.
  static Qwen3TextConfig from_json(const std::string& json_text);
};

// Visual rows for the multimodal prefill hook (filled by the vision tower's caller).
struct VisualInputs {
  const int* rows = nullptr;  // row indices within this prefill call (unique, any order; host memory)
  int n_rows = 0;
  const float* embeds = nullptr;  // [n_rows, hidden]: replaces the token embedding at those rows (nullable)
  // deepstack[l] ([n_rows, hidden]) is added to the hidden state at those rows after decoder layer l,
  // for l = 0..n_deepstack-1 (transformers' _deepstack_process).
  std::vector<const float*> deepstack;
  // embeds and deepstack are GPU memory (the tower's outputs left on the device; the CUDA decoder
  // reads them in place). The CPU decoder takes host memory only.
  bool on_device = false;
};

// One Qwen3 decoder layer on the shared layers: x += attn(in_ln(x)); x += mlp(post_ln(x)).
struct Qwen3DecoderLayer {
  RmsNorm in_ln, post_ln;
  AttentionBlock attn;  // q_proj | k_proj | v_proj fused by rows, q_norm / k_norm, causal
  SwiGluMlp mlp;        // gate_proj | up_proj fused by rows, down_proj
};

// The decoder's weights, wherever they live (host f32 for Qwen3Text, the GPU pool for Qwen3TextCuda).
struct Qwen3TextWeights {
  const void* embed = nullptr;  // [vocab, hidden], bf16 if embed_bf16 else f32
  bool embed_bf16 = false;
  RmsNorm norm;
  Linear lm_head;  // its own tensor, or the embedding table itself when tied and of the matmul dtype
  std::vector<Qwen3DecoderLayer> layers;
};

// Binds every decoder tensor by its transformers name (model.language_model.* for Qwen3-VL, model.* for
// plain Qwen3 — from a checkpoint; random binders use the Qwen3-VL names) into the binder's store.
void qwen3_text_bind(const Qwen3TextConfig& cfg, WeightBinder& wb, Qwen3TextWeights& w);

// Opt-in FP8 prefill (issue 14 item 4, Qwen3TextCuda::set_fp8_prefill and its CPU twin Qwen3Text::set_fp8_prefill):
// whether COSMOS_FP8_PREFILL=1 asks for it at load, and the rule for which forwards run in fp8: more than
// kQwen3Fp8PrefillMinRows tokens (matmul_cuda's GEMV bound: n <= 8 streams the weights, it is no GEMM).
bool qwen3_fp8_prefill_requested();
// Whether COSMOS_FP8_WEIGHTS=1 asks for fp8 weights at load (set_fp8_weights(true, keep_source = false)).
bool qwen3_fp8_weights_requested();
constexpr int kQwen3Fp8PrefillMinRows = 8;
// The linears a fp8 prefill quantizes: every decoder layer's q|k|v, o, gate|up and down (not lm_head).
std::vector<Linear*> qwen3_fp8_linears(Qwen3TextWeights& w);

class Qwen3Text {
 public:
  // Loads weights from the checkpoint (F32/BF16/F16 -> f32). Tensor names as transformers saves them:
  // model.language_model.* (Qwen3-VL) or model.* (plain Qwen3); lm_head.weight unless tied.
  static std::unique_ptr<Qwen3Text> load(const Checkpoint& ck, const Qwen3TextConfig& cfg);

  const Qwen3TextConfig& config() const { return cfg_; }
  size_t weight_bytes() const { return store_.bytes() + fp8_.bytes(); }

  // Appends n tokens to the KV cache. pos3: [3][n] (t row, h row, w row). logits: [n, vocab] when
  // all_logits, else [vocab] for the last token. vis may be null.
  void prefill(const int* ids, int n, const int* pos3, const VisualInputs* vis, float* logits, bool all_logits);
  // One token at position next_pos() (t = h = w), appended to the cache. logits: [vocab].
  void decode(int id, float* logits);

  // The CPU twin of Qwen3TextCuda::set_fp8_prefill (the same linears, quantize_fp8_rows_cpu of the f32 weights,
  // linear_cpu / mlp_cpu's fp8 twins for forwards over more than kQwen3Fp8PrefillMinRows tokens): for measuring what
  // fp8 costs a trained model's answers here, without a GPU. Slower than f32 (each call decodes the weights).
  void set_fp8_prefill(bool on);
  bool fp8_prefill() const { return fp8_prefill_; }
  // The CPU twin of Qwen3TextCuda::set_fp8_weights: the copies attached for every forward (one token: the weight-only
  // gemv_fp8_cpu), the f32 sources given back unless keep_source (then off is a ModelError).
  void set_fp8_weights(bool on, bool keep_source = true);
  bool fp8_weights() const { return fp8_weights_; }

  // Clears the KV cache (weights stay).
  void reset();
  int n_past() const { return n_past_; }
  // Position for the next decoded token: max position id seen so far + 1 (transformers' rope_deltas rule).
  int next_pos() const { return next_pos_; }

  // Checked between layers and tokens; when set, the running call throws AbortedError.
  void set_abort_flag(const std::atomic<bool>* f) { abort_ = f; }

 private:
  struct Cache {
    Buffer k, v;  // [capacity, kv_heads, head_dim]
  };
  Qwen3TextConfig cfg_;
  HostWeightStore store_;  // owns the weights' memory
  Qwen3TextWeights w_;
  Fp8CopiesCpu fp8_;  // the fp8 copies: attached for a prefill's layers only, or for good (set_fp8_weights)
  bool fp8_prefill_ = false, fp8_weights_ = false, fp8_sources_released_ = false;
  std::vector<Cache> cache_;  // one per layer
  int n_past_ = 0, capacity_ = 0, next_pos_ = 0;
  const std::atomic<bool>* abort_ = nullptr;
  CpuContext cpu_;  // passed to every op: the default thread count (COSMOS_THREADS or all cores)

  void ensure_capacity(int tokens);
  void forward(const int* ids, int n, const int* pos3, const VisualInputs* vis, float* logits, bool all_logits);
  void check_abort() const {
    if (abort_ && abort_->load(std::memory_order_relaxed)) throw AbortedError();
  }
};

}  // namespace cosmos
