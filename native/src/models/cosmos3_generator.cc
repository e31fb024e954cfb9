#include "cosmos3_generator.h"

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>
#include <type_traits>
#include <utility>

#include "../core/memory.h"
#include "../ops/fill_normal.h"
#include "../runtime/denoise_loop.h"
#include "../runtime/latent_device.h"
#ifdef COSMOS_CUDA
#include "../core/cuda_common.h"
#include "../runtime/latent_device_cuda.h"
#include "cosmos3_audio_cuda.h"
#include "cosmos3_transformer_cuda.h"
#include "wan_vae_cuda.h"
#endif

namespace cosmos {

namespace {

// A checkpoint's JSON file, size-bounded (configs are a few KiB). ModelError naming the file, never its content.
std::string read_config_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw ModelError(path + ": missing (a diffusers-layout Cosmos 3 checkpoint has it)");
  std::ostringstream s;
  s << in.rdbuf();
  std::string text = s.str();
  if (text.size() > (1u << 20)) throw ModelError(path + ": larger than 1 MiB, not a config file");
  return text;
}

// Host memory this run holds, reported to the process-wide accounting while it lives (RAII: an aborted or
// failed run gives it back on the way out).
class TrackedBytes {
 public:
  TrackedBytes() = default;
  ~TrackedBytes() { memory_track_free(DeviceKind::CPU, bytes_); }
  TrackedBytes(const TrackedBytes&) = delete;
  TrackedBytes& operator=(const TrackedBytes&) = delete;
  void add(size_t b) {
    memory_track_alloc(DeviceKind::CPU, b);
    bytes_ += b;
  }
  void sub(size_t b) {
    b = std::min(b, bytes_);
    memory_track_free(DeviceKind::CPU, b);
    bytes_ -= b;
  }

 private:
  size_t bytes_ = 0;
};

// The parts' latent device with its host allocations counted (a CPU run's latents, velocities and sampler
// history are host memory; a CUDA run's are blocks of the transformer's pool, counted by the pool): every op is
// the base device's, alloc / release also report to `t` when t is given.
class TrackedLatentDevice final : public runtime::LatentDevice {
 public:
  TrackedLatentDevice(std::unique_ptr<runtime::LatentDevice> base, TrackedBytes* t) : base_(std::move(base)), t_(t) {}
  float* alloc(long long n) override {
    float* p = base_->alloc(n);
    if (t_) {
      sizes_.push_back({p, (size_t)n * sizeof(float)});
      t_->add((size_t)n * sizeof(float));
    }
    return p;
  }
  void release(float* p) override {
    for (size_t i = 0; i < sizes_.size(); ++i)
      if (sizes_[i].first == p) {
        t_->sub(sizes_[i].second);
        sizes_.erase(sizes_.begin() + (long)i);
        break;
      }
    base_->release(p);
  }
  void copy(float* dst, const float* src, long long n) override { base_->copy(dst, src, n); }
  void lincomb(float* out, const float* const* x, const float* c, int terms, long long n) override {
    base_->lincomb(out, x, c, terms, n);
  }
  void set_rows(float* dst, const float* src, const runtime::RowSpan& s) override { base_->set_rows(dst, src, s); }
  void fill_normal(float* dst, long long n, uint64_t seed) override { base_->fill_normal(dst, n, seed); }
  void upload(float* dst, const float* host, long long n) override { base_->upload(dst, host, n); }
  void download(float* host, const float* src, long long n) override { base_->download(host, src, n); }

 private:
  std::unique_ptr<runtime::LatentDevice> base_;
  TrackedBytes* t_;
  std::vector<std::pair<float*, size_t>> sizes_;
};

// A branch's positions split into the text part and the gen part, both [3][n] row-major.
struct SplitPositions {
  std::vector<float> text, gen;
};
SplitPositions split_positions(const Cosmos3Branch& b, int n_gen, const char* name) {
  const int n_text = (int)b.ids.size();
  const size_t L = (size_t)n_text + (size_t)n_gen;
  if (b.positions.size() != 3 * L)
    throw ModelError(std::string(name) + ".positions: need 3 x " + std::to_string(L) + " floats (text " +
                     std::to_string(n_text) + " + generation " + std::to_string(n_gen) + " tokens), got " +
                     std::to_string(b.positions.size()));
  SplitPositions s;
  s.text.resize(3 * (size_t)n_text);
  s.gen.resize(3 * (size_t)n_gen);
  for (int r = 0; r < 3; ++r) {
    std::copy_n(b.positions.begin() + (long)(r * L), n_text, s.text.begin() + (long)r * n_text);
    std::copy_n(b.positions.begin() + (long)(r * L + n_text), n_gen, s.gen.begin() + (long)r * n_gen);
  }
  return s;
}

// The transformer as the denoise loop's velocity model: one forward_gen per branch and step, every noisy token at
// the step's timestep. Streams: x[0] the vision latents, then the sound latents (sound runs), then the action
// tokens (action runs), at sound_stream / action_stream.
struct GenShape {
  int T = 0, H = 0, W = 0;
  std::vector<int> noisy_frames;
  int noisy_vision_tokens = 0;
  int sound_len = 0, sound_stream = -1;
  std::vector<int> sound_tokens;  // 0..sound_len-1: every sound token is noisy
  int action_len = 0, domain_id = 0, action_stream = -1;
  std::vector<int> noisy_actions;
};
class GenVelocity final : public runtime::VelocityModel {
 public:
  GenVelocity(Cosmos3GeneratorParts& m, const Cosmos3GeneratorParts::TextCache* cond,
              const Cosmos3GeneratorParts::TextCache* uncond, const float* cond_pos, const float* uncond_pos,
              const GenShape& g)
      : m_(m),
        cond_(cond),
        uncond_(uncond),
        cond_pos_(cond_pos),
        uncond_pos_(uncond_pos),
        g_(g),
        vision_t_((size_t)g.noisy_vision_tokens),
        sound_t_((size_t)g.sound_len),
        action_t_(g.noisy_actions.size()) {}

  void velocity(const runtime::VelocityQuery& q, const std::vector<const float*>& x,
                const std::vector<float*>& v) override {
    std::fill(vision_t_.begin(), vision_t_.end(), q.timestep);
    std::fill(sound_t_.begin(), sound_t_.end(), q.timestep);
    std::fill(action_t_.begin(), action_t_.end(), q.timestep);
    Cosmos3GenInputs in;
    in.latents = x[0];
    in.T = g_.T, in.H = g_.H, in.W = g_.W;
    in.vision_noisy_frames = g_.noisy_frames.data();
    in.n_vision_noisy = (int)g_.noisy_frames.size();
    in.vision_timesteps = vision_t_.data();
    Cosmos3GenOutputs out;
    out.vision = v[0];
    if (g_.sound_len > 0) {
      in.sound = x[g_.sound_stream];
      in.sound_len = g_.sound_len;
      in.sound_noisy = g_.sound_tokens.data();
      in.n_sound_noisy = g_.sound_len;
      in.sound_timesteps = sound_t_.data();
      out.sound = v[g_.sound_stream];
    }
    if (g_.action_len > 0) {
      in.action = x[g_.action_stream];
      in.action_len = g_.action_len;
      in.action_noisy = g_.noisy_actions.data();
      in.n_action_noisy = (int)g_.noisy_actions.size();
      in.action_timesteps = action_t_.data();
      in.domain_id = g_.domain_id;
      out.action = v[g_.action_stream];
    }
    in.pos3 = q.conditional ? cond_pos_ : uncond_pos_;
    m_.forward_gen(q.conditional ? *cond_ : *uncond_, in, out);
  }

 private:
  Cosmos3GeneratorParts& m_;
  const Cosmos3GeneratorParts::TextCache *cond_, *uncond_;
  const float *cond_pos_, *uncond_pos_;
  const GenShape& g_;
  std::vector<float> vision_t_, sound_t_, action_t_;
};

// Host bytes a backend's text cache holds: the CPU transformer's K/V; the CUDA twin's stay in its pool.
size_t cache_host_bytes(const Cosmos3UndCache& c) {
  size_t b = 0;
  for (const auto& k : c.k) b += k.size() * sizeof(float);
  for (const auto& v : c.v) b += v.size() * sizeof(float);
  return b;
}
// The pools a backend allocates from, for the binding's memory accounting: none on the CPU.
std::vector<CudaPool*> pools_of(Cosmos3Transformer&, WanVae&, Cosmos3AudioDecoder*) { return {}; }
const char* backend_of(const Cosmos3Transformer&) { return "cpu"; }
// Where a backend's run keeps its latents: host memory on the CPU.
std::unique_ptr<runtime::LatentDevice> latent_device_of(Cosmos3Transformer&) {
  return std::make_unique<runtime::CpuLatentDevice>();
}
// One step on latents that live on the run's latent device (host pointers on the CPU).
void forward_on_latent_device(Cosmos3Transformer& t, const Cosmos3UndCache& c, const Cosmos3GenInputs& in,
                              const Cosmos3GenOutputs& out) {
  t.forward_gen(c, in, out);
}
std::vector<float> decode_from_latent_device(Cosmos3Transformer&, WanVae& v, const float* latents, int T, int h, int w,
                                             const WanVaeRunOptions& opt) {
  return v.decode(latents, T, h, w, opt);
}
std::vector<float> decode_sound_from_latent_device(Cosmos3Transformer&, Cosmos3AudioDecoder& a, const float* latents,
                                                   int T, const Cosmos3AudioRunOptions& opt) {
  return a.decode(latents, T, opt);
}

#ifdef COSMOS_CUDA
size_t cache_host_bytes(const Cosmos3UndCacheCuda&) { return 0; }
// The transformer's pool is only handed out const; the accounting reads it, never allocates from it.
std::vector<CudaPool*> pools_of(Cosmos3TransformerCuda& t, WanVaeCuda& v, Cosmos3AudioDecoderCuda* a) {
  std::vector<CudaPool*> p = {const_cast<CudaPool*>(&t.pool()), &v.pool()};
  if (a) p.push_back(&a->pool());
  return p;
}
const char* backend_of(const Cosmos3TransformerCuda&) { return "cuda"; }
// A CUDA run's latents, velocities and sampler history: blocks of the transformer's pool, updated on its stream,
// so forward_gen_device reads and writes them in place and nothing crosses to the host per step.
std::unique_ptr<runtime::LatentDevice> latent_device_of(Cosmos3TransformerCuda& t) {
  return std::make_unique<runtime::CudaLatentDevice>(t.ctx());
}
void forward_on_latent_device(Cosmos3TransformerCuda& t, const Cosmos3UndCacheCuda& c, const Cosmos3GenInputs& in,
                              const Cosmos3GenOutputs& out) {
  t.forward_gen_device(c, in, out);
}
// The VAE and the sound decoder run on their own streams: the latents' last updates (the loop's, on the
// transformer's stream) must be complete before they read them.
void wait_for_latents(Cosmos3TransformerCuda& t) { CUDA_CHECK(cudaStreamSynchronize(t.ctx().stream)); }
std::vector<float> decode_from_latent_device(Cosmos3TransformerCuda& t, WanVaeCuda& v, const float* latents, int T,
                                             int h, int w, const WanVaeRunOptions& opt) {
  wait_for_latents(t);
  // The transformer pool's cached activation blocks (6.5 GiB at 720p) would sit beside the decode's own, and the
  // VAE pool's retry on out-of-memory cannot free them: given back here. (A 720p request then holds 37.3 GiB at the
  // decode on the H200, its peak: bench/README.md, "The 720p request under 40 GiB".)
  t.release_cached_blocks();
  const WanVaeConfig& c = v.config();
  std::vector<float> video((size_t)c.video_channels() * c.frames_for(T) * (h * c.spatial_scale()) *
                           (w * c.spatial_scale()));
  v.decode_device_to_host(latents, T, h, w, video.data(), opt);
  return video;
}
std::vector<float> decode_sound_from_latent_device(Cosmos3TransformerCuda& t, Cosmos3AudioDecoderCuda& a,
                                                   const float* latents, int T, const Cosmos3AudioRunOptions& opt) {
  wait_for_latents(t);
  return a.decode_device(latents, T, opt);
}
#endif

// One backend's models as Cosmos3GeneratorParts: the CPU models and their CUDA twins have the same calls, so one
// adapter serves both; the text cache is whatever the transformer's prefill_text returns (host K/V on the CPU,
// pool K/V on the GPU), and the overloads above say where the latents live and which entry points read them
// there. The sound decoder is optional (null: no sound_tokenizer/).
template <class Transformer, class Vae, class Audio>
class ModelParts final : public Cosmos3GeneratorParts {
 public:
  ModelParts(std::unique_ptr<Transformer> t, std::unique_ptr<Vae> v, std::unique_ptr<Audio> a)
      : t_(std::move(t)), v_(std::move(v)), a_(std::move(a)) {}
  using UndCache = std::decay_t<decltype(std::declval<Transformer&>().prefill_text(nullptr, 0, nullptr))>;
  struct Cache final : TextCache {
    UndCache c;
    size_t host_bytes() const override { return cache_host_bytes(c); }
  };
  std::unique_ptr<TextCache> prefill_text(const int* ids, int n, const float* pos3) override {
    auto c = std::make_unique<Cache>();
    c->c = t_->prefill_text(ids, n, pos3);
    return c;
  }
  std::unique_ptr<runtime::LatentDevice> latent_device() override { return latent_device_of(*t_); }
  bool latents_on_host() const override { return std::is_same_v<Transformer, Cosmos3Transformer>; }
  void forward_gen(const TextCache& c, const Cosmos3GenInputs& in, const Cosmos3GenOutputs& out) override {
    forward_on_latent_device(*t_, static_cast<const Cache&>(c).c, in, out);
  }
  std::vector<float> encode(const float* video, int F, int H, int W, const WanVaeRunOptions& opt) override {
    return v_->encode(video, F, H, W, opt);
  }
  std::vector<float> decode(const float* latents, int T, int h, int w, const WanVaeRunOptions& opt) override {
    return decode_from_latent_device(*t_, *v_, latents, T, h, w, opt);
  }
  const Cosmos3AudioConfig* sound_config() const override { return a_ ? &a_->config() : nullptr; }
  std::vector<float> decode_sound(const float* latents, int T, const Cosmos3AudioRunOptions& opt) override {
    if (!a_) throw ModelError("sound: this checkpoint has no sound_tokenizer/");
    return decode_sound_from_latent_device(*t_, *a_, latents, T, opt);
  }
  void set_abort_flag(const std::atomic<bool>* f) override { t_->set_abort_flag(f); }
  const Cosmos3TransformerConfig& transformer_config() const override { return t_->config(); }
  const WanVaeConfig& vae_config() const override { return v_->config(); }
  size_t weight_bytes() const override {
    return t_->weight_bytes() + v_->weight_bytes() + (a_ ? a_->weight_bytes() : 0);
  }
  const char* backend() const override { return backend_of(*t_); }
  std::vector<CudaPool*> cuda_pools() override { return pools_of(*t_, *v_, a_.get()); }

 private:
  std::unique_ptr<Transformer> t_;
  std::unique_ptr<Vae> v_;
  std::unique_ptr<Audio> a_;
};

#ifdef COSMOS_CUDA
// COSMOS_CUDA_WEIGHTS=bf16|f32, else bf16 when the checkpoint's probe tensor is 16-bit, f32 otherwise (the
// binding's gpu_weight_type rule, restated here so models/ does not include binding/).
WType cuda_weight_type(const Checkpoint& ck, const std::string& probe) {
  if (const char* e = std::getenv("COSMOS_CUDA_WEIGHTS")) {
    if (std::string(e) == "bf16") return WType::BF16;
    if (std::string(e) == "f32") return WType::F32;
  }
  return ck.has(probe) && ck.info(probe).dtype != StDType::F32 ? WType::BF16 : WType::F32;
}
#endif

}  // namespace

std::unique_ptr<Cosmos3GeneratorParts> cosmos3_generator_cpu_parts(std::unique_ptr<Cosmos3Transformer> transformer,
                                                                   std::unique_ptr<WanVae> vae,
                                                                   std::unique_ptr<Cosmos3AudioDecoder> sound) {
  return std::make_unique<ModelParts<Cosmos3Transformer, WanVae, Cosmos3AudioDecoder>>(
      std::move(transformer), std::move(vae), std::move(sound));
}

#ifdef COSMOS_CUDA
std::unique_ptr<Cosmos3GeneratorParts> cosmos3_generator_cuda_parts(std::unique_ptr<Cosmos3TransformerCuda> transformer,
                                                                    std::unique_ptr<WanVaeCuda> vae,
                                                                    std::unique_ptr<Cosmos3AudioDecoderCuda> sound) {
  return std::make_unique<ModelParts<Cosmos3TransformerCuda, WanVaeCuda, Cosmos3AudioDecoderCuda>>(
      std::move(transformer), std::move(vae), std::move(sound));
}
#endif

std::unique_ptr<Cosmos3Generator> Cosmos3Generator::load(const std::string& dir, bool cuda,
                                                         const Cosmos3LoadOptions& options) {
  const Cosmos3TransformerConfig tcfg =
      Cosmos3TransformerConfig::from_json(read_config_file(dir + "/transformer/config.json"));
  const WanVaeConfig vcfg = WanVaeConfig::from_json(read_config_file(dir + "/vae/config.json"));
  const runtime::FlowSchedulerConfig scfg =
      runtime::FlowSchedulerConfig::from_json(read_config_file(dir + "/scheduler/scheduler_config.json"));
  if (vcfg.z_dim != tcfg.latent_channel)
    throw ModelError("vae/config.json z_dim (" + std::to_string(vcfg.z_dim) +
                     ") must equal transformer/config.json latent_channel (" + std::to_string(tcfg.latent_channel) +
                     ")");
  // The sound tokenizer is optional (model_index.json lists it only for sound checkpoints); read only when the
  // transformer can make sound, as diffusers needs both for enable_sound.
  const bool sound = tcfg.sound_gen && std::ifstream(dir + "/sound_tokenizer/config.json").good();
  Cosmos3AudioConfig acfg;
  if (sound) {
    acfg = Cosmos3AudioConfig::from_json(read_config_file(dir + "/sound_tokenizer/config.json"));
    if (acfg.latent_channels != tcfg.sound_dim)
      throw ModelError("sound_tokenizer/config.json vocoder_input_dim (" + std::to_string(acfg.latent_channels) +
                       ") must equal transformer/config.json sound_dim (" + std::to_string(tcfg.sound_dim) + ")");
  }
  auto tck = Checkpoint::open(dir + "/transformer");
  auto vck = Checkpoint::open(dir + "/vae");
  std::unique_ptr<Checkpoint> ack = sound ? Checkpoint::open(dir + "/sound_tokenizer") : nullptr;
  std::unique_ptr<Cosmos3GeneratorParts> parts;
#ifdef COSMOS_CUDA
  if (cuda) {
    auto t = Cosmos3TransformerCuda::load(*tck, tcfg, cuda_weight_type(*tck, "proj_in.weight"));
    if (options.fp8 && !t->set_fp8(true, /*keep_source=*/false))
      throw ModelError(
          "quantization \"fp8\": this GPU or build has no FP8 tensor-core GEMM (it needs an sm_90 "
          "GPU, Hopper, and a module built for sm_90a); load without quantization");
    auto v = WanVaeCuda::load(*vck, vcfg, cuda_weight_type(*vck, "decoder.conv_in.weight"));
    std::unique_ptr<Cosmos3AudioDecoderCuda> a;
    if (ack) a = Cosmos3AudioDecoderCuda::load(*ack, acfg, cuda_weight_type(*ack, "decoder.conv1.weight_v"));
    parts = cosmos3_generator_cuda_parts(std::move(t), std::move(v), std::move(a));
  }
#else
  if (cuda) throw ModelError("cuda: this module was built without CUDA");
#endif
  if (!parts) {
    auto t = Cosmos3Transformer::load(*tck, tcfg);
    if (options.fp8) t->set_fp8(true, /*keep_source=*/false);
    parts = cosmos3_generator_cpu_parts(std::move(t), WanVae::load(*vck, vcfg),
                                        ack ? Cosmos3AudioDecoder::load(*ack, acfg) : nullptr);
  }
  auto g = std::make_unique<Cosmos3Generator>(std::move(parts), scfg);
  g->fp8_ = options.fp8;
  return g;
}

Cosmos3Generator::Cosmos3Generator(std::unique_ptr<Cosmos3GeneratorParts> parts,
                                   const runtime::FlowSchedulerConfig& scheduler)
    : parts_(std::move(parts)), scheduler_(scheduler) {}

void Cosmos3Generator::check(const Cosmos3GenerateRequest& r) const {
  const auto& tc = parts_->transformer_config();
  const auto& vc = parts_->vae_config();
  if (r.latent_t < 1 || r.latent_h < 1 || r.latent_w < 1)
    throw ModelError("latent shape: t, h and w must be at least 1");
  if ((long long)r.latent_t * r.latent_h * r.latent_w > (1ll << 28))
    throw ModelError("latent shape: more than 2^28 latent positions");
  const long long n = (long long)tc.latent_channel * r.latent_t * r.latent_h * r.latent_w;
  if (!r.noise.empty() && (long long)r.noise.size() != n)
    throw ModelError("noise: need " + std::to_string(n) + " floats ([" + std::to_string(tc.latent_channel) + ", " +
                     std::to_string(r.latent_t) + ", " + std::to_string(r.latent_h) + ", " +
                     std::to_string(r.latent_w) + "]), got " + std::to_string(r.noise.size()));
  for (size_t i = 0; i < r.clean_frames.size(); ++i) {
    const int f = r.clean_frames[i];
    if (f < 0 || f >= r.latent_t || (i > 0 && f <= r.clean_frames[i - 1]))
      throw ModelError("cleanFrames: ascending distinct latent frames in 0.." + std::to_string(r.latent_t - 1));
  }
  if (r.action_len > 0) {
    if (!tc.action_gen) throw ModelError("actionLen: this checkpoint has no action heads (transformer action_gen)");
    const long long na = (long long)r.action_len * tc.action_dim;
    if (r.raw_action_dim < 1 || r.raw_action_dim > tc.action_dim)
      throw ModelError("rawActionDim: a width in 1.." + std::to_string(tc.action_dim));
    if (r.domain_id < 0 || r.domain_id >= tc.num_embodiment_domains)
      throw ModelError("domainId: a domain in 0.." + std::to_string(tc.num_embodiment_domains - 1));
    for (size_t i = 0; i < r.action_clean.size(); ++i) {
      const int k = r.action_clean[i];
      if (k < 0 || k >= r.action_len || (i > 0 && k <= r.action_clean[i - 1]))
        throw ModelError("actionClean: ascending distinct tokens in 0.." + std::to_string(r.action_len - 1));
    }
    if (!r.action_clean.empty() && (long long)r.action_values.size() != na)
      throw ModelError("actionValues: need " + std::to_string(na) + " floats ([" + std::to_string(r.action_len) + ", " +
                       std::to_string(tc.action_dim) + "])");
    if (!r.action_noise.empty() && (long long)r.action_noise.size() != na)
      throw ModelError("actionNoise: need " + std::to_string(na) + " floats ([" + std::to_string(r.action_len) + ", " +
                       std::to_string(tc.action_dim) + "])");
  } else if (r.action_len < 0) {
    throw ModelError("actionLen: a token count >= 0");
  }
  if (r.sound_len > 0) {
    if (!tc.sound_gen) throw ModelError("soundLen: this checkpoint makes no sound (transformer sound_gen is off)");
    if (!parts_->sound_config())
      throw ModelError("soundLen: this checkpoint has no sound_tokenizer/ to decode the sound with");
    const long long ns = (long long)r.sound_len * tc.sound_dim;
    if (!r.sound_noise.empty() && (long long)r.sound_noise.size() != ns)
      throw ModelError("soundNoise: need " + std::to_string(ns) + " floats ([" + std::to_string(tc.sound_dim) + ", " +
                       std::to_string(r.sound_len) + "]), got " + std::to_string(r.sound_noise.size()));
  } else if (r.sound_len < 0) {
    throw ModelError("soundLen: a token count >= 0");
  } else if (!r.sound_noise.empty()) {
    throw ModelError("soundNoise: given, but soundLen is 0");
  }
  const bool actions_noisy = r.action_len > (int)r.action_clean.size();
  if ((int)r.clean_frames.size() == r.latent_t && !actions_noisy)
    throw ModelError("cleanFrames: at least one latent frame (or action token) must be noisy");
  if (!r.clean_frames.empty()) {
    const int frames = vc.frames_for(r.clean_frames.back() + 1);
    const int H = r.cond_height > 0 ? r.cond_height : r.latent_h * vc.spatial_scale();
    const int W = r.cond_width > 0 ? r.cond_width : r.latent_w * vc.spatial_scale();
    if (H < r.latent_h * vc.spatial_scale() || W < r.latent_w * vc.spatial_scale() || H % vc.spatial_scale() ||
        W % vc.spatial_scale())
      throw ModelError("condHeight / condWidth: multiples of " + std::to_string(vc.spatial_scale()) +
                       " covering the latents");
    if (r.cond_frames != frames)
      throw ModelError("condVideo: the clean latent frames up to " + std::to_string(r.clean_frames.back()) +
                       " are encoded from " + std::to_string(frames) + " frames, got " + std::to_string(r.cond_frames));
    const size_t want = (size_t)vc.video_channels() * frames * H * W;
    if (r.cond_video.size() != want)
      throw ModelError("condVideo: need " + std::to_string(want) + " floats ([" + std::to_string(vc.video_channels()) +
                       ", " + std::to_string(frames) + ", " + std::to_string(H) + ", " + std::to_string(W) +
                       "]), got " + std::to_string(r.cond_video.size()));
  } else if (!r.cond_video.empty()) {
    throw ModelError("condVideo: given, but no latent frame is clean");
  }
  if (!(r.guidance >= 0.0f && r.guidance <= 100.0f)) throw ModelError("guidance: a number in 0..100");
  if (!(r.guidance_lo <= r.guidance_hi)) throw ModelError("guidanceInterval: [lo, hi] with lo <= hi");
  cosmos3_check_text(tc, r.cond.ids.data(), (int)r.cond.ids.size(), r.cond.positions.data());
  if (r.guidance != 1.0f)
    cosmos3_check_text(tc, r.uncond.ids.data(), (int)r.uncond.ids.size(), r.uncond.positions.data());
}

Cosmos3GenerateResult Cosmos3Generator::generate(const Cosmos3GenerateRequest& r, const Cosmos3Progress& progress) {
  check(r);
  const std::atomic<bool>& abort = abort_ ? *abort_ : never_;
  auto check_abort = [&] {
    if (abort.load()) throw AbortedError();
  };
  const auto& tc = parts_->transformer_config();
  const auto& vc = parts_->vae_config();
  const int C = tc.latent_channel, T = r.latent_t, H = r.latent_h, W = r.latent_w;
  const long long plane = (long long)H * W, n = (long long)C * T * plane;
  const bool cfg = r.guidance != 1.0f;

  // The gen layout of this request: its token count splits each branch's positions.
  GenShape g;
  g.T = T, g.H = H, g.W = W;
  for (int f = 0; f < T; ++f)
    if (!std::binary_search(r.clean_frames.begin(), r.clean_frames.end(), f)) g.noisy_frames.push_back(f);
  int n_streams = 1;
  g.sound_len = r.sound_len;
  if (r.sound_len > 0) g.sound_stream = n_streams++;
  for (int k = 0; k < r.sound_len; ++k) g.sound_tokens.push_back(k);
  g.action_len = r.action_len, g.domain_id = r.domain_id;
  if (r.action_len > 0) g.action_stream = n_streams++;
  for (int k = 0; k < r.action_len; ++k)
    if (!std::binary_search(r.action_clean.begin(), r.action_clean.end(), k)) g.noisy_actions.push_back(k);
  const long long na = (long long)r.action_len * tc.action_dim;
  const long long ns = (long long)r.sound_len * tc.sound_dim;
  Cosmos3GenInputs probe;  // shapes only: the pointers are placeholders the layout checks for presence
  const float placeholder = 0.0f;
  probe.latents = &placeholder, probe.vision_timesteps = &placeholder;
  probe.T = T, probe.H = H, probe.W = W;
  probe.vision_noisy_frames = g.noisy_frames.data(), probe.n_vision_noisy = (int)g.noisy_frames.size();
  if (r.sound_len > 0) {
    probe.sound = &placeholder, probe.sound_timesteps = &placeholder;
    probe.sound_len = r.sound_len;
    probe.sound_noisy = g.sound_tokens.data(), probe.n_sound_noisy = r.sound_len;
  }
  if (r.action_len > 0) {
    probe.action = &placeholder, probe.action_timesteps = &placeholder;
    probe.action_len = r.action_len, probe.domain_id = r.domain_id;
    probe.action_noisy = g.noisy_actions.data(), probe.n_action_noisy = (int)g.noisy_actions.size();
  }
  const Cosmos3GenLayout lay = cosmos3_gen_layout(tc, probe);
  g.noisy_vision_tokens = lay.n_vision_noisy_tokens;
  const SplitPositions cond_pos = split_positions(r.cond, lay.n_gen, "cond");
  SplitPositions uncond_pos;
  if (cfg) uncond_pos = split_positions(r.uncond, lay.n_gen, "uncond");

  // The schedule first: a bad sampler setting fails before any work.
  const runtime::FlowSchedule schedule = runtime::make_flow_schedule(scheduler_, r.schedule);
  if (!r.step_noise.empty() && !scheduler_.stochastic_sampling)
    throw ModelError("stepNoise: this checkpoint's scheduler does not re-noise (stochastic_sampling is false)");
  if (!r.step_noise.empty() && (long long)r.step_noise.size() != (long long)schedule.steps() * n)
    throw ModelError("stepNoise: need " + std::to_string(schedule.steps()) + " x " + std::to_string(n) +
                     " floats (one latent draw per step), got " + std::to_string(r.step_noise.size()));

  TrackedBytes tracked;
  parts_->set_abort_flag(&abort);
  struct ClearFlag {
    Cosmos3GeneratorParts* p;
    ~ClearFlag() { p->set_abort_flag(nullptr); }
  } clear_flag{parts_.get()};
  WanVaeRunOptions vopt;
  vopt.abort = &abort;

  // The latents, the velocities and the samplers' history live on the parts' latent device from the initial
  // latents to the decoders (the GPU's pool for the CUDA twins); only the initial values go up and the final
  // latents, actions, video and wave come down.
  TrackedLatentDevice dev(parts_->latent_device(), parts_->latents_on_host() ? &tracked : nullptr);
  runtime::LatentBuffer x(dev, n);

  // 1-2. Clean latents (encoded prefix) and the initial latents, put together on the host and uploaded once.
  std::vector<float> init;
  if (!r.noise.empty()) {
    init = r.noise;
  } else {
    init.resize((size_t)n);
    fill_normal_cpu(init.data(), n, r.seed, 0.0f, 1.0f);
  }
  if (!r.clean_frames.empty()) {
    check_abort();
    vopt.on_chunk = [&](int done, int total) {
      if (progress) progress(Cosmos3Stage::Encode, done, total);
    };
    const int Hp = r.cond_height > 0 ? r.cond_height : H * vc.spatial_scale();
    const int Wp = r.cond_width > 0 ? r.cond_width : W * vc.spatial_scale();
    const int Hc = Hp / vc.spatial_scale(), Wc = Wp / vc.spatial_scale();  // encoded grid; the latents its top-left
    std::vector<float> clean = parts_->encode(r.cond_video.data(), r.cond_frames, Hp, Wp, vopt);
    const int Tc = r.clean_frames.back() + 1;
    if ((long long)clean.size() != (long long)C * Tc * Hc * Wc)
      throw ModelError("condVideo: the VAE gave " + std::to_string(clean.size()) + " latents, expected " +
                       std::to_string((long long)C * Tc * Hc * Wc));
    // mask * clean + (1 - mask) * noise with a 0/1 mask: the clean frame's latents exactly.
    for (int f : r.clean_frames)
      for (int c = 0; c < C; ++c)
        for (int y = 0; y < H; ++y)
          std::memcpy(init.data() + (((long long)c * T + f) * H + y) * W,
                      clean.data() + (((long long)c * Tc + f) * Hc + y) * Wc, (size_t)W * sizeof(float));
  }
  dev.upload(x.get(), init.data(), n);
  init = {};

  // The action tokens: mask * values + (1 - mask) * noise, channels from raw_action_dim on zeroed.
  runtime::LatentBuffer xa;
  if (r.action_len > 0) {
    xa = runtime::LatentBuffer(dev, na);
    std::vector<float> a((size_t)na);
    if (!r.action_noise.empty())
      a = r.action_noise;
    else
      fill_normal_cpu(a.data(), na, r.seed + 1, 0.0f, 1.0f);
    for (int k : r.action_clean)
      std::copy_n(r.action_values.begin() + (long)k * tc.action_dim, tc.action_dim,
                  a.begin() + (long)k * tc.action_dim);
    for (int k = 0; k < r.action_len; ++k)
      std::fill(a.begin() + (long)k * tc.action_dim + r.raw_action_dim, a.begin() + (long)(k + 1) * tc.action_dim, 0.f);
    dev.upload(xa.get(), a.data(), na);
  }

  // The sound latents: all noisy (prepare_latents' sound mask is all zero), so the noise as it is.
  runtime::LatentBuffer xs;
  if (r.sound_len > 0) {
    xs = runtime::LatentBuffer(dev, ns);
    if (!r.sound_noise.empty()) {
      dev.upload(xs.get(), r.sound_noise.data(), ns);
    } else {
      std::vector<float> s((size_t)ns);
      fill_normal_cpu(s.data(), ns, r.seed + 2, 0.0f, 1.0f);
      dev.upload(xs.get(), s.data(), ns);
    }
  }

  runtime::DenoiseRequest dr;
  dr.scheduler = scheduler_;
  dr.schedule = schedule;
  dr.guidance = r.guidance;
  dr.guidance_lo = r.guidance_lo;
  dr.guidance_hi = r.guidance_hi;
  // The uncond branch is prefilled only when some step is guided (its timestep inside the interval).
  bool uncond_used = false;
  for (int i = 0; i < schedule.steps(); ++i) uncond_used |= runtime::guided_step(dr, i);

  // 3. The und stream once per branch.
  check_abort();
  auto und_cond = parts_->prefill_text(r.cond.ids.data(), (int)r.cond.ids.size(), cond_pos.text.data());
  tracked.add(und_cond->host_bytes());
  std::unique_ptr<Cosmos3GeneratorParts::TextCache> und_uncond;
  if (uncond_used) {
    und_uncond = parts_->prefill_text(r.uncond.ids.data(), (int)r.uncond.ids.size(), uncond_pos.text.data());
    tracked.add(und_uncond->host_bytes());
  }

  // 4. The denoise loop over the vision stream.
  Cosmos3GenerateResult res;
  res.timesteps = schedule.timesteps;
  res.sigmas = schedule.sigmas;
  GenVelocity model(*parts_, und_cond.get(), und_uncond.get(), cond_pos.gen.data(),
                    uncond_used ? uncond_pos.gen.data() : nullptr, g);
  std::vector<runtime::DenoiseStream> streams((size_t)n_streams);
  runtime::DenoiseStream& vs = streams[0];
  vs.name = "video";
  vs.x = x.get();
  vs.n = n;
  for (int f : r.clean_frames) vs.conditioned.push_back({C, T, plane, f, f + 1});
  if (r.sound_len > 0) {  // its own sampler state; nothing conditioned, stepped every step as diffusers does
    runtime::DenoiseStream& ss = streams[(size_t)g.sound_stream];
    ss.name = "sound";
    ss.x = xs.get();
    ss.n = ns;
  }
  if (r.action_len > 0) {
    runtime::DenoiseStream& as = streams[(size_t)g.action_stream];
    as.name = "action";
    as.x = xa.get();
    as.n = na;
    for (int k : r.action_clean) as.conditioned.push_back({1, r.action_len, tc.action_dim, k, k + 1});
    if (r.raw_action_dim < tc.action_dim)
      as.zero_after_step.push_back({r.action_len, tc.action_dim, 1, r.raw_action_dim, tc.action_dim});
    // diffusers steps the action latents only when some token is noisy (forward dynamics: none).
    as.skip_when_all_conditioned = true;
    as.all_conditioned = g.noisy_actions.empty();
  }
  dr.noise_seed = r.seed;  // a stochastic sampler's own draws (streams without given noise)
  std::unique_ptr<runtime::GivenNoise> given_noise;
  if (!r.step_noise.empty()) {
    given_noise = std::make_unique<runtime::GivenNoise>(dev, r.step_noise.data(), n, schedule.steps());
    dr.noise.assign((size_t)n_streams, nullptr);
    dr.noise[0] = given_noise.get();
  }
  runtime::LatentBuffer clean_x;  // the initial latents: the clean frames' values, re-imposed after each step
  if (r.reanchor_clean && !r.clean_frames.empty()) {
    clean_x = runtime::LatentBuffer(dev, n);
    dev.copy(clean_x.get(), x.get(), n);
    vs.reanchor = clean_x.get();
  }
  const int steps = schedule.steps();
  const runtime::DenoiseStats stats = runtime::denoise(model, dev, streams, dr, abort, [&](int done, int total) {
    if (r.keep_step_latents) {
      res.step_latents.emplace_back((size_t)n);
      dev.download(res.step_latents.back().data(), x.get(), n);
      tracked.add((size_t)n * sizeof(float));
      if (r.sound_len > 0) {
        res.step_sounds.emplace_back((size_t)ns);
        dev.download(res.step_sounds.back().data(), xs.get(), ns);
        tracked.add((size_t)ns * sizeof(float));
      }
      if (r.action_len > 0) {
        res.step_actions.emplace_back((size_t)na);
        dev.download(res.step_actions.back().data(), xa.get(), na);
      }
    }
    if (progress) progress(Cosmos3Stage::Denoise, done, total);
  });
  res.uncond_passes = stats.uncond_passes;
  (void)steps;
  // The text caches are not needed past the loop.
  tracked.sub(und_cond->host_bytes() + (und_uncond ? und_uncond->host_bytes() : 0));
  und_cond.reset();
  und_uncond.reset();

  res.latents.resize((size_t)n);
  dev.download(res.latents.data(), x.get(), n);
  tracked.add((size_t)n * sizeof(float));
  if (r.action_len > 0) {
    res.action.resize((size_t)na);
    dev.download(res.action.data(), xa.get(), na);
    xa.reset();
  }
  if (r.sound_len > 0) {
    res.sound.resize((size_t)ns);
    dev.download(res.sound.data(), xs.get(), ns);
    tracked.add((size_t)ns * sizeof(float));
  }

  // 5. Decode, clamped to [-1, 1].
  if (r.decode) {
    check_abort();
    vopt.on_chunk = [&](int done, int total) {
      if (progress) progress(Cosmos3Stage::Decode, done, total);
    };
    vopt.clamp = true;
    res.video = parts_->decode(x.get(), T, H, W, vopt);  // read where the loop left them
    res.frames = vc.frames_for(T);
    res.height = H * vc.spatial_scale();
    res.width = W * vc.spatial_scale();
    // The sound as decode_sound does: the final sound latents through the AVAE, clamped to [-1, 1].
    if (r.sound_len > 0) {
      check_abort();
      const Cosmos3AudioConfig& ac = *parts_->sound_config();
      Cosmos3AudioRunOptions aopt;
      aopt.abort = &abort;
      res.sound_wave = parts_->decode_sound(xs.get(), r.sound_len, aopt);
      res.sound_channels = ac.audio_channels;
      res.sound_samples = ac.samples_for(r.sound_len);
      res.sound_sample_rate = ac.sampling_rate;
    }
  }
  return res;
}

}  // namespace cosmos
