// The Cosmos 3 AVAE sound decoder on the CPU (native/src/models/cosmos3_audio):
//  - against diffusers (Cosmos3AVAEAudioTokenizer at 58eb52c0, f32, on the GPU machine), tiny fixture
//    test/fixtures/cosmos3-tiny/sound_tokenizer (sampling_rate 100, strides (2, 2), 4 latent channels):
//    avae.safetensors' decode of a seeded latent (clamped and unclamped), and pipeline_t2v_sound's decoded
//    sound (the pipeline's final sound latents -> out.sound_wave): max |diff| <= 1e-4;
//  - the shipped config's defaults and the pipeline's sound latent count (the fixture's 14 frames for 9 frames
//    at 16 fps); an odd stride (5, the shipped config has one) multiplies the length exactly;
//  - thread count does not change the numbers; abort; the config, shape and argument errors.
// Usage: cosmos3_audio_cpu_test <repo root> [--bench T]. Prints a JSON summary; exit 1 on any failure.
// --bench T: also decodes T latent frames with the shipped config on random weights and reports ms ("bench_ms").
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <map>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "../src/models/cosmos3_audio.h"
#include "test_util.h"

using namespace cosmos;
using namespace test_util;

static void close(const std::string& what, const std::vector<float>& got, const std::vector<float>& ref, double tol) {
  const double m = max_abs_diff(got, ref);
  worst[what] = std::max(worst[what], m);
  ++checks;
  if (!(m <= tol)) {
    ++failures;
    std::fprintf(stderr, "%s: max |diff| %g > %g (sizes %zu, %zu)\n", what.c_str(), m, tol, got.size(), ref.size());
  }
}
template <class E, class F>
static bool throws(F f) {
  try {
    f();
  } catch (const E&) {
    return true;
  } catch (...) {
    return false;
  }
  return false;
}
template <class F>
static std::string model_error(F f) {
  try {
    f();
  } catch (const ModelError& e) {
    return e.what();
  } catch (...) {
    return "(other exception)";
  }
  return "";
}

static void fixture_checks(const std::string& root) {
  const std::string dir = root + "/test/fixtures/cosmos3-tiny/sound_tokenizer";
  const std::string cfg_text = read_text(dir + "/config.json");
  truth("fixture: sound_tokenizer/config.json present", !cfg_text.empty());
  if (cfg_text.empty()) return;
  const Cosmos3AudioConfig cfg = Cosmos3AudioConfig::from_json(cfg_text);
  truth("fixture config: 4 latent channels, dim 4, strides (2, 2), hop 4, stereo, 100 Hz",
        cfg.latent_channels == 4 && cfg.dec_dim == 4 && cfg.upsampling() == 4 && cfg.hop_size == 4 &&
            cfg.audio_channels == 2 && cfg.sampling_rate == 100);
  auto ck = Checkpoint::open(dir + "/diffusion_pytorch_model.safetensors");
  auto dec = Cosmos3AudioDecoder::load(*ck, cfg);
  dec->set_threads(2);

  // avae.safetensors: decode of a seeded [1, 4, 10] latent.
  auto ref = Checkpoint::open(root + "/test/fixtures/cosmos3-tiny-reference/avae.safetensors");
  const auto latent = read_tensor(*ref, "avae.latent");
  const int T = (int)ref->info("avae.latent").shape[2];
  const auto wave = dec->decode(latent.data(), T);
  truth("avae: waveform [2, 4 T]", wave.size() == (size_t)2 * 4 * T);
  close("avae_decode_vs_diffusers", wave, read_tensor(*ref, "avae.wave"), 1e-4);
  Cosmos3AudioRunOptions raw;
  raw.clamp = false;
  const auto unclamped = dec->decode(latent.data(), T, raw);
  const auto ref_unclamped = read_tensor(*ref, "avae.wave_unclamped");
  close("avae_decode_unclamped_vs_diffusers", unclamped, ref_unclamped, 1e-4);
  double amp = 0;
  for (float x : ref_unclamped) amp = std::max(amp, (double)std::fabs(x));
  truth("avae: the reference waveform is not trivially zero", amp > 1e-3);

  // pipeline_t2v_sound: the pipeline's last sound latents decode to its out.sound_wave.
  auto pipe = Checkpoint::open(root + "/test/fixtures/cosmos3-tiny-reference/pipeline_t2v_sound.safetensors");
  const auto sound = read_tensor(*pipe, "step.2.sound");
  const int Ts = (int)pipe->info("step.2.sound").shape[1];
  truth("pipeline: sound latent frames = ceil(int(9 / 16 * 100) / 4) = 14",
        Ts == 14 && cfg.latent_frames_for_clip(9, 16.0) == Ts);
  close("pipeline_t2v_sound_wave_vs_diffusers", dec->decode(sound.data(), Ts), read_tensor(*pipe, "out.sound_wave"),
        1e-4);

  // Thread count does not change the numbers (every output is one thread's work).
  dec->set_threads(1);
  const auto one = dec->decode(latent.data(), T);
  dec->set_threads(3);
  truth("decode: 1 thread == 3 threads (bitwise)", one == dec->decode(latent.data(), T));

  // A checkpoint that does not match the config: the tensor is named.
  const std::string wide = cfg_text.substr(0, cfg_text.find("\"dec_dim\"")) + "\"dec_dim\": 8," +
                           cfg_text.substr(cfg_text.find(',', cfg_text.find("\"dec_dim\"")) + 1);
  const std::string msg = model_error([&] { Cosmos3AudioDecoder::load(*ck, Cosmos3AudioConfig::from_json(wide)); });
  truth("load: dec_dim 8 against the dim-4 checkpoint is a ModelError naming decoder.conv1.weight_g",
        msg.find("decoder.conv1.weight_g") != std::string::npos);
  truth("load: a checkpoint without decoder tensors is a SafetensorsError",
        throws<SafetensorsError>([&] { Cosmos3AudioDecoder::load(*ref, cfg); }));
}

static void config_and_argument_checks() {
  const Cosmos3AudioConfig shipped = Cosmos3AudioConfig::from_json("{}");
  truth("defaults: 64 latent channels, dim 320, upsampling 1920 = hop, 48 kHz stereo",
        shipped.latent_channels == 64 && shipped.dec_dim == 320 && shipped.upsampling() == 1920 &&
            shipped.hop_size == 1920 && shipped.sampling_rate == 48000 && shipped.audio_channels == 2);
  // 121 frames at 24 fps: int(121 / 24 * 48000) = 242000 samples -> ceil(242000 / 1920) = 127 frames (25 Hz).
  truth("latent_frames_for_clip(121, 24) == 127", shipped.latent_frames_for_clip(121, 24.0) == 127);
  const char* refused[] = {
      "{\"dec_type\":\"vocos\"}",
      "{\"dec_use_snake\":false}",
      "{\"dec_final_tanh\":true}",
      "{\"snake_logscale\":false}",
      "{\"activation\":\"snake\"}",
      "{\"latent_mean\":[0.1]}",
      "{\"dec_c_mults\":[1,2],\"dec_strides\":[2]}",
      "{\"dec_strides\":[2,0]}",
      "{\"model_type\":\"autoencoder\"}",
      "{\"dec_use_nearest_upsample\":true}",
      "{\"vocoder_input_dim\":-1}",
      "[1]",
  };
  for (const char* c : refused)
    truth(std::string("config refused: ") + c, !model_error([&] { Cosmos3AudioConfig::from_json(c); }).empty());
  truth("config error names the field", model_error([&] {
                                          Cosmos3AudioConfig::from_json("{\"dec_final_tanh\":true}");
                                        }).find("dec_final_tanh") != std::string::npos);

  // An odd stride (5, with output_padding 1) and a stride 3: length T * 15 exactly; random weights.
  const Cosmos3AudioConfig odd = Cosmos3AudioConfig::from_json(
      "{\"vocoder_input_dim\":3,\"dec_dim\":2,\"dec_c_mults\":[1,2],\"dec_strides\":[5,3],\"sampling_rate\":150}");
  auto dec = Cosmos3AudioDecoder::random(odd, 11, 0.3f);
  const int T = 6;
  const auto z = normal_values((size_t)3 * T, 5);
  Cosmos3AudioRunOptions raw;
  raw.clamp = false;
  const auto w = dec->decode(z.data(), T, raw);
  truth("odd strides (5, 3): waveform [2, 15 T]", w.size() == (size_t)2 * 15 * T && odd.hop_size == 15);
  bool finite = true;
  for (float x : w) finite = finite && std::isfinite(x);
  truth("odd strides: finite output", finite);
  const auto clamped = dec->decode(z.data(), T);
  std::vector<float> ref = w;
  for (auto& x : ref) x = std::min(1.f, std::max(-1.f, x));
  close("decode_clamp_is_clamped_unclamped", clamped, ref, 0);

  truth("decode: T = 0 is a ModelError", !model_error([&] { dec->decode(z.data(), 0); }).empty());
  std::atomic<bool> stop{true};
  Cosmos3AudioRunOptions a;
  a.abort = &stop;
  truth("decode: a set abort flag throws AbortedError", throws<AbortedError>([&] { dec->decode(z.data(), T, a); }));
  truth("activation_floats: three buffers at the widest stage (2 ch x 90 steps)",
        dec->activation_floats(T) == 3 * 2 * 90);
}

// The shipped decoder (dim 320, strides 8·6·5·4·2) on random weights: wall time of one decode of T latent frames.
static double bench_ms = -1;
static void bench(int T) {
  const Cosmos3AudioConfig cfg = Cosmos3AudioConfig::from_json("{}");
  auto dec = Cosmos3AudioDecoder::random(cfg, 3, 0.05f);
  const auto z = normal_values((size_t)cfg.latent_channels * T, 4);
  const auto t0 = std::chrono::steady_clock::now();
  const auto w = dec->decode(z.data(), T);
  bench_ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
  bool finite = true;
  for (float x : w) finite = finite && std::isfinite(x);
  truth("bench: shipped decode gives [2, 1920 T] finite samples", finite && w.size() == (size_t)2 * 1920 * T);
  std::fprintf(stderr, "shipped decode: T=%d (%d samples) in %.0f ms, weights %.1f MB, activations %.1f MB\n", T,
               cfg.samples_for(T), bench_ms, dec->weight_bytes() / 1e6, dec->activation_floats(T) * 4 / 1e6);
}

int main(int argc, char** argv) {
  const std::string root = argc > 1 ? argv[1] : ".";
  try {
    fixture_checks(root);
    config_and_argument_checks();
    if (argc > 3 && std::string(argv[2]) == "--bench") bench(std::atoi(argv[3]));
  } catch (const std::exception& e) {
    ++failures;
    std::fprintf(stderr, "unexpected exception: %s\n", e.what());
  }
  return print_summary();
}
