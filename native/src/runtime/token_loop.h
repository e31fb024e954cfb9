// The token loop: prefill, then sample / decode until a stop id, max_tokens or an abort. Plain C++
// (no Node-API): the binding converts arguments, runs this on its worker and forwards each token to
// JS; C++ test programs and benches call it directly.
//
// Stop strings are not applied here. They are text, so they are matched after detokenisation on the
// TypeScript side (src/native/qwen3vl.ts: the text is cut before the first stop string, even one that
// spans tokens, and the run is aborted after that token; the result reports finishReason "stop").
//
// Sampling is the decoder's: the CPU decoder runs sample_cpu on its host logits row, the CUDA decoder
// runs sample_cuda on the row it keeps on the GPU (only the id comes back). A flow-matching sampler
// (the Generator's denoising loop over latents) will sit beside this file as its own loop; it shares
// the decoders' device-resident state, not this token API.
#pragma once
#include <atomic>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "../models/qwen3_text.h"
#include "../ops/sample.h"

namespace cosmos::runtime {

// What the loop needs from a text decoder (CPU or CUDA). The KV cache continues from the decoder's
// current state; history is the prompt followed by the tokens sampled so far (penalties read it).
class TokenDecoder {
 public:
  virtual ~TokenDecoder() = default;
  virtual int vocab_size() const = 0;
  // Runs the prompt and keeps the last row's logits for sample().
  virtual void prefill_prompt(const int* ids, int n, const int* pos3, const VisualInputs* vis) = 0;
  // Draws the next token from the kept logits (rng advanced once when temperature > 0).
  virtual int sample(const SamplingParams& p, const std::vector<int>& history, uint64_t* rng) = 0;
  // Appends `id` and draws the next token from the new logits. A backend may fuse the two (the CUDA
  // graph step followed by the GPU sampler, one host sync).
  virtual int decode_and_sample(int id, const SamplingParams& p, const std::vector<int>& history, uint64_t* rng) = 0;
};

enum class StopReason { Length, Stop, Abort };
const char* stop_reason_name(StopReason r);  // "length", "stop", "abort" (the JS contract's strings)

struct GenerateRequest {
  std::vector<int> ids;   // the prompt
  std::vector<int> pos3;  // [3 * ids.size()] rotary positions (t, h, w rows)
  const VisualInputs* vis = nullptr;
  SamplingParams sampling{0, 0, 1, 1, 0};  // greedy by default
  uint64_t seed = 0;                       // 0: a fixed default seed
  int max_tokens = 0;
  std::vector<int> stop_ids;  // the sampled stop id is kept in the result
};

struct GenerateResult {
  std::vector<int> tokens;
  StopReason stop_reason = StopReason::Length;
};

// Called with each token as soon as it is sampled (before the next decode step).
using TokenCallback = std::function<void(int)>;

// Runs one generation. The abort flag is read between tokens (an abort inside a decoder step throws
// AbortedError from the model, which ends the loop the same way). Other errors propagate.
GenerateResult generate(TokenDecoder& decoder, const GenerateRequest& req, const std::atomic<bool>& abort,
                        const TokenCallback& on_token);

// The PRNG state a seed gives (sample_cpu's xorshift64*; seed 0 means the default constant).
uint64_t initial_rng_state(uint64_t seed);

}  // namespace cosmos::runtime
