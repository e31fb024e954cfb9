#include "token_loop.h"

#include <algorithm>

#include "../core/errors.h"

namespace cosmos::runtime {

const char* stop_reason_name(StopReason r) {
  switch (r) {
    case StopReason::Stop: return "stop";
    case StopReason::Abort: return "abort";
    default: return "length";
  }
}

uint64_t initial_rng_state(uint64_t seed) { return seed ? seed : 0x853c49e6748fea9bull; }

GenerateResult generate(TokenDecoder& decoder, const GenerateRequest& req, const std::atomic<bool>& abort,
                        const TokenCallback& on_token) {
  GenerateResult out;
  try {
    decoder.prefill_prompt(req.ids.data(), (int)req.ids.size(), req.pos3.data(), req.vis);
    std::vector<int> history = req.ids;
    history.reserve(req.ids.size() + (size_t)std::max(0, req.max_tokens));
    uint64_t rng = initial_rng_state(req.seed);
    int next = -1;
    if (req.max_tokens > 0) next = decoder.sample(req.sampling, history, &rng);
    for (int step = 0; step < req.max_tokens; ++step) {
      if (abort.load()) {
        out.stop_reason = StopReason::Abort;
        break;
      }
      const int tok = next;
      out.tokens.push_back(tok);
      history.push_back(tok);
      if (on_token) on_token(tok);
      bool stop = false;
      for (int s : req.stop_ids) stop |= s == tok;
      if (stop) {
        out.stop_reason = StopReason::Stop;
        break;
      }
      if (step + 1 == req.max_tokens) break;
      next = decoder.decode_and_sample(tok, req.sampling, history, &rng);
    }
  } catch (const AbortedError&) {
    out.stop_reason = StopReason::Abort;
  }
  return out;
}

}  // namespace cosmos::runtime
