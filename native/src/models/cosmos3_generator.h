// The Cosmos 3 Generator engine: one diffusers-layout checkpoint's MoT transformer (cosmos3_transformer.h), Wan2.2
// VAE (wan_vae.h), AVAE sound decoder when the checkpoint has sound_tokenizer/ (cosmos3_audio.h) and scheduler
// config (runtime/flow_schedule.h), and one request run end to end as diffusers'
// Cosmos3OmniPipeline.__call__ runs it (58eb52c0 pipeline_cosmos3_omni.py, prepare_latents and step 7-8):
//
//   1. conditioning: the clean latent frames (i2v image, v2v clip) VAE-encoded from the caller's pixels;
//      t2i / t2v encode nothing (the pipeline encodes a zero clip whose latents the all-noisy mask discards);
//   2. initial latents: mask * clean + (1 - mask) * noise, the noise given (fidelity tests) or drawn here from
//      the seed (ops/fill_normal);
//   3. the und stream prefilled once per CFG branch (cond; uncond only when guidance != 1 and some step's
//      timestep is inside the guidance interval), its K/V kept for every step;
//   4. the denoise loop (runtime/denoise_loop.h): velocities zeroed at the clean frames, CFG, UniPC /
//      FlowMatchEuler steps. Clean frames are not re-imposed after a step, as in the base pipeline: their
//      velocity is zero, so the sampler leaves them where they were (up to the sampler's rounding);
//   5. VAE decode latent frame by latent frame, clamped to [-1, 1].
// Action runs (policy, forward / inverse dynamics) add the action stream: clean tokens from the caller's values,
// noisy ones from noise, channels past the embodiment's width zeroed at the start and after every step, stepped
// only when some token is noisy; the clean frames are encoded from the padded canvas and cropped to the content.
// Runs with sound (t2v / i2v / v2v with enable_sound) add the sound stream: sound_len tokens of sound_dim channels,
// all noisy (diffusers never conditions on sound), noise given or drawn from seed + 2, stepped at the same timestep
// with the same CFG by their own sampler state, then decoded by the AVAE into a waveform in [-1, 1].
//
// What the request says (ids, 3D positions, shapes, clean frames, sampler settings) is planned in TypeScript
// (src/generator/); the engine checks it against the checkpoint and throws ModelError naming the field.
// Progress comes per stage (encode chunks, denoise steps, decode chunks); the abort flag is read between
// transformer layers, steps and VAE chunks, and an aborted run frees everything it allocated.
// Backends (Cosmos3GeneratorParts): the CPU models, or with COSMOS_CUDA their CUDA twins (Cosmos3TransformerCuda,
// WanVaeCuda, Cosmos3AudioDecoderCuda). On the GPU the run's latents, the CFG branches' velocities and the
// samplers' history are blocks of the transformer's pool (runtime::CudaLatentDevice on its stream) from the
// initial latents to the decoders: the twins' device entry points (forward_gen_device, decode_device_to_host,
// decode_device) read them in place; the initial latents go up once, the final latents / actions / sound latents,
// video and wave come down once.
// Per-run memory (latents, sampler history, text caches, video) is reported to core/memory.h, so
// nativeMemory() shows a run's bytes while it runs and none after it, finished or aborted.
#pragma once
#include <atomic>
#include <cmath>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "../core/errors.h"
#include "../runtime/flow_schedule.h"
#include "../runtime/latent_device.h"
#include "cosmos3_audio.h"
#include "cosmos3_transformer.h"
#include "wan_vae.h"

namespace cosmos {

class CudaPool;  // core/cuda_pool.h (COSMOS_CUDA builds)
class Cosmos3TransformerCuda;
class WanVaeCuda;
class Cosmos3AudioDecoderCuda;

// One CFG branch: its prompt ids and the [3][n_text + n_gen] float positions (t row, h row, w row) of the packed
// [text | vision] sequence (src/generator/positions.ts packedPositions).
struct Cosmos3Branch {
  std::vector<int> ids;
  std::vector<float> positions;
};

struct Cosmos3GenerateRequest {
  Cosmos3Branch cond, uncond;  // uncond is used only when guidance != 1
  float guidance = 1.0f;
  // CFG only at steps whose timestep t has guidance_lo <= t <= guidance_hi (vLLM-Omni's guidance_interval; its
  // text-to-image default is [400, 1000]); other steps run the cond pass alone. The default: every step.
  double guidance_lo = -INFINITY, guidance_hi = INFINITY;
  int latent_t = 0, latent_h = 0, latent_w = 0;  // latents [channels, t, h, w]
  std::vector<int> clean_frames;                 // latent frames kept clean (ascending, distinct)
  // The pixels the clean frames are encoded from: [3, frames, latent_h * 16, latent_w * 16] in [-1, 1],
  // frames = 1 + 4 * max(clean_frames) (a causal prefix of the pipeline's conditioning clip). Empty when
  // nothing is clean.
  std::vector<float> cond_video;
  int cond_frames = 0;
  // The pixels' frame size when it is not the latents' (action runs: the padded canvas, whose encoded latents are
  // cropped to the top-left latent_h x latent_w, as _remove_action_video_padding_from_latent). 0: latent size * 16.
  int cond_height = 0, cond_width = 0;
  std::vector<float> noise;  // [channels, t, h, w], or empty: drawn from seed
  // Action stream (policy, forward / inverse dynamics): action_len tokens of the transformer's action_dim, one per
  // transition, in embodiment domain domain_id; channels from raw_action_dim on are zeroed as the pipeline does.
  int action_len = 0, domain_id = 0, raw_action_dim = 0;
  std::vector<int> action_clean;     // tokens kept clean (ascending; forward dynamics: all)
  std::vector<float> action_values;  // [action_len, action_dim]: the clean tokens' values (read at action_clean)
  std::vector<float> action_noise;   // [action_len, action_dim], or empty: drawn from seed + 1
  // Sound stream: sound_len latent frames (the pipeline's ceil(int(F / fps * sampling_rate) / hop)) of the
  // transformer's sound_dim channels, every one noisy. Needs a sound_gen transformer and sound_tokenizer/.
  int sound_len = 0;
  std::vector<float> sound_noise;  // [sound_dim, sound_len], or empty: drawn from seed + 2
  uint64_t seed = 0;
  runtime::ScheduleOverrides schedule;  // steps, flow_shift, use_karras_sigmas, sigmas
  // Distilled checkpoints (Cosmos3DistilledModularPipeline: stochastic FlowMatchEuler on explicit sigmas): the
  // video stream's re-noising draws, [steps, channels, t, h, w] (fidelity tests inject diffusers'), or empty:
  // drawn from the seed per step (runtime::SeededNoise); and the clean frames re-imposed after every step, since
  // the re-noising moves them too (the distilled scheduler step's re-anchoring).
  std::vector<float> step_noise;
  bool reanchor_clean = false;
  bool decode = true;              // false: latents only
  bool keep_step_latents = false;  // copy the latents after every step into the result
};

struct Cosmos3GenerateResult {
  std::vector<float> latents;                    // [channels, t, h, w] after the last step
  std::vector<std::vector<float>> step_latents;  // with keep_step_latents
  std::vector<float> action;                     // [action_len, action_dim] after the last step (action runs)
  std::vector<std::vector<float>> step_actions;  // with keep_step_latents (action runs)
  std::vector<float> sound;                      // [sound_dim, sound_len] after the last step (sound runs)
  std::vector<std::vector<float>> step_sounds;   // with keep_step_latents (sound runs)
  // The decoded sound (sound runs with decode): [sound_channels, sound_samples] in [-1, 1], channel-first, at
  // sound_sample_rate (sound_tokenizer/config.json sampling_rate: 48 kHz stereo shipped).
  std::vector<float> sound_wave;
  int sound_channels = 0, sound_samples = 0, sound_sample_rate = 0;
  std::vector<float> video;  // [3, frames, height, width] in [-1, 1] when decoded
  int frames = 0, height = 0, width = 0;
  std::vector<float> timesteps, sigmas;  // the schedule that ran
  int uncond_passes = 0;                 // uncond (negative-prompt) forwards: one per step inside the interval
};

enum class Cosmos3Stage { Encode = 0, Denoise = 1, Decode = 2 };
// (stage, done, total) after each VAE chunk or denoising step.
using Cosmos3Progress = std::function<void(Cosmos3Stage, int, int)>;

// One backend's transformer, VAE and (optional) sound decoder as the engine drives them, with an opaque text cache
// per CFG branch. A run's latents live on the parts' latent_device() (host memory on the CPU; the transformer's
// pool and stream for the CUDA twins): forward_gen, decode and decode_sound take pointers on it, so the latents,
// the velocities of both CFG branches and the samplers' history never cross to the host between steps. encode
// takes and gives host memory (the conditioning pixels come from the caller; its latents are uploaded once with
// the initial noise).
class Cosmos3GeneratorParts {
 public:
  struct TextCache {
    virtual ~TextCache() = default;
    virtual size_t host_bytes() const { return 0; }  // host memory it holds (reported by the engine)
  };
  virtual ~Cosmos3GeneratorParts() = default;
  // A new device for one run's latents (the denoise loop's LatentDevice), and whether its memory is host memory
  // (the engine then counts it in nativeMemory(); pool memory is counted by the pool).
  virtual std::unique_ptr<runtime::LatentDevice> latent_device() = 0;
  virtual bool latents_on_host() const = 0;
  virtual std::unique_ptr<TextCache> prefill_text(const int* ids, int n, const float* pos3) = 0;
  // in.latents / sound / action and out.* on the latent device; index lists, timesteps and positions host.
  virtual void forward_gen(const TextCache& c, const Cosmos3GenInputs& in, const Cosmos3GenOutputs& out) = 0;
  virtual std::vector<float> encode(const float* video, int F, int H, int W, const WanVaeRunOptions& opt) = 0;
  // latents on the latent device (its pending updates finished first) -> the video in host memory.
  virtual std::vector<float> decode(const float* latents, int T, int h, int w, const WanVaeRunOptions& opt) = 0;
  // The sound decoder's config, or null when the parts have none (no sound_tokenizer/).
  virtual const Cosmos3AudioConfig* sound_config() const = 0;
  // Sound latents [latent_channels, T] on the latent device -> waveform [audio_channels, samples_for(T)] in host
  // memory (sound_config() not null).
  virtual std::vector<float> decode_sound(const float* latents, int T, const Cosmos3AudioRunOptions& opt) = 0;
  virtual void set_abort_flag(const std::atomic<bool>* f) = 0;
  virtual const Cosmos3TransformerConfig& transformer_config() const = 0;
  virtual const WanVaeConfig& vae_config() const = 0;
  virtual size_t weight_bytes() const = 0;
  virtual const char* backend() const = 0;
  // The CUDA pools the parts allocate from (none on the CPU), for the binding's memory accounting.
  virtual std::vector<CudaPool*> cuda_pools() { return {}; }
};

// The CPU models (f32 host weights); sound may be null (no sound stream).
std::unique_ptr<Cosmos3GeneratorParts> cosmos3_generator_cpu_parts(std::unique_ptr<Cosmos3Transformer> transformer,
                                                                   std::unique_ptr<WanVae> vae,
                                                                   std::unique_ptr<Cosmos3AudioDecoder> sound = {});
// The CUDA twins (COSMOS_CUDA builds; benches build them from random weights): the run's latents on a
// CudaLatentDevice over the transformer's context. sound may be null.
std::unique_ptr<Cosmos3GeneratorParts> cosmos3_generator_cuda_parts(std::unique_ptr<Cosmos3TransformerCuda> transformer,
                                                                    std::unique_ptr<WanVaeCuda> vae,
                                                                    std::unique_ptr<Cosmos3AudioDecoderCuda> sound);

// Options of Cosmos3Generator::load.
struct Cosmos3LoadOptions {
  // Quantization "fp8" (vLLM-Omni's `--quantization fp8`): the transformer's gen-stream linears in e4m3 with one
  // scale per output channel and per token (Cosmos3Transformer(Cuda)::set_fp8). CUDA: needs the sm_90a FP8 GEMM
  // (ModelError otherwise); CPU: the f32 twin, slower than f32, for measuring what fp8 costs.
  bool fp8 = false;
};

class Cosmos3Generator {
 public:
  // dir: a diffusers-layout checkpoint (transformer/, vae/, scheduler/, and sound_tokenizer/ read when present
  // and the transformer has sound_gen). ModelError / SafetensorsError naming the file or key when something is
  // missing or malformed. cuda: the CUDA twins (COSMOS_CUDA builds; matmul
  // weights bf16 for 16-bit checkpoints, f32 for f32 ones, COSMOS_CUDA_WEIGHTS overrides), else the CPU models.
  static std::unique_ptr<Cosmos3Generator> load(const std::string& dir, bool cuda = false,
                                                const Cosmos3LoadOptions& options = {});
  // From parts already built (C++ tests: random weights).
  Cosmos3Generator(std::unique_ptr<Cosmos3GeneratorParts> parts, const runtime::FlowSchedulerConfig& scheduler);

  // Runs one request. AbortedError when the abort flag is seen (everything the run held is freed).
  Cosmos3GenerateResult generate(const Cosmos3GenerateRequest& req, const Cosmos3Progress& progress = {});

  void set_abort_flag(const std::atomic<bool>* f) { abort_ = f; }
  const Cosmos3TransformerConfig& transformer_config() const { return parts_->transformer_config(); }
  const WanVaeConfig& vae_config() const { return parts_->vae_config(); }
  // The sound decoder's config, or null when the checkpoint has no sound_tokenizer/ (runs with sound refused).
  const Cosmos3AudioConfig* sound_config() const { return parts_->sound_config(); }
  const runtime::FlowSchedulerConfig& scheduler_config() const { return scheduler_; }
  size_t weight_bytes() const { return parts_->weight_bytes(); }
  size_t resident_bytes() const { return weight_bytes(); }
  const char* backend() const { return parts_->backend(); }
  // "fp8" when loaded with Cosmos3LoadOptions::fp8, else "none".
  const char* quantization() const { return fp8_ ? "fp8" : "none"; }
  std::vector<CudaPool*> cuda_pools() { return parts_->cuda_pools(); }

  // The request's checks against this checkpoint (ModelError naming the field); generate() runs them first.
  void check(const Cosmos3GenerateRequest& req) const;

 private:
  std::unique_ptr<Cosmos3GeneratorParts> parts_;
  runtime::FlowSchedulerConfig scheduler_;
  bool fp8_ = false;
  const std::atomic<bool>* abort_ = nullptr;
  std::atomic<bool> never_{false};
};

}  // namespace cosmos
