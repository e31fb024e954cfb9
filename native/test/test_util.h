// Shared by the native model test programs (wan_vae, cosmos3_audio, cosmos3_generator, cosmos3_transformer,
// flow_sampler; CPU and CUDA): the check counters, the max |diff| of two buffers, the file and checkpoint readers
// and the one-line JSON summary that test/native/cpu_binaries.test.ts parses. Header-only so that each test stays
// one translation unit; the counters are C++17 inline variables (one per program).
#pragma once
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <exception>
#include <fstream>
#include <map>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "../src/safetensors/safetensors.h"

namespace test_util {

inline int checks = 0, failures = 0;
// The largest error seen per named comparison, reported in the summary.
inline std::map<std::string, double> worst;

// One check: counts it and, when it fails, names it (and why, when given) on stderr.
inline void truth(const std::string& what, bool ok, const std::string& detail = "") {
  ++checks;
  if (!ok) {
    ++failures;
    if (detail.empty())
      std::fprintf(stderr, "%s failed\n", what.c_str());
    else
      std::fprintf(stderr, "%s failed %s\n", what.c_str(), detail.c_str());
  }
}

// Max |a - b|; infinite when the sizes differ or a value is NaN, so that neither passes a tolerance.
inline double max_abs_diff(const std::vector<float>& a, const std::vector<float>& b) {
  if (a.size() != b.size()) return INFINITY;
  double m = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    const double d = std::fabs((double)a[i] - b[i]);
    if (std::isnan(d)) return INFINITY;
    m = std::max(m, d);
  }
  return m;
}

// Max |a - b| / max |b|: the error relative to the reference's largest magnitude (bf16 paths); infinite as above.
inline double max_rel_diff(const std::vector<float>& a, const std::vector<float>& b) {
  double r = 0;
  for (float v : b) r = std::max(r, (double)std::fabs(v));
  return max_abs_diff(a, b) / std::max(r, 1e-30);
}

// The whole file, or "" when it cannot be opened (an absent fixture).
inline std::string read_text(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  if (!f) return "";
  std::stringstream s;
  s << f.rdbuf();
  return s.str();
}

// n draws of N(0, 1) from a generator seeded with seed (the same values on every run and in CPU and CUDA tests).
inline std::vector<float> normal_values(size_t n, unsigned seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> d(0.f, 1.f);
  std::vector<float> v(n);
  for (auto& x : v) x = d(rng);
  return v;
}

// One checkpoint tensor as f32, and its shape when asked.
inline std::vector<float> read_tensor(const cosmos::Checkpoint& ck, const std::string& name,
                                      std::vector<int64_t>* shape = nullptr) {
  const auto& info = ck.info(name);
  if (shape) *shape = info.shape;
  std::vector<float> v((size_t)info.numel());
  ck.read_f32(name, v.data(), v.size());
  return v;
}

// Prints {"checks":..,"failures":..,<extra>"worst":{..}} on one line and returns the exit status (1 on any
// failure). extra: more fields, each followed by a comma, e.g. "\"fixture\":true,".
inline int print_summary(const std::string& extra = "") {
  std::printf("{\"checks\":%d,\"failures\":%d,%s\"worst\":{", checks, failures, extra.c_str());
  bool first = true;
  for (const auto& kv : worst) {
    std::printf("%s\"%s\":%.3g", first ? "" : ",", kv.first.c_str(), kv.second);
    first = false;
  }
  std::printf("}}\n");
  return failures ? 1 : 0;
}

// The CUDA tests' markdown report: the table header, body() (an exception counts as one failure), then the
// verdict line; returns the exit status (1 on any failure).
template <typename Body>
inline int run_table_report(Body&& body) {
  std::printf("| check | value | tol | result |\n|---|---|---|---|\n");
  try {
    body();
  } catch (const std::exception& e) {
    std::printf("exception: %s\n", e.what());
    ++failures;
  }
  std::printf("\n%s: %d failing check(s)\n", failures ? "FAIL" : "OK", failures);
  return failures ? 1 : 0;
}

}  // namespace test_util
