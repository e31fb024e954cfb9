// Node-API face of the Qwen3-VL vision tower (models/qwen3_vision*): the JS class NativeQwen3Vision
// and loadVision / loadVisionAsync. Registered from addon.cc through register_qwen3_vision(). The
// object is a ModelObject (model_object.h: abort, free, info, async run); this file adds run().
// Errors carry the same `code`s as the decoder (SAFETENSORS_*, MODEL, CONFIG, ABORTED, BUSY, FREED,
// ARGUMENT, OUT_OF_MEMORY, NATIVE).
//
//   loadVision(pathOrFiles, config: NativeVisionConfig) -> NativeQwen3Vision          (synchronous)
//   loadVisionAsync(pathOrFiles, config) -> Promise<NativeQwen3Vision>                 (libuv worker)
//   tower.run(pixelValues: Float32Array [patches*patchDim], grids: Int32Array|number[] [t,h,w,...])
//       -> Promise<{ tokens, outDim, embeds: NativeTensor [tokens, outDim], deepstack: NativeTensor[] }>
//     The tower runs on a libuv worker; the pixel values are copied first, so the caller may reuse them.
//     The outputs stay where they were computed (tensor_object.h: host memory on the CPU backend, blocks
//     of the tower's pool on the GPU) and go into the decoder's prefill as they are; toHost() copies.
//     They are released when disposed, garbage collected, or when the tower is freed.
//   tower.abort(), tower.free(), tower.info()
//
// Backend: the CUDA tower (models/qwen3_vision_cuda) when the addon was built with CUDA and
// choose_device() picked CUDA, else the CPU tower; same rule as the decoder.
// The config arrives as the object TypeScript validated (NativeVisionConfig in
// src/native/addon_types.ts); config.json is not parsed again here.
#include <napi.h>

#include <atomic>
#include <memory>
#include <string>
#include <vector>

#include "../core/device.h"
#include "../models/qwen3_vision.h"
#include "../safetensors/safetensors.h"
#include "gpu_backend.h"
#include "model_object.h"
#include "napi_common.h"
#include "tensor_object.h"
#ifdef COSMOS_CUDA
#include "../core/cuda_pool.h"
#include "../models/qwen3_vision_cuda.h"
#endif

using namespace cosmos;
using namespace cosmos::binding;

namespace {

std::vector<Qwen3VisionGrid> grids_from(Napi::Env env, const Napi::Value& v) {
  std::vector<int> flat = to_ints(env, v, "grids");
  if (flat.empty() || flat.size() % 3)
    throw make_error(env, "ARGUMENT", "grids must hold 3 integers (t, h, w) per image or video");
  std::vector<Qwen3VisionGrid> g(flat.size() / 3);
  for (size_t i = 0; i < g.size(); ++i) g[i] = {flat[3 * i], flat[3 * i + 1], flat[3 * i + 2]};
  return g;
}

// NativeVisionConfig (camelCase, see addon_types.ts) -> Qwen3VisionConfig; the shape rules are checked
// again so a raw addon call cannot build an unusable tower.
Qwen3VisionConfig vision_config_from(Napi::Env env, const Napi::Value& v) {
  if (!v.IsObject())
    throw make_error(env, "ARGUMENT", "config must be the NativeVisionConfig object (src/native/addon_types.ts)");
  Napi::Object o = v.As<Napi::Object>();
  const char* w = "visionConfig";
  Qwen3VisionConfig k;
  k.depth = obj_int(env, o, "depth", w);
  k.hidden_size = obj_int(env, o, "hiddenSize", w);
  k.intermediate_size = obj_int(env, o, "intermediateSize", w);
  k.num_heads = obj_int(env, o, "numHeads", w);
  k.in_channels = obj_int(env, o, "inChannels", w);
  k.patch_size = obj_int(env, o, "patchSize", w);
  k.temporal_patch_size = obj_int(env, o, "temporalPatchSize", w);
  k.spatial_merge_size = obj_int(env, o, "spatialMergeSize", w);
  k.out_hidden_size = obj_int(env, o, "outHiddenSize", w);
  k.num_position_embeddings = obj_int(env, o, "numPositionEmbeddings", w);
  k.layer_norm_eps = (float)obj_num(env, o, "layerNormEps", w);
  k.rope_theta = (float)obj_num(env, o, "ropeTheta", w);
  k.deepstack_visual_indexes = to_ints(env, o.Get("deepstackVisualIndexes"), "visionConfig.deepstackVisualIndexes");
  for (int d : k.deepstack_visual_indexes)
    if (d < 0 || d >= k.depth)
      throw make_error(env, "CONFIG", "visionConfig.deepstackVisualIndexes entries must be block indexes 0..depth-1");
  int side = 1;
  while (side * side < k.num_position_embeddings) ++side;
  if (side * side != k.num_position_embeddings)
    throw make_error(env, "CONFIG",
                     "visionConfig.numPositionEmbeddings must be a square (the learned grid is side x side)");
  if (k.hidden_size % k.num_heads != 0 || k.head_dim() % 4 != 0)
    throw make_error(env, "CONFIG", "visionConfig: hiddenSize / numHeads must be a multiple of 4 (2D rotary)");
  return k;
}

// One run's outputs as tensors on the tower's device: [tokens, outDim] each.
struct VisionTensors {
  int64_t tokens = 0;
  int out_dim = 0;
  std::shared_ptr<TensorStorage> embeds;
  std::vector<std::shared_ptr<TensorStorage>> deepstack;
};

// The tower behind one JS object: CPU (Qwen3Vision) or CUDA (Qwen3VisionCuda).
class VisionEngine {
 public:
  virtual ~VisionEngine() = default;
  virtual const Qwen3VisionConfig& config() const = 0;
  virtual size_t weight_bytes() const = 0;
  // Runs the tower; the outputs are tensors this engine hands out (registered in `tensors`).
  virtual void forward(const float* pv, size_t n, const std::vector<Qwen3VisionGrid>& grids, VisionTensors& out) = 0;
  virtual void set_abort_flag(const std::atomic<bool>* f) = 0;
  virtual const char* backend() const = 0;
  // Bytes the tower holds for as long as it lives (its weights), reported to V8.
  size_t resident_bytes() const { return weight_bytes(); }
  virtual void describe(Napi::Env, Napi::Object&) const {}
  // Every tensor a run handed out; released when the engine goes (before a CUDA pool does).
  TensorRegistry tensors;
};

class CpuVision : public VisionEngine {
 public:
  explicit CpuVision(std::unique_ptr<Qwen3Vision> t) : t_(std::move(t)) {}
  const Qwen3VisionConfig& config() const override { return t_->config(); }
  size_t weight_bytes() const override { return t_->weight_bytes(); }
  // The output vectors become the tensors' storage (moved, not copied).
  void forward(const float* pv, size_t n, const std::vector<Qwen3VisionGrid>& grids, VisionTensors& out) override {
    Qwen3VisionOutput o;
    t_->forward(pv, n, grids, o);
    out.tokens = o.tokens;
    out.out_dim = o.out_dim;
    const std::vector<int64_t> shape = {o.tokens, (int64_t)o.out_dim};
    out.embeds = tensors.add(TensorStorage::host(std::move(o.embeds), shape));
    for (auto& d : o.deepstack) out.deepstack.push_back(tensors.add(TensorStorage::host(std::move(d), shape)));
  }
  void set_abort_flag(const std::atomic<bool>* f) override { t_->set_abort_flag(f); }
  const char* backend() const override { return "cpu"; }

 private:
  std::unique_ptr<Qwen3Vision> t_;
};

#ifdef COSMOS_CUDA
class CudaVision : public VisionEngine {
 public:
  explicit CudaVision(std::unique_ptr<Qwen3VisionCuda> t) : t_(std::move(t)) { gpu_pool_register(&t_->pool()); }
  ~CudaVision() override {
    tensors.release_all();  // their blocks go back to the pool before the pool goes
    gpu_pool_unregister(&t_->pool());
    t_.reset();
  }
  const Qwen3VisionConfig& config() const override { return t_->config(); }
  size_t weight_bytes() const override { return t_->weight_bytes(); }
  // Output blocks come from the tower's pool and stay there after the run (its activations go back to
  // CUDA when it returns or throws; a failed run's outputs are released with the job).
  void forward(const float* pv, size_t n, const std::vector<Qwen3VisionGrid>& grids, VisionTensors& out) override {
    GpuCallScope g(&t_->pool());
    const Qwen3VisionConfig& c = t_->config();
    out.tokens = qwen3_vision_num_patches(grids) / c.merge_unit();
    out.out_dim = c.out_hidden_size;
    const std::vector<int64_t> shape = {out.tokens, (int64_t)out.out_dim};
    out.embeds = tensors.add(TensorStorage::device(&t_->pool(), shape));
    std::vector<float*> ds;
    for (size_t k = 0; k < c.deepstack_visual_indexes.size(); ++k) {
      out.deepstack.push_back(tensors.add(TensorStorage::device(&t_->pool(), shape)));
      ds.push_back(out.deepstack.back()->data());
    }
    t_->forward_device(pv, n, grids, out.embeds->data(), ds);
  }
  void set_abort_flag(const std::atomic<bool>* f) override { t_->set_abort_flag(f); }
  const char* backend() const override { return "cuda"; }
  void describe(Napi::Env env, Napi::Object& o) const override {
    o.Set("weightType", t_->weight_type() == WType::BF16 ? "bf16" : "f32");
    o.Set("gpuBytesInUse", Napi::Number::New(env, (double)t_->pool().bytes_in_use()));
    // the last run's blocks, kept for the next run of the same grids (CudaPool's epochs)
    o.Set("gpuCachedBytes", Napi::Number::New(env, (double)t_->pool().bytes_cached()));
    o.Set("lastRunPeakBytes", Napi::Number::New(env, (double)t_->last_run_peak_bytes()));
    o.Set("hostPinnedBytes", Napi::Number::New(env, (double)t_->host_pinned_bytes()));  // staging, kept between runs
  }

 private:
  std::unique_ptr<Qwen3VisionCuda> t_;
};
#endif

std::unique_ptr<VisionEngine> load_vision_engine(const Checkpoint& ck, const Qwen3VisionConfig& cfg) {
#ifdef COSMOS_CUDA
  if (choose_device().kind == DeviceKind::CUDA)
    return std::make_unique<CudaVision>(Qwen3VisionCuda::load(ck, cfg, gpu_weight_type(ck, "attn.qkv.weight")));
#endif
  return std::make_unique<CpuVision>(Qwen3Vision::load(ck, cfg));
}

// One run() call: the tower's forward on the worker (ModelObject::run_async).
struct VisionJob {
  std::vector<float> pv;
  std::vector<Qwen3VisionGrid> grids;
  VisionTensors out;
  Napi::ObjectReference tower;  // the JS tower: every output handle keeps it reachable

  void run(VisionEngine& t, const std::atomic<bool>&, const Emit&) {
    try {
      t.forward(pv.data(), pv.size(), grids, out);
    } catch (...) {
      release_input();
      throw;
    }
    release_input();
  }
  // A failed run's outputs are never wrapped: they go back when the job does (on the JS thread).
  void after_failure(VisionEngine&) {}
  Napi::Value result(Napi::Env env) {
    Napi::Object r = Napi::Object::New(env);
    Napi::Object owner = tower.Value();
    r.Set("tokens", Napi::Number::New(env, (double)out.tokens));
    r.Set("outDim", out.out_dim);
    r.Set("embeds", TensorObject::wrap(env, out.embeds, owner));
    Napi::Array ds = Napi::Array::New(env, out.deepstack.size());
    for (uint32_t k = 0; k < out.deepstack.size(); ++k) ds.Set(k, TensorObject::wrap(env, out.deepstack[k], owner));
    r.Set("deepstack", ds);
    tower.Reset();
    return r;
  }
  // The input copy goes before the outputs are handed to JS.
  void release_input() {
    pv.clear();
    pv.shrink_to_fit();
  }
};

class VisionObject : public ModelObject<VisionObject, VisionEngine> {
 public:
  static Napi::FunctionReference& ctor(Napi::Env env) { return addon_data(env).vision_ctor; }
  static Napi::Function Init(Napi::Env env) {
    auto methods = base_methods();
    methods.push_back(InstanceMethod("run", &VisionObject::Run));
    Napi::Function f = DefineClass(env, "NativeQwen3Vision", methods);
    ctor(env) = Napi::Persistent(f);
    return f;
  }
  explicit VisionObject(const Napi::CallbackInfo& info) : ModelObject(info) {}

  static void describe(Napi::Env env, Napi::Object& o, const VisionEngine& t) {
    const auto& c = t.config();
    o.Set("depth", c.depth);
    o.Set("hiddenSize", c.hidden_size);
    o.Set("outHiddenSize", c.out_hidden_size);
    o.Set("patchDim", c.patch_dim());
    o.Set("mergeSize", c.spatial_merge_size);
    o.Set("deepstackLayers", (int)c.deepstack_visual_indexes.size());
    o.Set("weightBytes", Napi::Number::New(env, (double)t.weight_bytes()));
    o.Set("backend", t.backend());
    t.describe(env, o);
  }

  Napi::Value Run(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    COSMOS_GUARD_BEGIN
    VisionEngine& t = ready(env, "vision tower");
    Napi::Value pv = info[0];
    if (!(pv.IsTypedArray() && pv.As<Napi::TypedArray>().TypedArrayType() == napi_float32_array))
      throw make_error(env, "ARGUMENT", "run(pixelValues, grids): pixelValues must be a Float32Array");
    auto job = std::make_unique<VisionJob>();
    job->grids = grids_from(env, info[1]);
    // Validate on the JS thread so bad input rejects with a clear message before any work is queued.
    std::string err;
    if (!qwen3_vision_check_grids(t.config(), job->grids, err)) throw make_error(env, "ARGUMENT", err);
    auto a = pv.As<Napi::Float32Array>();
    const size_t want = (size_t)qwen3_vision_num_patches(job->grids) * (size_t)t.config().patch_dim();
    if (a.ElementLength() != want)
      throw make_error(env, "ARGUMENT",
                       "pixelValues has " + std::to_string(a.ElementLength()) + " floats; the grids need " +
                           std::to_string(want) + " (patches x " + std::to_string(t.config().patch_dim()) + ")");
    job->pv.assign(a.Data(), a.Data() + a.ElementLength());
    job->tower = Napi::Persistent(info.This().As<Napi::Object>());
    return run_async(env, info.This().As<Napi::Object>(), "cosmos.vision.run", std::move(job), env.Undefined());
    COSMOS_GUARD_END(env)
  }
};

// loadVision(pathOrFiles, config: NativeVisionConfig) -> tower (synchronous).
Napi::Value LoadVision(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  COSMOS_GUARD_BEGIN
  Qwen3VisionConfig cfg = vision_config_from(env, info[1]);
  auto ck = checkpoint_paths(env, info[0], "loadVision").open();
  return VisionObject::wrap(env, load_vision_engine(*ck, cfg));
  COSMOS_GUARD_END(env)
}

// loadVisionAsync(pathOrFiles, config) -> Promise<tower>: the weights are read on a libuv worker.
Napi::Value LoadVisionAsync(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  COSMOS_GUARD_BEGIN
  Qwen3VisionConfig cfg = vision_config_from(env, info[1]);
  CheckpointPaths paths = checkpoint_paths(env, info[0], "loadVisionAsync");
  return load_on_worker<VisionEngine>(
      env, "cosmos.vision.load", [paths, cfg] { return load_vision_engine(*paths.open(), cfg); },
      [](Napi::Env e, std::unique_ptr<VisionEngine> t) -> Napi::Value { return VisionObject::wrap(e, std::move(t)); });
  COSMOS_GUARD_END(env)
}

}  // namespace

// Called from addon.cc's Init.
void register_qwen3_vision(Napi::Env env, Napi::Object exports) {
  exports.Set("NativeQwen3Vision", VisionObject::Init(env));
  exports.Set("loadVision", Napi::Function::New(env, LoadVision, "loadVision"));
  exports.Set("loadVisionAsync", Napi::Function::New(env, LoadVisionAsync, "loadVisionAsync"));
}
