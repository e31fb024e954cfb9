#include "qwen3_text.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>

#include "../core/config.h"
#include "../core/env.h"
#include "../ops/add.h"
#include "../ops/embedding.h"
#include "../ops/rope.h"
#include "../ops/scatter_add_rows.h"

namespace cosmos {

namespace {
int req_int(const Json& o, const char* key, const char* where) { return config_positive_int(o, key, where); }
}  // namespace

Qwen3TextConfig Qwen3TextConfig::from_json(const std::string& text) {
  const Json root = parse_config_object(text);
  const Json* tc = root.get("text_config");
  const Json& c = (tc && tc->is_obj()) ? *tc : root;
  const char* w = (tc && tc->is_obj()) ? "text_config" : "config";
  Qwen3TextConfig k;
  k.vocab_size = req_int(c, "vocab_size", w);
  k.hidden_size = req_int(c, "hidden_size", w);
  k.intermediate_size = req_int(c, "intermediate_size", w);
  k.num_layers = req_int(c, "num_hidden_layers", w);
  k.num_heads = req_int(c, "num_attention_heads", w);
  k.num_kv_heads = c.get("num_key_value_heads") ? req_int(c, "num_key_value_heads", w) : k.num_heads;
  k.head_dim = c.get("head_dim") ? req_int(c, "head_dim", w) : k.hidden_size / k.num_heads;
  if (k.num_heads % k.num_kv_heads != 0)
    throw ModelError(std::string(w) + ": num_attention_heads is not a multiple of num_key_value_heads");
  if (k.head_dim % 2 != 0) throw ModelError(std::string(w) + ".head_dim must be even");
  if (const Json* e = c.get("rms_norm_eps"); e && e->is_num()) k.rms_norm_eps = (float)e->num;
  // transformers 5 puts rope settings in rope_parameters; 4.x used rope_scaling + rope_theta.
  const Json* rp = c.get("rope_parameters");
  if (!rp || !rp->is_obj()) rp = c.get("rope_scaling");
  if (const Json* t = c.get("rope_theta"); t && t->is_num()) k.rope_theta = (float)t->num;
  int half = k.head_dim / 2;
  k.mrope_section[0] = half;  // default: plain 1D rope (all frequencies on the t row)
  if (rp && rp->is_obj()) {
    if (const Json* t = rp->get("rope_theta"); t && t->is_num()) k.rope_theta = (float)t->num;
    // "mrope" (Qwen2-VL era configs, also under the key "type") means the same default frequencies.
    const Json* ty = rp->get("rope_type");
    if (!ty) ty = rp->get("type");
    if (ty && ty->is_str() && ty->str != "default" && ty->str != "mrope")
      throw ModelError(std::string(w) + ".rope_parameters.rope_type '" + ty->str +
                       "' is not supported (only 'default')");
    if (const Json* s = rp->get("mrope_section"); s && s->is_arr()) {
      if (s->arr.size() != 3) throw ModelError(std::string(w) + ".rope_parameters.mrope_section must have 3 entries");
      int sum = 0;
      for (int i = 0; i < 3; ++i) {
        if (!s->arr[i].is_num() || !s->arr[i].is_integer || s->arr[i].i64 < 0)
          throw ModelError("mrope_section entries must be non-negative integers");
        k.mrope_section[i] = (int)s->arr[i].i64;
        sum += k.mrope_section[i];
      }
      if (sum != half) throw ModelError("mrope_section must sum to head_dim/2 = " + std::to_string(half));
    }
    if (const Json* il = rp->get("mrope_interleaved"); il && il->type == Json::Type::Bool) k.mrope_interleaved = il->b;
  }
  if (const Json* t = c.get("tie_word_embeddings"); t && t->type == Json::Type::Bool)
    k.tie_word_embeddings = t->b;
  else if (const Json* t2 = root.get("tie_word_embeddings"); t2 && t2->type == Json::Type::Bool)
    k.tie_word_embeddings = t2->b;
  return k;
}

void qwen3_text_bind(const Qwen3TextConfig& cfg, WeightBinder& wb, Qwen3TextWeights& w) {
  std::string pre;
  if (wb.has("model.language_model.embed_tokens.weight"))
    pre = "model.language_model.";
  else if (wb.has("model.embed_tokens.weight"))
    pre = "model.";
  else
    throw ModelError(
        "checkpoint has neither model.language_model.embed_tokens.weight (Qwen3-VL) nor model.embed_tokens.weight "
        "(Qwen3)");
  const int64_t H = cfg.hidden_size, I = cfg.intermediate_size, V = cfg.vocab_size, D = cfg.head_dim;
  const int64_t QH = cfg.num_heads * D, KH = cfg.num_kv_heads * D;
  const float eps = cfg.rms_norm_eps;
  w.embed = wb.table(pre + "embed_tokens.weight", {V, H}, &w.embed_bf16);
  w.norm = RmsNorm{wb.param(pre + "norm.weight", {H}), (int)H, eps};
  if (wb.has("lm_head.weight")) {
    w.lm_head = wb.linear("lm_head.weight", {V, H});
  } else if (!cfg.tie_word_embeddings) {
    throw ModelError("checkpoint has no lm_head.weight and tie_word_embeddings is false");
  } else if (w.embed_bf16 == (wb.store().matmul_type() == WType::BF16)) {
    // Tied, and the table is already in the matmul dtype: the same matrix serves both.
    w.lm_head = Linear{w.embed, wb.store().matmul_type(), nullptr, (int)H, (int)V};
  } else {
    w.lm_head = wb.linear(pre + "embed_tokens.weight", {V, H});  // a copy in the matmul dtype
  }
  w.layers.resize(cfg.num_layers);
  for (int l = 0; l < cfg.num_layers; ++l) {
    const std::string p = pre + "layers." + std::to_string(l) + ".";
    Qwen3DecoderLayer& L = w.layers[l];
    L.in_ln = RmsNorm{wb.param(p + "input_layernorm.weight", {H}), (int)H, eps};
    L.post_ln = RmsNorm{wb.param(p + "post_attention_layernorm.weight", {H}), (int)H, eps};
    AttentionBlock& a = L.attn;
    a.qkv = wb.linear({{p + "self_attn.q_proj.weight", {QH, H}, ""},
                       {p + "self_attn.k_proj.weight", {KH, H}, ""},
                       {p + "self_attn.v_proj.weight", {KH, H}, ""}});
    a.o = wb.linear(p + "self_attn.o_proj.weight", {H, QH});
    a.q_norm = wb.param(p + "self_attn.q_norm.weight", {D});
    a.k_norm = wb.param(p + "self_attn.k_norm.weight", {D});
    a.heads = cfg.num_heads;
    a.kv_heads = cfg.num_kv_heads;
    a.head_dim = (int)D;
    a.eps = eps;
    // Prefill's q|k|v as one GEMM: k and v alone are 1024 columns wide, a quarter of an H200's SMs' worth of tiles
    // at 910 rows (0.033 ms each at ~230 TFLOP/s against q's 0.055 at ~550); the price is one n x heads*hd copy of q.
    a.fused_prefill_gemm = true;
    L.mlp.gate_up = wb.linear({{p + "mlp.gate_proj.weight", {I, H}, ""}, {p + "mlp.up_proj.weight", {I, H}, ""}});
    L.mlp.down = wb.linear(p + "mlp.down_proj.weight", {H, I});
  }
}

std::unique_ptr<Qwen3Text> Qwen3Text::load(const Checkpoint& ck, const Qwen3TextConfig& cfg) {
  auto m = std::unique_ptr<Qwen3Text>(new Qwen3Text());
  m->cfg_ = cfg;
  WeightBinder wb(ck, m->store_);
  qwen3_text_bind(cfg, wb, m->w_);
  m->cache_.resize(cfg.num_layers);
  if (qwen3_fp8_weights_requested())
    m->set_fp8_weights(true, false);
  else if (qwen3_fp8_prefill_requested())
    m->set_fp8_prefill(true);
  return m;
}

bool qwen3_fp8_prefill_requested() { return env_switch("COSMOS_FP8_PREFILL", false); }

bool qwen3_fp8_weights_requested() { return env_switch("COSMOS_FP8_WEIGHTS", false); }

std::vector<Linear*> qwen3_fp8_linears(Qwen3TextWeights& w) {
  std::vector<Linear*> ls;
  for (Qwen3DecoderLayer& L : w.layers)
    for (Linear* l : {&L.attn.qkv, &L.attn.o, &L.mlp.gate_up, &L.mlp.down}) ls.push_back(l);
  return ls;
}

void Qwen3Text::set_fp8_prefill(bool on) {
  if (on && fp8_.empty()) fp8_.make(qwen3_fp8_linears(w_));
  fp8_prefill_ = on;
}

void Qwen3Text::set_fp8_weights(bool on, bool keep_source) {
  if (!on && fp8_sources_released_)
    throw ModelError("set_fp8_weights(false): the f32 weights were given back when fp8 weights were turned on");
  if (on && fp8_.empty()) fp8_.make(qwen3_fp8_linears(w_));
  fp8_.attach(on);
  fp8_weights_ = on;
  if (on && !keep_source && !fp8_sources_released_) {
    for (Fp8CopiesCpu::Copy& c : fp8_.copies()) {
      store_.release(c.l->w);
      c.l->w = nullptr;  // linear_cpu's fp8 paths read w8 alone
    }
    fp8_sources_released_ = true;
  }
}

void Qwen3Text::reset() {
  n_past_ = 0;
  next_pos_ = 0;
}

void Qwen3Text::ensure_capacity(int tokens) {
  if (tokens <= capacity_) return;
  int cap = std::max(tokens, std::max(256, capacity_ * 2));
  size_t row = (size_t)cfg_.num_kv_heads * cfg_.head_dim * sizeof(float);
  for (auto& C : cache_) {
    Buffer k(row * cap), v(row * cap);
    if (n_past_ > 0) {
      std::memcpy(k.data(), C.k.data(), row * n_past_);
      std::memcpy(v.data(), C.v.data(), row * n_past_);
    }
    C.k = std::move(k);
    C.v = std::move(v);
  }
  capacity_ = cap;
}

void Qwen3Text::prefill(const int* ids, int n, const int* pos3, const VisualInputs* vis, float* logits,
                        bool all_logits) {
  if (n <= 0) throw ModelError("prefill needs at least one token");
  forward(ids, n, pos3, vis, logits, all_logits);
}

void Qwen3Text::decode(int id, float* logits) {
  int p3[3] = {next_pos_, next_pos_, next_pos_};
  forward(&id, 1, p3, nullptr, logits, false);
}

void Qwen3Text::forward(const int* ids, int n, const int* pos3, const VisualInputs* vis, float* logits,
                        bool all_logits) {
  const Qwen3TextConfig& c = cfg_;
  const int H = c.hidden_size, V = c.vocab_size, D = c.head_dim;
  for (int i = 0; i < n; ++i)
    if (ids[i] < 0 || ids[i] >= V)
      throw ModelError("token id " + std::to_string(ids[i]) + " at row " + std::to_string(i) +
                       " is outside the vocabulary [0, " + std::to_string(V) + ")");
  if (vis) {
    if (vis->n_rows < 0 || (vis->n_rows > 0 && !vis->rows)) throw ModelError("visual rows missing");
    for (int r = 0; r < vis->n_rows; ++r)
      if (vis->rows[r] < 0 || vis->rows[r] >= n)
        throw ModelError("visual row " + std::to_string(vis->rows[r]) + " is outside the prompt (" + std::to_string(n) +
                         " tokens)");
    if ((int)vis->deepstack.size() > c.num_layers) throw ModelError("more deepstack features than decoder layers");
    if (vis->on_device) throw ModelError("the CPU decoder takes visual inputs in host memory, not GPU memory");
  }
  check_abort();
  ensure_capacity(n_past_ + n);

  // x: the residual stream; h: the normed input of the next layer piece, then that piece's output.
  // One scratch serves the attention and the MLP in turn.
  const Qwen3DecoderLayer& L0 = w_.layers[0];
  std::vector<float> x((size_t)n * H), h((size_t)n * H), cs((size_t)n * D), sn((size_t)n * D);
  std::vector<float> scratch(std::max(attention_scratch_floats(L0.attn, n, true), mlp_scratch_floats(L0.mlp, n)));
  float *X = x.data(), *Hh = h.data();

  embedding_cpu(X, static_cast<const float*>(w_.embed), ids, n, H);
  if (vis && vis->embeds)
    for (int r = 0; r < vis->n_rows; ++r)
      std::memcpy(X + (size_t)vis->rows[r] * H, vis->embeds + (size_t)r * H, sizeof(float) * H);
  mrope_tables_cpu(cs.data(), sn.data(), pos3, n, D, c.rope_theta, c.mrope_section, c.mrope_interleaved);

  // A prefill's layers only (with set_fp8_weights the copies stay attached anyway).
  Fp8Attached<Fp8CopiesCpu> fp8(fp8_, fp8_prefill_ && !fp8_weights_ && n > kQwen3Fp8PrefillMinRows);
  norm_cpu(Hh, X, L0.in_ln, n);
  for (int l = 0; l < c.num_layers; ++l) {
    check_abort();
    const Qwen3DecoderLayer& L = w_.layers[l];
    KvCache cache{static_cast<float*>(cache_[l].k.data()), static_cast<float*>(cache_[l].v.data()), capacity_, n_past_};
    AttentionCall call;
    call.n = n;
    call.cos = cs.data();
    call.sin = sn.data();
    call.causal = true;
    call.cache = &cache;
    attention_block_cpu(Hh, Hh, L.attn, call, scratch.data(), cpu_);
    const bool last = l + 1 == c.num_layers;
    const bool deepstack = vis && l < (int)vis->deepstack.size() && vis->deepstack[l] && vis->n_rows > 0;
    if (last && !all_logits && n > 1 && !deepstack) {
      // One logits row: after the last layer's attention (every row's keys and values are in the cache) only the last
      // row is read, so its MLP and the final norm run on that row alone (as Qwen3TextCuda::layers_forward).
      float* x1 = X + (size_t)(n - 1) * H;
      float* h1 = Hh + (size_t)(n - 1) * H;
      add_norm_cpu(h1, x1, h1, L.post_ln, 1);
      mlp_cpu(h1, h1, L.mlp, 1, scratch.data(), cpu_);
      add_norm_cpu(h1, x1, h1, w_.norm, 1);
      break;
    }
    add_norm_cpu(Hh, X, Hh, L.post_ln, n);  // X += attn; Hh = post_attention_layernorm(X)
    mlp_cpu(Hh, Hh, L.mlp, n, scratch.data(), cpu_);
    const RmsNorm& next = last ? w_.norm : w_.layers[l + 1].in_ln;
    if (deepstack) {
      add_cpu(X, X, Hh, n * H);
      scatter_add_rows_cpu(X, vis->rows, vis->deepstack[l], vis->n_rows, H);
      norm_cpu(Hh, X, next, n);
    } else {
      add_norm_cpu(Hh, X, Hh, next, n);  // X += mlp; Hh = next layer's input norm (or the final norm)
    }
  }
  if (all_logits)
    linear_cpu(logits, Hh, w_.lm_head, n, cpu_);
  else
    linear_cpu(logits, Hh + (size_t)(n - 1) * H, w_.lm_head, 1, cpu_);
  // Commit the tokens only after the whole pass succeeded, so an abort leaves the cache as it was.
  int mx = next_pos_ - 1;
  for (int i = 0; i < 3 * n; ++i) mx = std::max(mx, pos3[i]);
  n_past_ += n;
  next_pos_ = mx + 1;
}

}  // namespace cosmos
