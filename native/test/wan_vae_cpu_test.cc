// The Wan2.2 VAE on the CPU (native/src/models/wan_vae):
//  - against diffusers (AutoencoderKLWan at 58eb52c0, f32, on the GPU machine) when the tiny fixtures exist:
//    test/fixtures/cosmos3-tiny/vae/{config.json, diffusion_pytorch_model.safetensors} and
//    test/fixtures/cosmos3-tiny-reference/vae.safetensors (encode of a 9-frame video and of an image, the
//    pipeline's normalised latents, decode of 3 and of 1 latent frames, unclamped): max |diff| <= 1e-4;
//  - on random weights in the same shape (always): chunked decode / encode equal one pass over the whole clip,
//    causality (a prefix of the latents decodes to a prefix of the video), the chunk callback and the abort
//    flag, the argument and config errors.
// Usage: wan_vae_cpu_test <repo root>. Prints a JSON summary; exit 1 on any failure.
#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <map>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "../src/models/wan_vae.h"
#include "test_util.h"

using namespace cosmos;
using namespace test_util;

// Max |got - ref| / max(1, max |ref|) <= tol (chunkings run GEMMs of other heights, whose f32 sums may round
// differently in the last bit).
static void close(const std::string& what, const std::vector<float>& got, const std::vector<float>& ref, double tol,
                  bool relative = true) {
  double amp = 1;
  for (float x : ref) amp = std::max(amp, relative ? (double)std::fabs(x) : 1.0);
  const double m = max_abs_diff(got, ref) / amp;
  worst[what] = std::max(worst[what], m);
  ++checks;
  if (!(m <= tol)) {
    ++failures;
    std::fprintf(stderr, "%s: max diff %g > %g (scale %g; sizes %zu, %zu)\n", what.c_str(), m, tol, amp, got.size(),
                 ref.size());
  }
}
static std::vector<float> randv(size_t n, float lo, float hi, unsigned seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> d(lo, hi);
  std::vector<float> v(n);
  for (auto& x : v) x = d(rng);
  return v;
}
template <class F>
static bool throws_model_error(F f) {
  try {
    f();
  } catch (const ModelError&) {
    return true;
  } catch (...) {
    return false;
  }
  return false;
}

// The tiny fixture's shape (base_dim 8, dim_mult [1, 2, 2, 2], one residual block, z 48, patch 2), with
// latents_mean / std of its own so the normalisation is not the identity.
static std::string tiny_config(bool residual = true) {
  std::string mean = "[", sd = "[";
  for (int i = 0; i < 48; ++i) {
    mean += (i ? "," : "") + std::to_string(0.01 * (i % 7) - 0.03);
    sd += (i ? "," : "") + std::to_string(0.5 + 0.02 * (i % 11));
  }
  return std::string("{\"_class_name\":\"AutoencoderKLWan\",\"base_dim\":8,\"decoder_base_dim\":null,\"z_dim\":48,") +
         "\"dim_mult\":[1,2,2,2],\"num_res_blocks\":1,\"attn_scales\":[],\"temperal_downsample\":[false,true,true]," +
         "\"dropout\":0.0,\"is_residual\":" + (residual ? "true" : "false") + ",\"in_channels\":12," +
         "\"out_channels\":12,\"patch_size\":2,\"scale_factor_temporal\":4,\"scale_factor_spatial\":16," +
         "\"latents_mean\":" + mean + "],\"latents_std\":" + sd + "]}";
}

static void random_weight_checks() {
  const WanVaeConfig cfg = WanVaeConfig::from_json(tiny_config());
  truth("config: scales 4 x 16 x 16, 3 video channels", cfg.temporal_scale() == 4 && cfg.spatial_scale() == 16 &&
                                                            cfg.video_channels() == 3 && cfg.decoder_base_dim == 8);
  auto vae = WanVae::random(cfg, 7, 0.2f);
  vae->set_threads(2);
  const int T = 3, h = 2, w = 3, F = cfg.frames_for(T), H = h * 16, W = w * 16;
  const auto z = randv((size_t)48 * T * h * w, -2.f, 2.f, 1);

  // decode: one latent frame per chunk (diffusers' loop) == 2 per chunk == the whole clip in one chunk.
  WanVaeRunOptions one, two, all;
  two.chunk_latent_frames = 2;
  all.chunk_latent_frames = T;
  std::vector<std::pair<int, int>> progress;
  one.on_chunk = [&](int d, int t) { progress.push_back({d, t}); };
  one.clamp = two.clamp = all.clamp = false;
  const auto v1 = vae->decode(z.data(), T, h, w, one), v2 = vae->decode(z.data(), T, h, w, two),
             va = vae->decode(z.data(), T, h, w, all);
  truth("decode: video [3, 1 + 4(T-1), 16h, 16w]", v1.size() == (size_t)3 * F * H * W);
  close("decode_chunk2_vs_chunk1", v2, v1, 1e-6);
  close("decode_whole_vs_chunk1", va, v1, 1e-6);
  truth("decode: one progress call per chunk", progress.size() == 3 && progress[2] == std::make_pair(3, 3));
  double amp = 0;
  for (float x : v1) amp = std::max(amp, (double)std::fabs(x));
  truth("decode: output is not trivially zero", amp > 1e-3);
  // Causality: the first two latent frames decode to the first 5 video frames of the three.
  {
    std::vector<float> z2;
    for (int c = 0; c < 48; ++c)
      z2.insert(z2.end(), z.begin() + ((size_t)c * T) * h * w, z.begin() + ((size_t)c * T + 2) * h * w);
    const auto v = vae->decode(z2.data(), 2, h, w, one);
    std::vector<float> prefix;
    for (int c = 0; c < 3; ++c)
      prefix.insert(prefix.end(), v1.begin() + (size_t)c * F * H * W, v1.begin() + ((size_t)c * F + 5) * H * W);
    close("decode_causal_prefix", v, prefix, 1e-6);
  }
  // clamp: the clamped video is the unclamped one clamped.
  {
    WanVaeRunOptions c;
    const auto vc = vae->decode(z.data(), T, h, w, c);
    std::vector<float> ref = v1;
    for (auto& x : ref) x = std::min(1.f, std::max(-1.f, x));
    close("decode_clamp", vc, ref, 0);
  }
  // normalized: decoding normalised latents == decoding z * std + mean raw.
  {
    WanVaeRunOptions raw = one;
    raw.normalized = false;
    std::vector<float> zr = z;
    for (int c = 0; c < 48; ++c)
      for (int i = 0; i < T * h * w; ++i)
        zr[(size_t)c * T * h * w + i] = z[(size_t)c * T * h * w + i] * cfg.latents_std[c] + cfg.latents_mean[c];
    close("decode_normalized_vs_raw", vae->decode(zr.data(), T, h, w, raw), v1, 1e-5);
  }
  // abort between chunks
  {
    std::atomic<bool> stop{false};
    WanVaeRunOptions a;
    a.abort = &stop;
    int calls = 0;
    a.on_chunk = [&](int, int) { ++calls, stop = true; };
    bool aborted = false;
    try {
      vae->decode(z.data(), T, h, w, a);
    } catch (const AbortedError&) {
      aborted = true;
    }
    truth("decode: the abort flag stops it after the current chunk", aborted && calls == 1);
  }

  // encode: frame 0 then 4 frames per chunk (diffusers' loop) == 8 frames per chunk == the whole clip.
  const auto video = randv((size_t)3 * F * H * W, -1.f, 1.f, 2);
  WanVaeRunOptions eall;
  eall.chunk_latent_frames = 8;
  const auto m1 = vae->encode(video.data(), F, H, W, one), ma = vae->encode(video.data(), F, H, W, eall);
  truth("encode: latents [48, T, H/16, W/16]", m1.size() == (size_t)48 * T * h * w);
  close("encode_whole_vs_chunked", ma, m1, 1e-6);
  {  // the image (frame 0) alone encodes to latent frame 0 (causality)
    std::vector<float> img;
    for (int c = 0; c < 3; ++c)
      img.insert(img.end(), video.begin() + (size_t)c * F * H * W, video.begin() + ((size_t)c * F + 1) * H * W);
    const auto mi = vae->encode(img.data(), 1, H, W, one);
    std::vector<float> first;
    for (int c = 0; c < 48; ++c)
      first.insert(first.end(), m1.begin() + (size_t)c * T * h * w, m1.begin() + ((size_t)c * T + 1) * h * w);
    close("encode_image_is_latent_frame_0", mi, first, 1e-6);
  }
  {  // normalized = (raw - mean) / std
    WanVaeRunOptions raw;
    raw.normalized = false;
    auto mr = vae->encode(video.data(), F, H, W, raw);
    for (int c = 0; c < 48; ++c)
      for (int i = 0; i < T * h * w; ++i) {
        float& x = mr[(size_t)c * T * h * w + i];
        x = (x - cfg.latents_mean[c]) / cfg.latents_std[c];
      }
    close("encode_normalized_vs_raw", m1, mr, 1e-5);
  }

  // argument and config errors: typed, naming the field
  truth("encode: 8 frames is a ModelError", throws_model_error([&] { vae->encode(video.data(), 8, H, W); }));
  truth("encode: height not a multiple of 16 is a ModelError",
        throws_model_error([&] { vae->encode(video.data(), F, H - 2, W); }));
  truth("decode: T = 0 is a ModelError", throws_model_error([&] { vae->decode(z.data(), 0, h, w); }));
  truth("config: is_residual false (Wan2.1) is a ModelError",
        throws_model_error([&] { WanVaeConfig::from_json(tiny_config(false)); }));
  bool named = false;
  try {
    WanVaeConfig::from_json("{\"is_residual\":true,\"z_dim\":48,\"latents_mean\":[1],\"latents_std\":[1]}");
  } catch (const ModelError& e) {
    named = std::string(e.what()).find("latents_mean") != std::string::npos;
  }
  truth("config: a short latents_mean is a ModelError naming it", named);
}

// diffusers' outputs for the tiny checkpoint; skipped (fixture: false) until the files exist.
static bool fixture_checks(const std::string& root) {
  const std::string dir = root + "/test/fixtures/cosmos3-tiny/vae",
                    ref = root + "/test/fixtures/cosmos3-tiny-reference/vae.safetensors";
  const std::string cfg_text = read_text(dir + "/config.json");
  if (cfg_text.empty() || read_text(ref).empty()) return false;
  const WanVaeConfig cfg = WanVaeConfig::from_json(cfg_text);
  auto ck = Checkpoint::open(dir + "/diffusion_pytorch_model.safetensors");
  auto vae = WanVae::load(*ck, cfg);
  vae->set_threads(2);
  {  // a config that does not fit the checkpoint: a ModelError naming the first tensor whose shape differs
    WanVaeConfig wrong = cfg;
    wrong.base_dim = 16;
    std::string msg;
    try {
      WanVae::load(*ck, wrong);
    } catch (const ModelError& e) {
      msg = e.what();
    }
    truth("fixture: a wrong base_dim names encoder.conv_in.weight and both shapes",
          msg.find("'encoder.conv_in.weight' has shape [8, 12, 3, 3, 3], vae config expects [16, 12, 3, 3, 3]") !=
              std::string::npos);
  }
  auto rf = Checkpoint::open(ref);
  auto get = [&](const std::string& name, std::vector<int64_t>* shape) { return read_tensor(*rf, name, shape); };
  std::vector<int64_t> s;
  WanVaeRunOptions raw;
  raw.normalized = false;
  raw.clamp = false;
  // encode: video [1, 3, F, H, W] -> the posterior mode, and the pipeline's normalised latents
  const auto video = get("video_in", &s);
  const int F = (int)s[2], H = (int)s[3], W = (int)s[4];
  close("fixture_encode_mu", vae->encode(video.data(), F, H, W, raw), get("encode_mu", nullptr), 1e-4, false);
  WanVaeRunOptions norm;
  close("fixture_encode_latents", vae->encode(video.data(), F, H, W, norm), get("encode_latents", nullptr), 1e-4,
        false);
  const auto image = get("image_in", &s);
  close("fixture_image_mu", vae->encode(image.data(), (int)s[2], (int)s[3], (int)s[4], raw), get("image_mu", nullptr),
        1e-4, false);
  // decode (raw latents in, unclamped video out), 3 latent frames and 1
  for (const char* k : {"decode", "decode1"}) {
    const auto z = get(std::string(k) + "_in", &s);
    close(std::string("fixture_") + k, vae->decode(z.data(), (int)s[2], (int)s[3], (int)s[4], raw),
          get(std::string(k) + "_out", nullptr), 1e-4, false);
  }
  {  // the class's clamp: decode with clamp == diffusers' unclamped output clamped (4% of it is outside [-1, 1])
    const auto z = get("decode_in", &s);
    WanVaeRunOptions clamped;
    clamped.normalized = false;
    auto ref = get("decode_out", nullptr);
    for (auto& x : ref) x = std::min(1.f, std::max(-1.f, x));
    close("fixture_decode_clamped", vae->decode(z.data(), (int)s[2], (int)s[3], (int)s[4], clamped), ref, 1e-4, false);
  }
  return true;
}

int main(int argc, char** argv) {
  const std::string root = argc > 1 ? argv[1] : ".";
  bool fixture = false;
  try {
    random_weight_checks();
    fixture = fixture_checks(root);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "unexpected exception: %s\n", e.what());
    ++failures;
  }
  return print_summary(std::string("\"fixture\":") + (fixture ? "true," : "false,"));
}
