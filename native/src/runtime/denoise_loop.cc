#include "denoise_loop.h"

#include "../core/errors.h"

namespace cosmos::runtime {

namespace {

void check_span(const DenoiseStream& s, const RowSpan& r, const char* what) {
  if (r.outer < 1 || r.rows < 1 || r.inner < 1 || r.outer * r.rows * r.inner != s.n || r.r0 < 0 || r.r1 > r.rows ||
      r.r0 > r.r1)
    throw ModelError(s.name + "." + what + ": a span must tile the stream's " + std::to_string(s.n) +
                     " elements as [outer, rows, inner] with 0 <= r0 <= r1 <= rows");
}

void zero_spans(LatentDevice& dev, float* v, const std::vector<RowSpan>& spans) {
  for (const RowSpan& r : spans) dev.set_rows(v, nullptr, r);
}

}  // namespace

bool guided_step(const DenoiseRequest& req, int i) {
  if (req.guidance == 1.0f) return false;
  const double t = req.schedule.timesteps[(size_t)i];
  return req.guidance_lo <= t && t <= req.guidance_hi;
}

DenoiseStats denoise(VelocityModel& model, LatentDevice& dev, std::vector<DenoiseStream>& streams,
                     const DenoiseRequest& req, const std::atomic<bool>& abort, const DenoiseProgress& on_step) {
  if (streams.empty()) throw ModelError("streams: need at least one");
  for (const auto& s : streams) {
    if (!s.x || s.n < 1) throw ModelError(s.name + ".x: needs latents");
    for (const auto& r : s.conditioned) check_span(s, r, "conditioned");
    for (const auto& r : s.zero_after_step) check_span(s, r, "zero_after_step");
  }
  if (!(req.guidance_lo <= req.guidance_hi)) throw ModelError("guidanceInterval: [lo, hi] with lo <= hi");
  const int steps = req.schedule.steps();
  // The uncond buffers only when some step is guided (an interval that misses every timestep needs none).
  bool cfg = false;
  for (int i = 0; i < steps; ++i) cfg |= guided_step(req, i);
  DenoiseStats stats;

  std::vector<std::unique_ptr<FlowSampler>> samplers;
  std::vector<std::unique_ptr<SeededNoise>> seeded;
  std::vector<LatentBuffer> v_cond, v_uncond;
  std::vector<const float*> xs;
  std::vector<float*> vc, vu;
  for (size_t k = 0; k < streams.size(); ++k) {
    const DenoiseStream& s = streams[k];
    NoiseSource* noise = k < req.noise.size() ? req.noise[k] : nullptr;
    if (!noise && req.scheduler.stochastic_sampling) {
      seeded.push_back(std::make_unique<SeededNoise>(dev, SeededNoise::step_seed(req.noise_seed, 1000000 + (int)k)));
      noise = seeded.back().get();
    }
    samplers.push_back(make_flow_sampler(req.scheduler, req.schedule, dev, s.n, noise));
    v_cond.emplace_back(dev, s.n);
    vc.push_back(v_cond.back().get());
    if (cfg) {
      v_uncond.emplace_back(dev, s.n);
      vu.push_back(v_uncond.back().get());
    }
    xs.push_back(s.x);
  }

  for (int i = 0; i < steps; ++i) {
    if (abort.load()) throw AbortedError();
    VelocityQuery q{i, req.schedule.timesteps[i], req.schedule.sigmas[i], true};
    model.velocity(q, xs, vc);
    // Outside the guidance interval the step takes the cond velocity as it is (what v_u + 1·(v_c − v_u) would
    // give up to rounding), so the uncond pass is skipped.
    const bool guided = guided_step(req, i);
    if (guided) {
      q.conditional = false;
      model.velocity(q, xs, vu);
      ++stats.uncond_passes;
    }
    for (size_t k = 0; k < streams.size(); ++k) {
      DenoiseStream& s = streams[k];
      // _mask_velocity_predictions on each pass (both passes zero the same positions, so the CFG
      // combination of the masked velocities is zero there too).
      zero_spans(dev, vc[k], s.conditioned);
      zero_spans(dev, vc[k], s.zero_after_step);
      if (guided) {
        zero_spans(dev, vu[k], s.conditioned);
        zero_spans(dev, vu[k], s.zero_after_step);
        // v_u + g·(v_c − v_u) as (1 − g)·v_u + g·v_c would round differently from torch's three ops;
        // torch computes d = v_c − v_u, g·d, v_u + g·d: two lincombs give the same roundings.
        const float* d_in[2] = {vc[k], vu[k]};
        const float d_c[2] = {1.0f, -1.0f};
        dev.lincomb(vc[k], d_in, d_c, 2, s.n);  // vc ← v_c − v_u
        const float* g_in[2] = {vu[k], vc[k]};
        const float g_c[2] = {1.0f, req.guidance};
        dev.lincomb(vc[k], g_in, g_c, 2, s.n);  // vc ← v_u + g·(v_c − v_u)
      }
      if (s.skip_when_all_conditioned && s.all_conditioned) continue;
      samplers[k]->step(i, s.x, vc[k]);
      zero_spans(dev, s.x, s.zero_after_step);
      if (s.reanchor)
        for (const RowSpan& r : s.conditioned) dev.set_rows(s.x, s.reanchor, r);
    }
    if (on_step) on_step(i + 1, steps);
  }
  return stats;
}

}  // namespace cosmos::runtime
