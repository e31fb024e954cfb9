// Node-API face of the Qwen3 text decoder (models/qwen3_text*): the JS class NativeQwen3Text and
// loadModel / loadModelAsync. Registered from addon.cc through register_qwen3_text(). The object is a
// ModelObject (model_object.h: abort, free, info, async run); this file adds prefill / decode /
// forwardLogits / reset (synchronous, for tests and scoring) and generate: argument conversion, then
// the token loop of runtime/token_loop (plain C++) on a worker, tokens streamed to onToken.
// setTokenPieces(offsets, bytes) gives the decoder the tokenizer's bytes per token id once, so
// generate's stopStrings are matched in the token loop.
//
// Backend: the decoder runs on the GPU (models/qwen3_text_cuda) when the addon was built with CUDA and
// choose_device() picked CUDA (a GPU is present and COSMOS_DEVICE is not cpu), else on the CPU
// (models/qwen3_text). Both sit behind TextEngine, so every method below is backend-agnostic.
//
// The config arrives as the object TypeScript validated (src/native/addon_types.ts, NativeTextConfig);
// config.json is not parsed again here.
#include <napi.h>

#include <atomic>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "../core/device.h"
#include "../models/qwen3_text.h"
#include "../ops/sample.h"
#include "../runtime/text_decoders.h"
#include "../runtime/token_loop.h"
#include "../safetensors/safetensors.h"
#include "gpu_backend.h"
#include "model_object.h"
#include "napi_common.h"
#include "tensor_object.h"
#ifdef COSMOS_CUDA
#include "../models/qwen3_text_cuda.h"
#endif

using namespace cosmos;
using namespace cosmos::binding;

namespace {

// NativeTextConfig (camelCase, see addon_types.ts) -> Qwen3TextConfig. The TS schema checked it
// already; the shape rules are checked again so a raw addon call cannot build an unusable model.
Qwen3TextConfig text_config_from(Napi::Env env, const Napi::Value& v) {
  if (!v.IsObject())
    throw make_error(env, "ARGUMENT", "config must be the NativeTextConfig object (src/native/addon_types.ts)");
  Napi::Object o = v.As<Napi::Object>();
  const char* w = "config";
  Qwen3TextConfig k;
  k.vocab_size = obj_int(env, o, "vocabSize", w);
  k.hidden_size = obj_int(env, o, "hiddenSize", w);
  k.intermediate_size = obj_int(env, o, "intermediateSize", w);
  k.num_layers = obj_int(env, o, "numLayers", w);
  k.num_heads = obj_int(env, o, "numHeads", w);
  k.num_kv_heads = obj_int(env, o, "numKvHeads", w);
  k.head_dim = obj_int(env, o, "headDim", w);
  k.rms_norm_eps = (float)obj_num(env, o, "rmsNormEps", w);
  k.rope_theta = (float)obj_num(env, o, "ropeTheta", w);
  std::vector<int> sec = to_ints(env, o.Get("mropeSection"), "config.mropeSection");
  k.mrope_interleaved = obj_bool(env, o, "mropeInterleaved", w);
  k.tie_word_embeddings = obj_bool(env, o, "tieWordEmbeddings", w);
  if (k.num_heads % k.num_kv_heads != 0)
    throw make_error(env, "CONFIG", "config.numHeads is not a multiple of config.numKvHeads");
  if (k.head_dim % 2 != 0) throw make_error(env, "CONFIG", "config.headDim must be even");
  if (sec.size() != 3 || sec[0] < 0 || sec[1] < 0 || sec[2] < 0 || sec[0] + sec[1] + sec[2] != k.head_dim / 2)
    throw make_error(env, "CONFIG", "config.mropeSection must be 3 non-negative integers summing to headDim / 2");
  for (int i = 0; i < 3; ++i) k.mrope_section[i] = sec[i];
  return k;
}

// pos3 given ([3*n], rows t,h,w) or sequential from start (t = h = w).
std::vector<int> positions(Napi::Env env, const Napi::Value& v, int n, int start) {
  if (v.IsUndefined() || v.IsNull()) {
    std::vector<int> p(3 * n);
    for (int r = 0; r < 3; ++r)
      for (int i = 0; i < n; ++i) p[r * n + i] = start + i;
    return p;
  }
  std::vector<int> p = to_ints(env, v, "pos3");
  if ((int)p.size() != 3 * n)
    throw make_error(env, "ARGUMENT",
                     "pos3 must have 3 x " + std::to_string(n) + " = " + std::to_string(3 * n) +
                         " entries (t row, h row, w row), got " + std::to_string(p.size()));
  return p;
}

// The visual inputs of one call: Float32Array copies, or NativeTensor handles read in place (the vision
// tower's outputs, on the host or the GPU). CPU tensors are host memory, so either decoder takes them;
// GPU tensors go to the CUDA decoder only, and then every visual input must be one.
struct VisualOwned {
  std::vector<int> rows;
  std::vector<float> embeds;
  std::vector<std::vector<float>> deepstack;
  std::shared_ptr<TensorStorage> embeds_t;
  std::vector<std::shared_ptr<TensorStorage>> deepstack_t;
  bool on_device = false;

  std::vector<std::shared_ptr<TensorStorage>> tensors() const {
    std::vector<std::shared_ptr<TensorStorage>> all = deepstack_t;
    all.push_back(embeds_t);
    return all;
  }
  // While a TensorReadLock on tensors() is held.
  VisualInputs view() const {
    VisualInputs vi;
    vi.rows = rows.data();
    vi.n_rows = (int)rows.size();
    vi.embeds = embeds_t ? embeds_t->data() : embeds.empty() ? nullptr : embeds.data();
    for (auto& d : deepstack_t) vi.deepstack.push_back(d->data());
    for (auto& d : deepstack) vi.deepstack.push_back(d.data());
    vi.on_device = on_device;
    return vi;
  }
};

// embeds / deepstack[i]: a Float32Array (copied) or a NativeTensor of rows x hidden floats.
void visual_array(Napi::Env env, const Napi::Value& v, const std::string& what, size_t want, std::vector<float>& host,
                  std::shared_ptr<TensorStorage>& tensor) {
  if (TensorObject::is_tensor(v)) {
    tensor = TensorObject::storage_of(env, v, what.c_str());
    if (tensor->bytes() != want * sizeof(float))
      throw make_error(env, "ARGUMENT",
                       what + " must have visualRows.length x hidden = " + std::to_string(want) +
                           " floats; the tensor has " + std::to_string(tensor->numel()));
    return;
  }
  if (!(v.IsTypedArray() && v.As<Napi::TypedArray>().TypedArrayType() == napi_float32_array))
    throw make_error(env, "ARGUMENT", what + " must be a Float32Array or a NativeTensor");
  host = to_floats(env, v, what.c_str());
  if (host.size() != want)
    throw make_error(env, "ARGUMENT",
                     what + " must have visualRows.length x hidden = " + std::to_string(want) + " floats");
}

// opts: { visualRows?: Int32Array, embeds?: Float32Array | NativeTensor [rows*hidden],
//         deepstack?: (Float32Array | NativeTensor)[] }. `backend`: the decoder's ("cpu" / "cuda").
std::unique_ptr<VisualOwned> visual_from(Napi::Env env, const Napi::Object& o, int n, int hidden,
                                         const std::string& backend) {
  Napi::Value rv = o.Get("visualRows");
  if (rv.IsUndefined() || rv.IsNull()) return nullptr;
  auto vis = std::make_unique<VisualOwned>();
  vis->rows = to_ints(env, rv, "visualRows");
  // Any order (the tower's row order, so its outputs need no permutation), but each row once: the
  // deepstack features are added at those rows.
  std::vector<bool> seen(n, false);
  for (int r : vis->rows) {
    if (r < 0 || r >= n || seen[r])
      throw make_error(env, "ARGUMENT", "visualRows must be unique and inside the prompt");
    seen[r] = true;
  }
  size_t want = vis->rows.size() * (size_t)hidden;
  Napi::Value ev = o.Get("embeds");
  if (!ev.IsUndefined() && !ev.IsNull()) visual_array(env, ev, "embeds", want, vis->embeds, vis->embeds_t);
  Napi::Value dv = o.Get("deepstack");
  if (!dv.IsUndefined() && !dv.IsNull()) {
    if (!dv.IsArray()) throw make_error(env, "ARGUMENT", "deepstack must be an array of Float32Array or NativeTensor");
    auto a = dv.As<Napi::Array>();
    for (uint32_t i = 0; i < a.Length(); ++i) {
      std::vector<float> host;
      std::shared_ptr<TensorStorage> t;
      visual_array(env, a.Get(i), "deepstack[" + std::to_string(i) + "]", want, host, t);
      if (t)
        vis->deepstack_t.push_back(t);
      else
        vis->deepstack.push_back(std::move(host));
    }
    if (!vis->deepstack_t.empty() && !vis->deepstack.empty())
      throw make_error(env, "ARGUMENT", "deepstack must be all Float32Arrays or all NativeTensors");
  }
  int on_gpu = 0,
      inputs = (vis->embeds_t || !vis->embeds.empty() ? 1 : 0) + (int)(vis->deepstack.size() + vis->deepstack_t.size());
  for (auto& t : vis->tensors())
    if (t && t->device() == DeviceKind::CUDA) ++on_gpu;
  if (on_gpu > 0) {
    if (backend != "cuda")
      throw make_error(env, "ARGUMENT",
                       "the visual tensors are on the GPU and this decoder runs on the CPU; toHost() them first");
    if (on_gpu != inputs) throw make_error(env, "ARGUMENT", "embeds and deepstack must all be GPU tensors when one is");
    vis->on_device = true;
  }
  return vis;
}

// Runs the token loop's prefill with the visual tensors locked, and lets them go as soon as the
// prompt is in the KV cache (decode steps never read them), so a free() of their model need not wait
// for the whole generation.
class UnlockAfterPrefill : public runtime::TokenDecoder {
 public:
  UnlockAfterPrefill(runtime::TokenDecoder& d, std::optional<TensorReadLock> lock) : d_(d), lock_(std::move(lock)) {}
  int vocab_size() const override { return d_.vocab_size(); }
  void prefill_prompt(const int* ids, int n, const int* pos3, const VisualInputs* vis) override {
    d_.prefill_prompt(ids, n, pos3, vis);
    lock_.reset();
  }
  int sample(const SamplingParams& p, const std::vector<int>& history, uint64_t* rng) override {
    return d_.sample(p, history, rng);
  }
  int decode_and_sample(int id, const SamplingParams& p, const std::vector<int>& history, uint64_t* rng) override {
    return d_.decode_and_sample(id, p, history, rng);
  }

 private:
  runtime::TokenDecoder& d_;
  std::optional<TensorReadLock> lock_;
};

// The decoder behind one JS model object; the token loop (runtime::generate) drives it through
// runtime::TokenDecoder.
class TextEngine : public runtime::TokenDecoder {
 public:
  virtual ~TextEngine() = default;
  virtual const Qwen3TextConfig& config() const = 0;
  // Same contract as Qwen3Text::prefill / decode (host ids, positions and logits).
  virtual void prefill(const int* ids, int n, const int* pos3, const VisualInputs* vis, float* logits, bool all) = 0;
  virtual void decode(int id, float* logits) = 0;
  virtual void reset() = 0;
  virtual int n_past() const = 0;
  virtual int next_pos() const = 0;
  virtual void set_abort_flag(const std::atomic<bool>* f) = 0;
  virtual const char* backend() const = 0;
  // Bytes the engine holds for as long as it lives (its weights), reported to V8.
  virtual size_t resident_bytes() const = 0;
  int vocab_size() const override { return config().vocab_size; }
  // Called when a run ends by abort or error: drop cached scratch memory.
  virtual void after_failed_run() {}
  virtual void describe(Napi::Env, Napi::Object&) const {}
};

// f32 bytes of the tensors the CPU decoder copies out of the checkpoint (it computes in f32).
size_t cpu_text_bytes(const Checkpoint& ck) {
  size_t n = 0;
  for (const auto& name : ck.names()) {
    if (name.rfind("model.language_model.", 0) != 0 && name != "lm_head.weight") continue;
    size_t numel = 1;
    for (int64_t d : ck.info(name).shape) numel *= (size_t)d;
    n += numel * sizeof(float);
  }
  return n;
}

class CpuEngine : public TextEngine {
 public:
  CpuEngine(std::unique_ptr<Qwen3Text> m, size_t bytes) : m_(std::move(m)), bytes_(bytes) {}
  const Qwen3TextConfig& config() const override { return m_->config(); }
  void prefill(const int* ids, int n, const int* pos3, const VisualInputs* vis, float* logits, bool all) override {
    m_->prefill(ids, n, pos3, vis, logits, all);
  }
  void decode(int id, float* logits) override { m_->decode(id, logits); }
  void reset() override { m_->reset(); }
  int n_past() const override { return m_->n_past(); }
  int next_pos() const override { return m_->next_pos(); }
  void set_abort_flag(const std::atomic<bool>* f) override { m_->set_abort_flag(f); }
  const char* backend() const override { return "cpu"; }
  size_t resident_bytes() const override { return bytes_; }
  // runtime::TokenDecoder, by runtime::CpuTextDecoder.
  void prefill_prompt(const int* ids, int n, const int* pos3, const VisualInputs* vis) override {
    dec_.prefill_prompt(ids, n, pos3, vis);
  }
  int sample(const SamplingParams& p, const std::vector<int>& history, uint64_t* rng) override {
    return dec_.sample(p, history, rng);
  }
  int decode_and_sample(int id, const SamplingParams& p, const std::vector<int>& history, uint64_t* rng) override {
    return dec_.decode_and_sample(id, p, history, rng);
  }

 private:
  std::unique_ptr<Qwen3Text> m_;
  size_t bytes_;
  runtime::CpuTextDecoder dec_{*m_};
};

#ifdef COSMOS_CUDA
// Every call brackets itself with GpuCallScope so memory()'s process peak sees its activations.
class CudaEngine : public TextEngine {
 public:
  explicit CudaEngine(std::unique_ptr<Qwen3TextCuda> m) : m_(std::move(m)) { gpu_pool_register(pool()); }
  ~CudaEngine() override {
    gpu_pool_unregister(pool());
    m_.reset();  // the pool (weights, KV cache, cached blocks) goes back to CUDA here
  }
  const Qwen3TextConfig& config() const override { return m_->config(); }
  void prefill(const int* ids, int n, const int* pos3, const VisualInputs* vis, float* logits, bool all) override {
    GpuCallScope g(pool());
    m_->prefill(ids, n, pos3, vis, logits, all);
  }
  void decode(int id, float* logits) override {
    GpuCallScope g(pool());
    m_->decode(id, logits);
  }
  void reset() override { m_->reset(); }
  int n_past() const override { return m_->n_past(); }
  int next_pos() const override { return m_->next_pos(); }
  void set_abort_flag(const std::atomic<bool>* f) override { m_->set_abort_flag(f); }
  const char* backend() const override { return "cuda"; }
  size_t resident_bytes() const override { return m_->weight_bytes(); }
  // runtime::TokenDecoder, by runtime::CudaTextDecoder (logits stay on the GPU; only ids come back).
  void prefill_prompt(const int* ids, int n, const int* pos3, const VisualInputs* vis) override {
    GpuCallScope g(pool());
    dec_.prefill_prompt(ids, n, pos3, vis);
  }
  int sample(const SamplingParams& p, const std::vector<int>& history, uint64_t* rng) override {
    GpuCallScope g(pool());
    return dec_.sample(p, history, rng);
  }
  int decode_and_sample(int id, const SamplingParams& p, const std::vector<int>& history, uint64_t* rng) override {
    GpuCallScope g(pool());
    return dec_.decode_and_sample(id, p, history, rng);
  }
  void after_failed_run() override {
    m_->sync();
    pool()->release_cached();
  }
  void describe(Napi::Env env, Napi::Object& o) const override {
    o.Set("weightType", wt_bf16_ ? "bf16" : "f32");
    o.Set("weightBytes", Napi::Number::New(env, (double)m_->weight_bytes()));
    o.Set("gpuBytesInUse", Napi::Number::New(env, (double)m_->pool().bytes_in_use()));
    o.Set("gpuCachedBytes", Napi::Number::New(env, (double)m_->pool().bytes_cached()));
  }
  bool wt_bf16_ = false;

 private:
  std::unique_ptr<Qwen3TextCuda> m_;
  runtime::CudaTextDecoder dec_{*m_};
  // The model exposes its pool read-only; the pool object itself is not const (peak reset, release).
  CudaPool* pool() const { return const_cast<CudaPool*>(&m_->pool()); }
};
#endif

// CPU or CUDA, as choose_device() says.
std::unique_ptr<TextEngine> load_engine(const Checkpoint& ck, const Qwen3TextConfig& cfg) {
#ifdef COSMOS_CUDA
  if (choose_device().kind == DeviceKind::CUDA) {
    WType wt = gpu_weight_type(ck, "self_attn.q_proj.weight");
    auto e = std::make_unique<CudaEngine>(Qwen3TextCuda::load(ck, cfg, wt));
    e->wt_bf16_ = wt == WType::BF16;
    return e;
  }
#endif
  return std::make_unique<CpuEngine>(Qwen3Text::load(ck, cfg), cpu_text_bytes(ck));
}

// One generate() call on the worker (ModelObject::run_async): the owned arguments and runtime::generate.
struct GenerateJob {
  runtime::GenerateRequest req;
  std::unique_ptr<VisualOwned> vis;
  std::shared_ptr<const runtime::TokenPieces> pieces;  // kept alive for the run (req.pieces points here)
  runtime::GenerateResult out;

  void run(TextEngine& m, const std::atomic<bool>& abort, const Emit& emit) {
    VisualInputs vi;
    std::optional<TensorReadLock> lock;
    if (vis) {
      lock.emplace(vis->tensors());  // TensorFreedError when one went since the call was made
      vi = vis->view();
      req.vis = &vi;
    }
    UnlockAfterPrefill dec(m, std::move(lock));
    out = runtime::generate(dec, req, abort, emit);
    req.vis = nullptr;
  }
  void after_failure(TextEngine& m) { m.after_failed_run(); }
  Napi::Value result(Napi::Env env) {
    Napi::Object r = Napi::Object::New(env);
    auto toks = Napi::Int32Array::New(env, out.tokens.size());
    std::copy(out.tokens.begin(), out.tokens.end(), toks.Data());
    r.Set("tokens", toks);
    r.Set("stopReason", runtime::stop_reason_name(out.stop_reason));
    if (out.stop_string >= 0) {
      r.Set("stopString", out.stop_string);
      r.Set("textBytes", Napi::Number::New(env, (double)out.text_bytes));
    }
    return r;
  }
};

float num_or(const Napi::Object& o, const char* k, float d) {
  Napi::Value v = o.Get(k);
  return v.IsNumber() ? v.As<Napi::Number>().FloatValue() : d;
}

class TextObject : public ModelObject<TextObject, TextEngine> {
 public:
  static Napi::FunctionReference& ctor(Napi::Env env) { return addon_data(env).text_ctor; }
  static Napi::Function Init(Napi::Env env) {
    auto methods = base_methods();
    methods.push_back(InstanceMethod("prefill", &TextObject::Prefill));
    methods.push_back(InstanceMethod("decode", &TextObject::Decode));
    methods.push_back(InstanceMethod("forwardLogits", &TextObject::ForwardLogits));
    methods.push_back(InstanceMethod("generate", &TextObject::Generate));
    methods.push_back(InstanceMethod("reset", &TextObject::Reset));
    methods.push_back(InstanceMethod("setTokenPieces", &TextObject::SetTokenPieces));
    Napi::Function f = DefineClass(env, "NativeQwen3Text", methods);
    ctor(env) = Napi::Persistent(f);
    return f;
  }
  explicit TextObject(const Napi::CallbackInfo& info) : ModelObject(info) {}

  static void describe(Napi::Env env, Napi::Object& o, const TextEngine& m) {
    const auto& c = m.config();
    o.Set("nPast", m.n_past());
    o.Set("nextPos", m.next_pos());
    o.Set("vocabSize", c.vocab_size);
    o.Set("hiddenSize", c.hidden_size);
    o.Set("numLayers", c.num_layers);
    o.Set("backend", m.backend());
    m.describe(env, o);
  }

  // prefill(ids, pos3?, opts?) -> Float32Array logits of the last token ([vocab]), or all rows with opts.allLogits.
  Napi::Value Prefill(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    COSMOS_GUARD_BEGIN
    TextEngine& m = ready(env, "model");
    std::vector<int> ids = to_ints(env, info[0], "ids");
    int n = (int)ids.size();
    if (n == 0) throw make_error(env, "ARGUMENT", "ids is empty");
    std::vector<int> p = positions(env, info[1], n, m.next_pos());
    bool all = false;
    std::unique_ptr<VisualOwned> vis;
    if (info.Length() > 2 && info[2].IsObject()) {
      Napi::Object o = info[2].As<Napi::Object>();
      all = o.Get("allLogits").ToBoolean();
      vis = visual_from(env, o, n, m.config().hidden_size, m.backend());
    }
    std::optional<TensorReadLock> lock;
    VisualInputs vi;
    if (vis) {
      lock.emplace(vis->tensors());
      vi = vis->view();
    }
    std::vector<float> logits((size_t)(all ? n : 1) * m.config().vocab_size);
    abort_flag = false;
    m.prefill(ids.data(), n, p.data(), vis ? &vi : nullptr, logits.data(), all);
    return to_js(env, logits);
    COSMOS_GUARD_END(env)
  }

  Napi::Value Decode(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    COSMOS_GUARD_BEGIN
    TextEngine& m = ready(env, "model");
    if (!info[0].IsNumber()) throw make_error(env, "ARGUMENT", "decode(id): id must be a number");
    int id = info[0].As<Napi::Number>().Int32Value();
    std::vector<float> logits(m.config().vocab_size);
    abort_flag = false;
    m.decode(id, logits.data());
    return to_js(env, logits);
    COSMOS_GUARD_END(env)
  }

  // forwardLogits(ids, pos3?, opts?) -> Float32Array [n * vocab]; starts from an empty cache (for tests).
  Napi::Value ForwardLogits(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    COSMOS_GUARD_BEGIN
    TextEngine& m = ready(env, "model");
    std::vector<int> ids = to_ints(env, info[0], "ids");
    int n = (int)ids.size();
    if (n == 0) throw make_error(env, "ARGUMENT", "ids is empty");
    std::vector<int> p = positions(env, info[1], n, 0);
    std::unique_ptr<VisualOwned> vis;
    if (info.Length() > 2 && info[2].IsObject())
      vis = visual_from(env, info[2].As<Napi::Object>(), n, m.config().hidden_size, m.backend());
    std::optional<TensorReadLock> lock;
    VisualInputs vi;
    if (vis) {
      lock.emplace(vis->tensors());
      vi = vis->view();
    }
    std::vector<float> logits((size_t)n * m.config().vocab_size);
    m.reset();
    abort_flag = false;
    m.prefill(ids.data(), n, p.data(), vis ? &vi : nullptr, logits.data(), true);
    return to_js(env, logits);
    COSMOS_GUARD_END(env)
  }

  // setTokenPieces(offsets: Int32Array [n + 1], bytes: Uint8Array): the bytes token id t decodes to are
  // bytes[offsets[t] .. offsets[t + 1]) (special tokens the text leaves out: empty). Replaces any
  // earlier table; a running generate keeps the one it started with.
  Napi::Value SetTokenPieces(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    COSMOS_GUARD_BEGIN
    ready(env, "model");
    if (!(info[1].IsTypedArray() && info[1].As<Napi::TypedArray>().TypedArrayType() == napi_uint8_array))
      throw make_error(env, "ARGUMENT", "setTokenPieces(offsets, bytes): bytes must be a Uint8Array");
    auto p = std::make_shared<runtime::TokenPieces>();
    std::vector<int> off = to_ints(env, info[0], "offsets");
    p->offsets.assign(off.begin(), off.end());
    auto b = info[1].As<Napi::Uint8Array>();
    p->bytes.assign(reinterpret_cast<const char*>(b.Data()), b.ElementLength());
    std::string bad = p->check();
    if (!bad.empty()) throw make_error(env, "ARGUMENT", "setTokenPieces: " + bad);
    pieces_ = std::move(p);
    return env.Undefined();
    COSMOS_GUARD_END(env)
  }

  Napi::Value Reset(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    COSMOS_GUARD_BEGIN
    ready(env, "model").reset();
    return env.Undefined();
    COSMOS_GUARD_END(env)
  }

  // generate({ ids, pos3?, maxTokens, stopIds?, stopStrings?, sampling?: {temperature, topK, topP,
  //            repetitionPenalty, presencePenalty, seed}, onToken?, visualRows?, embeds?, deepstack? })
  //   -> Promise<{tokens, stopReason, stopString?, textBytes?}> (the last two when a stop string ended it)
  // embeds / deepstack may be NativeTensors (the tower's outputs): read in place during the prefill.
  Napi::Value Generate(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    COSMOS_GUARD_BEGIN
    TextEngine& m = ready(env, "model");
    if (!info[0].IsObject()) throw make_error(env, "ARGUMENT", "generate(options): options must be an object");
    Napi::Object o = info[0].As<Napi::Object>();
    auto job = std::make_unique<GenerateJob>();
    job->req.ids = to_ints(env, o.Get("ids"), "ids");
    int n = (int)job->req.ids.size();
    if (n == 0) throw make_error(env, "ARGUMENT", "ids is empty");
    for (int id : job->req.ids)
      if (id < 0 || id >= m.config().vocab_size)
        throw make_error(env, "ARGUMENT", "token id " + std::to_string(id) + " is outside the vocabulary");
    job->req.pos3 = positions(env, o.Get("pos3"), n, m.next_pos());
    job->vis = visual_from(env, o, n, m.config().hidden_size, m.backend());
    Napi::Value mt = o.Get("maxTokens");
    if (!mt.IsNumber() || mt.As<Napi::Number>().Int32Value() < 0)
      throw make_error(env, "ARGUMENT", "maxTokens must be a non-negative number");
    job->req.max_tokens = mt.As<Napi::Number>().Int32Value();
    Napi::Value sv = o.Get("stopIds");
    if (!sv.IsUndefined() && !sv.IsNull()) job->req.stop_ids = to_ints(env, sv, "stopIds");
    Napi::Value ss = o.Get("stopStrings");
    if (!ss.IsUndefined() && !ss.IsNull()) {
      if (!ss.IsArray()) throw make_error(env, "ARGUMENT", "stopStrings must be an array of strings");
      auto a = ss.As<Napi::Array>();
      for (uint32_t i = 0; i < a.Length(); ++i) {
        if (!a.Get(i).IsString())
          throw make_error(env, "ARGUMENT", "stopStrings[" + std::to_string(i) + "] is not a string");
        std::string s = a.Get(i).As<Napi::String>().Utf8Value();
        if (!s.empty()) job->req.stop_strings.push_back(std::move(s));
      }
      if (!job->req.stop_strings.empty()) {
        if (!pieces_)
          throw make_error(env, "ARGUMENT", "stopStrings need the token pieces: call setTokenPieces() once first");
        job->pieces = pieces_;
        job->req.pieces = job->pieces.get();
      }
    }
    Napi::Value spv = o.Get("sampling");
    if (spv.IsObject()) {
      Napi::Object s = spv.As<Napi::Object>();
      job->req.sampling.temperature = num_or(s, "temperature", 0.f);
      job->req.sampling.top_k = (int)num_or(s, "topK", 0.f);
      job->req.sampling.top_p = num_or(s, "topP", 1.f);
      job->req.sampling.repetition_penalty = num_or(s, "repetitionPenalty", 1.f);
      job->req.sampling.presence_penalty = num_or(s, "presencePenalty", 0.f);
      Napi::Value seed = s.Get("seed");
      if (seed.IsNumber()) job->req.seed = (uint64_t)seed.As<Napi::Number>().Int64Value();
    }
    Napi::Value cb = o.Get("onToken");
    if (!cb.IsUndefined() && !cb.IsFunction()) throw make_error(env, "ARGUMENT", "onToken must be a function");
    return run_async(env, info.This().As<Napi::Object>(), "cosmos.generate", std::move(job), cb);
    COSMOS_GUARD_END(env)
  }

 private:
  std::shared_ptr<const runtime::TokenPieces> pieces_;  // setTokenPieces(); shared with running jobs
};

// loadModel(pathOrFiles, config: NativeTextConfig) -> model (synchronous; fine for small checkpoints and tests).
Napi::Value LoadModel(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  COSMOS_GUARD_BEGIN
  Qwen3TextConfig cfg = text_config_from(env, info[1]);
  auto ck = checkpoint_paths(env, info[0], "loadModel").open();
  return TextObject::wrap(env, load_engine(*ck, cfg));
  COSMOS_GUARD_END(env)
}

// loadModelAsync(pathOrFiles, config) -> Promise<model>: the weights are read on a libuv worker.
Napi::Value LoadModelAsync(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  COSMOS_GUARD_BEGIN
  Qwen3TextConfig cfg = text_config_from(env, info[1]);
  CheckpointPaths paths = checkpoint_paths(env, info[0], "loadModelAsync");
  return load_on_worker<TextEngine>(
      env, "cosmos.loadModel", [paths, cfg] { return load_engine(*paths.open(), cfg); },
      [](Napi::Env e, std::unique_ptr<TextEngine> m) -> Napi::Value { return TextObject::wrap(e, std::move(m)); });
  COSMOS_GUARD_END(env)
}

}  // namespace

// Called from addon.cc's Init.
void register_qwen3_text(Napi::Env env, Napi::Object exports) {
  exports.Set("NativeQwen3Text", TextObject::Init(env));
  exports.Set("loadModel", Napi::Function::New(env, LoadModel, "loadModel"));
  exports.Set("loadModelAsync", Napi::Function::New(env, LoadModelAsync, "loadModelAsync"));
}
