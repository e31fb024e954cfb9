#include "flow_schedule.h"

#include <cmath>
#include <cstdint>
#include <functional>
#include <map>

#include "../core/config.h"
#include "../core/errors.h"

namespace cosmos::runtime {

namespace {

const char* kUniPC = "UniPCMultistepScheduler";
const char* kEuler = "FlowMatchEulerDiscreteScheduler";

[[noreturn]] void bad(const std::string& key, const std::string& supported) {
  throw ModelError("scheduler_config." + key + ": supported " + supported);
}
bool get_bool(const Json& v, const std::string& key) {
  if (v.type != Json::Type::Bool) bad(key, "true or false");
  return v.b;
}
void require_bool(const Json& v, const std::string& key, bool only) {
  if (get_bool(v, key) != only) bad(key, only ? "true only" : "false only");
}
double get_number(const Json& v, const std::string& key) {
  if (!v.is_num() || !std::isfinite(v.num)) bad(key, "a finite number");
  return v.num;
}
std::optional<double> get_optional_number(const Json& v, const std::string& key) {
  if (v.type == Json::Type::Null) return std::nullopt;
  if (!v.is_num() || !std::isfinite(v.num)) bad(key, "a finite number or null");
  return v.num;
}
void require_null(const Json& v, const std::string& key) {
  if (v.type != Json::Type::Null) bad(key, "null only");
}
std::string get_choice(const Json& v, const std::string& key, const std::vector<std::string>& choices) {
  std::string list;
  for (auto& c : choices) list += (list.empty() ? "" : ", ") + ("\"" + c + "\"");
  if (!v.is_str()) bad(key, "one of " + list);
  for (auto& c : choices)
    if (v.str == c) return c;
  bad(key, "one of " + list);
}
void any_number(const Json& v, const std::string& key) { get_optional_number(v, key); }
void any_int(const Json& v, const std::string& key) {
  if (!v.is_num() || !v.is_integer) bad(key, "an integer");
}

using Reader = std::function<void(const Json&, const std::string&, FlowSchedulerConfig&)>;

// { "t_list": [sigma, ...], "sample_type": "sde" | "ode" }: the distilled schedule (descending sigmas in [0, 1]);
// the sampler follows stochastic_sampling, which the converter derives from sample_type.
void read_fixed_step_config(const Json& v, const std::string& k, FlowSchedulerConfig& c) {
  if (!v.is_obj()) bad(k, "an object { t_list, sample_type }");
  for (const auto& kv : v.obj) {
    if (kv.first == "t_list") {
      if (!kv.second.is_arr() || kv.second.arr.empty()) bad(k + ".t_list", "a non-empty list of sigmas in [0, 1]");
      c.fixed_step_sigmas.clear();
      for (const Json& e : kv.second.arr) {
        if (!e.is_num() || !(e.num >= 0.0 && e.num <= 1.0)) bad(k + ".t_list", "a non-empty list of sigmas in [0, 1]");
        c.fixed_step_sigmas.push_back(e.num);
      }
    } else if (kv.first == "sample_type") {
      get_choice(kv.second, k + ".sample_type", {"sde", "ode"});
    } else {
      bad(k + "." + kv.first, "t_list and sample_type only");
    }
  }
}

// Settings that only matter to the VP (beta) schedules or to dynamic shifting are accepted and ignored:
// with use_flow_sigmas the betas never reach the sigmas (the Karras range comes from sigma_min / sigma_max).
std::map<std::string, Reader> unipc_readers() {
  return {
      {"num_train_timesteps",
       [](const Json& v, const std::string& k, FlowSchedulerConfig& c) {
         if (!v.is_integer || v.i64 < 1 || v.i64 > (1 << 30)) bad(k, "a positive integer");
         c.num_train_timesteps = (int)v.i64;
       }},
      {"beta_start", [](const Json& v, const std::string& k, FlowSchedulerConfig&) { any_number(v, k); }},
      {"beta_end", [](const Json& v, const std::string& k, FlowSchedulerConfig&) { any_number(v, k); }},
      {"beta_schedule",
       [](const Json& v, const std::string& k, FlowSchedulerConfig&) {
         get_choice(v, k, {"linear", "scaled_linear", "squaredcos_cap_v2"});
       }},
      {"trained_betas", [](const Json& v, const std::string& k, FlowSchedulerConfig&) { require_null(v, k); }},
      {"solver_order",
       [](const Json& v, const std::string& k, FlowSchedulerConfig& c) {
         if (!v.is_integer || v.i64 < 1 || v.i64 > 3) bad(k, "1, 2 or 3");
         c.solver_order = (int)v.i64;
       }},
      {"prediction_type",
       [](const Json& v, const std::string& k, FlowSchedulerConfig&) { get_choice(v, k, {"flow_prediction"}); }},
      {"thresholding", [](const Json& v, const std::string& k, FlowSchedulerConfig&) { require_bool(v, k, false); }},
      {"dynamic_thresholding_ratio",
       [](const Json& v, const std::string& k, FlowSchedulerConfig&) { any_number(v, k); }},
      {"sample_max_value", [](const Json& v, const std::string& k, FlowSchedulerConfig&) { any_number(v, k); }},
      {"predict_x0", [](const Json& v, const std::string& k, FlowSchedulerConfig&) { require_bool(v, k, true); }},
      {"solver_type",
       [](const Json& v, const std::string& k, FlowSchedulerConfig& c) {
         // diffusers registers midpoint / heun / logrho as bh2.
         c.bh2 = get_choice(v, k, {"bh1", "bh2", "midpoint", "heun", "logrho"}) != "bh1";
       }},
      {"lower_order_final",
       [](const Json& v, const std::string& k, FlowSchedulerConfig& c) { c.lower_order_final = get_bool(v, k); }},
      {"disable_corrector",
       [](const Json& v, const std::string& k, FlowSchedulerConfig& c) {
         if (!v.is_arr()) bad(k, "a list of step indexes");
         c.disable_corrector.clear();
         for (auto& e : v.arr) {
           if (!e.is_integer || e.i64 < 0 || e.i64 > (1 << 30)) bad(k, "a list of step indexes");
           c.disable_corrector.push_back((int)e.i64);
         }
       }},
      {"solver_p", [](const Json& v, const std::string& k, FlowSchedulerConfig&) { require_null(v, k); }},
      {"use_karras_sigmas",
       [](const Json& v, const std::string& k, FlowSchedulerConfig& c) { c.use_karras_sigmas = get_bool(v, k); }},
      {"use_exponential_sigmas",
       [](const Json& v, const std::string& k, FlowSchedulerConfig&) { require_bool(v, k, false); }},
      {"use_beta_sigmas", [](const Json& v, const std::string& k, FlowSchedulerConfig&) { require_bool(v, k, false); }},
      {"use_flow_sigmas", [](const Json& v, const std::string& k, FlowSchedulerConfig&) { require_bool(v, k, true); }},
      {"flow_shift",
       [](const Json& v, const std::string& k, FlowSchedulerConfig& c) {
         c.shift = get_number(v, k);
         if (!(c.shift > 0)) bad(k, "a number > 0");
       }},
      {"timestep_spacing",
       [](const Json& v, const std::string& k, FlowSchedulerConfig&) {
         get_choice(v, k, {"linspace", "leading", "trailing"});
       }},
      {"steps_offset", [](const Json& v, const std::string& k, FlowSchedulerConfig&) { any_int(v, k); }},
      {"final_sigmas_type",
       [](const Json& v, const std::string& k, FlowSchedulerConfig& c) {
         c.final_sigma_zero = get_choice(v, k, {"zero", "sigma_min"}) == "zero";
       }},
      {"rescale_betas_zero_snr", [](const Json& v, const std::string& k, FlowSchedulerConfig&) { get_bool(v, k); }},
      {"use_dynamic_shifting",
       [](const Json& v, const std::string& k, FlowSchedulerConfig&) { require_bool(v, k, false); }},
      {"time_shift_type",
       [](const Json& v, const std::string& k, FlowSchedulerConfig&) { get_choice(v, k, {"exponential"}); }},
      {"sigma_min",
       [](const Json& v, const std::string& k, FlowSchedulerConfig& c) { c.sigma_min = get_optional_number(v, k); }},
      {"sigma_max",
       [](const Json& v, const std::string& k, FlowSchedulerConfig& c) { c.sigma_max = get_optional_number(v, k); }},
      {"shift_terminal", [](const Json& v, const std::string& k,
                            FlowSchedulerConfig& c) { c.shift_terminal = get_optional_number(v, k); }},
  };
}

std::map<std::string, Reader> euler_readers() {
  return {
      {"num_train_timesteps",
       [](const Json& v, const std::string& k, FlowSchedulerConfig& c) {
         if (!v.is_integer || v.i64 < 1 || v.i64 > (1 << 30)) bad(k, "a positive integer");
         c.num_train_timesteps = (int)v.i64;
       }},
      {"shift",
       [](const Json& v, const std::string& k, FlowSchedulerConfig& c) {
         c.shift = get_number(v, k);
         if (!(c.shift > 0)) bad(k, "a number > 0");
       }},
      {"use_dynamic_shifting",
       [](const Json& v, const std::string& k, FlowSchedulerConfig&) { require_bool(v, k, false); }},
      {"base_shift", [](const Json& v, const std::string& k, FlowSchedulerConfig&) { any_number(v, k); }},
      {"max_shift", [](const Json& v, const std::string& k, FlowSchedulerConfig&) { any_number(v, k); }},
      {"base_image_seq_len", [](const Json& v, const std::string& k, FlowSchedulerConfig&) { any_int(v, k); }},
      {"max_image_seq_len", [](const Json& v, const std::string& k, FlowSchedulerConfig&) { any_int(v, k); }},
      {"invert_sigmas", [](const Json& v, const std::string& k, FlowSchedulerConfig&) { require_bool(v, k, false); }},
      {"shift_terminal", [](const Json& v, const std::string& k,
                            FlowSchedulerConfig& c) { c.shift_terminal = get_optional_number(v, k); }},
      {"use_karras_sigmas",
       [](const Json& v, const std::string& k, FlowSchedulerConfig&) { require_bool(v, k, false); }},
      {"use_exponential_sigmas",
       [](const Json& v, const std::string& k, FlowSchedulerConfig&) { require_bool(v, k, false); }},
      {"use_beta_sigmas", [](const Json& v, const std::string& k, FlowSchedulerConfig&) { require_bool(v, k, false); }},
      {"time_shift_type",
       [](const Json& v, const std::string& k, FlowSchedulerConfig&) {
         get_choice(v, k, {"exponential", "linear"});
       }},
      {"stochastic_sampling",
       [](const Json& v, const std::string& k, FlowSchedulerConfig& c) { c.stochastic_sampling = get_bool(v, k); }},
      {"fixed_step_sampler_config", read_fixed_step_config},
      {"fixed_step_requires_explicit_sigmas",
       [](const Json& v, const std::string& k, FlowSchedulerConfig& c) {
         c.requires_explicit_sigmas = get_bool(v, k);
       }},
  };
}

// Python's truthiness of shift_terminal (None and 0.0 both leave the schedule alone).
bool has_terminal(const std::optional<double>& st) { return st && *st != 0.0; }

}  // namespace

FlowSchedulerConfig FlowSchedulerConfig::from_json(const std::string& text) {
  return from_json_value(parse_config_object(text));
}

FlowSchedulerConfig FlowSchedulerConfig::from_json_value(const Json& root) {
  if (!root.is_obj()) throw ModelError("scheduler_config: not a JSON object");
  const Json* cls = root.get("_class_name");
  if (!cls) bad("_class_name", std::string("\"") + kUniPC + "\" or \"" + kEuler + "\" (missing)");
  const std::string name = get_choice(*cls, "_class_name", {kUniPC, kEuler});
  FlowSchedulerConfig c;
  c.kind = name == kUniPC ? FlowSchedulerKind::UniPC : FlowSchedulerKind::FlowMatchEuler;
  const auto readers = c.kind == FlowSchedulerKind::UniPC ? unipc_readers() : euler_readers();
  // diffusers' defaults where a key is absent, except that a UniPC config must say use_flow_sigmas
  // (its default, false, is the VP schedule this engine does not implement) and prediction_type.
  bool saw_flow = false, saw_prediction = false;
  for (const auto& kv : root.obj) {
    if (!kv.first.empty() && kv.first[0] == '_') continue;  // _class_name, _diffusers_version
    auto it = readers.find(kv.first);
    if (it == readers.end()) throw ModelError("scheduler_config." + kv.first + ": unknown setting for " + name);
    it->second(kv.second, kv.first, c);
    saw_flow |= kv.first == "use_flow_sigmas";
    saw_prediction |= kv.first == "prediction_type";
  }
  if (c.kind == FlowSchedulerKind::UniPC) {
    if (!saw_flow) bad("use_flow_sigmas", "true only (missing: diffusers' default false is the VP schedule)");
    if (!saw_prediction) bad("prediction_type", "\"flow_prediction\" only (missing)");
    if (c.use_karras_sigmas && !(c.sigma_min && c.sigma_max))
      bad(c.sigma_min ? "sigma_max" : "sigma_min",
          "a number with use_karras_sigmas (the beta range is not implemented)");
    if (c.shift_terminal && *c.shift_terminal == 1.0) bad("shift_terminal", "a number other than 1, or null");
  }
  return c;
}

std::vector<double> np_linspace(double start, double stop, int num) {
  std::vector<double> y((size_t)std::max(num, 0));
  if (num == 1) y[0] = start;
  if (num < 2) return y;
  const double step = (stop - start) / (double)(num - 1);
  for (int i = 0; i < num; ++i) y[i] = (double)i * step + start;
  y[num - 1] = stop;
  return y;
}

namespace {

void check_sigmas(const std::vector<double>& s) {
  for (double v : s)
    if (!(v >= 0.0 && v <= 1.0)) throw ModelError("sigmas: each must be in [0, 1]");
}

// stretch_shift_to_terminal, in the precision of the array it is given.
template <typename T>
void stretch_to_terminal(std::vector<T>& s, double terminal) {
  std::vector<T> one_minus(s.size());
  for (size_t i = 0; i < s.size(); ++i) one_minus[i] = (T)1 - s[i];
  const T scale = one_minus.back() / (T)(1 - terminal);
  for (size_t i = 0; i < s.size(); ++i) s[i] = (T)1 - one_minus[i] / scale;
}

FlowSchedule unipc_schedule(const FlowSchedulerConfig& cfg, const ScheduleOverrides& o, int n, double shift) {
  const int T = cfg.num_train_timesteps;
  const bool karras = o.use_karras_sigmas.value_or(cfg.use_karras_sigmas);
  std::vector<double> s;
  if (karras) {
    if (!(cfg.sigma_min && cfg.sigma_max))
      throw ModelError("scheduler_config.sigma_min / sigma_max: needed for use_karras_sigmas");
    // _convert_to_karras with the config's range (caller sigmas only set the count), then s / (s + 1).
    const double rho = 7.0;
    const std::vector<double> ramp = np_linspace(0.0, 1.0, n);
    const double min_inv = std::pow(*cfg.sigma_min, 1.0 / rho), max_inv = std::pow(*cfg.sigma_max, 1.0 / rho);
    s.resize(n);
    for (int i = 0; i < n; ++i) {
      const double k = std::pow(max_inv + ramp[i] * (min_inv - max_inv), rho);
      s[i] = k / (k + 1.0);
    }
  } else {
    s = o.sigmas.empty() ? np_linspace(1.0, 1.0 / T, n + 1) : o.sigmas;
    s.resize(n);
    for (double& v : s) v = shift * v / (1.0 + (shift - 1.0) * v);
    if (has_terminal(cfg.shift_terminal)) stretch_to_terminal(s, *cfg.shift_terminal);
    // diffusers: keeps log(alpha) finite in the first UniPC updates.
    if (std::fabs(s[0] - 1.0) < 1e-6) s[0] -= 1e-6;
  }
  FlowSchedule out;
  out.timesteps.resize(n);
  // torch.from_numpy(float64).to(int64): truncation toward zero.
  for (int i = 0; i < n; ++i) out.timesteps[i] = (float)(int64_t)(s[i] * (double)T);
  out.sigmas.resize(n + 1);
  for (int i = 0; i < n; ++i) out.sigmas[i] = (float)s[i];
  out.sigmas[n] = cfg.final_sigma_zero ? 0.f : (float)s[n - 1];
  return out;
}

FlowSchedule euler_schedule(const FlowSchedulerConfig& cfg, const ScheduleOverrides& o, int n, double shift) {
  const int T = cfg.num_train_timesteps;
  std::vector<float> s32(n);
  if (!o.sigmas.empty()) {
    // np.array(sigmas).astype(float32), then the shift in numpy float32 (the Python scalars become float32).
    const float fshift = (float)shift, fshift_m1 = (float)(shift - 1.0);
    for (int i = 0; i < n; ++i) {
      const float v = (float)o.sigmas[i];
      const float num = fshift * v, den_part = fshift_m1 * v;
      const float den = 1.0f + den_part;
      s32[i] = num / den;
    }
    if (has_terminal(cfg.shift_terminal)) stretch_to_terminal(s32, *cfg.shift_terminal);
  } else {
    // __init__: float32 sigmas (1..T)/T shifted in torch float32 give sigma_max / sigma_min; set_timesteps
    // spaces timesteps between them in float64 and shifts those again.
    const float fshift = (float)shift, fshift_m1 = (float)(shift - 1.0), fT = (float)T;
    auto shifted32 = [&](float ts) {
      const float v = ts / fT;
      const float num = fshift * v, den_part = fshift_m1 * v;
      const float den = 1.0f + den_part;
      return num / den;
    };
    const double sigma_max = shifted32(fT), sigma_min = shifted32(1.0f);
    const std::vector<double> ts = np_linspace(sigma_max * T, sigma_min * T, n);
    std::vector<double> s(n);
    for (int i = 0; i < n; ++i) {
      const double v = ts[i] / T;
      s[i] = shift * v / (1.0 + (shift - 1.0) * v);
    }
    if (has_terminal(cfg.shift_terminal)) stretch_to_terminal(s, *cfg.shift_terminal);
    for (int i = 0; i < n; ++i) s32[i] = (float)s[i];
  }
  FlowSchedule out;
  out.sigmas = s32;
  out.sigmas.push_back(0.f);
  out.timesteps.resize(n);
  for (int i = 0; i < n; ++i) out.timesteps[i] = s32[i] * (float)T;  // torch float32
  return out;
}

}  // namespace

FlowSchedule make_flow_schedule(const FlowSchedulerConfig& cfg, const ScheduleOverrides& o) {
  int n = o.steps;
  if (!o.sigmas.empty()) {
    if (n != 0 && n != (int)o.sigmas.size())
      throw ModelError("steps: " + std::to_string(n) + " disagrees with the " + std::to_string(o.sigmas.size()) +
                       " explicit sigmas");
    n = (int)o.sigmas.size();
    check_sigmas(o.sigmas);
  }
  if (cfg.requires_explicit_sigmas && o.sigmas.empty())
    throw ModelError(
        "sigmas: this distilled checkpoint's scheduler (scheduler_config.fixed_step_requires_explicit_sigmas) samples "
        "on fixed sigmas; pass them (modular_model_index.json distilled_sigmas)");
  if (n < 1 || n > 100000) throw ModelError("steps: must be in 1..100000");
  const double shift = o.flow_shift.value_or(cfg.shift);
  if (!(shift > 0) || !std::isfinite(shift)) throw ModelError("flow_shift: must be a finite number > 0");
  return cfg.kind == FlowSchedulerKind::UniPC ? unipc_schedule(cfg, o, n, shift) : euler_schedule(cfg, o, n, shift);
}

}  // namespace cosmos::runtime
