// The Generator's denoising loop (Cosmos3OmniPipeline.__call__ step 7, diffusers 58eb52c0), beside the
// token loop: for each step, the model's velocity for every stream (cond pass; uncond pass only when
// guidance != 1 and the step is inside the guidance interval), the velocity zeroed at conditioned positions
// (_mask_velocity_predictions), CFG v = v_u + g·(v_c − v_u) as one lincomb, each stream's own sampler stepped at the
// same t, then the per-stream fix-ups after the step, a progress callback and an abort check between steps.
//
// The guidance interval is vLLM-Omni's (pipeline_cosmos3.py diffuse(), :2476-2481 and :2643-2687 at
// vraiti/vllm-omni d6240742): CFG only at steps whose raw scheduler timestep t has lo <= t <= hi; any other step
// takes the cond velocity alone, and its uncond pass is not run (the server's sequential-CFG loop skips it too).
//
// Conditioned latents are not re-imposed after a step in the base pipeline: with zero velocity the UniPC
// update leaves them as they are up to rounding (x0 = x, so σ_t/σ_s·x + α_t·(1 − e^{−h})·x = x). The
// distilled pipeline re-imposes the clean frames after every step (stochastic re-noising would move them):
// that is `reanchor` below. Action channels past the raw action width are zeroed in the velocity and again
// in the latents after each step (`zero_after_step`).
#pragma once
#include <atomic>
#include <cmath>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "flow_sampler.h"
#include "flow_schedule.h"
#include "latent_device.h"

namespace cosmos::runtime {

// One modality's latents (video, sound, action), on the run's LatentDevice.
struct DenoiseStream {
  std::string name;    // for error messages ("video", "sound", "action")
  float* x = nullptr;  // n floats: the noisy latents in, the denoised latents out (updated in place)
  long long n = 0;
  std::vector<RowSpan> conditioned;      // velocity zeroed here (the clean, conditioning positions)
  std::vector<RowSpan> zero_after_step;  // zeroed in the velocity and in the latents after each step
  const float* reanchor = nullptr;       // n floats: clean latents copied back into `conditioned` after each step
  // diffusers steps the action latents only when some position is noisy; video and sound always step.
  bool skip_when_all_conditioned = false;
  bool all_conditioned = false;  // set by the caller (the masks say every position is clean)
};

// What the loop needs from the transformer: one forward over all streams at one step.
struct VelocityQuery {
  int step = 0;             // i of steps
  float timestep = 0;       // schedule.timesteps[i] (whole numbers for UniPC)
  float sigma = 0;          // schedule.sigmas[i]
  bool conditional = true;  // false: the negative-prompt (uncond) pass
};
class VelocityModel {
 public:
  virtual ~VelocityModel() = default;
  // Writes v[s] (streams[s].n floats, on the run's device) for latents x[s]. May throw AbortedError.
  virtual void velocity(const VelocityQuery& q, const std::vector<const float*>& x, const std::vector<float*>& v) = 0;
};

struct DenoiseRequest {
  FlowSchedulerConfig scheduler;
  FlowSchedule schedule;
  float guidance = 1.0f;  // 1: no uncond pass
  // CFG only where guidance_lo <= timestep <= guidance_hi (compared in double, as Python compares the float of
  // the scheduler's timestep); the default covers every step.
  double guidance_lo = -INFINITY, guidance_hi = INFINITY;
  // Stochastic FlowMatchEuler only: one source per stream (each stream's noise is its own). A stream
  // without one draws SeededNoise with seed SeededNoise::step_seed(noise_seed, 1000000 + stream index).
  std::vector<NoiseSource*> noise;
  uint64_t noise_seed = 0;
};

// Whether step i of req's schedule runs CFG (guidance != 1 and its timestep inside the guidance interval): the
// steps that make the uncond pass.
bool guided_step(const DenoiseRequest& req, int i);

// What a run did: the uncond (negative-prompt) forwards it made, one per guided step.
struct DenoiseStats {
  int uncond_passes = 0;
};

// (step done, total steps), after each step's latents are final.
using DenoiseProgress = std::function<void(int, int)>;

// Runs every step on `streams` in place. The abort flag is read before each step: AbortedError when set
// (the latents hold the last finished step). ModelError for bad requests (no stream, n < 1, spans out of range).
DenoiseStats denoise(VelocityModel& model, LatentDevice& dev, std::vector<DenoiseStream>& streams,
                     const DenoiseRequest& req, const std::atomic<bool>& abort, const DenoiseProgress& on_step);

}  // namespace cosmos::runtime
