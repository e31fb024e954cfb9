// CUDA forward of the Qwen3 text decoder: Qwen3Text::forward's steps (qwen3_text.cc) on the shared layers'
// CUDA paths, plus the decode CUDA graph.
#include "qwen3_text_cuda.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "../core/cuda_common.h"
#include "../core/env.h"
#include "../core/tensor.h"
#include "../layers/attention_block.h"
#include "../layers/linear.h"
#include "../layers/mlp.h"
#include "../layers/norm.h"
#include "../ops/add.h"
#include "../ops/argmax.h"
#include "../ops/attention.h"
#include "../ops/cast_bf16.h"
#include "../ops/embedding.h"
#include "../ops/gemm_fp8_wgmma.h"
#include "../ops/gemv_decode.h"
#include "../ops/rope.h"
#include "../ops/sample_cuda.h"
#include "../ops/scatter_add_rows.h"

namespace cosmos {

namespace {
// The prefill's GEMM inputs written in bf16 by their producers unless COSMOS_PREFILL_BF16_INPUTS=0 (the f32 rows and a
// cast before each GEMM: the same numbers, qwen3_cuda_test checks the logits bit for bit): the norms write the q|k|v
// and gate|up rows in bf16, the rotary q as the flash kernel's bf16 operand and the flash kernel its output for o
// (attention_block_cuda with xb), as the tower's run does (qwen3_vision_cuda.cu). Read at every prefill (tests switch
// it).
bool prefill_bf16_inputs_requested() { return env_switch("COSMOS_PREFILL_BF16_INPUTS", true); }

// The prefill's residual stream held in bf16, as transformers' bf16 decoder holds it (each residual add rounded to
// bf16), unless COSMOS_PREFILL_BF16_RESIDUAL=0 (the f32 stream): the o and down GEMMs add into bf16 rows in their
// epilogue, the norms read bf16 rows and the deepstack features are added to them (scatter_add_rows_bf16), half the
// stream's bytes. H100, 2026-12-07: the 8B video prefill ~1 ms faster (bench/README). Not the f32 stream's numbers
// (qwen3_cuda_test bounds the distance: logits rel l2 8e-3 on its random 3-layer decoder). Where the residual adds ride
// in the GEMMs and every layer's o and down take the bf16 add. Read at every prefill (tests switch it).
bool prefill_bf16_residual_requested() { return env_switch("COSMOS_PREFILL_BF16_RESIDUAL", true); }

// The KV cache's format at load (Qwen3TextCuda::set_kv_cache_bf16): COSMOS_KV_CACHE=f32 | bf16, else bf16 for bf16
// weights with head_dim >= 64 (the models whose prefill attention runs on the tensor cores, reading k / v in bf16).
bool kv_cache_bf16_at_load(WType wt, int head_dim) {
  const char* e = std::getenv("COSMOS_KV_CACHE");
  if (e && std::strcmp(e, "f32") == 0) return false;
  if (e && std::strcmp(e, "bf16") == 0) return true;
  if (e && *e)
    throw ModelError(std::string("COSMOS_KV_CACHE must be f32 or bf16 (unset: bf16 for bf16 weights), not '") + e +
                     "'");
  return wt == WType::BF16 && head_dim >= 64;
}
}  // namespace

Qwen3TextCuda::Qwen3TextCuda(const Qwen3TextConfig& cfg, WType wt) : cfg_(cfg), wt_(wt) {
  if (cfg.head_dim > 1024) throw ModelError("head_dim > 1024 is not supported by the CUDA backend");
}

Qwen3TextCuda::~Qwen3TextCuda() {
  cudaStreamSynchronize(stream_.get());  // kernels may still read the pool's memory
  if (graph_) cudaGraphExecDestroy(graph_);
}

void Qwen3TextCuda::finish_load() {
  kc_.assign(cfg_.num_layers, nullptr);
  vc_.assign(cfg_.num_layers, nullptr);
  kv_bf16_ = kv_cache_bf16_at_load(wt_, cfg_.head_dim);
  tmp_int_ = (int*)pool_.alloc(sizeof(int));
  step_ = (int*)pool_.alloc(sizeof(int) * 8);
  if (const char* e = std::getenv("COSMOS_CUDA_GRAPH")) graph_on_ = !(*e == '0' && e[1] == 0);
  CUDA_CHECK(cudaStreamSynchronize(stream_.get()));
  if (qwen3_fp8_weights_requested())
    set_fp8_weights(true, false);
  else if (qwen3_fp8_prefill_requested())
    set_fp8_prefill(true);
  // The persistent step where it is served (bf16 weights, sm_90, ...: set_decode_persistent says), unless switched off.
  const char* persistent = std::getenv("COSMOS_DECODE_PERSISTENT");
  if (!(persistent && std::strcmp(persistent, "0") == 0)) set_decode_persistent(true);
}

Qwen3PersistentShape Qwen3TextCuda::persistent_shape() const {
  Qwen3PersistentShape s;
  s.hidden = cfg_.hidden_size;
  s.inter = cfg_.intermediate_size;
  s.heads = cfg_.num_heads;
  s.kv_heads = cfg_.num_kv_heads;
  s.head_dim = cfg_.head_dim;
  s.layers = cfg_.num_layers;
  s.eps = cfg_.rms_norm_eps;
  s.fp8_weights = fp8_weights_;
  s.kv_bf16 = kv_bf16_;
  return s;
}

bool Qwen3TextCuda::persistent_served() const {
  if (wt_ != WType::BF16) return false;
  // The kernel's contract: every RMSNorm with the model's eps (as qwen3_text_bind makes them), q / k norm, no biases,
  // the four matmuls in bf16, or with fp8 weights their e4m3 copies attached.
  auto served = [&](const Linear& l) {
    return !l.b && (fp8_weights_ ? l.w8 && l.w8_scale : l.w && l.wt == WType::BF16);
  };
  for (const Qwen3DecoderLayer& L : w_.layers) {
    const AttentionBlock& a = L.attn;
    if (!a.q_norm || !a.k_norm || !served(a.qkv) || !served(a.o) || !served(L.mlp.gate_up) || !served(L.mlp.down))
      return false;
  }
  return qwen3_decode_persistent_fits(persistent_shape());
}

bool Qwen3TextCuda::set_decode_persistent(bool on) {
  persistent_wanted_ = on;
  const bool serve = on && persistent_served();
  if (serve == persistent_) return persistent_;
  stream_.sync();
  drop_graph();  // the graph baked in the other step
  persistent_ = false;
  if (!serve) return false;
  if (!persistent_layers_) {
    const Qwen3PersistentShape shape = persistent_shape();  // (the workspace and counters: the same in either format)
    persistent_layers_ = (Qwen3PersistentLayer*)pool_.alloc(sizeof(Qwen3PersistentLayer) * cfg_.num_layers);
    persistent_ws_ = (float*)pool_.alloc(sizeof(float) * qwen3_decode_persistent_workspace_floats(shape));
    persistent_ctr_ = (unsigned*)pool_.alloc(sizeof(unsigned) * qwen3_decode_persistent_counters(shape));
  }
  return persistent_ = true;
}

void Qwen3TextCuda::set_decode_persistent_tuning(const Qwen3PersistentTuning& tuning, bool timing) {
  stream_.sync();
  drop_graph();  // the graph baked in the old settings
  persistent_tuning_ = tuning;
  const int blocks = qwen3_decode_persistent_blocks();
  const size_t bytes = sizeof(unsigned long long) * blocks * kQwen3PersistentTimeFields;
  if (timing && blocks > 0 && !persistent_timing_) persistent_timing_ = (unsigned long long*)pool_.alloc(bytes);
  if (!timing && persistent_timing_) {
    pool_.free(persistent_timing_);
    persistent_timing_ = nullptr;
  }
  if (persistent_timing_) CUDA_CHECK(cudaMemsetAsync(persistent_timing_, 0, bytes, stream_.get()));
}

bool Qwen3TextCuda::decode_persistent_lm_head() const {
  const Linear& head = w_.lm_head;
  return decode_persistent() && persistent_tuning_.lm_head_in_step && head.w && head.wt == WType::BF16 && !head.b;
}

std::string Qwen3TextCuda::decode_persistent_timing_report() {
  if (!persistent_timing_) return "";
  const int blocks = qwen3_decode_persistent_blocks();
  std::vector<unsigned long long> rows((size_t)blocks * kQwen3PersistentTimeFields);
  stream_.sync();
  CUDA_CHECK(
      cudaMemcpy(rows.data(), persistent_timing_, sizeof(unsigned long long) * rows.size(), cudaMemcpyDeviceToHost));
  return qwen3_decode_persistent_timing_report(rows.data(), blocks);
}

bool Qwen3TextCuda::set_fp8_prefill(bool on) {
  if (on && fp8_.empty()) {
    if (!gemm_fp8_wgmma_available(stream_.get())) return fp8_prefill_ = false;
    fp8_.make(qwen3_fp8_linears(w_), pool_, ctx_);
  }
  return fp8_prefill_ = on && !fp8_.empty();
}

bool Qwen3TextCuda::set_fp8_weights(bool on, bool keep_source) {
  if (!on && fp8_sources_released_)
    throw ModelError("set_fp8_weights(false): the bf16 weights were given back when fp8 weights were turned on");
  if (on && fp8_.empty()) {
    if (!gemm_fp8_wgmma_available(stream_.get())) return fp8_weights_ = false;
    fp8_.make(qwen3_fp8_linears(w_), pool_, ctx_);
  }
  if (fp8_.empty()) return fp8_weights_ = false;
  stream_.sync();  // no forward in flight reads the Linears being switched
  drop_graph();    // the decode graph baked in the old weights' kernels
  fp8_.attach(on);
  fp8_weights_ = on;
  // The persistent step in the new format, where it serves it (the graph of kernels otherwise).
  if (persistent_wanted_) set_decode_persistent(true);
  if (on && !keep_source && !fp8_sources_released_) {
    // Every forward then runs these on the fp8 kernels: the GEMM for n > 1 and the GEMV for one token take any token
    // count at k % 16 == 0 with 16-byte aligned operands (the activations are pool blocks).
    for (Fp8Copies::Copy& c : fp8_.copies()) {
      if (c.l->in % 16 != 0) continue;
      store_.release(c.l->w);
      c.l->w = nullptr;
    }
    pool_.release_cached();
    fp8_sources_released_ = true;
  }
  return fp8_weights_;
}

std::unique_ptr<Qwen3TextCuda> Qwen3TextCuda::load(const Checkpoint& ck, const Qwen3TextConfig& cfg, WType wt) {
  std::unique_ptr<Qwen3TextCuda> m(new Qwen3TextCuda(cfg, wt));
  // Matmul weights in wt; a bf16 embedding table stays bf16 (exact), f32 / f16 tables are kept in f32;
  // a tied lm_head is the table itself when the dtypes agree (qwen3_text_bind).
  WeightBinder wb(ck, m->store_);
  qwen3_text_bind(cfg, wb, m->w_);
  m->finish_load();
  return m;
}

std::unique_ptr<Qwen3TextCuda> Qwen3TextCuda::random(const Qwen3TextConfig& cfg, WType wt, uint64_t seed, float std) {
  std::unique_ptr<Qwen3TextCuda> m(new Qwen3TextCuda(cfg, wt));
  // bf16 weights stand for a bf16 checkpoint: the embedding table is bf16 too; lm_head is its own matrix.
  WeightBinder wb(seed, std, m->store_);
  qwen3_text_bind(cfg, wb, m->w_);
  m->finish_load();
  return m;
}

void Qwen3TextCuda::reset() {
  n_past_ = 0;
  next_pos_ = 0;
}

void Qwen3TextCuda::reserve(int tokens) { ensure_capacity(tokens); }

bool Qwen3TextCuda::set_kv_cache_bf16(bool on) {
  if (on == kv_bf16_) return kv_bf16_;
  stream_.sync();  // no step in flight reads the cache
  drop_graph();    // the graph baked in the cache's pointers and kernels
  for (size_t l = 0; l < kc_.size(); ++l) {
    pool_.free(kc_[l]);
    pool_.free(vc_[l]);
    kc_[l] = vc_[l] = nullptr;
  }
  capacity_ = 0;
  reset();
  kv_bf16_ = on;
  if (persistent_wanted_) set_decode_persistent(true);  // its kernel for this format, where that one serves the shape
  return kv_bf16_;
}

KvCache Qwen3TextCuda::kv_cache(int layer) const {
  KvCache c;
  c.capacity = capacity_;
  c.n_past = n_past_;
  if (kv_bf16_) {
    c.k_bf16 = static_cast<uint16_t*>(kc_[layer]);
    c.v_bf16 = static_cast<uint16_t*>(vc_[layer]);
  } else {
    c.k = static_cast<float*>(kc_[layer]);
    c.v = static_cast<float*>(vc_[layer]);
  }
  return c;
}

void Qwen3TextCuda::ensure_capacity(int tokens) {
  if (tokens <= capacity_) return;
  int cap = std::max(tokens, std::max(256, capacity_ * 2));
  size_t row = (size_t)cfg_.num_kv_heads * cfg_.head_dim * (kv_bf16_ ? sizeof(uint16_t) : sizeof(float));
  cudaStream_t s = stream_.get();
  for (size_t l = 0; l < kc_.size(); ++l) {
    void* k = pool_.alloc(row * cap);
    void* v = pool_.alloc(row * cap);
    if (n_past_ > 0) {
      CUDA_CHECK(cudaMemcpyAsync(k, kc_[l], row * n_past_, cudaMemcpyDeviceToDevice, s));
      CUDA_CHECK(cudaMemcpyAsync(v, vc_[l], row * n_past_, cudaMemcpyDeviceToDevice, s));
    }
    CUDA_CHECK(cudaStreamSynchronize(s));  // the old blocks go back to the pool: no kernel may still use them
    pool_.free(kc_[l]);
    pool_.free(vc_[l]);
    kc_[l] = k;
    vc_[l] = v;
  }
  capacity_ = cap;
}

size_t Qwen3TextCuda::scratch_floats(int n) const {
  const Qwen3DecoderLayer& L = w_.layers[0];
  return std::max(attention_scratch_floats(L.attn, n, true), mlp_scratch_floats(L.mlp, n));
}

void Qwen3TextCuda::layers_forward(float* X, float* Hh, float* scratch, const float* cos, const float* sin, int n,
                                   const int* row_dev, const int* n_kv_dev, const VisualInputs* vis,
                                   const int* vis_rows_dev, float* vis_tmp, bool last_row_only) {
  const Qwen3TextConfig& c = cfg_;
  const int H = c.hidden_size;
  cudaStream_t s = stream_.get();
  // bf16 GEMM inputs from their producers (prefill_bf16_inputs_requested; a prefill, not the decode graph): the norms
  // write xb, which the q|k|v and gate|up GEMMs read in place of Hh, where every layer runs those on the bf16 GEMM (not
  // with the fp8 prefill's copies attached).
  const bool prefill = !n_kv_dev && n > 1;
  DeviceBuffer<__nv_bfloat16> xb;
  if (prefill && prefill_bf16_inputs_requested()) {
    xb = DeviceBuffer<__nv_bfloat16>(pool_, (size_t)n * H);
    for (const Qwen3DecoderLayer& L : w_.layers)
      if (!attention_qkv_bf16_runs(L.attn, n, ctx_) || !mlp_bf16_input_runs(L.mlp, xb.get(), n, ctx_)) {
        xb.reset();
        break;
      }
  }
  const bool bf16_inputs = xb.get() != nullptr;
  if (prefill) last_prefill_bf16_inputs_ = bf16_inputs;
  // With them, the residual adds ride in the o and down GEMMs' epilogue (residual_in_gemm_requested) where every layer
  // runs those on the wgmma GEMM: X += attn / mlp there, and the norms after them read X alone (h null): ~54 MB less
  // a norm at the 8B video prefill's 3318 rows, the same bits.
  bool resid = bf16_inputs && residual_in_gemm_requested();
  for (const Qwen3DecoderLayer& L : w_.layers)
    resid =
        resid && linear_bf16_add_runs(L.attn.o, n, ctx_) && mlp_residual_in_epilogue(L.mlp, nullptr, xb.get(), n, ctx_);
  if (prefill) last_prefill_residual_in_gemm_ = resid;
  // The stream in bf16 (prefill_bf16_residual_requested): X16 from here on; X (f32) only takes the last row (the
  // logits row's MLP) or every row (the final norm of all_logits) back, widened, after the layers.
  const KvCache probe_cache = kv_cache(0);
  AttentionCall probe;  // this prefill's attention call as the layers make it
  probe.n = n;
  probe.causal = true;
  probe.cache = &probe_cache;
  probe.tensor_core_attention = wt_ == WType::BF16 && c.head_dim >= 64;
  probe.xb = reinterpret_cast<const uint16_t*>(xb.get());
  probe.residual = true;
  bool bf16_resid = resid && prefill_bf16_residual_requested();
  for (const Qwen3DecoderLayer& L : w_.layers)
    bf16_resid =
        bf16_resid && attention_residual_bf16_runs(L.attn, probe, ctx_) && mlp_add_bf16_runs(L.mlp, xb.get(), n, ctx_);
  if (prefill) last_prefill_bf16_residual_ = bf16_resid;
  DeviceBuffer<__nv_bfloat16> X16(pool_, bf16_resid ? (size_t)n * H : 0);
  if (bf16_resid) cast_bf16_cuda(X16.get(), X, (size_t)n * H, ctx_);
  // The first norm has no add: add_norm with h null (the vector kernel: ~24 us at the video prefill's 3318 rows where
  // rmsnorm_cuda + cast_bf16_cuda took ~90, tools/device/cupti_trace.cc's timeline on the H200).
  if (bf16_resid)
    norm_bf16_rows_cuda(xb.get(), X16.get(), w_.layers[0].in_ln, n, ctx_);
  else if (bf16_inputs)
    add_norm_bf16_cuda(xb.get(), X, nullptr, w_.layers[0].in_ln, n, ctx_);
  else
    add_norm_cuda(Hh, X, nullptr, w_.layers[0].in_ln, n, ctx_);
  for (int l = 0; l < c.num_layers; ++l) {
    // Abort between layers of an eager pass (a graph capture records all of them: no check there).
    if (!n_kv_dev && abort_ && abort_->load(std::memory_order_relaxed)) {
      cudaStreamSynchronize(s);
      throw AbortedError();
    }
    const Qwen3DecoderLayer& L = w_.layers[l];
    // Hh = input_layernorm(X) here (fused into the previous layer's last residual add).
    const KvCache cache = kv_cache(l);
    AttentionCall call;
    call.n = n;
    call.cos = cos;
    call.sin = sin;
    call.causal = true;
    call.cache = &cache;
    call.row_dev = row_dev;
    call.n_kv_dev = n_kv_dev;
    call.decode_part = att_part_;
    // Prefill on flash_attention_cuda (the wgmma kernel on Hopper) for bf16 checkpoints; head dims below 64 (the tiny
    // fixtures) keep attention_cuda's exact f32 kernel, as attention_cuda itself does.
    call.tensor_core_attention = wt_ == WType::BF16 && c.head_dim >= 64;
    call.xb = reinterpret_cast<const uint16_t*>(xb.get());
    call.residual = resid;
    call.residual_bf16 = reinterpret_cast<uint16_t*>(X16.get());  // (null: the f32 stream)
    attention_block_cuda(resid ? X : Hh, Hh, L.attn, call, scratch, ctx_);
    const float* sum_h = resid ? nullptr : Hh;  // what the norms add to X: nothing where the GEMM added it
    const bool last = l + 1 == c.num_layers;
    const bool deepstack = vis && l < (int)vis->deepstack.size() && vis->deepstack[l] && vis->n_rows > 0;
    if (last && last_row_only && n > 1 && !deepstack) {
      // Nothing reads the other rows after the last layer's attention (it wrote every row's keys and values): its
      // MLP and the final norm run on the last row alone, as llama.cpp's output rows (1/36 of an 8B prefill's GEMMs).
      float* x1 = X + (size_t)(n - 1) * H;
      float* h1 = Hh + (size_t)(n - 1) * H;
      if (bf16_resid) widen_bf16_cuda(x1, X16.get() + (size_t)(n - 1) * H, H, ctx_);
      add_norm_cuda(h1, x1, resid ? nullptr : h1, L.post_ln, 1, ctx_);
      mlp_cuda(h1, h1, L.mlp, 1, scratch, ctx_);
      add_norm_cuda(h1, x1, h1, w_.norm, 1, ctx_);
      break;
    }
    if (bf16_resid)
      norm_bf16_rows_cuda(xb.get(), X16.get(), L.post_ln, n, ctx_);
    else if (bf16_inputs)
      add_norm_bf16_cuda(xb.get(), X, sum_h, L.post_ln, n, ctx_);  // X += attn; xb = post_attention_layernorm(X)
    else
      add_norm_cuda(Hh, X, Hh, L.post_ln, n, ctx_);  // X += attn; Hh = post_attention_layernorm(X)
    if (bf16_resid)
      mlp_add_bf16_cuda(X16.get(), xb.get(), L.mlp, n, scratch, ctx_);  // X16 += mlp
    else
      mlp_cuda(resid ? X : Hh, Hh, L.mlp, n, scratch, ctx_, {}, xb.get(), resid);
    // The last layer's norm (the final one) writes f32 Hh for the logits.
    const RmsNorm& next = last ? w_.norm : w_.layers[l + 1].in_ln;
    const float* add_h = sum_h;  // what the next norm adds to X first
    if (deepstack) {
      if (!resid) add_cuda(X, X, Hh, n * H, ctx_);
      // Device-resident features are read in place; host ones go up through vis_tmp first.
      const float* feat = vis->deepstack[l];
      if (!vis->on_device) {
        CUDA_CHECK(cudaMemcpyAsync(vis_tmp, feat, sizeof(float) * vis->n_rows * H, cudaMemcpyHostToDevice, s));
        feat = vis_tmp;
      }
      if (bf16_resid)
        scatter_add_rows_bf16_cuda(X16.get(), vis_rows_dev, feat, vis->n_rows, H, ctx_);
      else
        scatter_add_rows_cuda(X, vis_rows_dev, feat, vis->n_rows, H, ctx_);
      add_h = nullptr;  // X holds the sum: the norm alone, as for the first layer
    }
    if (bf16_resid && !last) {
      norm_bf16_rows_cuda(xb.get(), X16.get(), next, n, ctx_);  // xb = next layer's input norm
    } else if (bf16_inputs && !last) {
      add_norm_bf16_cuda(xb.get(), X, add_h, next, n, ctx_);  // X += mlp; xb = next layer's input norm
    } else {
      if (bf16_resid) widen_bf16_cuda(X, X16.get(), (size_t)n * H, ctx_);  // the final norm's f32 rows
      add_norm_cuda(Hh, X, add_h, next, n, ctx_);  // X += mlp; Hh = next layer's input norm (or the final norm)
    }
  }
}

void Qwen3TextCuda::forward(const int* ids, int n, const int* pos3, const VisualInputs* vis, bool all_logits) {
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
  }
  if (abort_ && abort_->load(std::memory_order_relaxed)) throw AbortedError();
  ensure_capacity(n_past_ + n);
  cudaStream_t s = stream_.get();

  // Activations (pool blocks are reused across steps; freed when these go out of scope, after the
  // final sync below, so no kernel still reads them).
  DeviceBuffer<int> io(pool_, (size_t)4 * n);  // ids, then pos3
  DeviceBuffer<float> x(pool_, (size_t)n * H), hb(pool_, (size_t)n * H), scratch(pool_, scratch_floats(n)),
      cs(pool_, (size_t)n * D), sn(pool_, (size_t)n * D);
  std::vector<int> hio(4 * (size_t)n);
  std::memcpy(hio.data(), ids, sizeof(int) * n);
  std::memcpy(hio.data() + n, pos3, sizeof(int) * 3 * n);
  CUDA_CHECK(cudaMemcpyAsync(io.get(), hio.data(), sizeof(int) * 4 * n, cudaMemcpyHostToDevice, s));
  float *X = x.get(), *Hh = hb.get();

  if (w_.embed_bf16)
    embedding_bf16_cuda(X, w_.embed, io.get(), n, H, ctx_);
  else
    embedding_cuda(X, (const float*)w_.embed, io.get(), n, H, ctx_);
  DeviceBuffer<int> vrows;
  DeviceBuffer<float> vtmp;
  if (vis && vis->n_rows > 0) {
    vrows = DeviceBuffer<int>(pool_, vis->n_rows);
    if (!vis->on_device) vtmp = DeviceBuffer<float>(pool_, (size_t)vis->n_rows * H);
    CUDA_CHECK(cudaMemcpyAsync(vrows.get(), vis->rows, sizeof(int) * vis->n_rows, cudaMemcpyHostToDevice, s));
    // The tower synchronised its own stream before handing its outputs out, so reading them on this
    // stream needs no event.
    const cudaMemcpyKind kind = vis->on_device ? cudaMemcpyDeviceToDevice : cudaMemcpyHostToDevice;
    // One copy per run of consecutive rows (an image's rows are one run, a video's one per frame).
    if (vis->embeds)
      for (int r = 0; r < vis->n_rows;) {
        int len = 1;
        while (r + len < vis->n_rows && vis->rows[r + len] == vis->rows[r] + len) ++len;
        CUDA_CHECK(cudaMemcpyAsync(X + (size_t)vis->rows[r] * H, vis->embeds + (size_t)r * H, sizeof(float) * H * len,
                                   kind, s));
        r += len;
      }
  }
  mrope_tables_cuda(cs.get(), sn.get(), io.get() + n, n, D, c.rope_theta, c.mrope_section, c.mrope_interleaved, ctx_);
  {
    // The fp8 copies are attached for this pass only (launches are ordered on the one stream, and the Linears are
    // read on the host at launch): decode's forward and the graph's record never see them.
    Fp8Attached<Fp8Copies> fp8(fp8_, fp8_prefill_ && !fp8_weights_ && n > kQwen3Fp8PrefillMinRows);
    layers_forward(X, Hh, scratch.get(), cs.get(), sn.get(), n, nullptr, nullptr, vis, vrows.get(), vtmp.get(),
                   !all_logits);
  }

  // Hh = norm(X) for every row now (the last row alone without all_logits).
  int rows = all_logits ? n : 1;
  if (rows > logits_rows_) {
    pool_.free(logits_);
    logits_ = (float*)pool_.alloc(sizeof(float) * rows * (size_t)V);
    logits_rows_ = rows;
  }
  // One logits row: the lm_head GEMV with 8 loads in flight per lane (gemv_decode.h; 3.1 vs 2.8 TB/s on an
  // H100, the same numbers as matmul_cuda's GEMV). It is slower on the layers' 4096..6144-row GEMVs.
  const Linear& head = w_.lm_head;
  if (rows == 1)
    gemv_decode_cuda(logits_, Hh + (size_t)(n - 1) * H, head.w, head.wt, H, V, ctx_);
  else
    linear_cuda(logits_, Hh, head, rows, ctx_);
  last_rows_ = rows;
  CUDA_CHECK(cudaStreamSynchronize(s));  // surfaces any kernel fault here, before the state moves on
  int mx = next_pos_ - 1;
  for (int i = 0; i < 3 * n; ++i) mx = std::max(mx, pos3[i]);
  n_past_ += n;
  next_pos_ = mx + 1;
}

void Qwen3TextCuda::prefill(const int* ids, int n, const int* pos3, const VisualInputs* vis, float* logits,
                            bool all_logits) {
  if (n <= 0) throw ModelError("prefill needs at least one token");
  forward(ids, n, pos3, vis, all_logits);
  if (logits)
    CUDA_CHECK(
        cudaMemcpy(logits, logits_, sizeof(float) * (size_t)last_rows_ * cfg_.vocab_size, cudaMemcpyDeviceToHost));
}

void Qwen3TextCuda::drop_graph() {
  if (graph_) cudaGraphExecDestroy(graph_);
  graph_ = nullptr;
  graph_cap_ = -1;
  graph_logits_ = nullptr;
}

// The decode step of forward() (n = 1, no visual rows) with every per-step number read from step_: the
// same layers_forward, so the graph and the eager path launch the same kernels (the test compares them).
void Qwen3TextCuda::record_decode_step(cudaStream_t) {
  const Qwen3TextConfig& c = cfg_;
  const int H = c.hidden_size, V = c.vocab_size, D = c.head_dim;
  float* X = dec_;
  float* Hh = X + H;
  float* scratch = Hh + H;
  float* cs = scratch + scratch_floats(1);
  float* sn = cs + D;
  if (w_.embed_bf16)
    embedding_bf16_cuda(X, w_.embed, step_, 1, H, ctx_);
  else
    embedding_cuda(X, (const float*)w_.embed, step_, 1, H, ctx_);
  mrope_tables_cuda(cs, sn, step_ + 1, 1, D, c.rope_theta, c.mrope_section, c.mrope_interleaved, ctx_);
  if (decode_persistent()) {
    Qwen3PersistentStep st;
    st.layers = persistent_layers_;
    st.final_norm = w_.norm.w;
    st.x = X;
    st.h = Hh;
    st.cos = cs;
    st.sin = sn;
    st.row_dev = step_ + 4;
    st.n_kv_dev = step_ + 5;
    st.workspace = persistent_ws_;
    st.counters = persistent_ctr_;
    st.tuning = persistent_tuning_;
    st.timing = persistent_timing_;
    const bool head_in_step = decode_persistent_lm_head();
    if (head_in_step) {
      st.lm_head = static_cast<const __nv_bfloat16*>(w_.lm_head.w);
      st.logits = logits_;
      st.vocab = V;
    }
    qwen3_decode_persistent_cuda(persistent_shape(), st, ctx_);
    if (head_in_step) return;  // the step wrote the logits row
  } else {
    layers_forward(X, Hh, scratch, cs, sn, 1, step_ + 4, step_ + 5, nullptr, nullptr, nullptr);
  }
  gemv_decode_cuda(logits_, Hh, w_.lm_head.w, w_.lm_head.wt, H, V, ctx_);  // as forward() for one logits row
}

bool Qwen3TextCuda::capture_decode_graph() {
  drop_graph();
  cudaStream_t s = stream_.get();
  if (decode_persistent()) {  // the layers' pointers as they are now (the KV cache moves when it grows)
    std::vector<Qwen3PersistentLayer> table(cfg_.num_layers);
    for (int l = 0; l < cfg_.num_layers; ++l) {
      const Qwen3DecoderLayer& L = w_.layers[l];
      Qwen3PersistentLayer& t = table[l];
      t.in_ln = L.in_ln.w;
      t.post_ln = L.post_ln.w;
      t.qkv = static_cast<const __nv_bfloat16*>(L.attn.qkv.w);
      t.q_norm = L.attn.q_norm;
      t.k_norm = L.attn.k_norm;
      t.o = static_cast<const __nv_bfloat16*>(L.attn.o.w);
      t.gate_up = static_cast<const __nv_bfloat16*>(L.mlp.gate_up.w);
      t.down = static_cast<const __nv_bfloat16*>(L.mlp.down.w);
      t.qkv8 = L.attn.qkv.w8;  // set with fp8 weights (the step then reads these)
      t.o8 = L.attn.o.w8;
      t.gate_up8 = L.mlp.gate_up.w8;
      t.down8 = L.mlp.down.w8;
      t.qkv_scale = L.attn.qkv.w8_scale;
      t.o_scale = L.attn.o.w8_scale;
      t.gate_up_scale = L.mlp.gate_up.w8_scale;
      t.down_scale = L.mlp.down.w8_scale;
      t.k_cache = kc_[l];
      t.v_cache = vc_[l];
    }
    CUDA_CHECK(cudaMemcpyAsync(persistent_layers_, table.data(), sizeof(Qwen3PersistentLayer) * table.size(),
                               cudaMemcpyHostToDevice, s));
    CUDA_CHECK(cudaStreamSynchronize(s));  // table is a host temporary
  }
  // Thread-local mode: other threads' CUDA calls (a vision tower on its own stream) are not affected.
  if (cudaStreamBeginCapture(s, cudaStreamCaptureModeThreadLocal) != cudaSuccess) {
    cudaGetLastError();
    return false;
  }
  bool ok = true;
  try {
    record_decode_step(s);
  } catch (...) {
    ok = false;
  }
  cudaGraph_t g = nullptr;
  cudaError_t e = cudaStreamEndCapture(s, &g);
  ok = ok && e == cudaSuccess && g;
  cudaGraphExec_t ex = nullptr;
  if (ok) ok = cudaGraphInstantiate(&ex, g, 0) == cudaSuccess;
  if (g) cudaGraphDestroy(g);
  cudaGetLastError();  // clear a capture/instantiate error: the eager path takes over
  if (!ok) return false;
  graph_ = ex;
  graph_cap_ = capacity_;
  graph_logits_ = logits_;
  ++graph_captures_;
  return true;
}

bool Qwen3TextCuda::decode_graph_step(int id, bool sync) {
  if (!graph_on_ || graph_broken_) return false;
  const Qwen3TextConfig& c = cfg_;
  if (id < 0 || id >= c.vocab_size)
    throw ModelError("token id " + std::to_string(id) + " at row 0 is outside the vocabulary [0, " +
                     std::to_string(c.vocab_size) + ")");
  if (abort_ && abort_->load(std::memory_order_relaxed)) throw AbortedError();
  ensure_capacity(n_past_ + 1);
  cudaStream_t s = stream_.get();
  if (!logits_) {
    logits_ = (float*)pool_.alloc(sizeof(float) * (size_t)c.vocab_size);
    logits_rows_ = 1;
  }
  if (!dec_)
    dec_ =
        (float*)pool_.alloc(sizeof(float) * (2 * (size_t)c.hidden_size + scratch_floats(1) + 2 * (size_t)c.head_dim));
  if (att_part_cap_ != capacity_) {
    CUDA_CHECK(cudaStreamSynchronize(s));  // the old workspace may still be read by the last step
    pool_.free(att_part_);
    size_t fl = attention_decode_workspace(capacity_, c.num_heads, c.num_kv_heads, c.head_dim);
    att_part_ = (float*)pool_.alloc(sizeof(float) * std::max<size_t>(fl, 1));
    att_part_cap_ = capacity_;
  }
  if (!graph_ || graph_cap_ != capacity_ || graph_logits_ != logits_) {
    if (!capture_decode_graph()) {
      graph_broken_ = true;  // stay eager from now on (capture is not retried every token)
      return false;
    }
  }
  const int pos = next_pos_;
  host_step_[0] = id;
  host_step_[1] = host_step_[2] = host_step_[3] = pos;
  host_step_[4] = n_past_;
  host_step_[5] = n_past_ + 1;
  // Pageable source: the call returns once the 24 bytes are staged, so host_step_ may change after it.
  CUDA_CHECK(cudaMemcpyAsync(step_, host_step_, sizeof(host_step_), cudaMemcpyHostToDevice, s));
  CUDA_CHECK(cudaGraphLaunch(graph_, s));
  if (sync) CUDA_CHECK(cudaStreamSynchronize(s));
  last_rows_ = 1;
  n_past_ += 1;
  next_pos_ = pos + 1;
  return true;
}

void Qwen3TextCuda::decode(int id, float* logits) {
  if (!decode_graph_step(id, true)) {
    int p3[3] = {next_pos_, next_pos_, next_pos_};
    forward(&id, 1, p3, nullptr, false);
  }
  if (logits) CUDA_CHECK(cudaMemcpy(logits, logits_, sizeof(float) * cfg_.vocab_size, cudaMemcpyDeviceToHost));
}

int Qwen3TextCuda::last_argmax() {
  argmax_cuda(tmp_int_, logits_ + (size_t)(last_rows_ - 1) * cfg_.vocab_size, cfg_.vocab_size, ctx_);
  int idx = 0;
  CUDA_CHECK(cudaMemcpyAsync(&idx, tmp_int_, sizeof(int), cudaMemcpyDeviceToHost, stream_.get()));
  CUDA_CHECK(cudaStreamSynchronize(stream_.get()));
  return idx;
}

int Qwen3TextCuda::decode_greedy(int id) {
  // The argmax runs on the same stream after the step; its sync covers both.
  if (!decode_graph_step(id, false)) decode(id, nullptr);
  return last_argmax();
}

int Qwen3TextCuda::decode_sample(int id, const SamplingParams& p, const int* history, int hist_len,
                                 uint64_t* rng_state) {
  // The sampler runs on the same stream after the step; its sync covers both.
  if (!decode_graph_step(id, false)) decode(id, nullptr);
  return sample_last(p, history, hist_len, rng_state);
}

int Qwen3TextCuda::sample_last(const SamplingParams& p, const int* history, int hist_len, uint64_t* rng_state) {
  const bool penalties = (p.repetition_penalty != 1.0f && p.repetition_penalty > 0) || p.presence_penalty != 0.0f;
  if (penalties && hist_len > hist_cap_) {
    CUDA_CHECK(cudaStreamSynchronize(stream_.get()));  // a pending copy may still read the old history block
    pool_.free(hist_);
    hist_cap_ = std::max(hist_len, 2 * hist_cap_);
    hist_ = (int*)pool_.alloc(sizeof(int) * hist_cap_);
  }
  // Only the penalties read the history; without them nothing crosses but the id.
  if (penalties && hist_len > 0)
    CUDA_CHECK(cudaMemcpyAsync(hist_, history, sizeof(int) * hist_len, cudaMemcpyHostToDevice, stream_.get()));
  return sample_cuda(logits_ + (size_t)(last_rows_ - 1) * cfg_.vocab_size, cfg_.vocab_size, p, hist_,
                     penalties ? hist_len : 0, rng_state, nullptr, tmp_int_, ctx_);
}

}  // namespace cosmos
