#include "qwen3_text.h"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "../core/config.h"
#include "../ops/add.h"
#include "../ops/attention.h"
#include "../ops/embedding.h"
#include "../ops/matmul.h"
#include "../ops/rmsnorm.h"
#include "../ops/rope.h"
#include "../ops/swiglu.h"

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
  if (k.num_heads % k.num_kv_heads != 0) throw ModelError(std::string(w) + ": num_attention_heads is not a multiple of num_key_value_heads");
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
      throw ModelError(std::string(w) + ".rope_parameters.rope_type '" + ty->str + "' is not supported (only 'default')");
    if (const Json* s = rp->get("mrope_section"); s && s->is_arr()) {
      if (s->arr.size() != 3) throw ModelError(std::string(w) + ".rope_parameters.mrope_section must have 3 entries");
      int sum = 0;
      for (int i = 0; i < 3; ++i) {
        if (!s->arr[i].is_num() || !s->arr[i].is_integer || s->arr[i].i64 < 0) throw ModelError("mrope_section entries must be non-negative integers");
        k.mrope_section[i] = (int)s->arr[i].i64;
        sum += k.mrope_section[i];
      }
      if (sum != half) throw ModelError("mrope_section must sum to head_dim/2 = " + std::to_string(half));
    }
    if (const Json* il = rp->get("mrope_interleaved"); il && il->type == Json::Type::Bool) k.mrope_interleaved = il->b;
  }
  if (const Json* t = c.get("tie_word_embeddings"); t && t->type == Json::Type::Bool) k.tie_word_embeddings = t->b;
  else if (const Json* t2 = root.get("tie_word_embeddings"); t2 && t2->type == Json::Type::Bool) k.tie_word_embeddings = t2->b;
  return k;
}

namespace {
OwnedTensor load_w(const Checkpoint& ck, const std::string& name, std::vector<int64_t> shape) {
  const TensorInfo& ti = ck.info(name);
  if (ti.shape != shape) {
    Tensor want;
    want.shape = shape;
    Tensor got;
    got.shape = ti.shape;
    throw ModelError("tensor '" + name + "' has shape " + got.shape_str() + ", config expects " + want.shape_str());
  }
  OwnedTensor t = OwnedTensor::make(DType::F32, std::move(shape));
  ck.read_f32(name, t.f32(), (size_t)t.t.numel());
  return t;
}
}  // namespace

std::unique_ptr<Qwen3Text> Qwen3Text::load(const Checkpoint& ck, const Qwen3TextConfig& cfg) {
  std::string pre;
  if (ck.has("model.language_model.embed_tokens.weight")) pre = "model.language_model.";
  else if (ck.has("model.embed_tokens.weight")) pre = "model.";
  else throw ModelError("checkpoint has neither model.language_model.embed_tokens.weight (Qwen3-VL) nor model.embed_tokens.weight (Qwen3)");
  auto m = std::unique_ptr<Qwen3Text>(new Qwen3Text());
  m->cfg_ = cfg;
  const int64_t H = cfg.hidden_size, I = cfg.intermediate_size, V = cfg.vocab_size, D = cfg.head_dim;
  const int64_t QH = cfg.num_heads * D, KH = cfg.num_kv_heads * D;
  m->embed_ = load_w(ck, pre + "embed_tokens.weight", {V, H});
  m->norm_ = load_w(ck, pre + "norm.weight", {H});
  if (ck.has("lm_head.weight")) m->lm_head_ = load_w(ck, "lm_head.weight", {V, H});
  else if (!cfg.tie_word_embeddings) throw ModelError("checkpoint has no lm_head.weight and tie_word_embeddings is false");
  m->layers_.resize(cfg.num_layers);
  for (int l = 0; l < cfg.num_layers; ++l) {
    std::string p = pre + "layers." + std::to_string(l) + ".";
    Layer& L = m->layers_[l];
    L.in_ln = load_w(ck, p + "input_layernorm.weight", {H});
    L.post_ln = load_w(ck, p + "post_attention_layernorm.weight", {H});
    L.q = load_w(ck, p + "self_attn.q_proj.weight", {QH, H});
    L.k = load_w(ck, p + "self_attn.k_proj.weight", {KH, H});
    L.v = load_w(ck, p + "self_attn.v_proj.weight", {KH, H});
    L.o = load_w(ck, p + "self_attn.o_proj.weight", {H, QH});
    L.q_norm = load_w(ck, p + "self_attn.q_norm.weight", {D});
    L.k_norm = load_w(ck, p + "self_attn.k_norm.weight", {D});
    L.gate = load_w(ck, p + "mlp.gate_proj.weight", {I, H});
    L.up = load_w(ck, p + "mlp.up_proj.weight", {I, H});
    L.down = load_w(ck, p + "mlp.down_proj.weight", {H, I});
  }
  return m;
}

void Qwen3Text::reset() {
  n_past_ = 0;
  next_pos_ = 0;
}

void Qwen3Text::ensure_capacity(int tokens) {
  if (tokens <= capacity_) return;
  int cap = std::max(tokens, std::max(256, capacity_ * 2));
  size_t row = (size_t)cfg_.num_kv_heads * cfg_.head_dim * sizeof(float);
  for (auto& L : layers_) {
    Buffer k(row * cap), v(row * cap);
    if (n_past_ > 0) {
      std::memcpy(k.data(), L.kcache.data(), row * n_past_);
      std::memcpy(v.data(), L.vcache.data(), row * n_past_);
    }
    L.kcache = std::move(k);
    L.vcache = std::move(v);
  }
  capacity_ = cap;
}

void Qwen3Text::prefill(const int* ids, int n, const int* pos3, const VisualInputs* vis, float* logits, bool all_logits) {
  if (n <= 0) throw ModelError("prefill needs at least one token");
  forward(ids, n, pos3, vis, logits, all_logits);
}

void Qwen3Text::decode(int id, float* logits) {
  int p3[3] = {next_pos_, next_pos_, next_pos_};
  forward(&id, 1, p3, nullptr, logits, false);
}

void Qwen3Text::forward(const int* ids, int n, const int* pos3, const VisualInputs* vis, float* logits, bool all_logits) {
  const Qwen3TextConfig& c = cfg_;
  const int H = c.hidden_size, I = c.intermediate_size, V = c.vocab_size, D = c.head_dim;
  const int NH = c.num_heads, KVH = c.num_kv_heads, QH = NH * D, KH = KVH * D;
  for (int i = 0; i < n; ++i)
    if (ids[i] < 0 || ids[i] >= V) throw ModelError("token id " + std::to_string(ids[i]) + " at row " + std::to_string(i) + " is outside the vocabulary [0, " + std::to_string(V) + ")");
  if (vis) {
    if (vis->n_rows < 0 || (vis->n_rows > 0 && !vis->rows)) throw ModelError("visual rows missing");
    for (int r = 0; r < vis->n_rows; ++r)
      if (vis->rows[r] < 0 || vis->rows[r] >= n) throw ModelError("visual row " + std::to_string(vis->rows[r]) + " is outside the prompt (" + std::to_string(n) + " tokens)");
    if ((int)vis->deepstack.size() > c.num_layers) throw ModelError("more deepstack features than decoder layers");
  }
  check_abort();
  ensure_capacity(n_past_ + n);

  OwnedTensor x = OwnedTensor::make(DType::F32, {n, H}), h = OwnedTensor::make(DType::F32, {n, H});
  OwnedTensor q = OwnedTensor::make(DType::F32, {n, QH}), k = OwnedTensor::make(DType::F32, {n, KH}), v = OwnedTensor::make(DType::F32, {n, KH});
  OwnedTensor att = OwnedTensor::make(DType::F32, {n, QH});
  OwnedTensor g = OwnedTensor::make(DType::F32, {n, I}), u = OwnedTensor::make(DType::F32, {n, I});
  OwnedTensor cs = OwnedTensor::make(DType::F32, {n, D}), sn = OwnedTensor::make(DType::F32, {n, D});
  float *X = x.f32(), *Hh = h.f32(), *Q = q.f32(), *K = k.f32(), *Vv = v.f32(), *A = att.f32(), *G = g.f32(), *U = u.f32();

  embedding_cpu(X, embed_.f32(), ids, n, H);
  if (vis && vis->embeds)
    for (int r = 0; r < vis->n_rows; ++r) std::memcpy(X + (size_t)vis->rows[r] * H, vis->embeds + (size_t)r * H, sizeof(float) * H);
  mrope_tables_cpu(cs.f32(), sn.f32(), pos3, n, D, c.rope_theta, c.mrope_section, c.mrope_interleaved);
  const float scale = 1.0f / std::sqrt((float)D);

  for (int l = 0; l < c.num_layers; ++l) {
    check_abort();
    Layer& L = layers_[l];
    rmsnorm_cpu(Hh, X, L.in_ln.f32(), n, H, c.rms_norm_eps);
    matmul_cpu(Q, Hh, L.q.f32(), nullptr, n, H, QH, cpu_);
    matmul_cpu(K, Hh, L.k.f32(), nullptr, n, H, KH, cpu_);
    matmul_cpu(Vv, Hh, L.v.f32(), nullptr, n, H, KH, cpu_);
    rmsnorm_cpu(Q, Q, L.q_norm.f32(), n * NH, D, c.rms_norm_eps);
    rmsnorm_cpu(K, K, L.k_norm.f32(), n * KVH, D, c.rms_norm_eps);
    rope_apply_cpu(Q, cs.f32(), sn.f32(), n, NH, D);
    rope_apply_cpu(K, cs.f32(), sn.f32(), n, KVH, D);
    float* kc = static_cast<float*>(L.kcache.data());
    float* vc = static_cast<float*>(L.vcache.data());
    std::memcpy(kc + (size_t)n_past_ * KH, K, sizeof(float) * n * KH);
    std::memcpy(vc + (size_t)n_past_ * KH, Vv, sizeof(float) * n * KH);
    attention_cpu(A, Q, kc, vc, n, n_past_ + n, NH, KVH, D, n_past_, true, scale, cpu_);
    matmul_cpu(Hh, A, L.o.f32(), nullptr, n, QH, H, cpu_);
    add_cpu(X, X, Hh, n * H);
    rmsnorm_cpu(Hh, X, L.post_ln.f32(), n, H, c.rms_norm_eps);
    matmul_cpu(G, Hh, L.gate.f32(), nullptr, n, H, I, cpu_);
    matmul_cpu(U, Hh, L.up.f32(), nullptr, n, H, I, cpu_);
    swiglu_cpu(G, G, U, n * I);
    matmul_cpu(Hh, G, L.down.f32(), nullptr, n, I, H, cpu_);
    add_cpu(X, X, Hh, n * H);
    if (vis && l < (int)vis->deepstack.size() && vis->deepstack[l])
      for (int r = 0; r < vis->n_rows; ++r) add_cpu(X + (size_t)vis->rows[r] * H, X + (size_t)vis->rows[r] * H, vis->deepstack[l] + (size_t)r * H, H);
  }
  const float* head = lm_head_.t.data ? lm_head_.f32() : embed_.f32();
  if (all_logits) {
    rmsnorm_cpu(Hh, X, norm_.f32(), n, H, c.rms_norm_eps);
    matmul_cpu(logits, Hh, head, nullptr, n, H, V, cpu_);
  } else {
    rmsnorm_cpu(Hh, X + (size_t)(n - 1) * H, norm_.f32(), 1, H, c.rms_norm_eps);
    matmul_cpu(logits, Hh, head, nullptr, 1, H, V, cpu_);
  }
  // Commit the tokens only after the whole pass succeeded, so an abort leaves the cache as it was.
  int mx = next_pos_ - 1;
  for (int i = 0; i < 3 * n; ++i) mx = std::max(mx, pos3[i]);
  n_past_ += n;
  next_pos_ = mx + 1;
}

}  // namespace cosmos
