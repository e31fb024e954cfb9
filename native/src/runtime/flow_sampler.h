// The flow-matching samplers of the Generator, stepping one modality's latents (video, sound or action
// each get their own instance, as diffusers deep-copies the scheduler per modality and steps them at the
// same t). The scalar coefficient math runs on the host in float32 in diffusers' order of operations;
// every tensor update is one lincomb on the LatentDevice, so latents stay where they are.
//  * UniPC multistep (diffusers 58eb52c0 UniPCMultistepScheduler.step): predict_x0 with flow_prediction
//    (x0 = x − σ·v), the B(h) predictor bh1 / bh2 of order solver_order (warm-up from order 1; with
//    lower_order_final the last steps drop to the remaining step count), and the UniC corrector applied
//    to the sample before each predictor from the second step on, except at steps whose previous index
//    is in disable_corrector. Order 2 uses rho 0.5 for the predictor as diffusers does; the corrector (and
//    order 3) solve the small Vandermonde system on the host.
//  * FlowMatchEuler (FlowMatchEulerDiscreteScheduler.step): deterministic x + (σ_next − σ)·v; with
//    stochastic_sampling (the distilled checkpoints) x0 = x − σ·v re-noised to (1 − σ_next)·x0 + σ_next·ε,
//    ε from a NoiseSource: the caller's, or SeededNoise (ops/fill_normal, a counter-based generator; the
//    same seed does not give torch's noise, only the same distribution).
// Differences from diffusers, on purpose: the step index is the loop's i (diffusers finds it from the
// first timestep, and with a repeated first timestep starts one later and then runs off its sigmas);
// bh1 with a final sigma of zero gives x0 at the last step (diffusers multiplies −inf by 0: NaN).
#pragma once
#include <cstdint>
#include <memory>

#include "flow_schedule.h"
#include "latent_device.h"

namespace cosmos::runtime {

// Standard normal noise for the stochastic Euler step, written on the sampler's device.
class NoiseSource {
 public:
  virtual ~NoiseSource() = default;
  virtual void fill(float* dst, long long n, int step) = 0;
};

// Noise from the device's seeded generator: step i draws fill_normal with step_seed(seed, i), so a run
// repeats for a seed and every step (and every stream given its own seed) draws independent numbers.
class SeededNoise final : public NoiseSource {
 public:
  SeededNoise(LatentDevice& dev, uint64_t seed) : dev_(dev), seed_(seed) {}
  void fill(float* dst, long long n, int step) override { dev_.fill_normal(dst, n, step_seed(seed_, step)); }
  // splitmix64 of (seed, step): neighbouring seeds and steps give unrelated streams.
  static uint64_t step_seed(uint64_t seed, int step) {
    uint64_t z = seed + 0x9E3779B97F4A7C15ull * (uint64_t)(step + 1);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
  }

 private:
  LatentDevice& dev_;
  uint64_t seed_;
};

// Noise the caller drew (the fidelity tests inject diffusers' draws): step i reads host[i·n, (i+1)·n).
// ModelError when a step past the given ones asks for noise.
class GivenNoise final : public NoiseSource {
 public:
  GivenNoise(LatentDevice& dev, const float* host, long long n, int steps)
      : dev_(dev), host_(host), n_(n), steps_(steps) {}
  void fill(float* dst, long long n, int step) override;

 private:
  LatentDevice& dev_;
  const float* host_;
  long long n_;
  int steps_;
};

class FlowSampler {
 public:
  virtual ~FlowSampler() = default;
  // One step from sigmas[i] to sigmas[i+1]: x (n floats on the device) becomes the next sample; v, the
  // velocity at (x, sigmas[i]), is read only. Steps come in order 0, 1, ..., N−1 (ModelError otherwise).
  virtual void step(int i, float* x, const float* v) = 0;
};

// One sampler over n-float latents on `dev` (its history buffers are allocated there). ModelError for n < 1
// or a stochastic FlowMatchEuler config without a noise source.
std::unique_ptr<FlowSampler> make_flow_sampler(const FlowSchedulerConfig& cfg, const FlowSchedule& schedule,
                                               LatentDevice& dev, long long n, NoiseSource* noise = nullptr);

}  // namespace cosmos::runtime
