// The Wan2.2 VAE on the GPU (models/wan_vae_cuda) — run on the device machine:
//  - tiny fixture (test/fixtures/cosmos3-tiny/vae): CUDA f32 encode / decode vs diffusers (max abs <= 1e-4) and vs
//    the CPU model; bf16 convolution weights vs CPU (relative to max |ref|, <= 3e-2); chunked == whole on the GPU;
//    the abort flag;
//  - Wan2.2's real shape (vae22 config: base 160, decoder 256, dim_mult [1,2,4,4], two residual blocks) with random
//    weights: decode / encode time and pool peak at 480x832 and 720p, one latent frame per chunk, showing the peak
//    does not grow with the clip length.
// Usage: wan_vae_cuda_test <repo root> [--no-bench]. Exit 1 on any failure.
#include <chrono>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "../src/core/cuda_common.h"
#include "../src/models/wan_vae.h"
#include "../src/models/wan_vae_cuda.h"
#include "test_util.h"

using namespace cosmos;
using test_util::max_abs_diff;
using test_util::max_rel_diff;
using test_util::read_tensor;
using test_util::read_text;

using test_util::failures;
static void row(const std::string& what, double v, double tol) {
  const bool ok = v <= tol;
  if (!ok) ++failures;
  std::printf("| %-48s | %10.3e | %7.0e | %s |\n", what.c_str(), v, tol, ok ? "PASS" : "FAIL");
}

static void fixture(const std::string& root) {
  const std::string dir = root + "/test/fixtures/cosmos3-tiny/vae";
  const WanVaeConfig cfg = WanVaeConfig::from_json(read_text(dir + "/config.json"));
  auto ck = Checkpoint::open(dir + "/diffusion_pytorch_model.safetensors");
  auto rf = Checkpoint::open(root + "/test/fixtures/cosmos3-tiny-reference/vae.safetensors");
  auto get = [&](const std::string& name, std::vector<int64_t>* shape) { return read_tensor(*rf, name, shape); };
  auto cpu = WanVae::load(*ck, cfg);
  auto g32 = WanVaeCuda::load(*ck, cfg, WType::F32);
  auto g16 = WanVaeCuda::load(*ck, cfg, WType::BF16);
  WanVaeRunOptions raw;
  raw.normalized = false;
  raw.clamp = false;
  std::vector<int64_t> s;
  const auto video = get("video_in", &s);
  const int F = (int)s[2], H = (int)s[3], W = (int)s[4];
  const auto mu_ref = get("encode_mu", nullptr), mu_cpu = cpu->encode(video.data(), F, H, W, raw);
  row("tiny encode mu: cuda f32 vs diffusers (abs)", max_abs_diff(g32->encode(video.data(), F, H, W, raw), mu_ref),
      1e-4);
  row("tiny encode mu: cuda f32 vs cpu (abs)", max_abs_diff(g32->encode(video.data(), F, H, W, raw), mu_cpu), 1e-4);
  row("tiny encode latents: cuda f32 vs diffusers (abs)",
      max_abs_diff(g32->encode(video.data(), F, H, W), get("encode_latents", nullptr)), 1e-4);
  row("tiny encode mu: cuda bf16 vs cpu (rel)", max_rel_diff(g16->encode(video.data(), F, H, W, raw), mu_cpu), 3e-2);
  WanVaeRunOptions whole = raw;
  whole.chunk_latent_frames = 8;
  row("tiny encode: cuda whole vs chunked (rel)",
      max_rel_diff(g32->encode(video.data(), F, H, W, whole), g32->encode(video.data(), F, H, W, raw)), 1e-5);
  for (const char* k : {"decode", "decode1"}) {
    const auto z = get(std::string(k) + "_in", &s);
    const int T = (int)s[2], h = (int)s[3], w = (int)s[4];
    const auto ref = get(std::string(k) + "_out", nullptr), c = cpu->decode(z.data(), T, h, w, raw);
    const auto g = g32->decode(z.data(), T, h, w, raw);
    row(std::string("tiny ") + k + ": cuda f32 vs diffusers (abs)", max_abs_diff(g, ref), 1e-4);
    row(std::string("tiny ") + k + ": cuda f32 vs cpu (abs)", max_abs_diff(g, c), 1e-4);
    row(std::string("tiny ") + k + ": cuda bf16 vs cpu (rel)", max_rel_diff(g16->decode(z.data(), T, h, w, raw), c),
        3e-2);
    WanVaeRunOptions all = raw;
    all.chunk_latent_frames = T;
    row(std::string("tiny ") + k + ": cuda whole vs chunked (rel)",
        max_rel_diff(g32->decode(z.data(), T, h, w, all), g), 1e-5);
  }
  {
    std::atomic<bool> stop{false};
    WanVaeRunOptions a = raw;
    a.abort = &stop;
    a.on_chunk = [&](int, int) { stop = true; };
    const auto z = get("decode_in", &s);
    bool aborted = false;
    try {
      g32->decode(z.data(), (int)s[2], (int)s[3], (int)s[4], a);
    } catch (const AbortedError&) {
      aborted = true;
    }
    row("tiny decode: abort after chunk 1 (0 = aborted)", aborted ? 0 : 1, 0);
    const auto again = g32->decode(z.data(), (int)s[2], (int)s[3], (int)s[4], raw);
    row("tiny decode after an abort == fresh (abs)",
        max_abs_diff(again, cpu->decode(z.data(), (int)s[2], (int)s[3], (int)s[4], raw)), 1e-4);
  }
}

static std::string wan22_config() {
  std::string mean = "[", sd = "[";
  for (int i = 0; i < 48; ++i) mean += std::string(i ? "," : "") + "0", sd += std::string(i ? "," : "") + "1";
  return "{\"base_dim\":160,\"decoder_base_dim\":256,\"z_dim\":48,\"dim_mult\":[1,2,4,4],\"num_res_blocks\":2,"
         "\"attn_scales\":[],\"temperal_downsample\":[false,true,true],\"is_residual\":true,\"in_channels\":12,"
         "\"out_channels\":12,\"patch_size\":2,\"latents_mean\":" +
         mean + "],\"latents_std\":" + sd + "]}";
}

static void bench() {
  const WanVaeConfig cfg = WanVaeConfig::from_json(wan22_config());
  std::printf(
      "\n| Wan2.2 VAE, random weights | weights | shape | ms | ms / latent frame | activation peak GiB "
      "|\n|---|---|---|---|---|---|\n");
  for (WType wt : {WType::BF16, WType::F32}) {
    auto m = WanVaeCuda::random(cfg, wt, 5, 0.02f);
    const double wgib = m->weight_bytes() / 1073741824.0;
    struct Case {
      int T, h, w;
    };
    std::vector<double> peaks;
    for (const Case c : {Case{2, 30, 52}, Case{5, 30, 52}, Case{2, 45, 80}, Case{4, 45, 80}}) {
      std::vector<float> z((size_t)48 * c.T * c.h * c.w);
      for (size_t i = 0; i < z.size(); ++i) z[i] = std::sin(0.37 * i);
      m->decode(z.data(), 1, c.h, c.w);  // warm the pool
      const auto t0 = std::chrono::steady_clock::now();
      const auto v = m->decode(z.data(), c.T, c.h, c.w);
      const double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
      bool finite = true;
      for (float x : v) finite = finite && std::isfinite(x);
      if (!finite) ++failures;
      std::printf("| decode%s | %s (%.2f GiB) | T=%d %dx%d -> %d frames %dx%d | %.0f | %.0f | %.2f |\n",
                  finite ? "" : " NaN!", wt == WType::BF16 ? "bf16" : "f32", wgib, c.T, c.h, c.w, cfg.frames_for(c.T),
                  c.h * 16, c.w * 16, ms, ms / c.T, m->last_run_peak_bytes() / 1073741824.0);
      peaks.push_back((double)m->last_run_peak_bytes());
    }
    // Chunked decode: the activation peak does not grow with the clip (5 vs 2 latent frames, 4 vs 2 at 720p).
    row(std::string("peak(T=5) / peak(T=2) - 1 at 480p, ") + (wt == WType::BF16 ? "bf16" : "f32"),
        peaks[1] / peaks[0] - 1, 0.05);
    row(std::string("peak(T=4) / peak(T=2) - 1 at 720p, ") + (wt == WType::BF16 ? "bf16" : "f32"),
        peaks[3] / peaks[2] - 1, 0.05);
    {
      const int F = 9, H = 480, W = 832;
      std::vector<float> v((size_t)3 * F * H * W);
      for (size_t i = 0; i < v.size(); ++i) v[i] = std::sin(0.011 * i);
      m->encode(v.data(), 1, H, W);
      const auto t0 = std::chrono::steady_clock::now();
      m->encode(v.data(), F, H, W);
      const double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
      std::printf("| encode | %s | F=%d %dx%d | %.0f | %.0f | %.2f |\n", wt == WType::BF16 ? "bf16" : "f32", F, H, W,
                  ms, ms / cfg.latent_frames_for(F), m->last_run_peak_bytes() / 1073741824.0);
    }
  }
}

int main(int argc, char** argv) {
  const std::string root = argc > 1 ? argv[1] : ".";
  int n = 0;
  if (cudaGetDeviceCount(&n) != cudaSuccess || n == 0) {
    std::printf("no CUDA device\n");
    return 2;
  }
  return test_util::run_table_report([&] {
    fixture(root);
    if (!(argc > 2 && std::string(argv[2]) == "--no-bench")) bench();
  });
}
