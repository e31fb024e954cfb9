// Node-API face of the Cosmos 3 Generator engine (models/cosmos3_generator): the JS class NativeCosmos3Generator
// and loadGenerator / loadGeneratorAsync. Registered from addon.cc through register_cosmos3_generator(). The
// object is a ModelObject (model_object.h: abort, free, info, async run); this file adds generate().
//
//   loadGenerator(dir, options?) -> NativeCosmos3Generator  (synchronous; dir: a diffusers-layout checkpoint folder
//                                                           with transformer/, vae/, scheduler/; their config.json
//                                                           files are read by the engine's parsers, which name the
//                                                           key on an error; options: { quantization?: "none" |
//                                                           "fp8" } (Cosmos3LoadOptions))
//   loadGeneratorAsync(dir, options?) -> Promise<NativeCosmos3Generator>   (libuv worker)
//   g.generate(request: RawGeneratorRequest, onProgress?: (code: number) => void) -> Promise<RawGeneratorResult>
//     request (src/native/addon_types.ts): cond / uncond { ids: Int32Array, positions: Float32Array [3 * L] },
//     guidance, guidanceInterval [lo, hi] (CFG only at steps whose timestep is inside; default every step),
//     latentShape [t, h, w], cleanFrames, condVideo / condFrames (/ condHeight, condWidth: an action run's
//     padded canvas), noise or seed, steps, flowShift, useKarrasSigmas, sigmas, stepNoise, reanchorClean (distilled
//     checkpoints), decode, keepStepLatents; action runs:
//     actionLen, domainId, rawActionDim, actionClean, actionValues, actionNoise; sound runs: soundLen, soundNoise.
//     Inputs are copied on the JS thread and
//     checked against the checkpoint on the worker (MODEL errors naming the field). onProgress gets one integer per
//     event: stage * 1e6 + done * 1e3 + total (stage 0 encode chunk, 1 denoise step, 2 decode chunk; done, total <
//     1000: at most 999 steps and chunks), every one before the promise settles. result: { latents, stepLatents[],
//     action?, stepActions[], sound?, stepSounds[], soundWave?, soundChannels, soundSamples, soundSampleRate, video?,
//     frames, height, width, timesteps, sigmas, uncondPasses } as Float32Arrays and numbers (host copies; the latents
//     lived in the engine from the noise to the VAE).
//   g.abort() (the run stops between layers, steps or VAE chunks and rejects with ABORTED, its memory freed),
//   g.free(), g.info()
//
// Backend: the CUDA twins of the transformer and the VAE (Cosmos3TransformerCuda, WanVaeCuda) when the addon was
// built with CUDA and choose_device() picked CUDA, else the CPU models; info().backend says which. Their pools count
// in memory() (gpu_backend.h) from load to free.
#include <napi.h>

#include <atomic>
#include <memory>
#include <string>
#include <vector>

#include "../core/device.h"
#include "../models/cosmos3_generator.h"
#include "gpu_backend.h"
#include "model_object.h"
#include "napi_common.h"

using namespace cosmos;
using namespace cosmos::binding;

namespace {

Cosmos3Branch branch_from(Napi::Env env, const Napi::Value& v, const char* what) {
  if (!v.IsObject()) throw make_error(env, "ARGUMENT", std::string("request.") + what + " must be { ids, positions }");
  Napi::Object o = v.As<Napi::Object>();
  Cosmos3Branch b;
  b.ids = to_ints(env, o.Get("ids"), (std::string("request.") + what + ".ids").c_str());
  b.positions = to_floats(env, o.Get("positions"), (std::string("request.") + what + ".positions").c_str());
  return b;
}

int int_field(Napi::Env env, const Napi::Object& o, const char* key, int lo, int hi) {
  Napi::Value v = o.Get(key);
  if (!v.IsNumber()) throw make_error(env, "ARGUMENT", std::string("request.") + key + " must be a number");
  const double d = v.As<Napi::Number>().DoubleValue();
  if (!(d >= lo && d <= hi) || d != (double)(long long)d)
    throw make_error(
        env, "ARGUMENT",
        std::string("request.") + key + " must be a whole number in " + std::to_string(lo) + ".." + std::to_string(hi));
  return (int)d;
}

bool bool_field(const Napi::Object& o, const char* key, bool dflt) {
  Napi::Value v = o.Get(key);
  return v.IsBoolean() ? v.As<Napi::Boolean>().Value() : dflt;
}

Cosmos3GenerateRequest request_from(Napi::Env env, const Napi::Value& v) {
  if (!v.IsObject()) throw make_error(env, "ARGUMENT", "generate(request): request must be an object");
  Napi::Object o = v.As<Napi::Object>();
  Cosmos3GenerateRequest r;
  r.cond = branch_from(env, o.Get("cond"), "cond");
  Napi::Value g = o.Get("guidance");
  if (!g.IsNumber()) throw make_error(env, "ARGUMENT", "request.guidance must be a number");
  r.guidance = g.As<Napi::Number>().FloatValue();
  if (r.guidance != 1.0f) r.uncond = branch_from(env, o.Get("uncond"), "uncond");
  Napi::Value interval = o.Get("guidanceInterval");
  if (!interval.IsUndefined()) {
    const char* what = "request.guidanceInterval must be [lo, hi]: two numbers with lo <= hi";
    if (!interval.IsArray() || interval.As<Napi::Array>().Length() != 2) throw make_error(env, "ARGUMENT", what);
    Napi::Array a = interval.As<Napi::Array>();
    if (!a.Get(0u).IsNumber() || !a.Get(1u).IsNumber()) throw make_error(env, "ARGUMENT", what);
    r.guidance_lo = a.Get(0u).As<Napi::Number>().DoubleValue();
    r.guidance_hi = a.Get(1u).As<Napi::Number>().DoubleValue();
    if (!(r.guidance_lo <= r.guidance_hi)) throw make_error(env, "ARGUMENT", what);
  }
  std::vector<int> shape = to_ints(env, o.Get("latentShape"), "request.latentShape");
  if (shape.size() != 3) throw make_error(env, "ARGUMENT", "request.latentShape must be [t, h, w]");
  r.latent_t = shape[0], r.latent_h = shape[1], r.latent_w = shape[2];
  if (!o.Get("cleanFrames").IsUndefined()) r.clean_frames = to_ints(env, o.Get("cleanFrames"), "request.cleanFrames");
  if (!o.Get("condVideo").IsUndefined()) {
    r.cond_video = to_floats(env, o.Get("condVideo"), "request.condVideo");
    r.cond_frames = int_field(env, o, "condFrames", 1, 1 << 16);
  }
  if (!o.Get("condHeight").IsUndefined()) r.cond_height = int_field(env, o, "condHeight", 1, 1 << 16);
  if (!o.Get("condWidth").IsUndefined()) r.cond_width = int_field(env, o, "condWidth", 1, 1 << 16);
  if (!o.Get("noise").IsUndefined()) r.noise = to_floats(env, o.Get("noise"), "request.noise");
  if (!o.Get("stepNoise").IsUndefined()) r.step_noise = to_floats(env, o.Get("stepNoise"), "request.stepNoise");
  Napi::Value reanchor = o.Get("reanchorClean");
  if (reanchor.IsBoolean()) r.reanchor_clean = reanchor.As<Napi::Boolean>().Value();
  if (!o.Get("actionLen").IsUndefined()) {
    r.action_len = int_field(env, o, "actionLen", 1, 1 << 16);
    r.domain_id = int_field(env, o, "domainId", 0, 1 << 16);
    r.raw_action_dim = int_field(env, o, "rawActionDim", 1, 1 << 16);
    if (!o.Get("actionClean").IsUndefined()) r.action_clean = to_ints(env, o.Get("actionClean"), "request.actionClean");
    if (!o.Get("actionValues").IsUndefined())
      r.action_values = to_floats(env, o.Get("actionValues"), "request.actionValues");
    if (!o.Get("actionNoise").IsUndefined())
      r.action_noise = to_floats(env, o.Get("actionNoise"), "request.actionNoise");
  }
  if (!o.Get("soundLen").IsUndefined()) {
    r.sound_len = int_field(env, o, "soundLen", 1, 1 << 20);
    if (!o.Get("soundNoise").IsUndefined()) r.sound_noise = to_floats(env, o.Get("soundNoise"), "request.soundNoise");
  }
  Napi::Value seed = o.Get("seed");
  if (!seed.IsUndefined()) {
    const double d = seed.IsNumber() ? seed.As<Napi::Number>().DoubleValue() : -1;
    if (!(d >= 0 && d <= 9007199254740991.0) || d != (double)(long long)d)
      throw make_error(env, "ARGUMENT", "request.seed must be a whole number in 0..2^53-1");
    r.seed = (uint64_t)d;
  }
  r.schedule.steps = int_field(env, o, "steps", 1, 999);
  Napi::Value shift = o.Get("flowShift");
  if (!shift.IsUndefined()) {
    if (!shift.IsNumber()) throw make_error(env, "ARGUMENT", "request.flowShift must be a number");
    r.schedule.flow_shift = shift.As<Napi::Number>().DoubleValue();
  }
  Napi::Value karras = o.Get("useKarrasSigmas");
  if (karras.IsBoolean()) r.schedule.use_karras_sigmas = karras.As<Napi::Boolean>().Value();
  Napi::Value sigmas = o.Get("sigmas");
  if (!sigmas.IsUndefined()) {
    if (!sigmas.IsArray()) throw make_error(env, "ARGUMENT", "request.sigmas must be an array of numbers");
    Napi::Array a = sigmas.As<Napi::Array>();
    for (uint32_t i = 0; i < a.Length(); ++i) {
      Napi::Value e = a.Get(i);
      if (!e.IsNumber()) throw make_error(env, "ARGUMENT", "request.sigmas must be an array of numbers");
      r.schedule.sigmas.push_back(e.As<Napi::Number>().DoubleValue());
    }
  }
  r.decode = bool_field(o, "decode", true);
  r.keep_step_latents = bool_field(o, "keepStepLatents", false);
  return r;
}

// The engine behind one JS object: the generator, with its CUDA pools (if any) counted by memory() from load to
// free (gpu_backend.h), and each run bracketed for the peak figure.
class GeneratorEngine {
 public:
  explicit GeneratorEngine(std::unique_ptr<Cosmos3Generator> g) : g_(std::move(g)) {
#ifdef COSMOS_CUDA
    pools_ = g_->cuda_pools();
    for (CudaPool* p : pools_) gpu_pool_register(p);
#endif
  }
  ~GeneratorEngine() {
#ifdef COSMOS_CUDA
    for (CudaPool* p : pools_) gpu_pool_unregister(p);
#endif
    g_.reset();
  }
  Cosmos3GenerateResult generate(const Cosmos3GenerateRequest& r, const Cosmos3Progress& progress) {
#ifdef COSMOS_CUDA
    std::vector<std::unique_ptr<GpuCallScope>> scopes;
    for (CudaPool* p : pools_) scopes.push_back(std::make_unique<GpuCallScope>(p));
#endif
    return g_->generate(r, progress);
  }
  void set_abort_flag(const std::atomic<bool>* f) { g_->set_abort_flag(f); }
  size_t resident_bytes() const { return g_->resident_bytes(); }
  const Cosmos3Generator& generator() const { return *g_; }

 private:
  std::unique_ptr<Cosmos3Generator> g_;
#ifdef COSMOS_CUDA
  std::vector<CudaPool*> pools_;
#endif
};

// One generate() call: the engine's run on the worker (ModelObject::run_async), progress through emit.
struct GenerateJob {
  Cosmos3GenerateRequest req;
  Cosmos3GenerateResult res;

  void run(GeneratorEngine& g, const std::atomic<bool>&, const Emit& emit) {
    res = g.generate(req, [&](Cosmos3Stage st, int done, int total) {
      if (done < 1000 && total < 1000) emit((int)st * 1000000 + done * 1000 + total);
    });
    req = {};  // the inputs go before the outputs are handed to JS
  }
  void after_failure(GeneratorEngine&) {
    req = {};
    res = {};
  }
  Napi::Value result(Napi::Env env) {
    Napi::Object r = Napi::Object::New(env);
    r.Set("latents", to_js(env, res.latents));
    Napi::Array steps = Napi::Array::New(env, res.step_latents.size());
    for (uint32_t i = 0; i < res.step_latents.size(); ++i) steps.Set(i, to_js(env, res.step_latents[i]));
    r.Set("stepLatents", steps);
    if (!res.action.empty()) r.Set("action", to_js(env, res.action));
    Napi::Array step_actions = Napi::Array::New(env, res.step_actions.size());
    for (uint32_t i = 0; i < res.step_actions.size(); ++i) step_actions.Set(i, to_js(env, res.step_actions[i]));
    r.Set("stepActions", step_actions);
    if (!res.sound.empty()) r.Set("sound", to_js(env, res.sound));
    Napi::Array step_sounds = Napi::Array::New(env, res.step_sounds.size());
    for (uint32_t i = 0; i < res.step_sounds.size(); ++i) step_sounds.Set(i, to_js(env, res.step_sounds[i]));
    r.Set("stepSounds", step_sounds);
    if (!res.sound_wave.empty()) r.Set("soundWave", to_js(env, res.sound_wave));
    r.Set("soundChannels", res.sound_channels);
    r.Set("soundSamples", res.sound_samples);
    r.Set("soundSampleRate", res.sound_sample_rate);
    if (!res.video.empty()) r.Set("video", to_js(env, res.video));
    r.Set("frames", res.frames);
    r.Set("height", res.height);
    r.Set("width", res.width);
    r.Set("timesteps", to_js(env, res.timesteps));
    r.Set("sigmas", to_js(env, res.sigmas));
    r.Set("uncondPasses", Napi::Number::New(env, res.uncond_passes));
    res = {};
    return r;
  }
};

class GeneratorObject : public ModelObject<GeneratorObject, GeneratorEngine> {
 public:
  static Napi::FunctionReference& ctor(Napi::Env env) { return addon_data(env).generator_ctor; }
  static Napi::Function Init(Napi::Env env) {
    auto methods = base_methods();
    methods.push_back(InstanceMethod("generate", &GeneratorObject::Generate));
    Napi::Function f = DefineClass(env, "NativeCosmos3Generator", methods);
    ctor(env) = Napi::Persistent(f);
    return f;
  }
  explicit GeneratorObject(const Napi::CallbackInfo& info) : ModelObject(info) {}

  static void describe(Napi::Env env, Napi::Object& o, const GeneratorEngine& e) {
    const Cosmos3Generator& g = e.generator();
    const auto& t = g.transformer_config();
    const auto& v = g.vae_config();
    o.Set("backend", g.backend());
    o.Set("quantization", g.quantization());
    o.Set("weightBytes", Napi::Number::New(env, (double)g.weight_bytes()));
    o.Set("hiddenSize", t.hidden_size);
    o.Set("layers", t.num_layers);
    o.Set("latentChannels", t.latent_channel);
    o.Set("spatialScale", v.spatial_scale());
    o.Set("temporalScale", v.temporal_scale());
    o.Set("actionGen", t.action_gen);
    o.Set("soundGen", t.sound_gen);
    // The sound tokenizer (sound_tokenizer/) was loaded: runs with sound can be decoded.
    o.Set("soundTokenizer", g.sound_config() != nullptr);
  }

  Napi::Value Generate(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    COSMOS_GUARD_BEGIN
    ready(env, "generator");
    auto job = std::make_unique<GenerateJob>();
    job->req = request_from(env, info[0]);
    Napi::Value cb = info.Length() > 1 ? info[1] : env.Undefined();
    if (!cb.IsUndefined() && !cb.IsFunction())
      throw make_error(env, "ARGUMENT", "generate(request, onProgress): onProgress must be a function");
    return run_async(env, info.This().As<Napi::Object>(), "cosmos.generator.generate", std::move(job), cb);
    COSMOS_GUARD_END(env)
  }
};

bool use_cuda() { return choose_device().kind == DeviceKind::CUDA; }

std::string dir_arg(Napi::Env env, const Napi::Value& v, const char* fn) {
  if (!v.IsString()) throw make_error(env, "ARGUMENT", std::string(fn) + "(dir): dir must be a checkpoint folder path");
  return v.As<Napi::String>().Utf8Value();
}

// The load options object (absent or undefined: the defaults). ARGUMENT errors name the key and its values.
Cosmos3LoadOptions options_arg(Napi::Env env, const Napi::Value& v, const char* fn) {
  Cosmos3LoadOptions o;
  if (v.IsUndefined()) return o;
  if (!v.IsObject() || v.IsArray())
    throw make_error(env, "ARGUMENT", std::string(fn) + "(dir, options): options must be an object");
  const Napi::Value q = v.As<Napi::Object>().Get("quantization");
  if (q.IsUndefined()) return o;
  const std::string name = q.IsString() ? q.As<Napi::String>().Utf8Value() : "";
  if (name != "none" && name != "fp8")
    throw make_error(env, "ARGUMENT",
                     std::string(fn) + "(dir, options): options.quantization must be \"none\" or \"fp8\"");
  o.fp8 = name == "fp8";
  return o;
}

Napi::Value LoadGenerator(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  COSMOS_GUARD_BEGIN
  const std::string dir = dir_arg(env, info[0], "loadGenerator");
  const Cosmos3LoadOptions options = options_arg(env, info[1], "loadGenerator");
  return GeneratorObject::wrap(env,
                               std::make_unique<GeneratorEngine>(Cosmos3Generator::load(dir, use_cuda(), options)));
  COSMOS_GUARD_END(env)
}

Napi::Value LoadGeneratorAsync(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  COSMOS_GUARD_BEGIN
  const std::string dir = dir_arg(env, info[0], "loadGeneratorAsync");
  const Cosmos3LoadOptions options = options_arg(env, info[1], "loadGeneratorAsync");
  const bool cuda = use_cuda();
  return load_on_worker<GeneratorEngine>(
      env, "cosmos.generator.load",
      [dir, cuda, options] { return std::make_unique<GeneratorEngine>(Cosmos3Generator::load(dir, cuda, options)); },
      [](Napi::Env e, std::unique_ptr<GeneratorEngine> g) -> Napi::Value {
        return GeneratorObject::wrap(e, std::move(g));
      });
  COSMOS_GUARD_END(env)
}

}  // namespace

// Called from addon.cc's Init.
void register_cosmos3_generator(Napi::Env env, Napi::Object exports) {
  exports.Set("NativeCosmos3Generator", GeneratorObject::Init(env));
  exports.Set("loadGenerator", Napi::Function::New(env, LoadGenerator, "loadGenerator"));
  exports.Set("loadGeneratorAsync", Napi::Function::New(env, LoadGeneratorAsync, "loadGeneratorAsync"));
}
