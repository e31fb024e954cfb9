#include "cosmos3_transformer.h"

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <map>

#include "../core/config.h"
#include "../core/env.h"
#include "../ops/add_table_rows.h"
#include "../ops/domain_linear.h"
#include "../ops/embedding.h"
#include "../ops/patchify.h"
#include "../ops/rmsnorm.h"
#include "../ops/rope.h"
#include "../ops/silu.h"
#include "../ops/timestep_embedding.h"

namespace cosmos {

namespace {
const char* kWhere = "transformer config";

bool json_bool(const Json& c, const char* key, bool fallback) {
  const Json* v = c.get(key);
  if (!v || v->type == Json::Type::Null) return fallback;
  if (v->type != Json::Type::Bool) throw ModelError(std::string(kWhere) + "." + key + " must be true or false");
  return v->b;
}

float json_float(const Json& c, const char* key, float fallback) {
  const Json* v = c.get(key);
  if (!v || v->type == Json::Type::Null) return fallback;
  if (!v->is_num() || !(v->num > 0)) throw ModelError(std::string(kWhere) + "." + key + " must be a positive number");
  return (float)v->num;
}

// 3 non-negative integers (rope_axes_dim / rope_scaling.mrope_section).
void json_axes(const Json& a, const std::string& name, int* out) {
  if (!a.is_arr() || a.arr.size() != 3) throw ModelError(std::string(kWhere) + "." + name + " must hold 3 integers");
  for (int i = 0; i < 3; ++i) {
    const Json& e = a.arr[i];
    if (!e.is_num() || !e.is_integer || e.i64 < 0 || e.i64 > 4096)
      throw ModelError(std::string(kWhere) + "." + name + " must hold 3 non-negative integers");
    out[i] = (int)e.i64;
  }
}

void check_ascending(const int* idx, int n, int limit, const char* field) {
  if (n > 0 && !idx) throw ModelError(std::string("gen inputs: ") + field + " is missing");
  for (int i = 0; i < n; ++i)
    if (idx[i] < 0 || idx[i] >= limit || (i > 0 && idx[i] <= idx[i - 1]))
      throw ModelError(std::string("gen inputs: ") + field + "[" + std::to_string(i) + "] = " + std::to_string(idx[i]) +
                       " is not ascending within [0, " + std::to_string(limit) + ")");
}

void mlp_run(float* y, const float* x, const Cosmos3Mlp& m, int n, float* scratch, const CpuContext& ctx) {
  if (m.is_relu2)
    mlp_cpu(y, x, m.relu2, n, scratch, ctx);
  else
    mlp_cpu(y, x, m.swiglu, n, scratch, ctx);
}
size_t mlp_scratch(const Cosmos3Mlp& m, int n) {
  return m.is_relu2 ? mlp_scratch_floats(m.relu2, n) : mlp_scratch_floats(m.swiglu, n);
}
}  // namespace

Cosmos3TransformerConfig Cosmos3TransformerConfig::from_json(const std::string& text) {
  const Json c = parse_config_object(text);
  Cosmos3TransformerConfig k;
  k.vocab_size = config_positive_int(c, "vocab_size", kWhere, 151936);
  k.hidden_size = config_positive_int(c, "hidden_size", kWhere, 4096);
  k.intermediate_size = config_positive_int(c, "intermediate_size", kWhere, 12288);
  k.num_layers = config_positive_int(c, "num_hidden_layers", kWhere, 36);
  k.num_heads = config_positive_int(c, "num_attention_heads", kWhere, 32);
  k.num_kv_heads = config_positive_int(c, "num_key_value_heads", kWhere, 8);
  k.head_dim = config_positive_int(c, "head_dim", kWhere, 128);
  k.latent_channel = config_positive_int(c, "latent_channel", kWhere, 48);
  k.latent_patch_size = config_positive_int(c, "latent_patch_size", kWhere, 2);
  if (k.num_heads % k.num_kv_heads != 0)
    throw ModelError(std::string(kWhere) + ".num_attention_heads is not a multiple of num_key_value_heads");
  if (k.head_dim % 2 != 0) throw ModelError(std::string(kWhere) + ".head_dim must be even");
  const int pd = config_positive_int(c, "patch_latent_dim", kWhere, k.patch_dim());
  if (pd != k.patch_dim())
    throw ModelError(std::string(kWhere) + ".patch_latent_dim must be latent_patch_size^2 * latent_channel = " +
                     std::to_string(k.patch_dim()));
  k.rms_norm_eps = json_float(c, "rms_norm_eps", 1e-6f);
  k.rope_theta = json_float(c, "rope_theta", 5000000.f);
  k.timestep_scale = json_float(c, "timestep_scale", 0.001f);
  k.attention_bias = json_bool(c, "attention_bias", false);
  k.qk_norm_for_text = json_bool(c, "qk_norm_for_text", true);
  k.use_und_k_norm_for_gen = json_bool(c, "use_und_k_norm_for_gen", false);
  if (const Json* a = c.get("hidden_act"); a && a->type != Json::Type::Null) {
    if (!a->is_str() || (a->str != "silu" && a->str != "relu2"))
      throw ModelError(std::string(kWhere) + ".hidden_act must be \"silu\" or \"relu2\"");
    k.relu2 = a->str == "relu2";
  }
  // rope_axes_dim, else rope_scaling.mrope_section, else [24, 20, 20] (the reference's __init__).
  const Json* axes = c.get("rope_axes_dim");
  if (axes && axes->type != Json::Type::Null) {
    json_axes(*axes, "rope_axes_dim", k.rope_axes_dim);
  } else if (const Json* rs = c.get("rope_scaling"); rs && rs->is_obj() && rs->get("mrope_section")) {
    json_axes(*rs->get("mrope_section"), "rope_scaling.mrope_section", k.rope_axes_dim);
  }
  if (k.rope_axes_dim[0] + k.rope_axes_dim[1] + k.rope_axes_dim[2] != k.head_dim / 2)
    throw ModelError(std::string(kWhere) +
                     ".rope_axes_dim must sum to head_dim / 2 = " + std::to_string(k.head_dim / 2));
  k.action_gen = json_bool(c, "action_gen", false);
  k.sound_gen = json_bool(c, "sound_gen", false);
  k.num_embodiment_domains = config_positive_int(c, "num_embodiment_domains", kWhere, 32);
  if (k.action_gen) k.action_dim = config_positive_int(c, "action_dim", kWhere);
  if (k.sound_gen) k.sound_dim = config_positive_int(c, "sound_dim", kWhere);
  return k;
}

void cosmos3_transformer_bind(const Cosmos3TransformerConfig& cfg, WeightBinder& wb, Cosmos3TransformerWeights& w,
                              WeightBinder* f32) {
  const int64_t H = cfg.hidden_size, I = cfg.intermediate_size, V = cfg.vocab_size, D = cfg.head_dim;
  const int64_t QH = cfg.num_heads * D, KH = cfg.num_kv_heads * D, PD = cfg.patch_dim();
  const float eps = cfg.rms_norm_eps;
  auto norm = [&](const std::string& name, int64_t dim) { return RmsNorm{wb.param(name, {dim}), (int)dim, eps}; };
  auto bias = [&](const std::string& name) { return cfg.attention_bias ? name : std::string(); };
  auto mlp = [&](const std::string& p) {
    Cosmos3Mlp m;
    m.is_relu2 = cfg.relu2;
    if (cfg.relu2) {
      m.relu2.up = wb.linear(p + "up_proj.weight", {I, H});
      m.relu2.down = wb.linear(p + "down_proj.weight", {H, I});
    } else {
      m.swiglu.gate_up = wb.linear({{p + "gate_proj.weight", {I, H}, ""}, {p + "up_proj.weight", {I, H}, ""}});
      m.swiglu.down = wb.linear(p + "down_proj.weight", {H, I});
    }
    return m;
  };
  auto attention = [&](const std::string& p, const char* q, const char* k, const char* v, const char* o) {
    AttentionBlock a;
    a.qkv = wb.linear({{p + q + ".weight", {QH, H}, bias(p + q + ".bias")},
                       {p + k + ".weight", {KH, H}, bias(p + k + ".bias")},
                       {p + v + ".weight", {KH, H}, bias(p + v + ".bias")}});
    a.o = wb.linear(p + o + ".weight", {H, QH}, bias(p + o + ".bias"));
    a.heads = cfg.num_heads;
    a.kv_heads = cfg.num_kv_heads;
    a.head_dim = (int)D;
    a.eps = eps;
    return a;
  };
  bool bf16 = false;
  w.embed = wb.table("embed_tokens.weight", {V, H}, &bf16);
  w.embed_bf16 = bf16;
  w.layers.resize(cfg.num_layers);
  for (int l = 0; l < cfg.num_layers; ++l) {
    const std::string p = "layers." + std::to_string(l) + ".";
    const std::string a = p + "self_attn.";
    Cosmos3Layer& L = w.layers[l];
    L.in_ln = norm(p + "input_layernorm.weight", H);
    L.post_ln = norm(p + "post_attention_layernorm.weight", H);
    L.in_ln_gen = norm(p + "input_layernorm_moe_gen.weight", H);
    L.post_ln_gen = norm(p + "post_attention_layernorm_moe_gen.weight", H);
    L.und = attention(a, "to_q", "to_k", "to_v", "to_out");
    if (cfg.qk_norm_for_text) {
      L.und.q_norm = wb.param(a + "norm_q.weight", {D});
      L.und.k_norm = wb.param(a + "norm_k.weight", {D});
    } else if (cfg.use_und_k_norm_for_gen) {
      L.k_norm_und_for_gen = wb.param(a + "k_norm_und_for_gen.weight", {D});
    }
    L.gen = attention(a, "add_q_proj", "add_k_proj", "add_v_proj", "to_add_out");
    L.gen.q_norm = wb.param(a + "norm_added_q.weight", {D});
    L.gen.k_norm = wb.param(a + "norm_added_k.weight", {D});
    L.mlp = mlp(p + "mlp.");
    L.mlp_gen = mlp(p + "mlp_moe_gen.");
  }
  w.norm_gen = norm("norm_moe_gen.weight", H);
  w.proj_in = wb.linear("proj_in.weight", {H, PD}, "proj_in.bias");
  w.proj_out = wb.linear("proj_out.weight", {PD, H}, "proj_out.bias");
  const int64_t TC = Cosmos3TransformerConfig::kTimeChannels;
  WeightBinder& tb = f32 ? *f32 : wb;
  w.time_1 = tb.linear("time_embedder.linear_1.weight", {H, TC}, "time_embedder.linear_1.bias");
  w.time_2 = tb.linear("time_embedder.linear_2.weight", {H, H}, "time_embedder.linear_2.bias");
  if (cfg.sound_gen) {
    const int64_t S = cfg.sound_dim;
    w.audio_in = wb.linear("audio_proj_in.weight", {H, S}, "audio_proj_in.bias");
    w.audio_out = wb.linear("audio_proj_out.weight", {S, H}, "audio_proj_out.bias");
    w.audio_embed = wb.param("audio_modality_embed", {H});
  }
  if (cfg.action_gen) {
    const int64_t A = cfg.action_dim, ND = cfg.num_embodiment_domains;
    w.action_in_w = wb.param("action_proj_in.fc.weight", {ND, A * H});
    w.action_in_b = wb.param("action_proj_in.bias.weight", {ND, H});
    w.action_out_w = wb.param("action_proj_out.fc.weight", {ND, H * A});
    w.action_out_b = wb.param("action_proj_out.bias.weight", {ND, A});
    w.action_embed = wb.param("action_modality_embed", {H});
  }
}

Cosmos3GenLayout cosmos3_gen_layout(const Cosmos3TransformerConfig& cfg, const Cosmos3GenInputs& in) {
  Cosmos3GenLayout g;
  if (!in.latents) throw ModelError("gen inputs: latents are missing");
  if (in.T <= 0 || in.H <= 0 || in.W <= 0 || in.T > (1 << 16) || in.H > (1 << 16) || in.W > (1 << 16))
    throw ModelError("gen inputs: latents need positive T, H, W");
  const int p = cfg.latent_patch_size;
  g.hp = (in.H + p - 1) / p;
  g.wp = (in.W + p - 1) / p;
  g.per_frame = g.hp * g.wp;
  const long long nv = (long long)in.T * g.per_frame;
  if (nv > (1 << 24)) throw ModelError("gen inputs: latents make more than 2^24 tokens");
  g.n_vision = (int)nv;
  check_ascending(in.vision_noisy_frames, in.n_vision_noisy, in.T, "vision_noisy_frames");
  g.n_vision_noisy_tokens = in.n_vision_noisy * g.per_frame;
  if (in.n_vision_noisy > 0 && !in.vision_timesteps) throw ModelError("gen inputs: vision_timesteps are missing");
  if (in.sound) {
    if (!cfg.sound_gen) throw ModelError("gen inputs: sound given but the transformer config has no sound_gen");
    if (in.sound_len <= 0) throw ModelError("gen inputs: sound_len must be positive");
    check_ascending(in.sound_noisy, in.n_sound_noisy, in.sound_len, "sound_noisy");
    if (in.n_sound_noisy > 0 && !in.sound_timesteps) throw ModelError("gen inputs: sound_timesteps are missing");
    g.n_sound = in.sound_len;
  }
  if (in.action) {
    if (!cfg.action_gen) throw ModelError("gen inputs: action given but the transformer config has no action_gen");
    if (in.action_len <= 0) throw ModelError("gen inputs: action_len must be positive");
    if (in.domain_id < 0 || in.domain_id >= cfg.num_embodiment_domains)
      throw ModelError("gen inputs: domain_id " + std::to_string(in.domain_id) + " is outside [0, " +
                       std::to_string(cfg.num_embodiment_domains) + ")");
    check_ascending(in.action_noisy, in.n_action_noisy, in.action_len, "action_noisy");
    if (in.n_action_noisy > 0 && !in.action_timesteps) throw ModelError("gen inputs: action_timesteps are missing");
    g.n_action = in.action_len;
  }
  g.n_gen = g.n_vision + g.n_sound + g.n_action;
  return g;
}

Cosmos3GenPlan cosmos3_gen_plan(const Cosmos3TransformerConfig& c, const Cosmos3GenInputs& in,
                                const Cosmos3GenLayout& g) {
  Cosmos3GenPlan p;
  std::map<float, int> index;
  // Timestep rows: the reference embeds every noisy token's timestep; equal timesteps give equal rows, so
  // each distinct value is embedded once (a step has one, or one per frame).
  auto add = [&](int row0, const int* tokens, int n_tokens, int per_token_rows, const float* t) {
    for (int i = 0; i < n_tokens; ++i)
      for (int r = 0; r < per_token_rows; ++r) {
        const float ts = t[i * per_token_rows + r] * c.timestep_scale;
        auto it = index.find(ts);
        if (it == index.end()) it = index.emplace(ts, (int)p.t_values.size()).first, p.t_values.push_back(ts);
        p.t_rows.push_back(row0 + tokens[i] * per_token_rows + r);
        p.t_idx.push_back(it->second);
      }
  };
  add(0, in.vision_noisy_frames, in.n_vision_noisy, g.per_frame, in.vision_timesteps);
  if (g.n_sound > 0) {
    const int S = c.sound_dim, T = in.sound_len;
    add(g.n_vision, in.sound_noisy, in.n_sound_noisy, 1, in.sound_timesteps);
    p.sound_tokens.resize((size_t)T * S);
    for (int t = 0; t < T; ++t)
      for (int ch = 0; ch < S; ++ch) p.sound_tokens[(size_t)t * S + ch] = in.sound[(size_t)ch * T + t];
    for (int t = 0; t < T; ++t) p.sound_rows.push_back(g.n_vision + t);
    p.sound_zeros.assign(T, 0);
    for (int i = 0; i < in.n_sound_noisy; ++i) p.sound_out_rows.push_back(g.n_vision + in.sound_noisy[i]);
  }
  if (g.n_action > 0) {
    const int row0 = g.n_vision + g.n_sound;
    add(row0, in.action_noisy, in.n_action_noisy, 1, in.action_timesteps);
    for (int i = 0; i < in.n_action_noisy; ++i) p.action_out_rows.push_back(row0 + in.action_noisy[i]);
    p.action_domains.assign(std::max(in.action_len, 1), in.domain_id);
  }
  return p;
}

void cosmos3_scatter_sound(float* sound, const float* pred, const Cosmos3GenInputs& in, int sound_dim) {
  const int T = in.sound_len;
  for (int i = 0; i < in.n_sound_noisy; ++i)
    for (int ch = 0; ch < sound_dim; ++ch) sound[(size_t)ch * T + in.sound_noisy[i]] = pred[(size_t)i * sound_dim + ch];
}

void cosmos3_scatter_action(float* action, const float* pred, const Cosmos3GenInputs& in, int action_dim) {
  for (int i = 0; i < in.n_action_noisy; ++i)
    std::memcpy(action + (size_t)in.action_noisy[i] * action_dim, pred + (size_t)i * action_dim,
                sizeof(float) * action_dim);
}

// One stream's state through the layers: x the residual, h the normed input of the next piece (then that
// piece's output), the rotary tables of its tokens, and one scratch for the attention and the MLP in turn.
struct Cosmos3Transformer::Stream {
  int n = 0;
  std::vector<float> x, h, cos, sin, scratch;
  void init(const Cosmos3TransformerConfig& c, const Cosmos3Layer& L, int tokens, bool und) {
    n = tokens;
    x.assign((size_t)n * c.hidden_size, 0.f);
    h.assign((size_t)n * c.hidden_size, 0.f);
    cos.resize((size_t)n * c.head_dim);
    sin.resize((size_t)n * c.head_dim);
    const AttentionBlock& a = und ? L.und : L.gen;
    scratch.resize(std::max(attention_scratch_floats(a, n, und), mlp_scratch(und ? L.mlp : L.mlp_gen, n)));
  }
};

std::unique_ptr<Cosmos3Transformer> Cosmos3Transformer::load(const Checkpoint& ck,
                                                             const Cosmos3TransformerConfig& cfg) {
  auto m = std::unique_ptr<Cosmos3Transformer>(new Cosmos3Transformer());
  m->cfg_ = cfg;
  WeightBinder wb(ck, m->store_, "transformer config");
  cosmos3_transformer_bind(cfg, wb, m->w_);
  return m;
}

std::unique_ptr<Cosmos3Transformer> Cosmos3Transformer::random(const Cosmos3TransformerConfig& cfg, uint64_t seed,
                                                               float std) {
  auto m = std::unique_ptr<Cosmos3Transformer>(new Cosmos3Transformer());
  m->cfg_ = cfg;
  WeightBinder wb(seed, std, m->store_), time(seed + kCosmos3TimeSeedOffset, std, m->store_);
  cosmos3_transformer_bind(cfg, wb, m->w_, &time);
  return m;
}

std::vector<Linear*> cosmos3_fp8_linears(Cosmos3TransformerWeights& w) {
  std::vector<Linear*> out;
  for (Cosmos3Layer& L : w.layers) {
    Cosmos3Mlp& m = L.mlp_gen;
    for (Linear* l : {&L.gen.qkv, &L.gen.o, m.is_relu2 ? &m.relu2.up : &m.swiglu.gate_up,
                      m.is_relu2 ? &m.relu2.down : &m.swiglu.down})
      out.push_back(l);
  }
  return out;
}

bool cosmos3_fp8_norm() { return env_switch("COSMOS_FP8_NORM", true); }  // read at every layer: tests switch it

bool cosmos3_fp8_attention() { return env_switch("COSMOS_FP8_ATTENTION", false); }

void Cosmos3Transformer::set_fp8(bool on, bool keep_source) {
  if (!on && fp8_sources_released_)
    throw ModelError("set_fp8(false): the f32 weights of the fp8 linears were given back when fp8 was turned on");
  if (on && fp8_.empty()) fp8_.make(cosmos3_fp8_linears(w_));
  fp8_.attach(on);
  fp8_on_ = on && !fp8_.empty();
  if (fp8_on_ && !keep_source && !fp8_sources_released_) {
    for (Fp8CopiesCpu::Copy& f : fp8_.copies()) {
      store_.release(f.l->w);
      f.l->w = nullptr;  // linear_cpu's fp8 path reads w8 alone
    }
    fp8_sources_released_ = true;
  }
}

void cosmos3_check_text(const Cosmos3TransformerConfig& c, const int* ids, int n, const float* pos3) {
  if (n <= 0 || !ids) throw ModelError("text: at least one token id is needed");
  if (!pos3) throw ModelError("text: position ids are missing");
  for (int i = 0; i < n; ++i)
    if (ids[i] < 0 || ids[i] >= c.vocab_size)
      throw ModelError("text: token id " + std::to_string(ids[i]) + " at row " + std::to_string(i) +
                       " is outside the vocabulary [0, " + std::to_string(c.vocab_size) + ")");
}

void Cosmos3Transformer::embed_text(Stream& s, const int* ids, int n, const float* pos3) const {
  const Cosmos3TransformerConfig& c = cfg_;
  cosmos3_check_text(c, ids, n, pos3);
  embedding_cpu(s.x.data(), static_cast<const float*>(w_.embed), ids, n, c.hidden_size);
  mrope_tables_cpu(s.cos.data(), s.sin.data(), pos3, n, c.head_dim, c.rope_theta, c.rope_axes_dim, true);
  norm_cpu(s.h.data(), s.x.data(), w_.layers[0].in_ln, n);
}

void Cosmos3Transformer::embed_gen(Stream& s, const Cosmos3GenInputs& in, const Cosmos3GenLayout& g,
                                   const Cosmos3GenPlan& plan, const float* pos3) const {
  const Cosmos3TransformerConfig& c = cfg_;
  const int H = c.hidden_size, PD = c.patch_dim();
  if (!pos3) throw ModelError("gen inputs: position ids are missing");
  float* X = s.x.data();
  {  // vision: patchify, proj_in
    std::vector<float> tokens((size_t)g.n_vision * PD);
    patchify_cpu(tokens.data(), in.latents, c.latent_channel, in.T, in.H, in.W, c.latent_patch_size);
    linear_cpu(X, tokens.data(), w_.proj_in, g.n_vision, cpu_);
  }
  if (g.n_sound > 0) {  // audio_proj_in + audio_modality_embed
    linear_cpu(X + (size_t)g.n_vision * H, plan.sound_tokens.data(), w_.audio_in, g.n_sound, cpu_);
    add_table_rows_cpu(X, plan.sound_rows.data(), w_.audio_embed, plan.sound_zeros.data(), g.n_sound, H);
  }
  if (g.n_action > 0)  // DomainAwareLinear + action_modality_embed
    domain_linear_cpu(X + (size_t)(g.n_vision + g.n_sound) * H, in.action, w_.action_in_w, w_.action_in_b,
                      w_.action_embed, plan.action_domains.data(), g.n_action, c.action_dim, H);
  // time_embedder(time_proj(t * timestep_scale)) added to the noisy tokens' rows, after their modality's
  // projection and embedding, as the reference's scatter_add.
  const int u = (int)plan.t_values.size();
  if (u > 0) {
    const int TC = Cosmos3TransformerConfig::kTimeChannels;
    std::vector<float> sinusoid((size_t)u * TC), hidden((size_t)u * H), table((size_t)u * H);
    timestep_sinusoid_cpu(sinusoid.data(), plan.t_values.data(), u, TC);
    linear_cpu(hidden.data(), sinusoid.data(), w_.time_1, u, cpu_);
    silu_cpu(hidden.data(), (long long)u * H);
    linear_cpu(table.data(), hidden.data(), w_.time_2, u, cpu_);
    add_table_rows_cpu(X, plan.t_rows.data(), table.data(), plan.t_idx.data(), (int)plan.t_rows.size(), H);
  }
  mrope_tables_cpu(s.cos.data(), s.sin.data(), pos3, g.n_gen, c.head_dim, c.rope_theta, c.rope_axes_dim, true);
  norm_cpu(s.h.data(), X, w_.layers[0].in_ln_gen, g.n_gen);
}

// The und stream through layer l. Its keys and values go to k / v (the stream's own causal attention reads
// them there); k_gen, when the layer has k_norm_und_for_gen, gets the keys as the gen stream sees them.
// After the last layer's attention nothing of the und stream reaches an output, so its MLP is skipped.
void Cosmos3Transformer::und_layer(Stream& s, int l, float* k, float* v, float* k_gen) {
  const Cosmos3TransformerConfig& c = cfg_;
  const Cosmos3Layer& L = w_.layers[l];
  const int n = s.n, D = c.head_dim, QH = c.num_heads * D, KH = c.num_kv_heads * D;
  if (L.k_norm_und_for_gen) {  // from the same un-normed projection the attention makes, before h is overwritten
    linear_cpu(k_gen, s.h.data(), L.und.qkv.rows(QH, KH), n, cpu_);
    rmsnorm_cpu(k_gen, k_gen, L.k_norm_und_for_gen, n * c.num_kv_heads, D, c.rms_norm_eps);
    rope_apply_cpu(k_gen, s.cos.data(), s.sin.data(), n, c.num_kv_heads, D);
  }
  KvCache cache{k, v, n, 0};
  AttentionCall call;
  call.n = n;
  call.cos = s.cos.data();
  call.sin = s.sin.data();
  call.causal = true;
  call.cache = &cache;
  attention_block_cpu(s.h.data(), s.h.data(), L.und, call, s.scratch.data(), cpu_);
  if (l + 1 == c.num_layers) return;
  add_norm_cpu(s.h.data(), s.x.data(), s.h.data(), L.post_ln, n);
  mlp_run(s.h.data(), s.h.data(), L.mlp, n, s.scratch.data(), cpu_);
  add_norm_cpu(s.h.data(), s.x.data(), s.h.data(), w_.layers[l + 1].in_ln, n);
}

// The gen stream through layer l: full attention over [und keys | own keys], its MLP, and the next layer's
// input norm (after the last layer: norm_moe_gen, so h is then the stream's output).
void Cosmos3Transformer::gen_layer(Stream& s, int l, const float* k_und, const float* v_und, int n_und) {
  const Cosmos3Layer& L = w_.layers[l];
  const int n = s.n;
  AttentionCall call;
  call.n = n;
  call.cos = s.cos.data();
  call.sin = s.sin.data();
  call.causal = false;
  call.extra = ExtraKv{k_und, v_und, n_und};
  call.fp8_attention = fp8_on_ && cosmos3_fp8_attention();
  attention_block_cpu(s.h.data(), s.h.data(), L.gen, call, s.scratch.data(), cpu_);
  add_norm_cpu(s.h.data(), s.x.data(), s.h.data(), L.post_ln_gen, n);
  mlp_run(s.h.data(), s.h.data(), L.mlp_gen, n, s.scratch.data(), cpu_);
  const RmsNorm& next = l + 1 < cfg_.num_layers ? w_.layers[l + 1].in_ln_gen : w_.norm_gen;
  add_norm_cpu(s.h.data(), s.x.data(), s.h.data(), next, n);
}

void Cosmos3Transformer::decode_gen(const Stream& s, const Cosmos3GenInputs& in, const Cosmos3GenLayout& g,
                                    const Cosmos3GenPlan& plan, const Cosmos3GenOutputs& out) const {
  const Cosmos3TransformerConfig& c = cfg_;
  const int H = c.hidden_size, PD = c.patch_dim();
  const float* Y = s.h.data();  // norm_moe_gen of the gen stream
  if (!out.vision) throw ModelError("gen outputs: the vision buffer is missing");
  if (g.n_sound > 0 && !out.sound) throw ModelError("gen outputs: the sound buffer is missing");
  if (g.n_action > 0 && !out.action) throw ModelError("gen outputs: the action buffer is missing");
  std::fill(out.vision, out.vision + (size_t)c.latent_channel * in.T * in.H * in.W, 0.f);
  if (g.n_vision_noisy_tokens > 0) {  // proj_out on each noisy frame's tokens (contiguous rows), then unpatchify
    std::vector<float> tokens((size_t)g.n_vision_noisy_tokens * PD);
    for (int f = 0; f < in.n_vision_noisy; ++f)
      linear_cpu(tokens.data() + (size_t)f * g.per_frame * PD, Y + (size_t)in.vision_noisy_frames[f] * g.per_frame * H,
                 w_.proj_out, g.per_frame, cpu_);
    unpatchify_cpu(out.vision, tokens.data(), in.vision_noisy_frames, in.n_vision_noisy, c.latent_channel, in.T, in.H,
                   in.W, c.latent_patch_size);
  }
  // The noisy rows of one modality gathered (embedding_cpu is a row gather), as the reference reads
  // last_hidden_state[mse_loss_indexes].
  auto gather = [&](const std::vector<int>& rows) {
    std::vector<float> h(rows.size() * H);
    embedding_cpu(h.data(), Y, rows.data(), (int)rows.size(), H);
    return h;
  };
  if (g.n_sound > 0) {
    const int S = c.sound_dim, T = in.sound_len, n = in.n_sound_noisy;
    std::fill(out.sound, out.sound + (size_t)S * T, 0.f);
    if (n > 0) {
      std::vector<float> pred((size_t)n * S);
      linear_cpu(pred.data(), gather(plan.sound_out_rows).data(), w_.audio_out, n, cpu_);
      cosmos3_scatter_sound(out.sound, pred.data(), in, S);
    }
  }
  if (g.n_action > 0) {
    const int A = c.action_dim, n = in.n_action_noisy;
    std::fill(out.action, out.action + (size_t)in.action_len * A, 0.f);
    if (n > 0) {
      std::vector<float> pred((size_t)n * A);
      domain_linear_cpu(pred.data(), gather(plan.action_out_rows).data(), w_.action_out_w, w_.action_out_b, nullptr,
                        plan.action_domains.data(), n, H, A);
      cosmos3_scatter_action(out.action, pred.data(), in, A);
    }
  }
}

Cosmos3UndCache Cosmos3Transformer::prefill_text(const int* ids, int n, const float* pos3) {
  const Cosmos3TransformerConfig& c = cfg_;
  const size_t kv = (size_t)std::max(n, 0) * c.num_kv_heads * c.head_dim;
  Stream s;
  s.init(c, w_.layers[0], std::max(n, 1), true);
  embed_text(s, ids, n, pos3);
  Cosmos3UndCache cache;
  cache.n = n;
  cache.k.resize(c.num_layers);
  cache.v.resize(c.num_layers);
  std::vector<float> own_k;  // the und stream's own keys, when the gen stream sees differently normed ones
  for (int l = 0; l < c.num_layers; ++l) {
    check_abort();
    cache.k[l].resize(kv);
    cache.v[l].resize(kv);
    const bool separate = w_.layers[l].k_norm_und_for_gen != nullptr;
    if (separate) own_k.resize(kv);
    und_layer(s, l, separate ? own_k.data() : cache.k[l].data(), cache.v[l].data(), cache.k[l].data());
  }
  return cache;
}

void Cosmos3Transformer::forward_gen(const Cosmos3UndCache& und, const Cosmos3GenInputs& in,
                                     const Cosmos3GenOutputs& out) {
  const Cosmos3TransformerConfig& c = cfg_;
  const size_t kv = (size_t)und.n * c.num_kv_heads * c.head_dim;
  if (und.n <= 0 || (int)und.k.size() != c.num_layers || (int)und.v.size() != c.num_layers)
    throw ModelError("gen: the text cache does not come from this transformer's prefill_text");
  for (int l = 0; l < c.num_layers; ++l)
    if (und.k[l].size() != kv || und.v[l].size() != kv)
      throw ModelError("gen: the text cache's layer " + std::to_string(l) + " does not hold " + std::to_string(und.n) +
                       " tokens");
  const Cosmos3GenLayout g = cosmos3_gen_layout(c, in);
  const Cosmos3GenPlan plan = cosmos3_gen_plan(c, in, g);
  Stream s;
  s.init(c, w_.layers[0], g.n_gen, false);
  embed_gen(s, in, g, plan, in.pos3);
  for (int l = 0; l < c.num_layers; ++l) {
    check_abort();
    gen_layer(s, l, und.k[l].data(), und.v[l].data(), und.n);
  }
  decode_gen(s, in, g, plan, out);
}

void Cosmos3Transformer::forward(const int* ids, int n_text, const float* pos3, const Cosmos3GenInputs& in,
                                 const Cosmos3GenOutputs& out) {
  const Cosmos3TransformerConfig& c = cfg_;
  const Cosmos3GenLayout g = cosmos3_gen_layout(c, in);
  const Cosmos3GenPlan plan = cosmos3_gen_plan(c, in, g);
  if (!pos3) throw ModelError("position ids are missing");
  if (n_text <= 0) throw ModelError("text: at least one token id is needed");
  // Split the joint [3][n_text + n_gen] position rows into the two streams' [3][n] rows.
  const int total = n_text + g.n_gen;
  std::vector<float> pos_und((size_t)3 * n_text), pos_gen((size_t)3 * g.n_gen);
  for (int a = 0; a < 3; ++a) {
    std::memcpy(pos_und.data() + (size_t)a * n_text, pos3 + (size_t)a * total, sizeof(float) * n_text);
    std::memcpy(pos_gen.data() + (size_t)a * g.n_gen, pos3 + (size_t)a * total + n_text, sizeof(float) * g.n_gen);
  }
  Stream su, sg;
  su.init(c, w_.layers[0], n_text, true);
  sg.init(c, w_.layers[0], g.n_gen, false);
  embed_text(su, ids, n_text, pos_und.data());
  embed_gen(sg, in, g, plan, pos_gen.data());
  const size_t kv = (size_t)n_text * c.num_kv_heads * c.head_dim;
  std::vector<float> k(kv), v(kv), k_gen(kv);
  for (int l = 0; l < c.num_layers; ++l) {
    check_abort();
    und_layer(su, l, k.data(), v.data(), k_gen.data());
    gen_layer(sg, l, w_.layers[l].k_norm_und_for_gen ? k_gen.data() : k.data(), v.data(), n_text);
  }
  decode_gen(sg, in, g, plan, out);
}

}  // namespace cosmos
