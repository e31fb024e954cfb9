// The flow samplers and the denoising loop (native/src/runtime) on the GPU: CudaLatentDevice against
// CpuLatentDevice and diffusers' 5-step traces (test/fixtures/cosmos3-tiny-reference/scheduler.*). The
// samplers are lincomb / set_rows / copies only, both bitwise equal to their CPU twins, so every UniPC and
// deterministic Euler trace must equal the CPU run bit for bit (and the fixture within 1e-5); the seeded
// stochastic Euler shares fill_normal's numbers (double Box-Muller, so within 1e-6 rather than bitwise); the
// loop with CFG, masks, re-anchoring and two streams equals the CPU loop bitwise. One row per case, exit 1 on
// any FAIL. Build: native/test/build_ops_test.sh; run on a GPU:
//   native/build/ops_test/flow_sampler_cuda_test <repo root>
#include <cuda_runtime.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "../src/core/cuda_common.h"
#include "../src/core/cuda_pool.h"
#include "../src/runtime/denoise_loop.h"
#include "../src/runtime/flow_sampler.h"
#include "../src/runtime/flow_schedule.h"
#include "../src/runtime/latent_device_cuda.h"
#include "../src/safetensors/safetensors.h"
#include "flow_fixture.h"
#include "test_util.h"

using namespace cosmos;
using namespace cosmos::runtime;
using namespace flow_fixture;

namespace {
int failures = 0;

void row(const std::string& what, double diff, double tol) {
  const bool ok = diff <= tol;
  if (!ok) ++failures;
  std::printf("| %-58s | %10.3e | %7.0e | %s |\n", what.c_str(), diff, tol, ok ? "PASS" : "FAIL");
}
double max_diff(const std::vector<float>& a, const std::vector<float>& b) {
  double m = a.size() == b.size() ? 0 : 1e30;
  for (size_t i = 0; i < std::min(a.size(), b.size()); ++i) {
    const double d = std::fabs((double)a[i] - b[i]);
    m = std::max(m, d == d ? d : 1e30);
  }
  return m;
}
// Runs a trace on `dev` (host vectors in, the samples after every step out).
std::vector<std::vector<float>> run_trace(LatentDevice& dev, const FlowSchedulerConfig& cfg, const FlowSchedule& s,
                                          const std::vector<float>& x0, const std::vector<std::vector<float>>& ms,
                                          NoiseSource* noise) {
  const long long n = (long long)x0.size();
  LatentBuffer x(dev, n), m(dev, n);
  dev.upload(x.get(), x0.data(), n);
  auto sampler = make_flow_sampler(cfg, s, dev, n, noise);
  std::vector<std::vector<float>> out;
  for (int k = 0; k < s.steps(); ++k) {
    dev.upload(m.get(), ms[k].data(), n);
    sampler->step(k, x.get(), m.get());
    out.emplace_back(n);
    dev.download(out.back().data(), x.get(), n);
  }
  return out;
}

// v = 0.3 * x - 0.7 (cond) or -0.2 * x + 0.1 (uncond), written on the device with lincomb.
class AffineModel final : public VelocityModel {
 public:
  AffineModel(LatentDevice& dev, long long n) : dev_(dev), ones_(dev, n) {
    std::vector<float> h((size_t)n, 1.f);
    dev.upload(ones_.get(), h.data(), n);
    n_ = n;
  }
  void velocity(const VelocityQuery& q, const std::vector<const float*>& x, const std::vector<float*>& v) override {
    for (size_t k = 0; k < x.size(); ++k) {
      const float* in[2] = {x[k], ones_.get()};
      const float c[2] = {q.conditional ? 0.3f : -0.2f, q.conditional ? -0.7f : 0.1f};
      dev_.lincomb(v[k], in, c, 2, n_);
    }
  }

 private:
  LatentDevice& dev_;
  LatentBuffer ones_;
  long long n_;
};

std::vector<std::vector<float>> run_loop(LatentDevice& dev, const FlowSchedulerConfig& cfg, const FlowSchedule& s,
                                         const std::vector<float>& a0, const std::vector<float>& b0) {
  const long long n = (long long)a0.size();  // [C=8, T=4, HW=n/32]
  LatentBuffer a(dev, n), b(dev, n), clean(dev, n);
  dev.upload(a.get(), a0.data(), n);
  dev.upload(b.get(), b0.data(), n);
  dev.upload(clean.get(), b0.data(), n);
  AffineModel model(dev, n);
  std::vector<DenoiseStream> st(2);
  st[0].name = "video", st[0].x = a.get(), st[0].n = n;
  st[0].conditioned = {RowSpan{8, 4, n / 32, 0, 1}};
  st[1].name = "sound", st[1].x = b.get(), st[1].n = n;
  st[1].conditioned = {RowSpan{8, 4, n / 32, 2, 4}};
  st[1].reanchor = clean.get();
  st[1].zero_after_step = {RowSpan{n / 4, 4, 1, 3, 4}};
  DenoiseRequest req{cfg, s, 6.0f};
  req.noise_seed = 9;
  std::atomic<bool> no{false};
  denoise(model, dev, st, req, no, nullptr);
  std::vector<std::vector<float>> out(2, std::vector<float>((size_t)n));
  dev.download(out[0].data(), a.get(), n);
  dev.download(out[1].data(), b.get(), n);
  return out;
}
}  // namespace

int main(int argc, char** argv) {
  const std::string root = argc > 1 ? argv[1] : ".";
  const std::string dir = root + "/test/fixtures/cosmos3-tiny-reference";
  CudaStream stream;
  CudaPool pool;
  CudaContext ctx{stream.get(), &pool};
  CudaLatentDevice gpu(ctx);
  CpuLatentDevice cpu;
  std::printf("| case | max abs diff | tol | |\n| --- | --- | --- | --- |\n");

  const std::string text = test_util::read_text(dir + "/scheduler.json");
  const Json ref = json_parse(text.data(), text.size());
  auto ck = Checkpoint::open(dir + "/scheduler.safetensors");
  const long long n = 48 * 3 * 4 * 6;
  auto read = [&](const std::string& name) {
    std::vector<float> v((size_t)n);
    ck->read_f32(name, v.data(), (size_t)n);
    return v;
  };
  const std::vector<float> x0 = read("unipc.x.0");
  std::vector<std::vector<float>> ms;
  for (int k = 0; k < 5; ++k) ms.push_back(read("unipc.m." + std::to_string(k)));
  const Json& traces = *ref.get("traces");
  for (const char* name : {"unipc", "unipc_shift3", "unipc_karras", "flow", "flow_sigmas"}) {
    const Json& t = *traces.get(name);
    const bool euler = is_euler_trace(name);
    const FlowSchedulerConfig cfg = trace_config(t, *ref.get("configs"), euler);
    const FlowSchedule s = make_flow_schedule(cfg, trace_overrides(t, euler));
    const auto on_gpu = run_trace(gpu, cfg, s, x0, ms, nullptr);
    const auto on_cpu = run_trace(cpu, cfg, s, x0, ms, nullptr);
    double vs_cpu = 0, vs_ref = 0;
    for (int k = 0; k < s.steps(); ++k) {
      vs_cpu = std::max(vs_cpu, max_diff(on_gpu[k], on_cpu[k]));
      vs_ref = std::max(vs_ref, max_diff(on_gpu[k], read(std::string(name) + ".x." + std::to_string(k + 1))));
    }
    row(std::string(name) + ": GPU == CPU every step (bitwise)", vs_cpu, 0);
    row(std::string(name) + ": GPU vs diffusers every step", vs_ref, 1e-5);
  }
  {
    auto cfg = FlowSchedulerConfig::from_json(
        R"({"_class_name": "FlowMatchEulerDiscreteScheduler", "stochastic_sampling": true})");
    ScheduleOverrides o;
    o.sigmas = {1.0, 0.75, 0.5, 0.25};
    const FlowSchedule s = make_flow_schedule(cfg, o);
    SeededNoise ng(gpu, 77), nc(cpu, 77);
    const auto on_gpu = run_trace(gpu, cfg, s, x0, ms, &ng), on_cpu = run_trace(cpu, cfg, s, x0, ms, &nc);
    double d = 0;
    for (int k = 0; k < s.steps(); ++k) d = std::max(d, max_diff(on_gpu[k], on_cpu[k]));
    row("stochastic euler, seeded noise: GPU vs CPU", d, 1e-6);
  }
  {
    const long long m = 8 * 4 * 50;
    std::vector<float> a0((size_t)m), b0((size_t)m);
    for (long long i = 0; i < m; ++i) a0[i] = std::sin(0.37f * i), b0[i] = std::cos(0.11f * i);
    auto unipc = fixture_config(*ref.get("configs")->get("unipc_video_shift10"), false);
    ScheduleOverrides o;
    o.steps = 12;
    const auto s = make_flow_schedule(unipc, o);
    const auto g = run_loop(gpu, unipc, s, a0, b0), c = run_loop(cpu, unipc, s, a0, b0);
    row("loop (UniPC, CFG 6, masks, re-anchor, 2 streams): GPU == CPU",
        std::max(max_diff(g[0], c[0]), max_diff(g[1], c[1])), 0);
  }
  CUDA_CHECK(cudaStreamSynchronize(stream.get()));
  std::printf("\npool: in use %zu B after the runs (latent buffers returned)\n", pool.bytes_in_use());
  if (pool.bytes_in_use() != 0) ++failures;
  std::printf("%s: %d failing case(s)\n", failures ? "FAIL" : "OK", failures);
  return failures ? 1 : 0;
}
