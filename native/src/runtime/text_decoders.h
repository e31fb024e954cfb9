// The Qwen3 text decoders as runtime::TokenDecoder: what the token loop (token_loop.h) drives.
//  * CpuTextDecoder: the logits row on the host, sample_cpu on it.
//  * CudaTextDecoder (COSMOS_CUDA builds): the logits stay on the GPU; plain greedy takes the argmax
//    (the decode graph's step then one 4-byte copy), anything else the GPU sampler (sample_cuda:
//    penalties, temperature, top-k, top-p and the draw on the GPU). Only the id comes back.
// Header-only so the CUDA one compiles in the translation unit that has COSMOS_CUDA.
#pragma once
#include <vector>

#include "../models/qwen3_text.h"
#include "token_loop.h"
#ifdef COSMOS_CUDA
#include "../models/qwen3_text_cuda.h"
#endif

namespace cosmos::runtime {

class CpuTextDecoder final : public TokenDecoder {
 public:
  explicit CpuTextDecoder(Qwen3Text& m) : m_(m) {}
  int vocab_size() const override { return m_.config().vocab_size; }
  void prefill_prompt(const int* ids, int n, const int* pos3, const VisualInputs* vis) override {
    row_.resize(m_.config().vocab_size);
    m_.prefill(ids, n, pos3, vis, row_.data(), false);
  }
  int sample(const SamplingParams& p, const std::vector<int>& history, uint64_t* rng) override {
    return sample_cpu(row_.data(), (int)row_.size(), p, history.data(), (int)history.size(), rng);
  }
  int decode_and_sample(int id, const SamplingParams& p, const std::vector<int>& history, uint64_t* rng) override {
    m_.decode(id, row_.data());
    return sample(p, history, rng);
  }

 private:
  Qwen3Text& m_;
  std::vector<float> row_;  // the last logits row (sample_cpu modifies it: penalties, temperature)
};

// Temperature 0 without penalties: the argmax alone (sample_cuda would give the same id after a no-op
// penalty pass; this keeps greedy decoding exactly the graph step + argmax it always was).
inline bool plain_greedy(const SamplingParams& p) {
  return !(p.temperature > 0) && (p.repetition_penalty == 1.f || !(p.repetition_penalty > 0)) &&
         p.presence_penalty == 0.f;
}

#ifdef COSMOS_CUDA
class CudaTextDecoder final : public TokenDecoder {
 public:
  explicit CudaTextDecoder(Qwen3TextCuda& m) : m_(m) {}
  int vocab_size() const override { return m_.config().vocab_size; }
  void prefill_prompt(const int* ids, int n, const int* pos3, const VisualInputs* vis) override {
    m_.prefill(ids, n, pos3, vis, nullptr, false);
  }
  int sample(const SamplingParams& p, const std::vector<int>& history, uint64_t* rng) override {
    if (plain_greedy(p)) return m_.last_argmax();
    return m_.sample_last(p, history.data(), (int)history.size(), rng);
  }
  int decode_and_sample(int id, const SamplingParams& p, const std::vector<int>& history, uint64_t* rng) override {
    if (plain_greedy(p)) return m_.decode_greedy(id);
    return m_.decode_sample(id, p, history.data(), (int)history.size(), rng);
  }

 private:
  Qwen3TextCuda& m_;
};
#endif

}  // namespace cosmos::runtime
