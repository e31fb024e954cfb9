// cosmos3_generator_cpu_test: the Generator engine (models/cosmos3_generator) end to end on the CPU.
//  - ops/fill_normal: reproducible per seed and index, different seeds differ, moments of a standard normal
//    (mean, variance, fraction within 1 and 2 sigma, 4th moment) over 2^20 draws;
//  - with the fixtures (argv[1] = repository root): test/fixtures/cosmos3-tiny loaded as a whole and the t2v run
//    of cosmos3-tiny-reference (3 UniPC steps, flow shift 10, CFG 3) with the pipeline's captured noise, ids and
//    positions (transformer.safetensors t2v / t2v_uncond): latents after every step, final latents and the
//    decoded video against diffusers; progress in order; an abort mid-run throws AbortedError and gives back
//    every byte it held; typed errors naming the field;
//  - the t2v_sound run (3 steps, CFG 3, enable_sound): vision and sound latents after every step and the decoded
//    wave (sound_tokenizer/ decode of the final sound latents) against diffusers; sound errors naming the field.
// Prints one JSON line {checks, failures, fixture, worst: {name: max abs diff}}; exit 1 on a failure.
#include <atomic>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "../src/core/memory.h"
#include "../src/models/cosmos3_generator.h"
#include "../src/ops/fill_normal.h"
#include "../src/safetensors/safetensors.h"
#include "test_util.h"

using namespace cosmos;
using namespace test_util;

static void close(const std::string& name, const std::vector<float>& got, const std::vector<float>& want, double tol) {
  ++checks;
  if (got.size() != want.size()) {
    ++failures;
    std::fprintf(stderr, "FAIL %s: %zu values, expected %zu\n", name.c_str(), got.size(), want.size());
    return;
  }
  const double m = max_abs_diff(got, want);
  worst[name] = m;
  if (!(m <= tol)) {
    ++failures;
    std::fprintf(stderr, "FAIL %s: max abs diff %.3g > %.3g\n", name.c_str(), m, tol);
  }
}

static void fill_normal_checks() {
  const long long n = 1 << 20;
  std::vector<float> a((size_t)n), b((size_t)n), c((size_t)n);
  fill_normal_cpu(a.data(), n, 7, 0.f, 1.f);
  fill_normal_cpu(b.data(), n, 7, 0.f, 1.f);
  fill_normal_cpu(c.data(), n, 8, 0.f, 1.f);
  truth("fill_normal: same seed, same draws", std::memcmp(a.data(), b.data(), (size_t)n * 4) == 0);
  size_t same = 0;
  for (long long i = 0; i < n; ++i) same += a[i] == c[i];
  truth("fill_normal: another seed, other draws", same < 16);
  std::vector<float> head(1000);
  fill_normal_cpu(head.data(), 1000, 7, 0.f, 1.f);
  truth("fill_normal: a prefix draws the same values", std::memcmp(head.data(), a.data(), 4000) == 0);
  double s1 = 0, s2 = 0, s4 = 0;
  long long in1 = 0, in2 = 0;
  bool finite = true;
  for (float v : a) {
    finite = finite && std::isfinite(v);
    s1 += v, s2 += (double)v * v, s4 += (double)v * v * v * v;
    in1 += std::fabs(v) < 1, in2 += std::fabs(v) < 2;
  }
  const double mean = s1 / n, var = s2 / n - mean * mean;
  // Standard errors at 2^20 draws: mean 0.001, variance 0.0014, 4th moment 0.0093, P(|z|<1) 0.00045.
  truth("fill_normal: finite", finite);
  truth("fill_normal: mean 0 (+-0.005)", std::fabs(mean) < 0.005);
  truth("fill_normal: variance 1 (+-0.007)", std::fabs(var - 1) < 0.007);
  truth("fill_normal: E z^4 = 3 (+-0.05)", std::fabs(s4 / n - 3) < 0.05);
  truth("fill_normal: P(|z| < 1) = 0.6827 (+-0.003)", std::fabs((double)in1 / n - 0.682689) < 0.003);
  truth("fill_normal: P(|z| < 2) = 0.9545 (+-0.002)", std::fabs((double)in2 / n - 0.954500) < 0.002);
  std::vector<float> shifted(1000);
  fill_normal_cpu(shifted.data(), 1000, 7, 2.f, 0.5f);
  bool affine = true;
  for (int i = 0; i < 1000; ++i) affine = affine && std::fabs(shifted[i] - (2.f + 0.5f * head[i])) < 1e-6f;
  truth("fill_normal: mean + std * z", affine);
}

struct Fixture {
  std::unique_ptr<SafetensorsFile> f;
  std::vector<float> f32(const std::string& name, std::vector<int64_t>* shape = nullptr) const {
    const TensorInfo* t = f->find(name);
    if (!t) throw std::runtime_error("fixture tensor missing: " + name);
    if (t->dtype != StDType::F32) throw std::runtime_error("fixture tensor not f32: " + name);
    if (shape) *shape = t->shape;
    std::vector<float> v((size_t)t->numel());
    std::memcpy(v.data(), f->data_of(*t), v.size() * 4);
    return v;
  }
  std::vector<int> i32(const std::string& name) const {
    const TensorInfo* t = f->find(name);
    if (!t || t->dtype != StDType::I32) throw std::runtime_error("fixture i32 tensor missing: " + name);
    std::vector<int> v((size_t)t->numel());
    std::memcpy(v.data(), f->data_of(*t), v.size() * 4);
    return v;
  }
};

static bool exists(const std::string& p) { return std::ifstream(p).good(); }

// The t2v_sound pipeline run: the transformer case `sound` is its last-step cond pass (ids and [3, 136]
// positions). The uncond positions are built from them: text 0..n-1 on all three rows, and the generation tokens
// at the cond ones moved by (n_uncond - n_cond) on the t row (every gen position is offset + something, with the
// offset n_text + margin; both offsets lie in [8192, 16384), one f32 binade, and differ by a whole number, so the
// moved value is the one the pipeline rounds to; h / w rows do not depend on the text).
static void sound_fixture_checks(Cosmos3Generator& gen, const std::string& ref) {
  Fixture pipe{std::make_unique<SafetensorsFile>(ref + "/pipeline_t2v_sound.safetensors")};
  Fixture tr{std::make_unique<SafetensorsFile>(ref + "/transformer.safetensors")};
  std::vector<int64_t> s, ss;
  Cosmos3GenerateRequest r;
  r.noise = pipe.f32("noise.vision", &s);
  r.latent_t = (int)s[2], r.latent_h = (int)s[3], r.latent_w = (int)s[4];
  r.sound_noise = pipe.f32("noise.sound", &ss);
  r.sound_len = (int)ss[1];
  r.cond.ids = tr.i32("sound.input_ids");
  r.cond.positions = tr.f32("sound.position_ids");
  r.uncond.ids = pipe.i32("prompt.uncond_ids");
  truth("sound: pipeline and transformer ids agree", r.cond.ids == pipe.i32("prompt.cond_ids"));
  const int nc = (int)r.cond.ids.size(), nu = (int)r.uncond.ids.size();
  const int n_gen = (int)(r.cond.positions.size() / 3) - nc;
  r.uncond.positions.resize(3 * (size_t)(nu + n_gen));
  for (int row = 0; row < 3; ++row) {
    for (int i = 0; i < nu; ++i) r.uncond.positions[(size_t)row * (nu + n_gen) + i] = (float)i;
    for (int j = 0; j < n_gen; ++j) {
      const float p = r.cond.positions[(size_t)row * (nc + n_gen) + nc + j];
      r.uncond.positions[(size_t)row * (nu + n_gen) + nu + j] = row == 0 ? p + (float)(nu - nc) : p;
    }
  }
  r.guidance = 3.0f;
  r.schedule.steps = 3;
  r.schedule.flow_shift = 10.0;
  r.schedule.use_karras_sigmas = false;
  r.keep_step_latents = true;
  const Cosmos3AudioConfig* ac = gen.sound_config();
  truth("sound: the checkpoint's sound_tokenizer is loaded", ac != nullptr);
  if (!ac) return;

  const MemoryStats before = memory_stats(DeviceKind::CPU);
  Cosmos3GenerateResult res = gen.generate(r);
  truth("sound: memory given back after the run", memory_stats(DeviceKind::CPU).bytes_in_use == before.bytes_in_use);
  truth("sound: 3 step latents of each stream", res.step_latents.size() == 3 && res.step_sounds.size() == 3);
  for (int i = 0; i < 3 && i < (int)res.step_latents.size() && i < (int)res.step_sounds.size(); ++i) {
    const std::string k = "step." + std::to_string(i);
    close("t2v_sound." + k + ".vision", res.step_latents[i], pipe.f32(k + ".vision"), 1e-3);
    close("t2v_sound." + k + ".sound", res.step_sounds[i], pipe.f32(k + ".sound"), 1e-3);
  }
  close("t2v_sound.final.vision", res.latents, pipe.f32("final.vision"), 1e-3);
  close("t2v_sound.final.sound", res.sound, pipe.f32("step.2.sound"), 1e-3);
  std::vector<int64_t> ws;
  const std::vector<float> wave = pipe.f32("out.sound_wave", &ws);
  truth("sound: wave shape [channels, samples] and rate as the config", res.sound_channels == (int)ws[0] &&
                                                                            res.sound_samples == (int)ws[1] &&
                                                                            res.sound_sample_rate == ac->sampling_rate);
  close("t2v_sound.wave", res.sound_wave, wave, 1e-4);

  // Seeded sound noise (no noise given): the same seed, the same sound.
  Cosmos3GenerateRequest seeded = r;
  seeded.sound_noise.clear();
  seeded.noise.clear();
  seeded.keep_step_latents = false;
  seeded.decode = false;
  seeded.schedule.steps = 1;
  seeded.seed = 11;
  const Cosmos3GenerateResult a = gen.generate(seeded), b = gen.generate(seeded);
  truth("sound: seeded sound reproducible", a.sound == b.sound && !a.sound.empty());
  truth("sound: no wave without decode", a.sound_wave.empty());

  auto names = [&](const std::string& field, const Cosmos3GenerateRequest& bad) {
    try {
      gen.generate(bad);
    } catch (const ModelError& e) {
      return std::string(e.what()).find(field) != std::string::npos;
    } catch (...) {
    }
    return false;
  };
  Cosmos3GenerateRequest bad = r;
  bad.sound_noise.pop_back();
  truth("error: short sound noise names soundNoise", names("soundNoise", bad));
  bad = r;
  bad.sound_noise.clear();
  bad.sound_len += 1;
  truth("error: sound tokens without their positions name cond.positions", names("cond.positions", bad));
  bad = r;
  bad.sound_len = 0;
  truth("error: sound noise without sound names soundNoise", names("soundNoise", bad));
}

static bool fixture_checks(const std::string& root) {
  const std::string ck = root + "/test/fixtures/cosmos3-tiny", ref = root + "/test/fixtures/cosmos3-tiny-reference";
  if (!exists(ck + "/transformer/config.json") || !exists(ref + "/pipeline_t2v.safetensors")) return false;
  auto gen = Cosmos3Generator::load(ck);
  Fixture pipe{std::make_unique<SafetensorsFile>(ref + "/pipeline_t2v.safetensors")};
  Fixture tr{std::make_unique<SafetensorsFile>(ref + "/transformer.safetensors")};

  std::vector<int64_t> s;
  Cosmos3GenerateRequest r;
  r.noise = pipe.f32("noise.vision", &s);
  r.latent_t = (int)s[2], r.latent_h = (int)s[3], r.latent_w = (int)s[4];
  r.cond.ids = tr.i32("t2v.input_ids");
  r.cond.positions = tr.f32("t2v.position_ids");
  r.uncond.ids = tr.i32("t2v_uncond.input_ids");
  r.uncond.positions = tr.f32("t2v_uncond.position_ids");
  truth("fixture: pipeline and transformer ids agree",
        r.cond.ids == pipe.i32("prompt.cond_ids") && r.uncond.ids == pipe.i32("prompt.uncond_ids"));
  r.guidance = 3.0f;
  r.schedule.steps = 3;
  r.schedule.flow_shift = 10.0;
  r.schedule.use_karras_sigmas = false;
  r.keep_step_latents = true;

  std::vector<std::string> events;
  const MemoryStats before = memory_stats(DeviceKind::CPU);
  Cosmos3GenerateResult res = gen->generate(r, [&](Cosmos3Stage st, int done, int total) {
    events.push_back(std::to_string((int)st) + ":" + std::to_string(done) + "/" + std::to_string(total));
  });
  truth("t2v: memory given back after the run", memory_stats(DeviceKind::CPU).bytes_in_use == before.bytes_in_use);
  close("t2v.timesteps", res.timesteps, {999, 952, 833}, 0);
  truth("t2v: 3 step latents", res.step_latents.size() == 3);
  for (int i = 0; i < 3 && i < (int)res.step_latents.size(); ++i)
    close("t2v.step." + std::to_string(i), res.step_latents[i], pipe.f32("step." + std::to_string(i) + ".vision"),
          1e-3);
  close("t2v.final", res.latents, pipe.f32("final.vision"), 1e-3);
  // out.video is [F, H, W, 3] in [0, 1] (postprocess: x / 2 + 0.5, clamped); ours [3, F, H, W] in [-1, 1].
  const auto want = pipe.f32("out.video", &s);
  const int F = (int)s[0], H = (int)s[1], W = (int)s[2];
  truth("t2v: video shape", res.frames == F && res.height == H && res.width == W);
  std::vector<float> got(want.size());
  if (res.video.size() == want.size())
    for (int f = 0; f < F; ++f)
      for (int y = 0; y < H; ++y)
        for (int x = 0; x < W; ++x)
          for (int c = 0; c < 3; ++c)
            got[(((size_t)f * H + y) * W + x) * 3 + c] =
                std::min(1.f, std::max(0.f, res.video[(((size_t)c * F + f) * H + y) * W + x] / 2 + 0.5f));
  close("t2v.video", got, want, 1e-3);
  const std::vector<std::string> order = {"1:1/3", "1:2/3", "1:3/3", "2:1/3", "2:2/3", "2:3/3"};
  truth("t2v: progress events in order (3 steps, 3 decode chunks)", events == order);

  // Abort at the second step: AbortedError, no bytes left behind.
  std::atomic<bool> abort{false};
  gen->set_abort_flag(&abort);
  bool aborted = false;
  try {
    gen->generate(r, [&](Cosmos3Stage st, int done, int) {
      if (st == Cosmos3Stage::Denoise && done == 1) abort = true;
    });
  } catch (const AbortedError&) {
    aborted = true;
  }
  gen->set_abort_flag(nullptr);
  truth("abort: AbortedError", aborted);
  truth("abort: memory given back", memory_stats(DeviceKind::CPU).bytes_in_use == before.bytes_in_use);

  // Typed errors naming the field.
  auto names = [&](const std::string& field, Cosmos3GenerateRequest bad) {
    try {
      gen->generate(bad);
    } catch (const ModelError& e) {
      return std::string(e.what()).find(field) != std::string::npos;
    } catch (...) {
    }
    return false;
  };
  Cosmos3GenerateRequest bad = r;
  bad.noise.pop_back();
  truth("error: short noise names noise", names("noise", bad));
  bad = r;
  bad.uncond.positions.pop_back();
  truth("error: short positions name uncond.positions", names("uncond.positions", bad));
  bad = r;
  bad.clean_frames = {1};
  truth("error: a clean frame without pixels names condVideo", names("condVideo", bad));
  bad = r;
  bad.clean_frames = {0, 1, 2};
  truth("error: all frames clean names cleanFrames", names("cleanFrames", bad));

  if (exists(ref + "/pipeline_t2v_sound.safetensors")) sound_fixture_checks(*gen, ref);
  return true;
}

int main(int argc, char** argv) {
  const std::string root = argc > 1 ? argv[1] : ".";
  bool fixture = false;
  try {
    fill_normal_checks();
    fixture = fixture_checks(root);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "unexpected exception: %s\n", e.what());
    ++failures;
  }
  return print_summary(std::string("\"fixture\":") + (fixture ? "true," : "false,"));
}
