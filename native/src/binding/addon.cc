// Node-API face of the native engine. Everything that can throw on untrusted input is wrapped so a
// C++ exception becomes a JS Error with a `code` (SAFETENSORS_*, MODEL, CONFIG, BUSY, FREED, ARGUMENT);
// nothing here may take the process down.
//
// Backend: the decoder runs on the GPU (models/qwen3_text_cuda) when the addon was built with CUDA and
// choose_device() picked CUDA (a GPU is present and COSMOS_DEVICE is not cpu), else on the CPU
// (models/qwen3_text). Both sit behind TextEngine, so every method below is backend-agnostic.
//
// Long work: generate() and loadModelAsync() run on a libuv worker (Napi::AsyncWorker). Tokens are sent
// to JS through a Napi::ThreadSafeFunction; the Promise is settled from that TSFN's finalizer, which
// Node runs only after every queued token callback has run, so onToken always sees all tokens first.
#include <napi.h>

#include <atomic>
#include <memory>
#include <string>
#include <vector>

#include "../core/device.h"
#include "../core/json.h"
#include "../core/memory.h"
#include "../models/qwen3_text.h"
#include "../ops/sample.h"
#include "../safetensors/safetensors.h"
#include "gpu_backend.h"
#include "napi_common.h"
#ifdef COSMOS_CUDA
#include "../models/qwen3_text_cuda.h"
#endif

using namespace cosmos;
using namespace cosmos::binding;

void register_vision(Napi::Env env, Napi::Object exports);  // binding/vision.cc (Qwen3-VL vision tower)

namespace {

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
    throw make_error(env, "ARGUMENT", "pos3 must have 3 x " + std::to_string(n) + " = " + std::to_string(3 * n) + " entries (t row, h row, w row), got " + std::to_string(p.size()));
  return p;
}

struct VisualOwned {
  std::vector<int> rows;
  std::vector<float> embeds;
  std::vector<std::vector<float>> deepstack;
  VisualInputs view() const {
    VisualInputs vi;
    vi.rows = rows.data();
    vi.n_rows = (int)rows.size();
    vi.embeds = embeds.empty() ? nullptr : embeds.data();
    for (auto& d : deepstack) vi.deepstack.push_back(d.data());
    return vi;
  }
};

// opts: { visualRows?: Int32Array, embeds?: Float32Array [rows*hidden], deepstack?: Float32Array[] }
std::unique_ptr<VisualOwned> visual_from(Napi::Env env, const Napi::Object& o, int n, int hidden) {
  Napi::Value rv = o.Get("visualRows");
  if (rv.IsUndefined() || rv.IsNull()) return nullptr;
  auto vis = std::make_unique<VisualOwned>();
  vis->rows = to_ints(env, rv, "visualRows");
  int prev = -1;
  for (int r : vis->rows) {
    if (r < 0 || r >= n || r <= prev) throw make_error(env, "ARGUMENT", "visualRows must be ascending, unique and inside the prompt");
    prev = r;
  }
  size_t want = vis->rows.size() * (size_t)hidden;
  Napi::Value ev = o.Get("embeds");
  if (!ev.IsUndefined() && !ev.IsNull()) {
    vis->embeds = to_floats(env, ev, "embeds");
    if (vis->embeds.size() != want) throw make_error(env, "ARGUMENT", "embeds must have visualRows.length x hidden = " + std::to_string(want) + " floats");
  }
  Napi::Value dv = o.Get("deepstack");
  if (!dv.IsUndefined() && !dv.IsNull()) {
    if (!dv.IsArray()) throw make_error(env, "ARGUMENT", "deepstack must be an array of Float32Array");
    auto a = dv.As<Napi::Array>();
    for (uint32_t i = 0; i < a.Length(); ++i) {
      vis->deepstack.push_back(to_floats(env, a.Get(i), "deepstack[i]"));
      if (vis->deepstack.back().size() != want) throw make_error(env, "ARGUMENT", "deepstack[" + std::to_string(i) + "] must have visualRows.length x hidden floats");
    }
  }
  return vis;
}

// The decoder behind one JS model object.
class TextEngine {
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
  // Greedy without logits on the host (CUDA: only the argmax leaves the GPU). greedy_first() is the
  // argmax of the last prefill row; prefill may then be called with logits = nullptr.
  virtual bool device_greedy() const { return false; }
  virtual int greedy_first() { throw ModelError("greedy_first: not supported by this backend"); }
  virtual int greedy_next(int) { throw ModelError("greedy_next: not supported by this backend"); }
  // Called when a run ends by abort or error: drop cached scratch memory.
  virtual void after_failed_run() {}
  virtual void describe(Napi::Env, Napi::Object&) const {}
};

class CpuEngine : public TextEngine {
 public:
  explicit CpuEngine(std::unique_ptr<Qwen3Text> m) : m_(std::move(m)) {}
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

 private:
  std::unique_ptr<Qwen3Text> m_;
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
  bool device_greedy() const override { return true; }
  int greedy_first() override { return m_->last_argmax(); }
  int greedy_next(int id) override {
    GpuCallScope g(pool());
    return m_->decode_greedy(id);
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
  return std::make_unique<CpuEngine>(Qwen3Text::load(ck, cfg));
}

class ModelWrap;

struct GenerateJob {
  std::vector<int> ids, pos3;
  std::unique_ptr<VisualOwned> vis;
  SamplingParams sp{0, 0, 1, 1, 0};
  uint64_t seed = 0;
  int max_tokens = 0;
  std::vector<int> stop_ids;
  // results
  std::vector<int> tokens;
  std::string stop_reason = "length";
  bool failed = false;
  std::string err_code, err_msg;
};

class ModelWrap : public Napi::ObjectWrap<ModelWrap> {
 public:
  static Napi::FunctionReference ctor;
  static Napi::Function Init(Napi::Env env) {
    Napi::Function f = DefineClass(env, "NativeQwen3Text",
                                   {InstanceMethod("prefill", &ModelWrap::Prefill), InstanceMethod("decode", &ModelWrap::Decode),
                                    InstanceMethod("forwardLogits", &ModelWrap::ForwardLogits),
                                    InstanceMethod("generate", &ModelWrap::Generate), InstanceMethod("abort", &ModelWrap::Abort),
                                    InstanceMethod("reset", &ModelWrap::Reset), InstanceMethod("free", &ModelWrap::Free),
                                    InstanceMethod("info", &ModelWrap::Info)});
    ctor = Napi::Persistent(f);
    ctor.SuppressDestruct();
    return f;
  }
  ModelWrap(const Napi::CallbackInfo& info) : Napi::ObjectWrap<ModelWrap>(info) {}

  std::unique_ptr<TextEngine> model;
  std::atomic<bool> abort_flag{false};
  bool busy = false;
  bool free_pending = false;

  TextEngine& ready(Napi::Env env) {
    if (!model) throw make_error(env, "FREED", "this model was freed");
    if (busy) throw make_error(env, "BUSY", "a generate() call is running on this model; await it or abort() first");
    return *model;
  }

  // prefill(ids, pos3?, opts?) -> Float32Array logits of the last token ([vocab]), or all rows with opts.allLogits.
  Napi::Value Prefill(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    COSMOS_GUARD_BEGIN
    TextEngine& m = ready(env);
    std::vector<int> ids = to_ints(env, info[0], "ids");
    int n = (int)ids.size();
    if (n == 0) throw make_error(env, "ARGUMENT", "ids is empty");
    std::vector<int> p = positions(env, info[1], n, m.next_pos());
    bool all = false;
    std::unique_ptr<VisualOwned> vis;
    if (info.Length() > 2 && info[2].IsObject()) {
      Napi::Object o = info[2].As<Napi::Object>();
      all = o.Get("allLogits").ToBoolean();
      vis = visual_from(env, o, n, m.config().hidden_size);
    }
    VisualInputs vi;
    if (vis) vi = vis->view();
    std::vector<float> logits((size_t)(all ? n : 1) * m.config().vocab_size);
    abort_flag = false;
    m.prefill(ids.data(), n, p.data(), vis ? &vi : nullptr, logits.data(), all);
    return to_js(env, logits);
    COSMOS_GUARD_END(env)
  }

  Napi::Value Decode(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    COSMOS_GUARD_BEGIN
    TextEngine& m = ready(env);
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
    TextEngine& m = ready(env);
    std::vector<int> ids = to_ints(env, info[0], "ids");
    int n = (int)ids.size();
    if (n == 0) throw make_error(env, "ARGUMENT", "ids is empty");
    std::vector<int> p = positions(env, info[1], n, 0);
    std::unique_ptr<VisualOwned> vis;
    if (info.Length() > 2 && info[2].IsObject()) vis = visual_from(env, info[2].As<Napi::Object>(), n, m.config().hidden_size);
    VisualInputs vi;
    if (vis) vi = vis->view();
    std::vector<float> logits((size_t)n * m.config().vocab_size);
    m.reset();
    abort_flag = false;
    m.prefill(ids.data(), n, p.data(), vis ? &vi : nullptr, logits.data(), true);
    return to_js(env, logits);
    COSMOS_GUARD_END(env)
  }

  Napi::Value Generate(const Napi::CallbackInfo& info);

  Napi::Value Abort(const Napi::CallbackInfo& info) {
    abort_flag = true;
    return info.Env().Undefined();
  }

  Napi::Value Reset(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    COSMOS_GUARD_BEGIN
    ready(env).reset();
    return env.Undefined();
    COSMOS_GUARD_END(env)
  }

  // free(): releases weights and cache now. During generate(), aborts it and frees when it ends.
  Napi::Value Free(const Napi::CallbackInfo& info) {
    if (busy) {
      abort_flag = true;
      free_pending = true;
    } else {
      model.reset();
    }
    return info.Env().Undefined();
  }

  Napi::Value Info(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    Napi::Object o = Napi::Object::New(env);
    o.Set("freed", Napi::Boolean::New(env, !model));
    o.Set("busy", Napi::Boolean::New(env, busy));
    if (model) {
      const auto& c = model->config();
      o.Set("nPast", model->n_past());
      o.Set("nextPos", model->next_pos());
      o.Set("vocabSize", c.vocab_size);
      o.Set("hiddenSize", c.hidden_size);
      o.Set("numLayers", c.num_layers);
      o.Set("backend", model->backend());
      model->describe(env, o);
    }
    return o;
  }
};
Napi::FunctionReference ModelWrap::ctor;

// Runs prefill + the sampling loop off the JS thread.
class GenerateWorker : public Napi::AsyncWorker {
 public:
  GenerateWorker(Napi::Env env, ModelWrap* mw, Napi::Object self, std::unique_ptr<GenerateJob> job, Napi::Value on_token)
      : Napi::AsyncWorker(env, "cosmos.generate"), mw_(mw), job_(std::move(job)), deferred_(Napi::Promise::Deferred::New(env)) {
    // AsyncWorker deletes itself after OnOK by default, but the TSFN finalizer (which settles the
    // promise) runs later and needs `this`: Settle() deletes it instead.
    SuppressDestruct();
    self_ = Napi::Persistent(self);  // keeps the model object alive while we run
    // The TSFN exists even without onToken: its finalizer is what settles the promise.
    Napi::Function cb = on_token.IsFunction() ? on_token.As<Napi::Function>() : Napi::Function::New(env, [](const Napi::CallbackInfo&) {});
    tsfn_ = Napi::ThreadSafeFunction::New(env, cb, "cosmos.onToken", 0, 1, this, [](Napi::Env env, GenerateWorker* w) { w->Settle(env); });
  }
  Napi::Promise Promise() { return deferred_.Promise(); }

  void Execute() override {
    GenerateJob& j = *job_;
    TextEngine& m = *mw_->model;
    try {
      int vocab = m.config().vocab_size;
      std::vector<float> logits(vocab);
      VisualInputs vi;
      if (j.vis) vi = j.vis->view();
      m.set_abort_flag(&mw_->abort_flag);
      // Plain greedy (no penalties) on a GPU engine: only the argmax leaves the device per step; the
      // result equals sample_cpu's (temperature 0 = argmax, first max wins on both).
      const bool dev_greedy = m.device_greedy() && j.sp.temperature == 0.f && j.sp.repetition_penalty == 1.f &&
                              j.sp.presence_penalty == 0.f;
      m.prefill(j.ids.data(), (int)j.ids.size(), j.pos3.data(), j.vis ? &vi : nullptr, dev_greedy ? nullptr : logits.data(), false);
      std::vector<int> history = j.ids;
      uint64_t rng = j.seed ? j.seed : 0x853c49e6748fea9bull;
      int next = -1;
      if (dev_greedy && j.max_tokens > 0) next = m.greedy_first();
      for (int step = 0; step < j.max_tokens; ++step) {
        if (mw_->abort_flag.load()) { j.stop_reason = "abort"; break; }
        int tok = dev_greedy ? next : sample_cpu(logits.data(), vocab, j.sp, history.data(), (int)history.size(), &rng);
        j.tokens.push_back(tok);
        history.push_back(tok);
        int* boxed = new int(tok);
        napi_status st = tsfn_.BlockingCall(boxed, [this](Napi::Env env, Napi::Function cb, int* t) {
          int v = *t;
          delete t;
          if (env == nullptr || callback_error_) return;
          try {
            cb.Call({Napi::Number::New(env, v)});
          } catch (const Napi::Error& e) {
            // onToken threw: stop generating and reject with its error (the JS thread owns these fields).
            callback_error_ = true;
            callback_msg_ = e.Message();
            mw_->abort_flag = true;
          }
        });
        if (st != napi_ok) delete boxed;
        bool stop = false;
        for (int s : j.stop_ids) stop |= (s == tok);
        if (stop) { j.stop_reason = "stop"; break; }
        if (step + 1 == j.max_tokens) break;
        if (dev_greedy) next = m.greedy_next(tok);
        else m.decode(tok, logits.data());
      }
    } catch (const AbortedError&) {
      j.stop_reason = "abort";
    } catch (...) {
      auto ce = classify(std::current_exception());
      j.failed = true;
      j.err_code = ce.first;
      j.err_msg = ce.second;
    }
    if (j.failed || j.stop_reason == "abort") {
      try {
        m.after_failed_run();
      } catch (...) {
      }
    }
    m.set_abort_flag(nullptr);
  }
  // OnOK/OnError run on the JS thread once Execute is done; release the TSFN so its finalizer runs
  // after the queued token callbacks, then settle there.
  void OnOK() override { tsfn_.Release(); }
  void OnError(const Napi::Error&) override { tsfn_.Release(); }

  void Settle(Napi::Env env) {
    Napi::HandleScope scope(env);
    mw_->busy = false;
    if (mw_->free_pending) {
      mw_->model.reset();
      mw_->free_pending = false;
    }
    GenerateJob& j = *job_;
    if (callback_error_) {
      deferred_.Reject(make_error(env, "ON_TOKEN", "onToken threw: " + callback_msg_).Value());
    } else if (j.failed) {
      deferred_.Reject(make_error(env, j.err_code, j.err_msg).Value());
    } else {
      Napi::Object r = Napi::Object::New(env);
      auto toks = Napi::Int32Array::New(env, j.tokens.size());
      std::copy(j.tokens.begin(), j.tokens.end(), toks.Data());
      r.Set("tokens", toks);
      r.Set("stopReason", j.stop_reason);
      deferred_.Resolve(r);
    }
    self_.Reset();
    delete this;
  }

 private:
  ModelWrap* mw_;
  std::unique_ptr<GenerateJob> job_;
  Napi::Promise::Deferred deferred_;
  Napi::ObjectReference self_;
  Napi::ThreadSafeFunction tsfn_;
  bool callback_error_ = false;
  std::string callback_msg_;
};

float num_or(const Napi::Object& o, const char* k, float d) {
  Napi::Value v = o.Get(k);
  return v.IsNumber() ? v.As<Napi::Number>().FloatValue() : d;
}

// generate({ ids, pos3?, maxTokens, stopIds?, sampling?: {temperature, topK, topP, repetitionPenalty,
//            presencePenalty, seed}, onToken?, visualRows?, embeds?, deepstack? }) -> Promise<{tokens, stopReason}>
Napi::Value ModelWrap::Generate(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  COSMOS_GUARD_BEGIN
  TextEngine& m = ready(env);
  if (!info[0].IsObject()) throw make_error(env, "ARGUMENT", "generate(options): options must be an object");
  Napi::Object o = info[0].As<Napi::Object>();
  auto job = std::make_unique<GenerateJob>();
  job->ids = to_ints(env, o.Get("ids"), "ids");
  int n = (int)job->ids.size();
  if (n == 0) throw make_error(env, "ARGUMENT", "ids is empty");
  for (int id : job->ids)
    if (id < 0 || id >= m.config().vocab_size) throw make_error(env, "ARGUMENT", "token id " + std::to_string(id) + " is outside the vocabulary");
  job->pos3 = positions(env, o.Get("pos3"), n, m.next_pos());
  job->vis = visual_from(env, o, n, m.config().hidden_size);
  Napi::Value mt = o.Get("maxTokens");
  if (!mt.IsNumber() || mt.As<Napi::Number>().Int32Value() < 0) throw make_error(env, "ARGUMENT", "maxTokens must be a non-negative number");
  job->max_tokens = mt.As<Napi::Number>().Int32Value();
  Napi::Value sv = o.Get("stopIds");
  if (!sv.IsUndefined() && !sv.IsNull()) job->stop_ids = to_ints(env, sv, "stopIds");
  Napi::Value spv = o.Get("sampling");
  if (spv.IsObject()) {
    Napi::Object s = spv.As<Napi::Object>();
    job->sp.temperature = num_or(s, "temperature", 0.f);
    job->sp.top_k = (int)num_or(s, "topK", 0.f);
    job->sp.top_p = num_or(s, "topP", 1.f);
    job->sp.repetition_penalty = num_or(s, "repetitionPenalty", 1.f);
    job->sp.presence_penalty = num_or(s, "presencePenalty", 0.f);
    Napi::Value seed = s.Get("seed");
    if (seed.IsNumber()) job->seed = (uint64_t)seed.As<Napi::Number>().Int64Value();
  }
  Napi::Value cb = o.Get("onToken");
  if (!cb.IsUndefined() && !cb.IsFunction()) throw make_error(env, "ARGUMENT", "onToken must be a function");
  busy = true;
  abort_flag = false;
  auto* w = new GenerateWorker(env, this, info.This().As<Napi::Object>(), std::move(job), cb);
  Napi::Promise p = w->Promise();
  w->Queue();
  return p;
  COSMOS_GUARD_END(env)
}

std::unique_ptr<Checkpoint> open_checkpoint(Napi::Env env, const Napi::Value& v) {
  return checkpoint_paths(env, v, "loadModel").open();
}

Napi::Object wrap_model(Napi::Env env, std::unique_ptr<TextEngine> m) {
  Napi::Object obj = ModelWrap::ctor.New({});
  ModelWrap::Unwrap(obj)->model = std::move(m);
  return obj;
}

// loadModel(pathOrFiles, configJson) -> model (synchronous; fine for small checkpoints and tests).
Napi::Value LoadModel(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  COSMOS_GUARD_BEGIN
  if (!info[1].IsString()) throw make_error(env, "ARGUMENT", "loadModel: second argument must be the config.json text");
  Qwen3TextConfig cfg = Qwen3TextConfig::from_json(info[1].As<Napi::String>().Utf8Value());
  auto ck = open_checkpoint(env, info[0]);
  return wrap_model(env, load_engine(*ck, cfg));
  COSMOS_GUARD_END(env)
}

Napi::Value LoadModelAsync(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  COSMOS_GUARD_BEGIN
  if (!info[1].IsString()) throw make_error(env, "ARGUMENT", "loadModelAsync: second argument must be the config.json text");
  CheckpointPaths paths = checkpoint_paths(env, info[0], "loadModelAsync");
  std::string cfg = info[1].As<Napi::String>().Utf8Value();
  return load_on_worker<TextEngine>(
      env, "cosmos.loadModel", [paths, cfg] { return load_engine(*paths.open(), Qwen3TextConfig::from_json(cfg)); },
      [](Napi::Env e, std::unique_ptr<TextEngine> m) -> Napi::Value { return wrap_model(e, std::move(m)); });
  COSMOS_GUARD_END(env)
}

// memory(): top-level figures are those of the device models run on (host bytes on the CPU backend,
// the CUDA pools' bytes on the GPU backend); `host` always, `cuda` when built with CUDA.
Napi::Value Memory(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  MemoryStats s = memory_stats(DeviceKind::CPU);
  Napi::Object o = Napi::Object::New(env);
  Napi::Object host = Napi::Object::New(env);
  host.Set("bytesInUse", Napi::Number::New(env, (double)s.bytes_in_use));
  host.Set("peakBytes", Napi::Number::New(env, (double)s.peak_bytes));
  o.Set("host", host);
  const bool gpu = built_with_cuda() && choose_device().kind == DeviceKind::CUDA;
  GpuMemory g = gpu_memory();
  if (built_with_cuda()) {
    Napi::Object c = Napi::Object::New(env);
    c.Set("bytesInUse", Napi::Number::New(env, (double)g.bytes_in_use));
    c.Set("peakBytes", Napi::Number::New(env, (double)g.peak_bytes));
    c.Set("cachedBytes", Napi::Number::New(env, (double)g.cached_bytes));
    c.Set("pools", g.pools);
    o.Set("cuda", c);
  }
  o.Set("bytesInUse", Napi::Number::New(env, (double)(gpu ? g.bytes_in_use : s.bytes_in_use)));
  o.Set("peakBytes", Napi::Number::New(env, (double)(gpu ? g.peak_bytes : s.peak_bytes)));
  o.Set("device", gpu ? "cuda" : "cpu");
  return o;
}

Napi::Value DeviceInfo(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const DeviceChoice& d = choose_device();
  Napi::Object o = Napi::Object::New(env);
  o.Set("device", d.name);
  o.Set("reason", d.reason);
  o.Set("cudaDevices", d.cuda_devices);
  o.Set("builtWithCuda", Napi::Boolean::New(env, built_with_cuda()));
  // Backend of models loaded from now on (decoder and vision tower alike).
  o.Set("modelBackend", built_with_cuda() && d.kind == DeviceKind::CUDA ? "cuda" : "cpu");
  return o;
}

// inspectSafetensors(path) -> [{name, dtype, shape}] after full validation (for tests and tools).
Napi::Value InspectSafetensors(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  COSMOS_GUARD_BEGIN
  auto ck = open_checkpoint(env, info[0]);
  Napi::Array out = Napi::Array::New(env);
  uint32_t i = 0;
  for (auto& n : ck->names()) {
    const TensorInfo& t = ck->info(n);
    Napi::Object o = Napi::Object::New(env);
    o.Set("name", n);
    o.Set("dtype", st_dtype_name(t.dtype));
    Napi::Array sh = Napi::Array::New(env, t.shape.size());
    for (uint32_t k = 0; k < t.shape.size(); ++k) sh.Set(k, Napi::Number::New(env, (double)t.shape[k]));
    o.Set("shape", sh);
    out.Set(i++, o);
  }
  return out;
  COSMOS_GUARD_END(env)
}

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  exports.Set("NativeQwen3Text", ModelWrap::Init(env));
  exports.Set("loadModel", Napi::Function::New(env, LoadModel, "loadModel"));
  exports.Set("loadModelAsync", Napi::Function::New(env, LoadModelAsync, "loadModelAsync"));
  exports.Set("memory", Napi::Function::New(env, Memory, "memory"));
  exports.Set("deviceInfo", Napi::Function::New(env, DeviceInfo, "deviceInfo"));
  exports.Set("inspectSafetensors", Napi::Function::New(env, InspectSafetensors, "inspectSafetensors"));
  register_vision(env, exports);
  exports.Set("abiVersion", Napi::Number::New(env, 1));
  return exports;
}

}  // namespace

NODE_API_MODULE(cosmos_native, Init)
