#include "token_loop.h"

#include <algorithm>
#include <utility>

#include "../core/errors.h"

namespace cosmos::runtime {

const char* stop_reason_name(StopReason r) {
  switch (r) {
    case StopReason::Stop:
      return "stop";
    case StopReason::Abort:
      return "abort";
    default:
      return "length";
  }
}

uint64_t initial_rng_state(uint64_t seed) { return seed ? seed : 0x853c49e6748fea9bull; }

std::string TokenPieces::check() const {
  if (offsets.empty()) return "the piece table has no offsets";
  if (offsets[0] != 0) return "the piece table's first offset must be 0";
  for (size_t i = 1; i < offsets.size(); ++i)
    if (offsets[i] < offsets[i - 1]) return "the piece table's offsets must ascend";
  if ((size_t)offsets.back() != bytes.size()) return "the piece table's last offset must be its byte count";
  return "";
}

namespace {
// Finds the first stop string in the output text. Only the part that the newest piece can complete is
// searched: a stop string that ends in it starts at most (its length - 1) bytes before the piece.
struct StopMatcher {
  const std::vector<std::string>& stops;
  size_t longest = 0;
  std::string text;  // the output's bytes so far

  explicit StopMatcher(const std::vector<std::string>& s) : stops(s) {
    for (auto& x : stops) longest = std::max(longest, x.size());
  }
  bool active() const { return longest > 0; }
  // Appends a piece; returns {stop index, where it starts} for the earliest occurrence, or {-1, -1}.
  std::pair<int, int64_t> push(std::string_view piece) {
    const size_t before = text.size();
    text.append(piece);
    const size_t from = before >= longest - 1 ? before - (longest - 1) : 0;
    int which = -1;
    size_t at = std::string::npos;
    for (size_t k = 0; k < stops.size(); ++k) {
      if (stops[k].empty()) continue;
      const size_t p = text.find(stops[k], from);
      if (p != std::string::npos && p < at) {
        at = p;
        which = (int)k;
      }
    }
    return {which, which < 0 ? -1 : (int64_t)at};
  }
};
}  // namespace

GenerateResult generate(TokenDecoder& decoder, const GenerateRequest& req, const std::atomic<bool>& abort,
                        const TokenCallback& on_token) {
  GenerateResult out;
  StopMatcher matcher(req.stop_strings);
  if (matcher.active() && !req.pieces) throw ModelError("stop strings need the token piece table");
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
      bool stop = false;
      for (int s : req.stop_ids) stop |= s == tok;
      // A stop id ends the turn and is no text; any other token's piece may complete a stop string.
      if (!stop && matcher.active()) {
        auto [which, at] = matcher.push(req.pieces->piece(tok));
        if (which >= 0) {
          out.stop_string = which;
          out.text_bytes = at;
          stop = true;
        }
      }
      // The callback sees the token after the checks: a caller streaming text knows the earlier tokens
      // completed no stop string.
      if (on_token) on_token(tok);
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
