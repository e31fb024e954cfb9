// The Cosmos 3 Generator's MoT transformer (diffusers Cosmos3OmniTransformer, 58eb52c0
// transformer_cosmos3.py; ../shared/reference/cosmos3-generator.md §1.1-1.3), CPU backend, f32 compute.
//
// Two streams share every layer's attention. und: the text tokens, causal, Qwen3 weights (self_attn.to_q /
// to_k / to_v / to_out, norm_q / norm_k, input_layernorm, post_attention_layernorm, mlp). gen: the noisy
// vision / sound / action tokens, full attention over cat(K_und, K_gen), their own weights (add_q_proj /
// add_k_proj / add_v_proj / to_add_out, norm_added_q / norm_added_k, *_moe_gen). The und stream never sees
// the gen keys, so it depends only on the text: prefill_text() runs it once per request and CFG branch and
// keeps each layer's K/V (Cosmos3UndCache); forward_gen() then runs only the gen stream at every denoising
// step. forward() is the reference's joint pass, layer by layer, for the test that the two agree.
//
// Gen sequence order: the vision tokens (patchified 2x2, t-major), then sound, then action — the pipeline's
// packing. Positions (3 float rows t/h/w, fps-modulated) are inputs, computed by the caller.
#pragma once
#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "../core/errors.h"
#include "../core/parallel.h"
#include "../layers/attention_block.h"
#include "../layers/fp8_copies.h"
#include "../layers/mlp.h"
#include "../layers/norm.h"
#include "../layers/weights.h"
#include "../safetensors/safetensors.h"

namespace cosmos {

struct Cosmos3TransformerConfig {
  int vocab_size = 0, hidden_size = 0, intermediate_size = 0, num_layers = 0;
  int num_heads = 0, num_kv_heads = 0, head_dim = 0;
  float rms_norm_eps = 1e-6f, rope_theta = 5000000.f, timestep_scale = 0.001f;
  int rope_axes_dim[3] = {24, 20, 20};             // interleaved mRoPE sections (t, h, w), sum = head_dim / 2
  int latent_channel = 48, latent_patch_size = 2;  // patch_latent_dim = patch^2 * channels
  bool attention_bias = false;
  bool relu2 = false;            // hidden_act "relu2": Nemotron MLP (no gate) and Nemotron RMSNorm (the Edge model)
  bool qk_norm_for_text = true;  // false: no per-head q/k norm on the und stream
  bool use_und_k_norm_for_gen = false;  // with !qk_norm_for_text: the gen stream sees k_norm_und_for_gen(K_und)
  bool action_gen = false, sound_gen = false;
  int action_dim = 0, num_embodiment_domains = 32, sound_dim = 0;
  static constexpr int kTimeChannels = 256;  // time_proj width

  int patch_dim() const { return latent_patch_size * latent_patch_size * latent_channel; }
  // transformer/config.json of a diffusers Cosmos3OmniTransformer. Throws ModelError naming the key.
  static Cosmos3TransformerConfig from_json(const std::string& json_text);
};

// One MLP of either kind (SwiGLU for Qwen3 backbones, squared ReLU for Nemotron ones).
struct Cosmos3Mlp {
  SwiGluMlp swiglu;
  Relu2Mlp relu2;
  bool is_relu2 = false;
};

struct Cosmos3Layer {
  RmsNorm in_ln, post_ln, in_ln_gen, post_ln_gen;  // input_layernorm(_moe_gen), post_attention_layernorm(_moe_gen)
  AttentionBlock und;  // to_q | to_k | to_v, to_out, norm_q / norm_k (none when !qk_norm_for_text); causal
  AttentionBlock gen;  // add_q_proj | add_k_proj | add_v_proj, to_add_out, norm_added_q / norm_added_k; full
  const float* k_norm_und_for_gen = nullptr;  // [head_dim] or null (then the gen stream sees the und keys as is)
  Cosmos3Mlp mlp, mlp_gen;
};

// The weights, wherever they live (host f32 here; the GPU pool for the CUDA twin).
struct Cosmos3TransformerWeights {
  const void* embed = nullptr;  // embed_tokens [vocab, hidden], bf16 if embed_bf16
  bool embed_bf16 = false;
  std::vector<Cosmos3Layer> layers;
  RmsNorm norm_gen;            // norm_moe_gen (the und stream's final norm reaches no output)
  Linear proj_in, proj_out;    // [hidden, patch_dim], [patch_dim, hidden]
  Linear time_1, time_2;       // time_embedder.linear_1 [hidden, 256], linear_2 [hidden, hidden]
  Linear audio_in, audio_out;  // sound_gen
  const float* audio_embed = nullptr;
  const float *action_in_w = nullptr, *action_in_b = nullptr;  // [domains, action_dim * hidden], [domains, hidden]
  const float *action_out_w = nullptr,
              *action_out_b = nullptr;  // [domains, hidden * action_dim], [domains, action_dim]
  const float* action_embed = nullptr;
};

// Binds every tensor the forward pass reads by its diffusers name (embed_tokens.weight, layers.N.self_attn.to_q.weight,
// ...). lm_head and the und stream's final norm are not read (generation never uses them). f32: a binder whose
// store keeps matmul weights in f32, for the time_embedder (the reference's _keep_in_fp32_modules); null = wb.
void cosmos3_transformer_bind(const Cosmos3TransformerConfig& cfg, WeightBinder& wb, Cosmos3TransformerWeights& w,
                              WeightBinder* f32 = nullptr);

// The und stream's per-layer keys and values for one text (one CFG branch), as the gen stream sees them:
// normed (norm_k, or k_norm_und_for_gen) and rotated. [n, kv_heads, head_dim] each.
struct Cosmos3UndCache {
  int n = 0;
  std::vector<std::vector<float>> k, v;
};

// One denoising step's gen tokens. Frames / tokens not listed as noisy are clean conditioning: they get
// no timestep embedding and come back as 0 (the reference's outputs at conditioned positions).
struct Cosmos3GenInputs {
  // Vision, one item: latents [latent_channel, T, H, W]; H and W padded to the patch size inside, cropped on output.
  const float* latents = nullptr;
  int T = 0, H = 0, W = 0;
  const int* vision_noisy_frames = nullptr;  // ascending latent frame indices
  int n_vision_noisy = 0;
  const float* vision_timesteps = nullptr;  // [n_vision_noisy * hp * wp]: one per noisy token (unscaled, 0..1000)
  // Sound (sound_gen): [sound_dim, sound_len].
  const float* sound = nullptr;
  int sound_len = 0;
  const int* sound_noisy = nullptr;  // ascending token indices
  int n_sound_noisy = 0;
  const float* sound_timesteps = nullptr;  // [n_sound_noisy]
  // Action (action_gen): [action_len, action_dim], one embodiment domain.
  const float* action = nullptr;
  int action_len = 0;
  const int* action_noisy = nullptr;  // ascending token indices
  int n_action_noisy = 0;
  const float* action_timesteps = nullptr;  // [n_action_noisy]
  int domain_id = 0;
  // [3][n_gen] float position ids (t, h, w rows) of the gen tokens, n_gen = vision + sound + action tokens.
  const float* pos3 = nullptr;
};

// Velocity predictions, caller-owned: vision [latent_channel, T, H, W]; sound [sound_dim, sound_len]; action
// [action_len, action_dim] (null when that modality is absent). 0 at clean frames / tokens.
struct Cosmos3GenOutputs {
  float* vision = nullptr;
  float* sound = nullptr;
  float* action = nullptr;
};

// Token counts of one gen input (vision patches, sound, action) and checks of its fields against the config.
struct Cosmos3GenLayout {
  int hp = 0, wp = 0, per_frame = 0;  // patch grid and tokens per latent frame
  int n_vision = 0, n_sound = 0, n_action = 0, n_gen = 0;
  int n_vision_noisy_tokens = 0;
};
Cosmos3GenLayout cosmos3_gen_layout(const Cosmos3TransformerConfig& cfg, const Cosmos3GenInputs& in);

// The host-side index lists of one step, shared by both backends. Rows are gen-sequence rows.
struct Cosmos3GenPlan {
  std::vector<float> t_values;               // distinct timesteps * timestep_scale (one time_embedder row each)
  std::vector<int> t_rows, t_idx;            // the noisy tokens' rows and which distinct timestep each gets
  std::vector<int> sound_rows, sound_zeros;  // every sound row (audio_modality_embed: table row 0)
  std::vector<float> sound_tokens;           // [sound_len, sound_dim]: the input transposed (_pack_sound_latents)
  std::vector<int> sound_out_rows, action_out_rows;  // the noisy rows the heads read
  std::vector<int> action_domains;                   // domain_id, max(action_len, 1) times
};
Cosmos3GenPlan cosmos3_gen_plan(const Cosmos3TransformerConfig& cfg, const Cosmos3GenInputs& in,
                                const Cosmos3GenLayout& lay);
// Checks a text's ids against the vocabulary and that positions are given; ModelError naming the row.
void cosmos3_check_text(const Cosmos3TransformerConfig& cfg, const int* ids, int n, const float* pos3);
// Random weights of either backend draw the time_embedder from its own binder (the CUDA model keeps it in f32):
// seed + this, so the CPU and CUDA models built from one seed hold the same values.
constexpr uint64_t kCosmos3TimeSeedOffset = 1000003;

// The heads' predictions for the noisy tokens (pred [n_noisy, dim], host) written into the caller's output at
// those tokens: sound [sound_dim, sound_len] (_unpack_sound_latents), action [action_len, action_dim].
void cosmos3_scatter_sound(float* sound, const float* pred, const Cosmos3GenInputs& in, int sound_dim);
void cosmos3_scatter_action(float* action, const float* pred, const Cosmos3GenInputs& in, int action_dim);

// The linears FP8 mode quantizes (both backends' set_fp8), in a fixed order: for every layer the gen stream's
// attention qkv and o, then its MLP's gate|up (relu2: up) and down. The und stream (the text prefill, cached once a
// request) and the small embedders and heads stay in the model's own precision, as in the CUDA measurements.
std::vector<Linear*> cosmos3_fp8_linears(Cosmos3TransformerWeights& w);
// Whether FP8 mode also runs the gen stream's attention in 8 bits (ops/attention_fp8.h: q and k in int8, v and the
// probabilities in e4m3), both backends: only with COSMOS_FP8_ATTENTION=1. Opt-in, as vLLM-Omni's `--quantization
// fp8` quantizes the linears alone: it takes the 480p forward from 0.67 to 0.59 s on the H200 and, on the trained mini
// Generator, moves the first step's velocity 0.157 from the unquantized model's against the fp8 linears' 0.132
// (bench/fp8_notes.md).
bool cosmos3_fp8_attention();
// Whether the CUDA Generator's fp8 mode writes the gen stream's normed inputs of fp8 projections straight in e4m3
// (add_rmsnorm_fp8_cuda, the same bytes as norm then quantize): on unless COSMOS_FP8_NORM=0.
bool cosmos3_fp8_norm();

class Cosmos3Transformer {
 public:
  static std::unique_ptr<Cosmos3Transformer> load(const Checkpoint& ck, const Cosmos3TransformerConfig& cfg);
  // Random weights (tests and benchmarks): uniform with this std, norm gains 1.
  static std::unique_ptr<Cosmos3Transformer> random(const Cosmos3TransformerConfig& cfg, uint64_t seed, float std);

  const Cosmos3TransformerConfig& config() const { return cfg_; }
  const Cosmos3TransformerWeights& weights() const { return w_; }
  // Includes the fp8 copies once set_fp8(true) has made them.
  size_t weight_bytes() const { return store_.bytes() + fp8_.bytes(); }

  // FP8 mode, the CPU twin of Cosmos3TransformerCuda::set_fp8: on = every linear of cosmos3_fp8_linears gets an
  // e4m3 copy with one scale per output channel (quantize_fp8_rows_cpu of the f32 weights, made on the first call
  // and kept), and linear_cpu runs its fp8 twin on them; off = the f32 weights again, bit for bit. Slower than f32
  // here (each call decodes the weight): it is there to measure what fp8 costs in fidelity and to check the CUDA path.
  // keep_source = false (the load option) gives the f32 weights of those linears back (WeightStore::release: the
  // fp8 twin never reads them); fp8 can then not be turned off again (ModelError). With cosmos3_fp8_attention the
  // gen stream's attention runs attention_fp8_cpu while fp8 is on.
  void set_fp8(bool on, bool keep_source = true);
  bool fp8() const { return fp8_on_; }

  // The und stream over n text tokens (ids; pos3 [3][n] float rows t, h, w): every layer's K/V for the gen stream.
  Cosmos3UndCache prefill_text(const int* ids, int n, const float* pos3);
  // The gen stream over one step's tokens against a prefilled text. The cache is only read.
  void forward_gen(const Cosmos3UndCache& und, const Cosmos3GenInputs& in, const Cosmos3GenOutputs& out);
  // The reference's joint pass (both streams layer by layer, no cache): pos3 [3][n_text + n_gen] covers the text
  // then the gen tokens; in.pos3 is ignored.
  void forward(const int* ids, int n_text, const float* pos3, const Cosmos3GenInputs& in, const Cosmos3GenOutputs& out);

  // Checked between layers; when set, the running call throws AbortedError.
  void set_abort_flag(const std::atomic<bool>* f) { abort_ = f; }
  void set_threads(int threads) { cpu_.threads = threads; }

 private:
  Cosmos3TransformerConfig cfg_;
  HostWeightStore store_;
  Cosmos3TransformerWeights w_;
  const std::atomic<bool>* abort_ = nullptr;
  CpuContext cpu_;
  Fp8CopiesCpu fp8_;  // set_fp8's copies, in cosmos3_fp8_linears' order
  bool fp8_on_ = false;
  bool fp8_sources_released_ = false;

  struct Stream;  // one stream's residual, normed input, rotary tables and scratch
  void check_abort() const {
    if (abort_ && abort_->load(std::memory_order_relaxed)) throw AbortedError();
  }
  void embed_text(Stream& s, const int* ids, int n, const float* pos3) const;
  void embed_gen(Stream& s, const Cosmos3GenInputs& in, const Cosmos3GenLayout& lay, const Cosmos3GenPlan& plan,
                 const float* pos3) const;
  void und_layer(Stream& s, int l, float* k, float* v, float* k_gen);
  void gen_layer(Stream& s, int l, const float* k_und, const float* v_und, int n_und);
  void decode_gen(const Stream& s, const Cosmos3GenInputs& in, const Cosmos3GenLayout& lay, const Cosmos3GenPlan& plan,
                  const Cosmos3GenOutputs& out) const;
};

}  // namespace cosmos
