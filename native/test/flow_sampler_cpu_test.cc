// The flow-matching samplers (native/src/runtime/flow_schedule, flow_sampler, denoise_loop) on the CPU:
//  * schedules: the 35-step flow_shift-10 UniPC timesteps measured with diffusers on an H200
//    (/work/shared/reference/cosmos3-generator.md §1.5), and config errors naming the key;
//  * diffusers' own schedules and 5-step traces (test/fixtures/cosmos3-tiny-reference/scheduler.{json,
//    safetensors}, made on the H200: UniPC shift 10 / 3 / saved Karras config at 3, 5, 35, 50 steps and the
//    native flow sigmas; FlowMatchEuler with shift, explicit sigmas, and the stochastic step with its noise);
//  * the samplers on a Gaussian toy whose exact flow is known in closed form (data N(mu, s^2) per element:
//    x(sigma) = (1 - sigma) mu + sqrt((1 - sigma)^2 s^2 + sigma^2) z), for convergence with the step count
//    and the order (UniPC order 2 + corrector beats order 1 beats Euler);
//  * the loop: CFG v_u + g (v_c - v_u) and no uncond pass at g = 1, velocity masked at conditioned rows
//    (the clean latents stay put through UniPC), re-anchoring, action width zeroing, progress, abort, and
//    one sampler state per stream; the guidance interval (CFG and the uncond pass only at steps whose timestep
//    is inside it) against the loop written out by hand.
// Prints one JSON line {checks, failures, worst: {...}}; exit 1 on any failure.
//   flow_sampler_cpu_test [repo root]
#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <map>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "../src/core/errors.h"
#include "../src/ops/fill_normal.h"
#include "../src/runtime/denoise_loop.h"
#include "../src/runtime/flow_sampler.h"
#include "../src/runtime/flow_schedule.h"
#include "../src/safetensors/safetensors.h"
#include "flow_fixture.h"
#include "test_util.h"

using namespace cosmos;
using namespace cosmos::runtime;
using namespace flow_fixture;
using namespace test_util;

static void within(const std::string& what, double err, double tol) {
  worst[what] = std::max(worst[what], err);
  truth(what, err <= tol, "(" + std::to_string(err) + " > " + std::to_string(tol) + ")");
}
static std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const ModelError& e) {
    return e.what();
  }
  return "";
}

static const char* kSavedConfig =
    R"({"_class_name": "UniPCMultistepScheduler", "_diffusers_version": "0.36.0", "beta_end": 0.02,
        "beta_schedule": "linear", "beta_start": 0.0001, "disable_corrector": [], "dynamic_thresholding_ratio": 0.995,
        "final_sigmas_type": "zero", "flow_shift": 1.0, "lower_order_final": true, "num_train_timesteps": 1000,
        "predict_x0": true, "prediction_type": "flow_prediction", "rescale_betas_zero_snr": false,
        "sample_max_value": 1.0, "shift_terminal": null, "sigma_max": 200.0, "sigma_min": 0.147, "solver_order": 2,
        "solver_p": null, "solver_type": "bh2", "steps_offset": 0, "thresholding": false,
        "time_shift_type": "exponential", "timestep_spacing": "linspace", "trained_betas": null,
        "use_beta_sigmas": false, "use_dynamic_shifting": false, "use_exponential_sigmas": false,
        "use_flow_sigmas": true, "use_karras_sigmas": true})";

static FlowSchedulerConfig video_config() {  // from_config(saved, flow_shift=10, use_karras_sigmas=False)
  auto c = FlowSchedulerConfig::from_json(kSavedConfig);
  c.shift = 10.0;
  c.use_karras_sigmas = false;
  return c;
}

static void test_schedules() {
  // Measured on an H200 with diffusers 58eb52c0 (cosmos3-generator.md §1.5).
  const std::vector<float> h200 = {999, 997, 993, 990, 987, 983, 979, 975, 971, 966, 961, 956,
                                   950, 944, 937, 930, 922, 913, 904, 894, 882, 869, 855, 839,
                                   821, 800, 776, 748, 715, 675, 626, 565, 486, 381, 233};
  ScheduleOverrides o;
  o.steps = 35;
  o.flow_shift = 10.0;
  o.use_karras_sigmas = false;
  const auto saved = FlowSchedulerConfig::from_json(kSavedConfig);
  const FlowSchedule s = make_flow_schedule(saved, o);
  truth("unipc 35 steps flow_shift 10 (overrides): timesteps == H200", s.timesteps == h200);
  truth("same from the overridden config", make_flow_schedule(video_config(), ScheduleOverrides{35}).timesteps == h200);
  truth("36 sigmas, the last 0", s.sigmas.size() == 36 && s.sigmas.back() == 0.f);
  // Printed to 5 digits there: 1.0, 0.99707, ..., 0.38145, 0.23338.
  within("h200 printed sigmas",
         std::max({std::fabs(s.sigmas[0] - 1.0), std::fabs(s.sigmas[1] - 0.99707), std::fabs(s.sigmas[33] - 0.38145),
                   std::fabs(s.sigmas[34] - 0.23338)}),
         5e-6);
  // Direct formula: sigma_i = 10 u / (1 + 9 u), u = 1 - i (1 - 1/1000) / 35, the first 1 - 1e-6.
  double md = 0;
  for (int i = 1; i < 35; ++i) {
    const double u = 1.0 - i * (1.0 - 1.0 / 1000) / 35;
    md = std::max(md, std::fabs(s.sigmas[i] - 10 * u / (1 + 9 * u)));
  }
  md = std::max(md, std::fabs(s.sigmas[0] - (1.0 - 1e-6)));
  within("unipc flow sigmas vs formula", md, 1e-7);

  // The saved config as is: Karras sigmas 200 .. 0.147 (rho 7) through s / (1 + s); flow_shift unused.
  ScheduleOverrides k5;
  k5.steps = 5;
  const FlowSchedule k = make_flow_schedule(saved, k5);
  double mk = 0;
  bool kt = true;
  for (int i = 0; i < 5; ++i) {
    const double a = std::pow(200.0, 1 / 7.0), b = std::pow(0.147, 1 / 7.0);
    const double r = std::pow(a + i / 4.0 * (b - a), 7.0), sig = r / (1 + r);
    mk = std::max(mk, std::fabs(k.sigmas[i] - sig));
    kt = kt && k.timesteps[i] == std::floor(sig * 1000);
  }
  within("unipc karras sigmas vs formula", mk, 1e-7);
  truth("unipc karras timesteps = floor(1000 sigma)", kt && k.timesteps[0] == 995 && k.sigmas[5] == 0.f);
  auto sm = saved;
  sm.final_sigma_zero = false;
  truth("final_sigmas_type sigma_min repeats the last sigma", make_flow_schedule(sm, k5).sigmas[5] == k.sigmas[4]);

  // FlowMatchEuler: explicit sigmas (the distilled schedule), shift 1 keeps them; timesteps float32 sigma * 1000.
  auto euler = FlowSchedulerConfig::from_json(R"({"_class_name": "FlowMatchEulerDiscreteScheduler", "shift": 1.0,
      "num_train_timesteps": 1000, "stochastic_sampling": false, "use_dynamic_shifting": false})");
  ScheduleOverrides ex;
  ex.sigmas = {1.0, 0.9375, 0.8333333, 0.625};
  const FlowSchedule e = make_flow_schedule(euler, ex);
  truth("euler explicit sigmas kept (shift 1)", e.sigmas == std::vector<float>{1.f, 0.9375f, 0.8333333f, 0.625f, 0.f});
  truth("euler timesteps = f32 sigma * 1000",
        e.timesteps == std::vector<float>{1000.f, 937.5f, 0.8333333f * 1000.f, 625.f});
  // Default spacing with shift 3: linspace(1000, 1000 * shift(1/1000), N) / 1000, shifted again.
  ScheduleOverrides e5;
  e5.steps = 5;
  e5.flow_shift = 3.0;
  const FlowSchedule ed = make_flow_schedule(euler, e5);
  double me = 0;
  const double smin = 3 * 0.001 / (1 + 2 * 0.001);
  for (int i = 0; i < 5; ++i) {
    const double u = 1.0 + i * (smin - 1.0) / 4;
    me = std::max(me, std::fabs(ed.sigmas[i] - 3 * u / (1 + 2 * u)));
  }
  within("euler default sigmas vs formula", me, 1e-6);

  // Errors name the key and the supported values.
  auto msg = error_of([] {
    FlowSchedulerConfig::from_json(R"({"_class_name": "UniPCMultistepScheduler", "use_flow_sigmas": true,
        "prediction_type": "epsilon"})");
  });
  truth("prediction_type epsilon: typed error naming key and value",
        msg.find("prediction_type") != std::string::npos && msg.find("flow_prediction") != std::string::npos, msg);
  msg = error_of([] {
    FlowSchedulerConfig::from_json(R"({"_class_name": "UniPCMultistepScheduler", "use_flow_sigmas": true,
        "prediction_type": "flow_prediction", "warp_speed": 9})");
  });
  truth("unknown key named", msg.find("warp_speed") != std::string::npos, msg);
  msg = error_of([] { FlowSchedulerConfig::from_json(R"({"_class_name": "DDIMScheduler"})"); });
  truth("unknown scheduler class named",
        msg.find("_class_name") != std::string::npos && msg.find("UniPCMultistepScheduler") != std::string::npos, msg);
  msg = error_of([] {
    FlowSchedulerConfig::from_json(
        R"({"_class_name": "UniPCMultistepScheduler", "prediction_type": "flow_prediction"})");
  });
  truth("UniPC without use_flow_sigmas refused", msg.find("use_flow_sigmas") != std::string::npos, msg);
  msg = error_of([] {
    FlowSchedulerConfig::from_json(R"({"_class_name": "UniPCMultistepScheduler", "use_flow_sigmas": true,
        "prediction_type": "flow_prediction", "use_karras_sigmas": true, "sigma_max": 80})");
  });
  truth("karras without sigma_min refused", msg.find("sigma_min") != std::string::npos, msg);
  msg = error_of([] {
    FlowSchedulerConfig::from_json(R"({"_class_name": "UniPCMultistepScheduler", "use_flow_sigmas": true,
        "prediction_type": "flow_prediction", "solver_order": 4})");
  });
  truth("solver_order 4 refused", msg.find("solver_order") != std::string::npos, msg);
  msg = error_of([&] { make_flow_schedule(euler, ScheduleOverrides{0}); });
  truth("0 steps refused", msg.find("steps") != std::string::npos, msg);
  msg = error_of([&] {
    ScheduleOverrides bad;
    bad.steps = 3;
    bad.sigmas = {1.0, 0.5};
    make_flow_schedule(euler, bad);
  });
  truth("steps disagreeing with sigmas refused", msg.find("steps") != std::string::npos, msg);
  auto stochastic = euler;
  stochastic.stochastic_sampling = true;
  CpuLatentDevice dev;
  msg = error_of([&] { make_flow_sampler(stochastic, e, dev, 4); });
  truth("stochastic euler refused with a typed error", msg.find("stochastic_sampling") != std::string::npos, msg);
}

// The Gaussian toy: data N(mu, s^2) per element. Its flow velocity dx/dsigma as a function of x.
struct GaussianToy {
  std::vector<double> mu, s;
  double var(int i, double sg) const { return (1 - sg) * (1 - sg) * s[i] * s[i] + sg * sg; }
  double velocity(int i, double x, double sg) const {
    const double dv = -2 * (1 - sg) * s[i] * s[i] + 2 * sg;
    return -mu[i] + dv / (2 * var(i, sg)) * (x - (1 - sg) * mu[i]);
  }
  double at(int i, double z, double sg) const { return (1 - sg) * mu[i] + std::sqrt(var(i, sg)) * z; }
};

class ToyModel final : public VelocityModel {
 public:
  explicit ToyModel(const GaussianToy& t) : toy_(t) {}
  void velocity(const VelocityQuery& q, const std::vector<const float*>& x, const std::vector<float*>& v) override {
    ++calls;
    for (size_t k = 0; k < x.size(); ++k)
      for (size_t i = 0; i < toy_.mu.size(); ++i) v[k][i] = (float)toy_.velocity((int)i, x[k][i], q.sigma);
  }
  int calls = 0;

 private:
  const GaussianToy& toy_;
};

// Max |x_N - exact| after denoising the toy from sigma_0 with the given config.
static double toy_error(const FlowSchedulerConfig& cfg, int steps, const GaussianToy& toy,
                        const std::vector<double>& z) {
  ScheduleOverrides o;
  o.steps = steps;
  DenoiseRequest req{cfg, make_flow_schedule(cfg, o), 1.0f};
  std::vector<float> x(z.size());
  for (size_t i = 0; i < z.size(); ++i) x[i] = (float)toy.at((int)i, z[i], req.schedule.sigmas[0]);
  CpuLatentDevice dev;
  ToyModel model(toy);
  std::vector<DenoiseStream> streams(1);
  streams[0].name = "video";
  streams[0].x = x.data();
  streams[0].n = (long long)x.size();
  std::atomic<bool> no{false};
  denoise(model, dev, streams, req, no, nullptr);
  double e = 0;
  for (size_t i = 0; i < z.size(); ++i) e = std::max(e, std::fabs(x[i] - toy.at((int)i, z[i], 0.0)));
  return e;
}

static void test_toy_convergence() {
  std::mt19937 rng(7);
  std::normal_distribution<double> nd;
  GaussianToy toy;
  std::vector<double> z;
  for (int i = 0; i < 64; ++i) {
    toy.mu.push_back(nd(rng));
    toy.s.push_back(0.8 + 0.5 * std::fabs(nd(rng)));
    z.push_back(nd(rng));
  }
  auto unipc = video_config();
  unipc.shift = 1.0;
  auto unipc1 = unipc;
  unipc1.solver_order = 1;
  auto unipc3 = unipc;
  unipc3.solver_order = 3;
  auto no_corr = unipc;
  no_corr.disable_corrector.clear();
  for (int i = 0; i < 200; ++i) no_corr.disable_corrector.push_back(i);
  auto euler = FlowSchedulerConfig::from_json(R"({"_class_name": "FlowMatchEulerDiscreteScheduler", "shift": 1.0})");
  const double e2_10 = toy_error(unipc, 10, toy, z), e2_20 = toy_error(unipc, 20, toy, z),
               e2_40 = toy_error(unipc, 40, toy, z);
  const double e1_20 = toy_error(unipc1, 20, toy, z), e3_20 = toy_error(unipc3, 20, toy, z);
  const double enc_20 = toy_error(no_corr, 20, toy, z);
  const double eu_20 = toy_error(euler, 20, toy, z), eu_40 = toy_error(euler, 40, toy, z);
  worst["toy_unipc2_20_steps"] = e2_20;
  worst["toy_unipc2_40_steps"] = e2_40;
  worst["toy_unipc1_20_steps"] = e1_20;
  worst["toy_unipc3_20_steps"] = e3_20;
  worst["toy_unipc2_no_corrector_20_steps"] = enc_20;
  worst["toy_euler_20_steps"] = eu_20;
  worst["toy_euler_40_steps"] = eu_40;
  truth("toy: UniPC-2 converges (40 steps < 5e-3)", e2_40 < 5e-3, std::to_string(e2_40));
  // The last step (order 1 to sigma 0, lower_order_final) bounds the whole run at second order: about 4x per
  // doubling of the steps.
  truth("toy: UniPC-2 error falls > 3.5x per doubling (10 -> 20 -> 40)", e2_10 / e2_20 > 3.5 && e2_20 / e2_40 > 3.5,
        std::to_string(e2_10) + " " + std::to_string(e2_20) + " " + std::to_string(e2_40));
  truth("toy: Euler first order (20 -> 40 gains 1.6x..2.6x)", eu_20 / eu_40 > 1.6 && eu_20 / eu_40 < 2.6,
        std::to_string(eu_20) + " " + std::to_string(eu_40));
  truth("toy: order 2 beats order 1 beats Euler at 20 steps", e2_20 < e1_20 && e1_20 < eu_20,
        std::to_string(e2_20) + " " + std::to_string(e1_20) + " " + std::to_string(eu_20));
  truth("toy: order 3 converges too (20 steps < 1e-2)", e3_20 < 1e-2, std::to_string(e3_20));
  truth("toy: the corrector helps (20 steps)", e2_20 < enc_20, std::to_string(e2_20) + " " + std::to_string(enc_20));
}

// A model with fixed velocities per pass: v_c = c_cond, v_u = c_uncond everywhere; records the calls.
class ConstModel final : public VelocityModel {
 public:
  float c_cond = 0.5f, c_uncond = -1.25f;
  std::vector<VelocityQuery> queries;
  std::atomic<bool>* abort_at_call = nullptr;
  int abort_after = -1;
  void velocity(const VelocityQuery& q, const std::vector<const float*>& x, const std::vector<float*>& v) override {
    queries.push_back(q);
    for (size_t k = 0; k < x.size(); ++k) {
      (void)x;
      // The streams' sizes are not passed; the tests use 24 floats per stream.
      for (int i = 0; i < 24; ++i) v[k][i] = q.conditional ? c_cond : c_uncond;
    }
  }
};

static void test_loop_semantics() {
  auto euler = FlowSchedulerConfig::from_json(R"({"_class_name": "FlowMatchEulerDiscreteScheduler", "shift": 1.0})");
  ScheduleOverrides o;
  o.steps = 6;
  const FlowSchedule sch = make_flow_schedule(euler, o);
  CpuLatentDevice dev;
  std::atomic<bool> no{false};
  // CFG with Euler: x_N = x_0 + (sigma_N - sigma_0) (v_u + g (v_c - v_u)); 2 passes per step, cond first.
  for (float g : {1.0f, 6.0f}) {
    ConstModel m;
    std::vector<float> x(24, 0.25f);
    std::vector<DenoiseStream> st(1);
    st[0].name = "video", st[0].x = x.data(), st[0].n = 24;
    std::vector<std::pair<int, int>> progress;
    denoise(m, dev, st, DenoiseRequest{euler, sch, g}, no, [&](int a, int b) { progress.push_back({a, b}); });
    const double v = g == 1.0f ? m.c_cond : m.c_uncond + g * (m.c_cond - m.c_uncond);
    double err = 0;
    for (float xi : x) err = std::max(err, std::fabs(xi - (0.25 + (0.0 - sch.sigmas[0]) * v)));
    within(g == 1.0f ? "loop: g=1 uses v_c" : "loop: CFG g=6 velocity", err, 2e-6);
    const size_t passes = g == 1.0f ? 6 : 12;
    bool order_ok = m.queries.size() == passes;
    for (size_t i = 0; order_ok && i < m.queries.size(); ++i) {
      const int step = g == 1.0f ? (int)i : (int)i / 2;
      order_ok = m.queries[i].step == step && m.queries[i].conditional == (g == 1.0f || i % 2 == 0) &&
                 m.queries[i].timestep == sch.timesteps[step] && m.queries[i].sigma == sch.sigmas[step];
    }
    truth(g == 1.0f ? "loop: g=1 runs the cond pass only" : "loop: g=6 runs cond then uncond each step", order_ok);
    bool prog = progress.size() == 6;
    for (int i = 0; prog && i < 6; ++i) prog = progress[i] == std::make_pair(i + 1, 6);
    truth("loop: progress (i+1, N) after every step", prog);
  }

  // Masks through UniPC: a video stream [C=2, T=3, HW=4] with frame 0 conditioned keeps frame 0 (to
  // rounding); the other frames move. An action stream [L=4, D=6] with raw width 4: columns 4.. are zero after
  // every step; rows 0..1 conditioned.
  {
    const auto unipc = video_config();
    ScheduleOverrides u;
    u.steps = 8;
    const FlowSchedule us = make_flow_schedule(unipc, u);
    ConstModel m;
    std::vector<float> video(24), action(24), clean(24);
    for (int i = 0; i < 24; ++i) video[i] = 0.1f * i - 1.f, action[i] = i % 6 < 4 ? 1.f - 0.07f * i : 0.f;
    clean = action;  // the padded action channels are zero in the clean latents too
    const std::vector<float> video0 = video;
    std::vector<DenoiseStream> st(2);
    st[0].name = "video", st[0].x = video.data(), st[0].n = 24;
    st[0].conditioned = {RowSpan{2, 3, 4, 0, 1}};
    st[1].name = "action", st[1].x = action.data(), st[1].n = 24;
    st[1].conditioned = {RowSpan{1, 4, 6, 0, 2}};
    st[1].zero_after_step = {RowSpan{4, 6, 1, 4, 6}};
    st[1].reanchor = clean.data();
    denoise(m, dev, st, DenoiseRequest{unipc, us, 6.0f}, no, nullptr);
    double kept = 0;
    bool moved = true;
    for (int c = 0; c < 2; ++c)
      for (int t = 0; t < 3; ++t)
        for (int p = 0; p < 4; ++p) {
          const int i = (c * 3 + t) * 4 + p;
          if (t == 0)
            kept = std::max(kept, (double)std::fabs(video[i] - video0[i]));
          else
            moved = moved && std::fabs(video[i] - video0[i]) > 0.1f;
        }
    within("loop: conditioned video frame kept through UniPC (zero velocity)", kept, 1e-6);
    truth("loop: noisy video frames denoised", moved);
    bool anchored = true, zeroed = true, action_moved = false;
    for (int l = 0; l < 4; ++l)
      for (int d = 0; d < 6; ++d) {
        const int i = l * 6 + d;
        if (d >= 4)
          zeroed = zeroed && action[i] == 0.f;
        else if (l < 2)
          anchored = anchored && action[i] == clean[i];
        else
          action_moved = action_moved || std::fabs(action[i] - clean[i]) > 0.1f;
      }
    truth("loop: re-anchored rows equal the clean latents", anchored);
    truth("loop: action columns past the raw width zero", zeroed);
    truth("loop: noisy action rows denoised", action_moved);

    // A fully conditioned action stream with skip_when_all_conditioned is not stepped at all.
    std::vector<float> a2(24, 0.3f);
    std::vector<DenoiseStream> st2(1);
    st2[0].name = "action", st2[0].x = a2.data(), st2[0].n = 24;
    st2[0].conditioned = {RowSpan{1, 4, 6, 0, 4}};
    st2[0].skip_when_all_conditioned = st2[0].all_conditioned = true;
    denoise(m, dev, st2, DenoiseRequest{unipc, us, 1.0f}, no, nullptr);
    truth("loop: fully conditioned action stream untouched",
          std::all_of(a2.begin(), a2.end(), [](float v) { return v == 0.3f; }));
  }

  // One sampler state per stream: two streams run together equal each run alone, bitwise.
  {
    const auto unipc = video_config();
    ScheduleOverrides u;
    u.steps = 7;
    const FlowSchedule us = make_flow_schedule(unipc, u);
    GaussianToy toy;
    for (int i = 0; i < 24; ++i) toy.mu.push_back(0.1 * i - 1), toy.s.push_back(0.3 + 0.01 * i);
    ToyModel m(toy);
    std::vector<float> a(24), b(24);
    for (int i = 0; i < 24; ++i) a[i] = std::sin(1.0f + i), b[i] = std::cos(2.0f * i);
    std::vector<float> a1 = a, b1 = b;
    std::vector<DenoiseStream> both(2), one(1);
    both[0].name = "video", both[0].x = a.data(), both[0].n = 24;
    both[1].name = "sound", both[1].x = b.data(), both[1].n = 24;
    denoise(m, dev, both, DenoiseRequest{unipc, us, 1.0f}, no, nullptr);
    one[0].name = "video", one[0].x = a1.data(), one[0].n = 24;
    denoise(m, dev, one, DenoiseRequest{unipc, us, 1.0f}, no, nullptr);
    one[0].x = b1.data();
    denoise(m, dev, one, DenoiseRequest{unipc, us, 1.0f}, no, nullptr);
    truth("loop: streams stepped together == alone (separate sampler states)", a == a1 && b == b1);
  }

  // Abort between steps: set during step 3's progress callback, the loop throws before step 4's model call.
  {
    ConstModel m;
    std::vector<float> x(24, 0.f);
    std::vector<DenoiseStream> st(1);
    st[0].name = "video", st[0].x = x.data(), st[0].n = 24;
    std::atomic<bool> abort{false};
    bool aborted = false;
    try {
      denoise(m, dev, st, DenoiseRequest{euler, sch, 1.0f}, abort, [&](int a, int) {
        if (a == 3) abort.store(true);
      });
    } catch (const AbortedError&) {
      aborted = true;
    }
    truth("loop: abort between steps throws AbortedError after 3 steps", aborted && m.queries.size() == 3);
    const std::string msg = error_of([&] {
      std::vector<DenoiseStream> bad(1);
      bad[0].name = "video", bad[0].x = x.data(), bad[0].n = 24;
      bad[0].conditioned = {RowSpan{2, 3, 5, 0, 1}};
      std::atomic<bool> n2{false};
      denoise(m, dev, bad, DenoiseRequest{euler, sch, 1.0f}, n2, nullptr);
    });
    truth("loop: a span that does not tile the stream is a typed error", msg.find("video.conditioned") == 0, msg);
    FlowSchedulerConfig e2 = euler;
    const std::string order_msg = error_of([&] {
      auto s = make_flow_sampler(e2, sch, dev, 24);
      s->step(1, x.data(), x.data());
    });
    truth("sampler: steps out of order are a typed error", order_msg.find("step") != std::string::npos, order_msg);
  }
}

class FixtureNoise final : public NoiseSource {
 public:
  FixtureNoise(const Checkpoint& ck, const std::string& prefix) : ck_(ck), prefix_(prefix) {}
  void fill(float* dst, long long n, int step) override {
    ck_.read_f32(prefix_ + std::to_string(step), dst, (size_t)n);
  }

 private:
  const Checkpoint& ck_;
  std::string prefix_;
};

// A model whose velocity depends on the latents, the sigma and the pass (so a step's velocity, and UniPC's
// history, differ between a guided and an unguided step); records the passes.
class AffineModel final : public VelocityModel {
 public:
  std::vector<VelocityQuery> queries;
  void velocity(const VelocityQuery& q, const std::vector<const float*>& x, const std::vector<float*>& v) override {
    queries.push_back(q);
    const float a = q.conditional ? 0.9f : -0.4f, b = q.conditional ? 0.3f : 0.7f;
    for (size_t k = 0; k < x.size(); ++k)
      for (int i = 0; i < 24; ++i) v[k][i] = a * x[k][i] + b * q.sigma + 0.01f * (float)i;
  }
};

// The guidance interval (vLLM-Omni's guidance_interval): CFG only at steps whose timestep is in [lo, hi], closed;
// elsewhere the cond velocity alone and no uncond pass. Checked against the loop written out by hand: each step
// v_c; inside the interval also v_u and v_u + g (v_c − v_u) (the loop's two lincombs); a UniPC sampler stepped with
// it (so a step after an unguided one carries the unguided step's velocity in its history).
static void test_guidance_interval() {
  const auto unipc = video_config();
  ScheduleOverrides u;
  u.steps = 8;
  const FlowSchedule us = make_flow_schedule(unipc, u);
  CpuLatentDevice dev;
  std::atomic<bool> no{false};
  const float g = 4.0f;
  std::vector<float> x0(24);
  for (int i = 0; i < 24; ++i) x0[i] = std::sin(0.7f * i + 0.2f);

  // Runs the loop with [lo, hi]; the latents after every step and the model's passes.
  auto run = [&](float guidance, double lo, double hi, AffineModel& m, int* uncond = nullptr) {
    std::vector<float> x = x0;
    std::vector<std::vector<float>> steps;
    std::vector<DenoiseStream> st(1);
    st[0].name = "video", st[0].x = x.data(), st[0].n = 24;
    DenoiseRequest req{unipc, us, guidance};
    req.guidance_lo = lo, req.guidance_hi = hi;
    const DenoiseStats stats = denoise(m, dev, st, req, no, [&](int, int) { steps.push_back(x); });
    if (uncond) *uncond = stats.uncond_passes;
    return steps;
  };
  // The same by hand: guided(i) says which steps take CFG.
  auto by_hand = [&](const std::function<bool(int)>& guided) {
    AffineModel m;
    std::vector<float> x = x0, vc(24), vu(24);
    std::vector<std::vector<float>> steps;
    auto sampler = make_flow_sampler(unipc, us, dev, 24);
    for (int i = 0; i < us.steps(); ++i) {
      VelocityQuery q{i, us.timesteps[i], us.sigmas[i], true};
      m.velocity(q, {x.data()}, {vc.data()});
      if (guided(i)) {
        q.conditional = false;
        m.velocity(q, {x.data()}, {vu.data()});
        const float* d_in[2] = {vc.data(), vu.data()};
        const float d_c[2] = {1.0f, -1.0f};
        dev.lincomb(vc.data(), d_in, d_c, 2, 24);
        const float* g_in[2] = {vu.data(), vc.data()};
        const float g_c[2] = {1.0f, g};
        dev.lincomb(vc.data(), g_in, g_c, 2, 24);
      }
      sampler->step(i, x.data(), vc.data());
      steps.push_back(x);
    }
    return steps;
  };

  // [lo, hi] at the timesteps of steps 5 and 2 (descending): steps 2..5 guided, both ends included.
  const double lo = us.timesteps[5], hi = us.timesteps[2];
  AffineModel m;
  int uncond = -1;
  const auto got = run(g, lo, hi, m, &uncond);
  const auto want = by_hand([](int i) { return i >= 2 && i <= 5; });
  truth("interval: latents after every step == the loop by hand (cond only at steps 0, 1, 6, 7)", got == want);
  bool passes_ok = m.queries.size() == 8 + 4;
  for (size_t k = 0, i = 0; passes_ok && k < m.queries.size(); ++k) {
    const VelocityQuery& q = m.queries[k];
    passes_ok = q.step == (int)i && q.timestep == us.timesteps[i];
    if (q.conditional && i >= 2 && i <= 5) passes_ok = passes_ok && !m.queries[k + 1].conditional;
    if (!q.conditional || i < 2 || i > 5) ++i;
  }
  truth("interval: the uncond pass at the guided steps only (12 passes for 8 steps)", passes_ok);
  truth("interval: uncond_passes counts them (4)", uncond == 4, std::to_string(uncond));
  // Not a no-op: differs from CFG on every step and from no CFG after the first guided step.
  AffineModel m_all, m_none;
  int all_passes = -1, none_passes = -1;
  const auto all = run(g, -INFINITY, INFINITY, m_all, &all_passes);
  const auto none = run(1.0f, -INFINITY, INFINITY, m_none, &none_passes);
  truth("interval: steps 0, 1 equal a guidance-1 run's, bitwise", got[0] == none[0] && got[1] == none[1]);
  truth("interval: step 2 on differs from the guidance-1 run and the last from the all-CFG run",
        got[2] != none[2] && got[7] != all[7] && got[7] != none[7]);
  truth("interval: default interval guides every step (8 uncond passes), guidance 1 none",
        all_passes == 8 && none_passes == 0 && all == by_hand([](int) { return true; }));
  // An interval that misses every timestep is the guidance-1 run, bitwise, without uncond passes.
  AffineModel m_miss;
  int miss_passes = -1;
  const auto miss = run(g, 1000.5, 2000.0, m_miss, &miss_passes);
  truth("interval: outside every timestep == guidance 1, no uncond pass", miss == none && miss_passes == 0);
  // lo > hi (or NaN) is a typed error naming the field.
  const std::string msg = error_of([&] {
    AffineModel mm;
    run(g, 600.0, 400.0, mm);
  });
  truth("interval: lo > hi is a typed error naming guidanceInterval", msg.find("guidanceInterval") == 0, msg);
}

static void test_fixtures(const std::string& root) {
  const std::string dir = root + "/test/fixtures/cosmos3-tiny-reference";
  const Json ref = json_parse(read_text(dir + "/scheduler.json").data(), read_text(dir + "/scheduler.json").size());
  const Json& configs = *ref.get("configs");
  int schedules = 0;
  for (const auto& kv : ref.get("schedules")->obj) {
    const std::string& key = kv.first;  // "<config>.steps<N>" or "<config>.native_flow.steps<N>"
    const std::string cname = key.substr(0, key.find('.'));
    const bool euler = is_euler_trace(cname);
    const FlowSchedulerConfig cfg = fixture_config(*configs.get(cname), euler);
    ScheduleOverrides o;
    o.steps = std::stoi(key.substr(key.rfind("steps") + 5));
    if (const Json* in = kv.second.get("input_sigmas")) o.sigmas = nums(*in);
    const FlowSchedule s = make_flow_schedule(cfg, o);
    const auto want_t = nums(*kv.second.get("timesteps")), want_s = nums(*kv.second.get("sigmas"));
    bool same_t = want_t.size() == s.timesteps.size();
    for (size_t i = 0; same_t && i < want_t.size(); ++i) same_t = (double)s.timesteps[i] == want_t[i];
    truth("fixture timesteps identical: " + key, same_t);
    double md = want_s.size() == s.sigmas.size() ? 0 : 1;
    for (size_t i = 0; i < std::min(want_s.size(), s.sigmas.size()); ++i)
      md = std::max(md, std::fabs(s.sigmas[i] - want_s[i]));
    within("fixture sigmas", md, 1e-6);
    ++schedules;
  }
  truth("fixture: every schedule compared (19)", schedules == 19, std::to_string(schedules));

  auto ck = Checkpoint::open(dir + "/scheduler.safetensors");
  const Json& traces = *ref.get("traces");
  const long long n = 48 * 3 * 4 * 6;
  auto read = [&](const std::string& name) {
    std::vector<float> v((size_t)n);
    ck->read_f32(name, v.data(), (size_t)n);
    return v;
  };
  for (const char* name : {"unipc", "unipc_shift3", "unipc_karras", "flow", "flow_sigmas", "flow_sde"}) {
    const Json& t = *traces.get(name);
    const bool euler = is_euler_trace(name);
    FlowSchedulerConfig cfg = trace_config(t, configs, euler);
    const FlowSchedule s = make_flow_schedule(cfg, trace_overrides(t, euler));
    bool same_t = true;
    const auto want_t = nums(*t.get("timesteps"));
    for (size_t i = 0; i < want_t.size(); ++i) same_t = same_t && (double)s.timesteps[i] == want_t[i];
    truth(std::string("trace timesteps identical: ") + name, same_t && want_t.size() == s.timesteps.size());
    CpuLatentDevice dev;
    FixtureNoise noise(*ck, std::string(name) + ".noise.");
    auto sampler = make_flow_sampler(cfg, s, dev, n, &noise);
    std::vector<float> x = read("unipc.x.0");
    double md = 0;
    for (int k = 0; k < s.steps(); ++k) {
      const auto m = read("unipc.m." + std::to_string(k));
      sampler->step(k, x.data(), m.data());
      const auto want = read(std::string(name) + ".x." + std::to_string(k + 1));
      for (long long i = 0; i < n; ++i) md = std::max(md, (double)std::fabs(x[i] - want[i]));
    }
    within(std::string("trace per-step samples: ") + name, md, 1e-5);
  }
}

// Velocity 0.5 everywhere (any stream size).
class ConstModelForNoise final : public VelocityModel {
 public:
  void velocity(const VelocityQuery&, const std::vector<const float*>&, const std::vector<float*>& v) override {
    for (float* p : v) std::fill(p, p + 4096, 0.5f);
  }
};

// Stochastic FlowMatchEuler with the seeded generator: each step is (1 - s_next)(x - s v) + s_next eps with eps
// = fill_normal(step_seed(seed, i)); a seed repeats, another seed and another stream draw other noise.
static void test_seeded_noise() {
  auto cfg = FlowSchedulerConfig::from_json(R"({"_class_name": "FlowMatchEulerDiscreteScheduler", "shift": 1.0,
      "stochastic_sampling": true})");
  ScheduleOverrides o;
  o.sigmas = {1.0, 0.75, 0.5, 0.25};
  const FlowSchedule sch = make_flow_schedule(cfg, o);
  CpuLatentDevice dev;
  const long long n = 4096;
  std::vector<float> x0(n), v(n, 0.5f);
  for (long long i = 0; i < n; ++i) x0[i] = std::sin(0.01f * i);
  auto run = [&](uint64_t seed) {
    SeededNoise noise(dev, seed);
    auto s = make_flow_sampler(cfg, sch, dev, n, &noise);
    std::vector<float> x = x0;
    for (int i = 0; i < sch.steps(); ++i) s->step(i, x.data(), v.data());
    return x;
  };
  // Direct: the last step alone decides the result (sigma_next = 0 gives x0 = x - 0.25 v), so check step 0.
  {
    SeededNoise noise(dev, 11);
    auto s = make_flow_sampler(cfg, sch, dev, n, &noise);
    std::vector<float> x = x0, eps(n);
    s->step(0, x.data(), v.data());
    fill_normal_cpu(eps.data(), n, SeededNoise::step_seed(11, 0), 0.f, 1.f);
    double md = 0, mean = 0, var = 0;
    for (long long i = 0; i < n; ++i) {
      const float a = x0[i] - 1.0f * v[i];
      const float want = 0.25f * a + 0.75f * eps[i];
      md = std::max(md, (double)std::fabs(x[i] - want));
      mean += eps[i];
    }
    mean /= n;
    for (long long i = 0; i < n; ++i) var += (eps[i] - mean) * (eps[i] - mean);
    within("stochastic euler step 0 vs (1 - s')(x - s v) + s' eps", md, 0);
    truth("seeded noise is standard normal (mean, var)", std::fabs(mean) < 0.05 && std::fabs(var / n - 1) < 0.06,
          std::to_string(mean) + " " + std::to_string(var / n));
  }
  const auto a = run(5), b = run(5), c = run(6);
  truth("stochastic euler: a seed repeats", a == b);
  truth("stochastic euler: another seed differs", a != c);
  // Through the loop: without a caller's source each stream draws its own seeded noise.
  ConstModelForNoise m;
  std::vector<float> p = x0, q = x0;
  std::vector<DenoiseStream> st(2);
  st[0].name = "video", st[0].x = p.data(), st[0].n = n;
  st[1].name = "sound", st[1].x = q.data(), st[1].n = n;
  DenoiseRequest req{cfg, sch, 1.0f};
  req.noise_seed = 3;
  std::atomic<bool> no{false};
  denoise(m, dev, st, req, no, nullptr);
  std::vector<float> p2 = x0, q2 = x0;
  st[0].x = p2.data(), st[1].x = q2.data();
  denoise(m, dev, st, req, no, nullptr);
  truth("loop: seeded stochastic run repeats", p == p2 && q == q2);
  truth("loop: each stream draws its own noise", p != q);
}

// Distilled checkpoints: the committed cosmos3-tiny-distilled scheduler config (the converter's FlowMatchEuler with
// fixed_step_sampler_config) parses, a run without explicit sigmas is refused, the distilled sigmas run as given;
// the loop with the caller's per-step noise (GivenNoise) and re-anchoring follows
// x <- (1 - s')(x - s v) + s' eps step by step, the clean frame back at its latents after every step.
static void test_distilled(const std::string& root) {
  const std::string path = root + "/test/fixtures/cosmos3-tiny-distilled/scheduler/scheduler_config.json";
  const FlowSchedulerConfig cfg = FlowSchedulerConfig::from_json(read_text(path));
  truth("distilled scheduler: FlowMatchEuler, stochastic, explicit sigmas required",
        cfg.kind == FlowSchedulerKind::FlowMatchEuler && cfg.stochastic_sampling && cfg.requires_explicit_sigmas);
  truth("distilled scheduler: fixed_step_sampler_config.t_list read",
        cfg.fixed_step_sigmas == std::vector<double>{0.999, 0.75, 0.5, 0.25});
  std::string msg = error_of([&] {
    ScheduleOverrides four;
    four.steps = 4;
    make_flow_schedule(cfg, four);
  });
  truth("distilled scheduler without sigmas refused, naming distilled_sigmas",
        msg.find("distilled_sigmas") != std::string::npos && msg.find("sigmas") == 0, msg);
  ScheduleOverrides o;
  o.sigmas = cfg.fixed_step_sigmas;
  const FlowSchedule sch = make_flow_schedule(cfg, o);
  bool same = sch.steps() == 4 && sch.sigmas.back() == 0.f;
  for (int i = 0; same && i < 4; ++i)
    same = sch.sigmas[i] == (float)cfg.fixed_step_sigmas[i] && sch.timesteps[i] == sch.sigmas[i] * 1000.f;
  truth("distilled schedule: the sigmas as float32 (shift 1), timesteps f32 sigma * 1000, final 0", same);
  for (const char* bad_cfg : {R"({"_class_name": "FlowMatchEulerDiscreteScheduler",
          "fixed_step_sampler_config": {"t_list": [1.5], "sample_type": "sde"}})",
                              R"({"_class_name": "FlowMatchEulerDiscreteScheduler",
          "fixed_step_sampler_config": {"t_list": [0.5], "sample_type": "euler"}})",
                              R"({"_class_name": "FlowMatchEulerDiscreteScheduler",
          "fixed_step_sampler_config": {"t_list": [0.5], "steps": 4}})"}) {
    msg = error_of([&] { FlowSchedulerConfig::from_json(bad_cfg); });
    truth("bad fixed_step_sampler_config named", msg.find("fixed_step_sampler_config") != std::string::npos, msg);
  }

  // The loop: [C=2, T=3, HW=4], frame 0 conditioned and re-anchored, constant velocity, the caller's noise.
  CpuLatentDevice dev;
  std::atomic<bool> no{false};
  ConstModel m;
  const long long n = 24;
  std::vector<float> eps((size_t)n * 4), clean(n), x(n);
  for (long long i = 0; i < n * 4; ++i) eps[i] = std::sin(0.7f * i + 0.3f);
  for (long long i = 0; i < n; ++i) clean[i] = 0.05f * i - 0.4f, x[i] = std::cos(0.3f * i);
  for (int c = 0; c < 2; ++c)
    for (int p = 0; p < 4; ++p) x[(c * 3 + 0) * 4 + p] = clean[(c * 3 + 0) * 4 + p];
  std::vector<float> want = x, loose = x;
  for (int i = 0; i < 4; ++i)
    for (long long k = 0; k < n; ++k) {
      const bool cond = (k / 4) % 3 == 0;
      const float v = cond ? 0.f : m.c_cond;  // the velocity is zeroed at the conditioned frame
      const float x0 = want[k] - sch.sigmas[i] * v;
      want[k] = cond ? clean[k] : (1.0f - sch.sigmas[i + 1]) * x0 + sch.sigmas[i + 1] * eps[i * n + k];
    }
  for (bool reanchor : {true, false}) {
    std::vector<float>& out = reanchor ? x : loose;
    GivenNoise noise(dev, eps.data(), n, 4);
    std::vector<DenoiseStream> st(1);
    st[0].name = "video", st[0].x = out.data(), st[0].n = n;
    st[0].conditioned = {RowSpan{2, 3, 4, 0, 1}};
    if (reanchor) st[0].reanchor = clean.data();
    DenoiseRequest req{cfg, sch, 1.0f};
    req.noise = {&noise};
    denoise(m, dev, st, req, no, nullptr);
  }
  double md = 0;
  for (long long k = 0; k < n; ++k) md = std::max(md, (double)std::fabs(x[k] - want[k]));
  within("distilled loop (given noise, re-anchored) vs step-by-step formula", md, 1e-6);
  bool anchored = true, drifted = false;
  for (long long k = 0; k < n; ++k)
    if ((k / 4) % 3 == 0) anchored = anchored && x[k] == clean[k], drifted = drifted || loose[k] != clean[k];
  truth("distilled loop: the clean frame equals its latents exactly", anchored);
  truth("distilled loop: without re-anchoring the re-noising moves the clean frame", drifted);
  msg = error_of([&] {
    GivenNoise noise(dev, eps.data(), n, 2);
    auto s = make_flow_sampler(cfg, sch, dev, n, &noise);
    std::vector<float> y = x, v(n, 0.f);
    for (int i = 0; i < 3; ++i) s->step(i, y.data(), v.data());
  });
  truth("given noise for fewer steps than run: typed error", msg.find("noise for step 2") == 0, msg);
}

int main(int argc, char** argv) {
  const std::string root = argc > 1 ? argv[1] : ".";
  test_schedules();
  test_fixtures(root);
  test_toy_convergence();
  test_loop_semantics();
  test_guidance_interval();
  test_seeded_noise();
  test_distilled(root);
  return print_summary();
}
