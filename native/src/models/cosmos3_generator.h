// The Cosmos 3 Generator engine: one diffusers-layout checkpoint's MoT transformer (cosmos3_transformer.h), Wan2.2
// VAE (wan_vae.h) and scheduler config (runtime/flow_schedule.h), and one request run end to end as diffusers'
// Cosmos3OmniPipeline.__call__ runs it (58eb52c0 pipeline_cosmos3_omni.py, prepare_latents and step 7-8):
//
//   1. conditioning: the clean latent frames (i2v image, v2v clip) VAE-encoded from the caller's pixels;
//      t2i / t2v encode nothing (the pipeline encodes a zero clip whose latents the all-noisy mask discards);
//   2. initial latents: mask * clean + (1 - mask) * noise, the noise given (fidelity tests) or drawn here from
//      the seed (ops/fill_normal);
//   3. the und stream prefilled once per CFG branch (cond; uncond only when guidance != 1), its K/V kept for
//      every step;
//   4. the denoise loop (runtime/denoise_loop.h): velocities zeroed at the clean frames, CFG, UniPC /
//      FlowMatchEuler steps. Clean frames are not re-imposed after a step, as in the base pipeline: their
//      velocity is zero, so the sampler leaves them where they were (up to the sampler's rounding);
//   5. VAE decode latent frame by latent frame, clamped to [-1, 1].
//
// What the request says (ids, 3D positions, shapes, clean frames, sampler settings) is planned in TypeScript
// (src/generator/); the engine checks it against the checkpoint and throws ModelError naming the field.
// Progress comes per stage (encode chunks, denoise steps, decode chunks); the abort flag is read between
// transformer layers, steps and VAE chunks, and an aborted run frees everything it allocated.
// Latents live on the run's LatentDevice from the noise to the VAE (host memory on this CPU backend; a CUDA
// backend plugs the transformer's and VAE's CUDA twins and a CudaLatentDevice in the same places).
// Per-run memory (latents, sampler history, text caches, video) is reported to core/memory.h, so
// nativeMemory() shows a run's bytes while it runs and none after it, finished or aborted.
#pragma once
#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "../core/errors.h"
#include "../runtime/flow_schedule.h"
#include "cosmos3_transformer.h"
#include "wan_vae.h"

namespace cosmos {

// One CFG branch: its prompt ids and the [3][n_text + n_gen] float positions (t row, h row, w row) of the packed
// [text | vision] sequence (src/generator/positions.ts packedPositions).
struct Cosmos3Branch {
  std::vector<int> ids;
  std::vector<float> positions;
};

struct Cosmos3GenerateRequest {
  Cosmos3Branch cond, uncond;  // uncond is used only when guidance != 1
  float guidance = 1.0f;
  int latent_t = 0, latent_h = 0, latent_w = 0;  // latents [channels, t, h, w]
  std::vector<int> clean_frames;                  // latent frames kept clean (ascending, distinct)
  // The pixels the clean frames are encoded from: [3, frames, latent_h * 16, latent_w * 16] in [-1, 1],
  // frames = 1 + 4 * max(clean_frames) (a causal prefix of the pipeline's conditioning clip). Empty when
  // nothing is clean.
  std::vector<float> cond_video;
  int cond_frames = 0;
  std::vector<float> noise;  // [channels, t, h, w], or empty: drawn from seed
  uint64_t seed = 0;
  runtime::ScheduleOverrides schedule;  // steps, flow_shift, use_karras_sigmas, sigmas
  bool decode = true;                   // false: latents only
  bool keep_step_latents = false;       // copy the latents after every step into the result
};

struct Cosmos3GenerateResult {
  std::vector<float> latents;                   // [channels, t, h, w] after the last step
  std::vector<std::vector<float>> step_latents;  // with keep_step_latents
  std::vector<float> video;                     // [3, frames, height, width] in [-1, 1] when decoded
  int frames = 0, height = 0, width = 0;
  std::vector<float> timesteps, sigmas;  // the schedule that ran
};

enum class Cosmos3Stage { Encode = 0, Denoise = 1, Decode = 2 };
// (stage, done, total) after each VAE chunk or denoising step.
using Cosmos3Progress = std::function<void(Cosmos3Stage, int, int)>;

class Cosmos3Generator {
 public:
  // dir: a diffusers-layout checkpoint (transformer/, vae/, scheduler/). ModelError / SafetensorsError naming
  // the file or key when something is missing or malformed.
  static std::unique_ptr<Cosmos3Generator> load(const std::string& dir);
  // From parts already built (C++ tests: random weights).
  Cosmos3Generator(std::unique_ptr<Cosmos3Transformer> transformer, std::unique_ptr<WanVae> vae,
                   const runtime::FlowSchedulerConfig& scheduler);

  // Runs one request. AbortedError when the abort flag is seen (everything the run held is freed).
  Cosmos3GenerateResult generate(const Cosmos3GenerateRequest& req, const Cosmos3Progress& progress = {});

  void set_abort_flag(const std::atomic<bool>* f) { abort_ = f; }
  const Cosmos3TransformerConfig& transformer_config() const { return transformer_->config(); }
  const WanVaeConfig& vae_config() const { return vae_->config(); }
  const runtime::FlowSchedulerConfig& scheduler_config() const { return scheduler_; }
  size_t weight_bytes() const { return transformer_->weight_bytes() + vae_->weight_bytes(); }
  size_t resident_bytes() const { return weight_bytes(); }
  const char* backend() const { return "cpu"; }

  // The request's checks against this checkpoint (ModelError naming the field); generate() runs them first.
  void check(const Cosmos3GenerateRequest& req) const;

 private:
  std::unique_ptr<Cosmos3Transformer> transformer_;
  std::unique_ptr<WanVae> vae_;
  runtime::FlowSchedulerConfig scheduler_;
  const std::atomic<bool>* abort_ = nullptr;
  std::atomic<bool> never_{false};
};

}  // namespace cosmos
