// Sampling in the transformers/vLLM order. PRNG: xorshift64* (small, seedable, same stream on every
// platform), seeded state must be non-zero; a zero state is replaced by a fixed constant.
#include "sample.h"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <vector>

#include "argmax.h"

namespace {
double next_uniform(uint64_t* s) {
  uint64_t x = *s ? *s : 0x9E3779B97F4A7C15ull;
  x ^= x >> 12;
  x ^= x << 25;
  x ^= x >> 27;
  *s = x;
  uint64_t r = x * 0x2545F4914F6CDD1Dull;
  return (double)(r >> 11) * (1.0 / 9007199254740992.0);  // 53 bits -> [0, 1)
}
}  // namespace

double sample_uniform(uint64_t* rng_state) { return next_uniform(rng_state); }

int sample_cpu(float* logits, int vocab, const SamplingParams& p, const int* history, int hist_len,
               uint64_t* rng_state) {
  if ((p.repetition_penalty != 1.0f && p.repetition_penalty > 0) || p.presence_penalty != 0.0f) {
    std::vector<char> seen(vocab, 0);
    for (int i = 0; i < hist_len; ++i)
      if (history[i] >= 0 && history[i] < vocab) seen[history[i]] = 1;
    for (int t = 0; t < vocab; ++t) {
      if (!seen[t]) continue;
      if (p.repetition_penalty != 1.0f && p.repetition_penalty > 0)
        logits[t] = logits[t] > 0 ? logits[t] / p.repetition_penalty : logits[t] * p.repetition_penalty;
      logits[t] -= p.presence_penalty;
    }
  }
  if (!(p.temperature > 0)) return argmax_cpu(logits, vocab);
  for (int t = 0; t < vocab; ++t) logits[t] /= p.temperature;

  std::vector<int> idx(vocab);
  std::iota(idx.begin(), idx.end(), 0);
  int keep = vocab;
  if (p.top_k > 0 && p.top_k < vocab) {
    keep = p.top_k;
    std::partial_sort(idx.begin(), idx.begin() + keep, idx.end(),
                      [&](int a, int b) { return logits[a] > logits[b] || (logits[a] == logits[b] && a < b); });
  } else {
    std::sort(idx.begin(), idx.end(),
              [&](int a, int b) { return logits[a] > logits[b] || (logits[a] == logits[b] && a < b); });
  }
  // Softmax over the kept (sorted, descending) candidates.
  std::vector<double> pr(keep);
  float mx = logits[idx[0]];
  double sum = 0;
  for (int i = 0; i < keep; ++i) sum += (pr[i] = std::exp((double)logits[idx[i]] - mx));
  for (int i = 0; i < keep; ++i) pr[i] /= sum;
  if (p.top_p > 0 && p.top_p < 1) {
    double c = 0;
    int n = 0;
    while (n < keep) {
      c += pr[n++];
      if (c >= p.top_p) break;  // smallest prefix whose mass reaches top_p
    }
    keep = n;
    double s2 = 0;
    for (int i = 0; i < keep; ++i) s2 += pr[i];
    for (int i = 0; i < keep; ++i) pr[i] /= s2;
  }
  double u = next_uniform(rng_state), c = 0;
  for (int i = 0; i < keep; ++i) {
    c += pr[i];
    if (u < c) return idx[i];
  }
  return idx[keep - 1];
}
