// The Cosmos 3 AVAE sound tokenizer's decoder (diffusers' Cosmos3AVAEAudioTokenizer.decode, an Oobleck
// decoder) on the engine's ops, CPU. It turns the Generator's sound latents (64 channels at 25 Hz, no
// latent normalisation) into a 48 kHz stereo waveform clamped to [-1, 1]:
//
//   latents [C_lat, T] --conv1 (k 7)--> [dim * c_mults[-1], T]
//     --> per stride s of reversed(dec_strides) (8, 6, 5, 4, 2 shipped): SnakeBeta, ConvTranspose1d (k 2s,
//         stride s, pad ceil(s/2), output_pad s % 2: length * s exactly, channels halve along c_mults),
//         three residual units (x + conv_k1(snake(conv_k7 dilated 1 / 3 / 9 (snake(x)))))
//     --> SnakeBeta, conv2 (k 7, no bias) --> clamp --> waveform [audio_channels, T * prod(dec_strides)]
//
// Every convolution is weight-normed in the checkpoint (weight_g, weight_v): folded once at load into
// w = g * v / ||v|| (norm over all but dim 0, torch's weight_norm(dim=0)); the transposed convs' folded
// weights are then packed for ops/conv_transpose1d. Activations are channels-last [t, c] (time steps as
// matmul rows), as ops/conv1d. The encoder (STFT + SpecConvNeXt) is not ported: diffusers' pipeline never
// encodes sound (every sound frame is noisy), so only decoder.* tensors are read.
#pragma once
#include <atomic>
#include <memory>
#include <string>
#include <vector>

#include "../core/errors.h"    // ModelError, AbortedError
#include "../core/parallel.h"  // CpuContext
#include "../layers/linear.h"
#include "../layers/weights.h"
#include "../ops/conv1d.h"
#include "../ops/conv_transpose1d.h"
#include "../safetensors/safetensors.h"

namespace cosmos {

// sound_tokenizer/config.json (diffusers' Cosmos3AVAEAudioTokenizer; missing keys take the class defaults,
// which are the shipped AVAE's). Only the shipped decoder flavour is accepted, as diffusers does.
struct Cosmos3AudioConfig {
  int sampling_rate = 48000;
  int latent_channels = 64;  // vocoder_input_dim (= the transformer's sound_dim)
  int dec_dim = 320;
  std::vector<int> dec_c_mults = {1, 2, 4, 8, 16};
  std::vector<int> dec_strides = {2, 4, 5, 6, 8};  // applied reversed: 8, 6, 5, 4, 2
  int audio_channels = 2;                          // dec_out_channels (stereo)
  int hop_size = 1920;                             // config null: prod(dec_strides)

  // Throws ModelError naming the field: sizes that are not positive integers, dec_c_mults / dec_strides of
  // different lengths, and every flag diffusers refuses (model_type, dec_type, dec_use_snake, dec_final_tanh,
  // dec_anti_aliasing, dec_use_nearest_upsample, dec_use_tanh_at_final, activation, snake_logscale,
  // anti_aliasing, bottleneck_type, latent_mean / latent_std not null).
  static Cosmos3AudioConfig from_json(const std::string& json_text);

  int upsampling() const;  // prod(dec_strides): waveform samples per latent frame (1920 shipped)
  int samples_for(int latent_frames) const { return latent_frames * upsampling(); }
  // The Generator's sound latent frames for a clip (diffusers' prepare_latents): ceil(int(F / fps * rate) / hop).
  int latent_frames_for_clip(int num_frames, double fps) const;
  // Floats of the widest [t, c] activation of a decode of this many latent frames (the forward keeps three).
  size_t widest_stage_floats(int latent_frames) const;
};

struct AudioSnake {  // SnakeBeta: log alpha, log beta [channels], used as stored
  const float* log_alpha = nullptr;
  const float* log_beta = nullptr;
  int channels = 0;
};
struct AudioConv {  // weight-norm folded Conv1d: w [cout, cin*k]
  Linear w;
  Conv1dDims d;
};
struct AudioConvTranspose {  // weight-norm folded, packed ConvTranspose1d: w [k*cout, cin] (no bias), bias [cout]
  Linear w;
  const float* bias = nullptr;
  ConvTranspose1dDims d;
};
struct AudioResidualUnit {  // x + conv2(snake2(conv1(snake1(x)))), conv1 k 7 dilated, conv2 k 1
  AudioSnake snake1, snake2;
  AudioConv conv1, conv2;
};
struct AudioDecoderBlock {  // SnakeBeta, ConvTranspose1d upsampling, residual units dilated 1, 3, 9
  AudioSnake snake1;
  AudioConvTranspose conv_t1;
  AudioResidualUnit res[3];
};
struct Cosmos3AudioDecoderWeights {
  AudioConv conv1;
  std::vector<AudioDecoderBlock> block;
  AudioSnake snake1;
  AudioConv conv2;
};

// Binds decoder.* by diffusers key name (decoder.block.0.res_unit2.conv1.weight_g, ...), folding the
// weight norm; shapes follow from cfg (a mismatch is a ModelError naming the tensor).
void cosmos3_audio_bind_decoder(const Cosmos3AudioConfig& cfg, WeightBinder& wb, Cosmos3AudioDecoderWeights& w);

struct Cosmos3AudioRunOptions {
  bool clamp = true;                         // clamp to [-1, 1] as diffusers' decode does
  const std::atomic<bool>* abort = nullptr;  // read between blocks (AbortedError)
};

// The CPU decoder: f32 host weights.
class Cosmos3AudioDecoder {
 public:
  static std::unique_ptr<Cosmos3AudioDecoder> load(const Checkpoint& ck, const Cosmos3AudioConfig& cfg);
  static std::unique_ptr<Cosmos3AudioDecoder> random(const Cosmos3AudioConfig& cfg, uint64_t seed, float std);

  // latents [latent_channels, T] (the Generator's sound latents as they leave the sampler; diffusers'
  // decode of a [C, T] tensor) -> waveform [audio_channels, samples_for(T)], channel-first, f32.
  // ModelError for T < 1; AbortedError when opt.abort is set between blocks.
  std::vector<float> decode(const float* latents, int T, const Cosmos3AudioRunOptions& opt = {}) const;

  const Cosmos3AudioConfig& config() const { return cfg_; }
  size_t weight_bytes() const { return store_.bytes(); }
  void set_threads(int n) { cpu_.threads = n; }
  // Peak activation floats decode(T) allocates (three [t, c] buffers at the widest stage), for planning.
  size_t activation_floats(int T) const { return 3 * cfg_.widest_stage_floats(T); }

 private:
  Cosmos3AudioDecoder() = default;
  Cosmos3AudioConfig cfg_;
  HostWeightStore store_;
  Cosmos3AudioDecoderWeights w_;
  CpuContext cpu_;
};

// Shared by both backends: the argument checks (ModelError naming the argument), and the host layout changes
// around the forward ([C, T] latents -> channels-last [T, C]; [N, channels] -> waveform [channels, N], clamped).
void cosmos3_audio_check_decode(const Cosmos3AudioConfig& cfg, const float* latents, int T);
void cosmos3_audio_to_channels_last(float* out, const float* x, int c, int t);
void cosmos3_audio_to_waveform(float* wave, const float* x, int c, int t, bool clamp);

}  // namespace cosmos
