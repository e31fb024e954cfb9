#include "cosmos3_generator.h"

#include <algorithm>
#include <cstring>
#include <fstream>
#include <sstream>

#include "../core/memory.h"
#include "../ops/fill_normal.h"
#include "../runtime/denoise_loop.h"
#include "../runtime/latent_device.h"

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

// The CPU latent device with its allocations counted (CpuLatentDevice's ops, tracked alloc / release).
class TrackedCpuLatentDevice final : public runtime::LatentDevice {
 public:
  explicit TrackedCpuLatentDevice(TrackedBytes& t) : t_(t) {}
  float* alloc(long long n) override {
    float* p = base_.alloc(n);
    sizes_.push_back({p, (size_t)n * sizeof(float)});
    t_.add((size_t)n * sizeof(float));
    return p;
  }
  void release(float* p) override {
    for (size_t i = 0; i < sizes_.size(); ++i)
      if (sizes_[i].first == p) {
        t_.sub(sizes_[i].second);
        sizes_.erase(sizes_.begin() + (long)i);
        break;
      }
    base_.release(p);
  }
  void copy(float* dst, const float* src, long long n) override { base_.copy(dst, src, n); }
  void lincomb(float* out, const float* const* x, const float* c, int terms, long long n) override {
    base_.lincomb(out, x, c, terms, n);
  }
  void set_rows(float* dst, const float* src, const runtime::RowSpan& s) override { base_.set_rows(dst, src, s); }
  void upload(float* dst, const float* host, long long n) override { base_.upload(dst, host, n); }
  void download(float* host, const float* src, long long n) override { base_.download(host, src, n); }

 private:
  runtime::CpuLatentDevice base_;
  TrackedBytes& t_;
  std::vector<std::pair<float*, size_t>> sizes_;
};

size_t cache_bytes(const Cosmos3UndCache& c) {
  size_t b = 0;
  for (const auto& k : c.k) b += k.size() * sizeof(float);
  for (const auto& v : c.v) b += v.size() * sizeof(float);
  return b;
}

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

// The transformer as the denoise loop's velocity model: one forward_gen per branch and step over the vision
// stream, every noisy token at the step's timestep.
class VisionVelocity final : public runtime::VelocityModel {
 public:
  VisionVelocity(Cosmos3Transformer& m, const Cosmos3UndCache* cond, const Cosmos3UndCache* uncond,
                 const float* cond_pos, const float* uncond_pos, const std::vector<int>& noisy, int T, int H, int W,
                 int noisy_tokens)
      : m_(m), cond_(cond), uncond_(uncond), cond_pos_(cond_pos), uncond_pos_(uncond_pos), noisy_(noisy), T_(T),
        H_(H), W_(W), timesteps_((size_t)noisy_tokens) {}

  void velocity(const runtime::VelocityQuery& q, const std::vector<const float*>& x,
                const std::vector<float*>& v) override {
    std::fill(timesteps_.begin(), timesteps_.end(), q.timestep);
    Cosmos3GenInputs in;
    in.latents = x[0];
    in.T = T_, in.H = H_, in.W = W_;
    in.vision_noisy_frames = noisy_.data();
    in.n_vision_noisy = (int)noisy_.size();
    in.vision_timesteps = timesteps_.data();
    in.pos3 = q.conditional ? cond_pos_ : uncond_pos_;
    Cosmos3GenOutputs out;
    out.vision = v[0];
    m_.forward_gen(q.conditional ? *cond_ : *uncond_, in, out);
  }

 private:
  Cosmos3Transformer& m_;
  const Cosmos3UndCache *cond_, *uncond_;
  const float *cond_pos_, *uncond_pos_;
  const std::vector<int>& noisy_;
  int T_, H_, W_;
  std::vector<float> timesteps_;
};

}  // namespace

std::unique_ptr<Cosmos3Generator> Cosmos3Generator::load(const std::string& dir) {
  const Cosmos3TransformerConfig tcfg =
      Cosmos3TransformerConfig::from_json(read_config_file(dir + "/transformer/config.json"));
  const WanVaeConfig vcfg = WanVaeConfig::from_json(read_config_file(dir + "/vae/config.json"));
  const runtime::FlowSchedulerConfig scfg =
      runtime::FlowSchedulerConfig::from_json(read_config_file(dir + "/scheduler/scheduler_config.json"));
  if (vcfg.z_dim != tcfg.latent_channel)
    throw ModelError("vae/config.json z_dim (" + std::to_string(vcfg.z_dim) +
                     ") must equal transformer/config.json latent_channel (" + std::to_string(tcfg.latent_channel) +
                     ")");
  auto tck = Checkpoint::open(dir + "/transformer");
  auto transformer = Cosmos3Transformer::load(*tck, tcfg);
  auto vck = Checkpoint::open(dir + "/vae");
  auto vae = WanVae::load(*vck, vcfg);
  return std::make_unique<Cosmos3Generator>(std::move(transformer), std::move(vae), scfg);
}

Cosmos3Generator::Cosmos3Generator(std::unique_ptr<Cosmos3Transformer> transformer, std::unique_ptr<WanVae> vae,
                                   const runtime::FlowSchedulerConfig& scheduler)
    : transformer_(std::move(transformer)), vae_(std::move(vae)), scheduler_(scheduler) {}

void Cosmos3Generator::check(const Cosmos3GenerateRequest& r) const {
  const auto& tc = transformer_->config();
  const auto& vc = vae_->config();
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
  if ((int)r.clean_frames.size() == r.latent_t) throw ModelError("cleanFrames: at least one latent frame must be noisy");
  if (!r.clean_frames.empty()) {
    const int frames = vc.frames_for(r.clean_frames.back() + 1);
    const int H = r.latent_h * vc.spatial_scale(), W = r.latent_w * vc.spatial_scale();
    if (r.cond_frames != frames)
      throw ModelError("condVideo: the clean latent frames up to " + std::to_string(r.clean_frames.back()) +
                       " are encoded from " + std::to_string(frames) + " frames, got " +
                       std::to_string(r.cond_frames));
    const size_t want = (size_t)vc.video_channels() * frames * H * W;
    if (r.cond_video.size() != want)
      throw ModelError("condVideo: need " + std::to_string(want) + " floats ([" + std::to_string(vc.video_channels()) +
                       ", " + std::to_string(frames) + ", " + std::to_string(H) + ", " + std::to_string(W) +
                       "]), got " + std::to_string(r.cond_video.size()));
  } else if (!r.cond_video.empty()) {
    throw ModelError("condVideo: given, but no latent frame is clean");
  }
  if (!(r.guidance >= 0.0f && r.guidance <= 100.0f)) throw ModelError("guidance: a number in 0..100");
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
  const auto& tc = transformer_->config();
  const auto& vc = vae_->config();
  const int C = tc.latent_channel, T = r.latent_t, H = r.latent_h, W = r.latent_w;
  const long long plane = (long long)H * W, n = (long long)C * T * plane;
  const bool cfg = r.guidance != 1.0f;

  // The gen layout of this request: its token count splits each branch's positions.
  std::vector<int> noisy;
  for (int f = 0; f < T; ++f)
    if (!std::binary_search(r.clean_frames.begin(), r.clean_frames.end(), f)) noisy.push_back(f);
  Cosmos3GenInputs probe;  // shapes only: the pointers are placeholders the layout checks for presence
  const float placeholder = 0.0f;
  probe.latents = &placeholder, probe.vision_timesteps = &placeholder;
  probe.T = T, probe.H = H, probe.W = W;
  probe.vision_noisy_frames = noisy.data(), probe.n_vision_noisy = (int)noisy.size();
  const Cosmos3GenLayout lay = cosmos3_gen_layout(tc, probe);
  const SplitPositions cond_pos = split_positions(r.cond, lay.n_gen, "cond");
  SplitPositions uncond_pos;
  if (cfg) uncond_pos = split_positions(r.uncond, lay.n_gen, "uncond");

  // The schedule first: a bad sampler setting fails before any work.
  const runtime::FlowSchedule schedule = runtime::make_flow_schedule(scheduler_, r.schedule);

  TrackedBytes tracked;
  transformer_->set_abort_flag(&abort);
  struct ClearFlag {
    Cosmos3Transformer* t;
    ~ClearFlag() { t->set_abort_flag(nullptr); }
  } clear_flag{transformer_.get()};
  WanVaeRunOptions vopt;
  vopt.abort = &abort;

  TrackedCpuLatentDevice dev(tracked);
  runtime::LatentBuffer x(dev, n);

  // 1-2. Clean latents (encoded prefix) and the initial latents.
  if (!r.noise.empty()) dev.upload(x.get(), r.noise.data(), n);
  else fill_normal_cpu(x.get(), n, r.seed, 0.0f, 1.0f);
  if (!r.clean_frames.empty()) {
    check_abort();
    vopt.on_chunk = [&](int done, int total) {
      if (progress) progress(Cosmos3Stage::Encode, done, total);
    };
    const int Hp = H * vc.spatial_scale(), Wp = W * vc.spatial_scale();
    std::vector<float> clean = vae_->encode(r.cond_video.data(), r.cond_frames, Hp, Wp, vopt);
    const int Tc = r.clean_frames.back() + 1;
    if ((long long)clean.size() != (long long)C * Tc * plane)
      throw ModelError("condVideo: the VAE gave " + std::to_string(clean.size()) + " latents, expected " +
                       std::to_string((long long)C * Tc * plane));
    // mask * clean + (1 - mask) * noise with a 0/1 mask: the clean frame's latents exactly.
    for (int f : r.clean_frames)
      for (int c = 0; c < C; ++c)
        std::memcpy(x.get() + ((long long)c * T + f) * plane, clean.data() + ((long long)c * Tc + f) * plane,
                    (size_t)plane * sizeof(float));
  }

  // 3. The und stream once per branch.
  check_abort();
  Cosmos3UndCache und_cond = transformer_->prefill_text(r.cond.ids.data(), (int)r.cond.ids.size(), cond_pos.text.data());
  tracked.add(cache_bytes(und_cond));
  Cosmos3UndCache und_uncond;
  if (cfg) {
    und_uncond = transformer_->prefill_text(r.uncond.ids.data(), (int)r.uncond.ids.size(), uncond_pos.text.data());
    tracked.add(cache_bytes(und_uncond));
  }

  // 4. The denoise loop over the vision stream.
  Cosmos3GenerateResult res;
  res.timesteps = schedule.timesteps;
  res.sigmas = schedule.sigmas;
  VisionVelocity model(*transformer_, &und_cond, cfg ? &und_uncond : nullptr, cond_pos.gen.data(),
                       cfg ? uncond_pos.gen.data() : nullptr, noisy, T, H, W, lay.n_vision_noisy_tokens);
  std::vector<runtime::DenoiseStream> streams(1);
  runtime::DenoiseStream& vs = streams[0];
  vs.name = "video";
  vs.x = x.get();
  vs.n = n;
  for (int f : r.clean_frames) vs.conditioned.push_back({C, T, plane, f, f + 1});
  runtime::DenoiseRequest dr;
  dr.scheduler = scheduler_;
  dr.schedule = schedule;
  dr.guidance = r.guidance;
  const int steps = schedule.steps();
  runtime::denoise(model, dev, streams, dr, abort, [&](int done, int total) {
    if (r.keep_step_latents) {
      res.step_latents.emplace_back((size_t)n);
      dev.download(res.step_latents.back().data(), x.get(), n);
      tracked.add((size_t)n * sizeof(float));
    }
    if (progress) progress(Cosmos3Stage::Denoise, done, total);
  });
  (void)steps;
  // The text caches are not needed past the loop.
  tracked.sub(cache_bytes(und_cond) + cache_bytes(und_uncond));
  und_cond = {};
  und_uncond = {};

  res.latents.resize((size_t)n);
  dev.download(res.latents.data(), x.get(), n);
  tracked.add((size_t)n * sizeof(float));
  x.reset();

  // 5. Decode, clamped to [-1, 1].
  if (r.decode) {
    check_abort();
    vopt.on_chunk = [&](int done, int total) {
      if (progress) progress(Cosmos3Stage::Decode, done, total);
    };
    vopt.clamp = true;
    res.video = vae_->decode(res.latents.data(), T, H, W, vopt);
    res.frames = vc.frames_for(T);
    res.height = H * vc.spatial_scale();
    res.width = W * vc.spatial_scale();
  }
  return res;
}

}  // namespace cosmos
