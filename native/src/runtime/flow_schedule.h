// The sigma / timestep schedules of the Generator's flow-matching samplers, as diffusers 58eb52c0 computes
// them (schedulers/scheduling_unipc_multistep.py set_timesteps, scheduling_flow_match_euler_discrete.py
// set_timesteps), for the configurations Cosmos 3 uses:
//  * UniPCMultistepScheduler with use_flow_sigmas: sigmas linspace(1, 1/T, N+1)[:-1] (or the caller's),
//    shifted s' = shift·s / (1 + (shift−1)·s), the first nudged to 1 − 1e-6; with use_karras_sigmas the
//    Karras ramp between sigma_max and sigma_min (rho 7) mapped by s / (s+1) instead (flow_shift is not
//    applied then, as in diffusers). Timesteps int64(s·T): truncated, from the float64 sigmas.
//  * FlowMatchEulerDiscreteScheduler: linspace between its shifted sigma_max and sigma_min (shifted again,
//    as diffusers does), or explicit sigmas (the distilled 4-step checkpoints) shifted in float32;
//    timesteps = float32 sigma · T.
// The arithmetic follows numpy / torch step by step (float64 where they use numpy float64, float32 where
// they hold float32), so timesteps are identical and sigmas equal to float precision.
#pragma once
#include <optional>
#include <string>
#include <vector>

#include "../core/json.h"

namespace cosmos::runtime {

enum class FlowSchedulerKind { UniPC, FlowMatchEuler };

// scheduler/scheduler_config.json as the engine supports it. from_json rejects an unknown key, and a
// setting this engine does not implement, with a ModelError naming the key and the supported values.
struct FlowSchedulerConfig {
  FlowSchedulerKind kind = FlowSchedulerKind::UniPC;
  int num_train_timesteps = 1000;
  double shift = 1.0;  // UniPC flow_shift / FlowMatchEuler shift
  std::optional<double> shift_terminal;
  // UniPC
  int solver_order = 2;  // 1..3
  bool bh2 = true;       // solver_type bh2 (else bh1)
  bool lower_order_final = true;
  std::vector<int> disable_corrector;  // step indexes whose corrector is skipped
  bool use_karras_sigmas = false;
  std::optional<double> sigma_min, sigma_max;  // the Karras range
  bool final_sigma_zero = true;                // final_sigmas_type "zero" (else "sigma_min")
  // FlowMatchEuler
  bool stochastic_sampling = false;  // re-noise each step (distilled checkpoints)
  // Distilled checkpoints (cosmos-framework's converter registers them on the scheduler): the fixed schedule the
  // weights were distilled on (fixed_step_sampler_config.t_list; diffusers' modular pipeline reads the same list as
  // modular_model_index.json distilled_sigmas) and whether a run must pass explicit sigmas.
  std::vector<double> fixed_step_sigmas;
  bool requires_explicit_sigmas = false;  // fixed_step_requires_explicit_sigmas

  static FlowSchedulerConfig from_json(const std::string& text);
  // The same from a parsed object (a config dict saved by diffusers; keys starting with '_' other than
  // _class_name are ignored).
  static FlowSchedulerConfig from_json_value(const Json& root);
};

// Per-call settings over the config (the documented video setting is flow_shift 10 with Karras off).
struct ScheduleOverrides {
  int steps = 0;  // number of steps; may be 0 when sigmas are given
  std::optional<double> flow_shift;
  std::optional<bool> use_karras_sigmas;
  std::vector<double> sigmas;  // explicit sigmas, one per step (the distilled schedule; UniPC's native flow one)
};

struct FlowSchedule {
  std::vector<float> sigmas;     // steps + 1: the last is the final sigma (0, or sigma_min)
  std::vector<float> timesteps;  // steps: whole numbers for UniPC (int64 in diffusers), float32 for FlowMatchEuler
  int steps() const { return (int)timesteps.size(); }
};

// ModelError on a step count below 1, a non-finite or non-positive shift, sigmas outside [0, 1], explicit
// sigmas whose count disagrees with steps, or none for a config that requires them (a distilled checkpoint).
FlowSchedule make_flow_schedule(const FlowSchedulerConfig& cfg, const ScheduleOverrides& o);

// numpy.linspace(start, stop, num) in float64, rounding as numpy does (i·step + start, last = stop).
std::vector<double> np_linspace(double start, double stop, int num);

}  // namespace cosmos::runtime
