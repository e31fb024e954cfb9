// The token loop: prefill, then sample / decode until a stop id, a stop string, max_tokens or an
// abort. Plain C++ (no Node-API): the binding converts arguments, runs this on its worker and forwards
// each token to JS; C++ test programs and benches call it directly.
//
// Stop strings are matched on bytes: each sampled token's piece (TokenPieces: the bytes the tokenizer
// decodes it to, given once by the caller) is appended to the output's bytes, and the run ends on the
// token that completes the first occurrence of any stop string — also one that spans tokens or starts
// inside the token's piece. That token is kept; text_bytes says where the output text ends (the stop
// string and anything after it are not part of it). The pieces are the streamed text's bytes exactly
// (byte-level BPE decodes token by token), so matching bytes is matching text.
//
// Sampling is the decoder's: the CPU decoder runs sample_cpu on its host logits row, the CUDA decoder
// runs sample_cuda on the row it keeps on the GPU (only the id comes back). The Generator's flow-matching
// samplers sit beside this file as their own loop (denoise_loop.h over flow_sampler.h / flow_schedule.h);
// they share the device-resident way of working, not this token API.
#pragma once
#include <atomic>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
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

// The bytes each token id decodes to, for stop strings: pieces of ids 0..size()-1 laid end to end
// (special tokens the output text leaves out have empty pieces). Ids past the table decode to nothing.
struct TokenPieces {
  std::vector<int32_t> offsets;  // size() + 1 ascending offsets into bytes, starting at 0
  std::string bytes;

  int size() const { return offsets.empty() ? 0 : (int)offsets.size() - 1; }
  std::string_view piece(int id) const {
    if (id < 0 || id >= size()) return {};
    return std::string_view(bytes).substr((size_t)offsets[id], (size_t)(offsets[id + 1] - offsets[id]));
  }
  // Empty string when the table is well formed, else what is wrong with it.
  std::string check() const;
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
  // Byte strings that end the run (empty ones are ignored); they need `pieces`.
  std::vector<std::string> stop_strings;
  const TokenPieces* pieces = nullptr;
};

struct GenerateResult {
  std::vector<int> tokens;
  StopReason stop_reason = StopReason::Length;
  // Stopped by a stop string: which one, and the bytes of output text before it (the pieces of the
  // tokens, stop ids left out, cut where the stop string starts). -1 otherwise.
  int stop_string = -1;
  int64_t text_bytes = -1;
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
