// Cosmos 3 MoT transformer: CUDA (Cosmos3TransformerCuda) vs CPU (Cosmos3Transformer) vs diffusers.
//   * the cosmos3-tiny fixture's 9 transformer cases (test/fixtures/cosmos3-tiny-reference): CUDA with f32
//     weights through prefill_text + forward_gen vs diffusers' outputs and vs the CPU model (<= 1e-4 abs);
//     with bf16 weights vs the CPU model (<= 3% of the outputs' max |value|: bf16 rounding of weights and GEMM inputs)
//   * the text cache reused: a second forward_gen over the same cache gives identical outputs
//   * random weights with the Edge switches (relu2, qk_norm_for_text false, use_und_k_norm_for_gen, attention
//     biases) and a vision-only config: CUDA f32 vs CPU from the same seed (<= 1e-4)
//   * memory: freeing the text caches gives their pool bytes back
// Usage: cosmos3_transformer_cuda_test [repo root] (default: .). Exit 1 on failure.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <string>
#include <vector>

#include "../src/models/cosmos3_transformer.h"
#include "../src/models/cosmos3_transformer_cuda.h"
#include "cosmos3_test_inputs.h"

using namespace cosmos;
using namespace cosmos3_test;

static int fails = 0;

static double max_diff(const std::vector<float>& a, const std::vector<float>& b) {
  if (a.size() != b.size()) return INFINITY;
  double m = 0;
  for (size_t i = 0; i < a.size(); ++i) m = std::max(m, (double)std::fabs(a[i] - b[i]));
  return std::isnan(m) ? INFINITY : m;
}
static double max_abs(const std::vector<float>& a) {
  double m = 0;
  for (float v : a) m = std::max(m, (double)std::fabs(v));
  return m;
}
static void report(const std::string& what, double val, double tol) {
  const bool ok = val <= tol;
  if (!ok) ++fails;
  std::printf("  %-64s %12.3e  %s\n", what.c_str(), val, ok ? "PASS" : "FAIL");
}

struct Out {
  std::vector<float> vision, sound, action;
  Cosmos3GenOutputs o;
  Out(size_t nv, size_t ns, size_t na) : vision(nv), sound(ns), action(na) {
    o = Cosmos3GenOutputs{vision.data(), sound.empty() ? nullptr : sound.data(), action.empty() ? nullptr : action.data()};
  }
};

static Out run_cpu(Cosmos3Transformer& m, const std::vector<int>& ids, const std::vector<float>& text_pos,
                   const Cosmos3GenInputs& in, size_t nv, size_t ns, size_t na) {
  Out o(nv, ns, na);
  const Cosmos3UndCache cache = m.prefill_text(ids.data(), (int)ids.size(), text_pos.data());
  m.forward_gen(cache, in, o.o);
  return o;
}
static Out run_cuda(Cosmos3TransformerCuda& m, const std::vector<int>& ids, const std::vector<float>& text_pos,
                    const Cosmos3GenInputs& in, size_t nv, size_t ns, size_t na) {
  Out o(nv, ns, na);
  const Cosmos3UndCacheCuda cache = m.prefill_text(ids.data(), (int)ids.size(), text_pos.data());
  m.forward_gen(cache, in, o.o);
  return o;
}

static void fixture(const std::string& root) {
  const std::string ref_dir = root + "/test/fixtures/cosmos3-tiny-reference";
  const std::vector<std::string> cases = fixture_case_names(ref_dir + "/reference.json");
  if (cases.empty()) {
    std::printf("fixture: %s/reference.json not found\n", ref_dir.c_str());
    ++fails;
    return;
  }
  const std::string tr_dir = root + "/test/fixtures/cosmos3-tiny/transformer";
  const Cosmos3TransformerConfig c = Cosmos3TransformerConfig::from_json(slurp(tr_dir + "/config.json"));
  auto ck = Checkpoint::open(tr_dir);
  auto cpu = Cosmos3Transformer::load(*ck, c);
  auto f32 = Cosmos3TransformerCuda::load(*ck, c, WType::F32);
  auto bf16 = Cosmos3TransformerCuda::load(*ck, c, WType::BF16);
  SafetensorsFile file(ref_dir + "/transformer.safetensors");
  std::printf("fixture: %zu cases\n", cases.size());
  for (const std::string& name : cases) {
    FixtureCase fc(file, name);
    if (!fc.problem.empty()) {
      std::printf("  %s: %s  FAIL\n", name.c_str(), fc.problem.c_str());
      ++fails;
      continue;
    }
    const size_t nv = fc.latents.size(), ns = fc.sound.size(), na = fc.action.size();
    const Out oc = run_cpu(*cpu, fc.ids, fc.text_pos, fc.in, nv, ns, na);
    const Out og = run_cuda(*f32, fc.ids, fc.text_pos, fc.in, nv, ns, na);
    const Out ob = run_cuda(*bf16, fc.ids, fc.text_pos, fc.in, nv, ns, na);
    report(name + ": cuda f32 vision vs diffusers", max_diff(og.vision, fc.want_vision), 1e-4);
    report(name + ": cuda f32 vision vs cpu", max_diff(og.vision, oc.vision), 1e-4);
    if (ns) report(name + ": cuda f32 sound vs diffusers", max_diff(og.sound, fc.want_sound), 1e-4);
    if (na) report(name + ": cuda f32 action vs diffusers", max_diff(og.action, fc.want_action), 1e-4);
    report(name + ": cuda bf16 vision vs cpu (tol 3% of max |cpu|)", max_diff(ob.vision, oc.vision),
           0.03 * std::max(max_abs(oc.vision), 1e-3));
    if (na) report(name + ": cuda bf16 action vs cpu (tol 3% of max |cpu|)", max_diff(ob.action, oc.action),
                   0.03 * std::max(max_abs(oc.action), 1e-3));
  }
  // One text cache, two steps: the cache is only read.
  FixtureCase fc(file, cases[0]);
  const size_t before = f32->pool().bytes_in_use();
  {
    const Cosmos3UndCacheCuda cache = f32->prefill_text(fc.ids.data(), (int)fc.ids.size(), fc.text_pos.data());
    Out a(fc.latents.size(), fc.sound.size(), fc.action.size()), b(fc.latents.size(), fc.sound.size(), fc.action.size());
    f32->forward_gen(cache, fc.in, a.o);
    f32->forward_gen(cache, fc.in, b.o);
    report(cases[0] + ": second step over the same cache (bitwise)", max_diff(a.vision, b.vision), 0);
  }
  report("text cache freed: pool bytes in use back to before (bytes)",
         std::fabs((double)f32->pool().bytes_in_use() - (double)before), 0);
}

static void random_config(const std::string& name, const Cosmos3TransformerConfig& c, uint64_t seed) {
  auto cpu = Cosmos3Transformer::random(c, seed, 0.15f);
  auto gpu = Cosmos3TransformerCuda::random(c, WType::F32, seed, 0.15f);
  Request r(c, 7, 3, 5, 4, c.sound_gen, c.action_gen, 937.f);
  const size_t nv = r.latents.size(), ns = r.sound.size(), na = r.action.size();
  const Out oc = run_cpu(*cpu, r.ids, r.text_pos, r.in, nv, ns, na);
  const Out og = run_cuda(*gpu, r.ids, r.text_pos, r.in, nv, ns, na);
  report(name + ": cuda f32 vision vs cpu (random weights)", max_diff(og.vision, oc.vision), 1e-4);
  if (ns) report(name + ": cuda f32 sound vs cpu", max_diff(og.sound, oc.sound), 1e-4);
  if (na) report(name + ": cuda f32 action vs cpu", max_diff(og.action, oc.action), 1e-4);
  report(name + ": outputs not all zero (1 / max |vision|)", 1.0 / std::max(max_abs(oc.vision), 1e-30), 1e3);
}

int main(int argc, char** argv) {
  const std::string root = argc > 1 ? argv[1] : ".";
  try {
    fixture(root);
    Cosmos3TransformerConfig edge = tiny_config();
    edge.relu2 = true;
    edge.qk_norm_for_text = false;
    edge.use_und_k_norm_for_gen = true;
    edge.attention_bias = true;
    random_config("edge", edge, 22);
    Cosmos3TransformerConfig vision_only = tiny_config();
    vision_only.sound_gen = vision_only.action_gen = false;
    random_config("vision_only", vision_only, 23);
  } catch (const std::exception& e) {
    std::printf("error: %s\n", e.what());
    ++fails;
  }
  std::printf("%s: %d failing check(s)\n", fails ? "FAIL" : "OK", fails);
  return fails ? 1 : 0;
}
