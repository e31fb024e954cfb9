// Shared by flow_sampler_cpu_test.cc and flow_sampler_cuda_test.cu: reading diffusers' scheduler traces in
// test/fixtures/cosmos3-tiny-reference/scheduler.json (made by tools/fixtures/make_cosmos3_tiny.py).
#pragma once
#include <string>
#include <vector>

#include "../src/core/json.h"
#include "../src/runtime/flow_schedule.h"

namespace flow_fixture {
using cosmos::Json;
using cosmos::runtime::FlowSchedulerConfig;
using cosmos::runtime::ScheduleOverrides;

inline std::vector<double> nums(const Json& a) {
  std::vector<double> v;
  for (auto& e : a.arr) v.push_back(e.num);
  return v;
}
// A config dict of the fixture with the class name diffusers would have saved.
inline FlowSchedulerConfig fixture_config(const Json& cfg, bool euler) {
  Json c = cfg;
  Json name;
  name.type = Json::Type::String;
  name.str = euler ? "FlowMatchEulerDiscreteScheduler" : "UniPCMultistepScheduler";
  c.obj.push_back({"_class_name", name});
  return FlowSchedulerConfig::from_json_value(c);
}
// Traces named "flow*" ran FlowMatchEulerDiscreteScheduler and carry their config; the others ran UniPC with one of
// the fixture's configs, named.
inline bool is_euler_trace(const std::string& name) { return name.rfind("flow", 0) == 0; }
inline FlowSchedulerConfig trace_config(const Json& trace, const Json& configs, bool euler) {
  return euler ? fixture_config(*trace.get("config"), true)
               : fixture_config(*configs.get(trace.get("config")->str), false);
}
// The set_timesteps arguments a trace was recorded with: explicit sigmas or a step count.
inline ScheduleOverrides trace_overrides(const Json& trace, bool euler) {
  ScheduleOverrides o;
  if (euler) {
    const Json& st = *trace.get("set_timesteps");
    if (const Json* sg = st.get("sigmas"))
      o.sigmas = nums(*sg);
    else
      o.steps = (int)st.get("num_inference_steps")->i64;
  } else {
    o.steps = (int)trace.get("steps")->i64;
  }
  return o;
}

}  // namespace flow_fixture
