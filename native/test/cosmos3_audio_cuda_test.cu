// The Cosmos 3 AVAE sound decoder on the GPU (native/src/models/cosmos3_audio_cuda), on the device machine:
//  - tiny fixture (test/fixtures/cosmos3-tiny/sound_tokenizer): CUDA f32 vs diffusers' Cosmos3AVAEAudioTokenizer
//    (avae.wave, avae.wave_unclamped, pipeline_t2v_sound's out.sound_wave) <= 1e-4, and vs the CPU model;
//  - the shipped config (dim 320, strides 8·6·5·4·2, 64 latent channels) on random weights: CUDA f32 and bf16 vs
//    the CPU model at 4 latent frames; then decode time and activation peak at 197 latent frames (7.9 s of
//    48 kHz stereo; diffusers: 0.059 s fp32 on an H200, reference §1.7) and 751 (30 s).
// Usage: cosmos3_audio_cuda_test <repo root> [--no-bench]. Exit 1 on any failure, 2 without a GPU.
#include <cuda_runtime.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "../src/models/cosmos3_audio.h"
#include "../src/models/cosmos3_audio_cuda.h"
#include "test_util.h"

using namespace cosmos;
using test_util::failures;
using test_util::max_abs_diff;
using test_util::normal_values;
using test_util::read_tensor;
using test_util::read_text;

static void check(const std::string& what, double value, double tol) {
  const bool ok = value <= tol;
  if (!ok) ++failures;
  std::printf("| %s | %.3g | %.0e | %s |\n", what.c_str(), value, tol, ok ? "PASS" : "FAIL");
}
static double rel(const std::vector<float>& got, const std::vector<float>& ref) {
  double amp = 1e-30;
  for (float x : ref) amp = std::max(amp, (double)std::fabs(x));
  return max_abs_diff(got, ref) / amp;
}

static void fixture(const std::string& root) {
  const std::string dir = root + "/test/fixtures/cosmos3-tiny/sound_tokenizer";
  const auto cfg = Cosmos3AudioConfig::from_json(read_text(dir + "/config.json"));
  auto ck = Checkpoint::open(dir + "/diffusion_pytorch_model.safetensors");
  auto cpu = Cosmos3AudioDecoder::load(*ck, cfg);
  auto gpu = Cosmos3AudioDecoderCuda::load(*ck, cfg, WType::F32);
  auto ref = Checkpoint::open(root + "/test/fixtures/cosmos3-tiny-reference/avae.safetensors");
  const auto latent = read_tensor(*ref, "avae.latent");
  const int T = (int)ref->info("avae.latent").shape[2];
  const auto wave = gpu->decode(latent.data(), T);
  check("tiny: CUDA f32 decode vs diffusers (max |diff|)", max_abs_diff(wave, read_tensor(*ref, "avae.wave")), 1e-4);
  check("tiny: CUDA f32 decode vs CPU (max |diff|)", max_abs_diff(wave, cpu->decode(latent.data(), T)), 1e-5);
  Cosmos3AudioRunOptions raw;
  raw.clamp = false;
  check("tiny: CUDA f32 unclamped vs diffusers",
        max_abs_diff(gpu->decode(latent.data(), T, raw), read_tensor(*ref, "avae.wave_unclamped")), 1e-4);
  auto pipe = Checkpoint::open(root + "/test/fixtures/cosmos3-tiny-reference/pipeline_t2v_sound.safetensors");
  const auto sound = read_tensor(*pipe, "step.2.sound");
  check("tiny: CUDA pipeline t2v sound wave vs diffusers",
        max_abs_diff(gpu->decode(sound.data(), (int)pipe->info("step.2.sound").shape[1]),
                     read_tensor(*pipe, "out.sound_wave")),
        1e-4);
}

static void shipped() {
  const auto cfg = Cosmos3AudioConfig::from_json("{}");
  const uint64_t seed = 3;
  const float std = 0.05f;
  auto cpu = Cosmos3AudioDecoder::random(cfg, seed, std);
  auto f32 = Cosmos3AudioDecoderCuda::random(cfg, WType::F32, seed, std);
  auto bf16 = Cosmos3AudioDecoderCuda::random(cfg, WType::BF16, seed, std);
  std::printf("| shipped config: weights %.1f MB f32, %.1f MB bf16 | | | |\n", f32->weight_bytes() / 1e6,
              bf16->weight_bytes() / 1e6);
  Cosmos3AudioRunOptions raw;
  raw.clamp = false;
  {
    const int T = 4;
    const auto z = normal_values((size_t)64 * T, 9);
    const auto c = cpu->decode(z.data(), T, raw);
    check("shipped T=4: CUDA f32 vs CPU (max |diff| / max |CPU|)", rel(f32->decode(z.data(), T, raw), c), 1e-4);
    check("shipped T=4: CUDA bf16 vs CPU (max |diff| / max |CPU|)", rel(bf16->decode(z.data(), T, raw), c), 5e-2);
  }
  for (int T : {197, 751}) {
    const auto z = normal_values((size_t)64 * T, 10);
    for (auto* m : {f32.get(), bf16.get()}) {
      m->decode(z.data(), T);  // warm: pool blocks, kernels loaded
      const auto t0 = std::chrono::steady_clock::now();
      const auto w = m->decode(z.data(), T);
      const double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
      bool finite = true;
      for (float x : w) finite = finite && std::isfinite(x);
      if (!finite) ++failures;
      std::printf("| shipped T=%d (%d samples, %.1f s): %s decode %.1f ms, activation peak %.1f MB, %s | | | %s |\n", T,
                  cfg.samples_for(T), cfg.samples_for(T) / 48000.0, m == f32.get() ? "f32" : "bf16", ms,
                  m->last_run_peak_bytes() / 1e6, finite ? "finite" : "NON-FINITE", finite ? "PASS" : "FAIL");
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
    if (!(argc > 2 && std::string(argv[2]) == "--no-bench")) shipped();
  });
}
