// Token sampling with the transformers/vLLM processing order.
#pragma once
#include <cstdint>
#ifdef COSMOS_CUDA
#include <cuda_runtime.h>
#endif

struct SamplingParams {
  float temperature;         // 0 -> greedy (argmax)
  int top_k;                 // <= 0 -> off
  float top_p;               // >= 1 -> off
  float repetition_penalty;  // 1 -> off; logit > 0 ? logit / p : logit * p
  float presence_penalty;    // 0 -> off; subtracted once per distinct token in history
};

// Order: repetition penalty and presence penalty on tokens in history, temperature, top-k, top-p
// (keep the smallest set with cumulative prob >= top_p), then a draw from a seeded PRNG
// (*rng_state advanced). temperature 0 -> argmax (after penalties). logits is modified.
int sample_cpu(float* logits /*modified*/, int vocab, const SamplingParams& p, const int* history, int hist_len,
               uint64_t* rng_state);
// The draw's uniform in [0, 1): the PRNG step sample_cpu takes once per sampled token (temperature > 0).
// Exposed so the GPU sampler draws from the same seeded stream (one step per token, on the host).
double sample_uniform(uint64_t* rng_state);
