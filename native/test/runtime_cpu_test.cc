// The token loop (native/src/runtime/token_loop) on the CPU decoder with the tiny fixture checkpoint
// (test/fixtures/qwen3vl-tiny): greedy equals a hand-run prefill/decode/argmax loop; stop ids end the
// run on the first one sampled and keep it; max_tokens 0 and N; an abort between tokens; onToken sees
// every token in order; seeded sampling repeats; top-k 1 and a vanishing temperature are greedy;
// penalties steer the draw exactly as sample_cpu says; the decoder's opt-in fp8 prefill (set_fp8_prefill) against
// f32, and its fp8 weights (set_fp8_weights). Prints one JSON line {checks, failures, fp8_prefill_rel_l2,
// fp8_weights_decode_rel_l2}.
//   runtime_cpu_test [repo root]
#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "../src/ops/argmax.h"
#include "../src/runtime/text_decoders.h"
#include "../src/runtime/token_loop.h"
#include "../src/safetensors/safetensors.h"

using namespace cosmos;

static int checks = 0, failures = 0;
static void truth(const std::string& what, bool ok, const std::string& detail = "") {
  ++checks;
  if (!ok) {
    ++failures;
    std::fprintf(stderr, "%s failed %s\n", what.c_str(), detail.c_str());
  }
}
static std::string slurp(const std::string& p) {
  std::ifstream f(p, std::ios::binary);
  std::stringstream s;
  s << f.rdbuf();
  return s.str();
}
static std::string join(const std::vector<int>& v) {
  std::string s;
  for (int x : v) s += (s.empty() ? "" : ",") + std::to_string(x);
  return s;
}

int main(int argc, char** argv) {
  const std::string root = argc > 1 ? argv[1] : ".";
  const std::string dir = root + "/test/fixtures/qwen3vl-tiny";
  auto cfg = Qwen3TextConfig::from_json(slurp(dir + "/config.json"));
  auto ck = Checkpoint::open(dir);
  auto model = Qwen3Text::load(*ck, cfg);
  runtime::CpuTextDecoder dec(*model);
  const int V = cfg.vocab_size;
  std::atomic<bool> no_abort{false};

  runtime::GenerateRequest req;
  req.ids = {1401, 82, 88, 818, 300, 12};
  const int n = (int)req.ids.size();
  req.pos3.resize(3 * n);
  for (int r = 0; r < 3; ++r)
    for (int i = 0; i < n; ++i) req.pos3[r * n + i] = i;
  req.max_tokens = 12;

  // Greedy through the loop == prefill, then decode/argmax by hand.
  std::vector<int> manual;
  {
    model->reset();
    std::vector<float> l(V);
    model->prefill(req.ids.data(), n, req.pos3.data(), nullptr, l.data(), false);
    for (int i = 0; i < req.max_tokens; ++i) {
      manual.push_back(argmax_cpu(l.data(), V));
      if (i + 1 < req.max_tokens) model->decode(manual.back(), l.data());
    }
  }
  model->reset();
  std::vector<int> streamed;
  auto greedy = runtime::generate(dec, req, no_abort, [&](int t) { streamed.push_back(t); });
  truth("greedy == manual argmax loop", greedy.tokens == manual, join(greedy.tokens) + " vs " + join(manual));
  truth("greedy: length reason", greedy.stop_reason == runtime::StopReason::Length);
  truth("onToken sees every token in order", streamed == greedy.tokens);
  truth("stop reason names", std::string(runtime::stop_reason_name(runtime::StopReason::Stop)) == "stop" &&
                                 std::string(runtime::stop_reason_name(runtime::StopReason::Abort)) == "abort" &&
                                 std::string(runtime::stop_reason_name(runtime::StopReason::Length)) == "length");

  // A stop id: the run ends on its first occurrence, which is kept.
  {
    const int stop = manual[4];
    const size_t first = std::find(manual.begin(), manual.end(), stop) - manual.begin();
    auto r = req;
    r.stop_ids = {V - 1, stop};
    model->reset();
    auto out = runtime::generate(dec, r, no_abort, nullptr);
    truth("stop id: ends on its first occurrence, kept",
          out.stop_reason == runtime::StopReason::Stop && out.tokens.size() == first + 1 &&
              std::equal(out.tokens.begin(), out.tokens.end(), manual.begin()),
          join(out.tokens));
  }
  // max_tokens 0: the prompt runs, nothing is sampled.
  {
    auto r = req;
    r.max_tokens = 0;
    model->reset();
    auto out = runtime::generate(dec, r, no_abort, nullptr);
    truth("max_tokens 0: no tokens, length",
          out.tokens.empty() && out.stop_reason == runtime::StopReason::Length && model->n_past() == n);
  }
  // Abort between tokens: raised by the callback after the 3rd token; the 4th is never sampled.
  {
    std::atomic<bool> abort{false};
    int seen = 0;
    model->reset();
    auto out = runtime::generate(dec, req, abort, [&](int) {
      if (++seen == 3) abort = true;
    });
    truth("abort after 3 tokens", out.stop_reason == runtime::StopReason::Abort && out.tokens.size() == 3,
          join(out.tokens));
  }
  // Seeded sampling: the same seed repeats exactly; top-k 1 and T -> 0 are greedy.
  {
    auto r = req;
    r.max_tokens = 24;
    r.sampling = {0.9f, 0, 1.f, 1.f, 0.f};
    r.seed = 1234;
    model->reset();
    auto a = runtime::generate(dec, r, no_abort, nullptr);
    model->reset();
    auto b = runtime::generate(dec, r, no_abort, nullptr);
    truth("seeded sampling repeats", a.tokens == b.tokens && a.tokens.size() == 24);
    r.seed = 99;
    model->reset();
    auto c = runtime::generate(dec, r, no_abort, nullptr);
    std::fprintf(stderr, "seed 1234: %s\nseed 99:   %s\n", join(a.tokens).c_str(), join(c.tokens).c_str());

    auto k1 = req;
    k1.sampling = {0.9f, 1, 1.f, 1.f, 0.f};
    k1.seed = 5;
    model->reset();
    truth("top_k 1 == greedy", runtime::generate(dec, k1, no_abort, nullptr).tokens == manual);
    auto t0 = req;
    t0.sampling = {1e-4f, 0, 1.f, 1.f, 0.f};
    t0.seed = 5;
    model->reset();
    truth("temperature 1e-4 == greedy", runtime::generate(dec, t0, no_abort, nullptr).tokens == manual);
    auto tp = req;
    tp.sampling = {1.0f, 0, 1e-6f, 1.f, 0.f};  // top-p keeps only the most likely token
    tp.seed = 5;
    model->reset();
    truth("tiny top_p == greedy", runtime::generate(dec, tp, no_abort, nullptr).tokens == manual);
  }
  // Penalties: a huge presence penalty never repeats a token of the history (prompt included).
  {
    auto r = req;
    r.max_tokens = 16;
    r.sampling = {0.f, 0, 1.f, 1.f, 1e6f};
    model->reset();
    auto out = runtime::generate(dec, r, no_abort, nullptr);
    std::vector<int> hist = req.ids;
    bool fresh = true;
    for (int t : out.tokens) {
      fresh &= std::find(hist.begin(), hist.end(), t) == hist.end();
      hist.push_back(t);
    }
    truth("presence penalty 1e6: no token repeats the history", fresh && out.tokens.size() == 16, join(out.tokens));
  }
  // Stop strings, on a piece table where token t decodes to "[t]": the run ends on the token that
  // completes the first occurrence (found here by a plain search of the whole greedy text), which is
  // kept; text_bytes is where the stop string starts. One that starts inside a piece and spans two
  // tokens, one inside a single piece, an empty one (ignored), a stop id before the string (no text).
  {
    runtime::TokenPieces pieces;
    pieces.offsets.push_back(0);
    for (int t = 0; t < V; ++t) {
      pieces.bytes += "[" + std::to_string(t) + "]";
      pieces.offsets.push_back((int32_t)pieces.bytes.size());
    }
    truth("piece table is well formed", pieces.check().empty() && pieces.piece(7) == "[7]" && pieces.piece(V).empty());
    std::string text;
    std::vector<size_t> ends;  // bytes of text after each greedy token
    for (int t : manual) {
      text += "[" + std::to_string(t) + "]";
      ends.push_back(text.size());
    }
    auto expect = [&](const std::string& stop, size_t& n_tokens, size_t& at) {
      at = text.find(stop);
      n_tokens = std::lower_bound(ends.begin(), ends.end(), at + stop.size()) - ends.begin() + 1;
    };
    const std::vector<std::string> cases = {"][" + std::to_string(manual[3]),  // spans tokens 2 and 3
                                            std::to_string(manual[5]) + "]"};  // inside token 5's piece
    for (const std::string& stop : cases) {
      size_t n_tokens = 0, at = 0;
      expect(stop, n_tokens, at);
      auto r = req;
      r.pieces = &pieces;
      r.stop_strings = {"", "never-in-the-output", stop};
      model->reset();
      std::vector<int> seen;
      auto out = runtime::generate(dec, r, no_abort, [&](int t) { seen.push_back(t); });
      truth("stop string '" + stop + "': ends on the completing token, kept",
            out.stop_reason == runtime::StopReason::Stop && out.tokens.size() == n_tokens && seen == out.tokens &&
                std::equal(out.tokens.begin(), out.tokens.end(), manual.begin()),
            join(out.tokens) + " want " + std::to_string(n_tokens) + " tokens");
      truth("stop string '" + stop + "': index and text_bytes", out.stop_string == 2 && out.text_bytes == (int64_t)at,
            std::to_string(out.stop_string) + " / " + std::to_string(out.text_bytes) + " want " + std::to_string(at));
    }
    // The stop id comes first: its token is no text, so the string never completes.
    {
      auto r = req;
      r.pieces = &pieces;
      r.stop_ids = {manual[1]};
      r.stop_strings = {"[" + std::to_string(manual[1]) + "]"};
      model->reset();
      auto out = runtime::generate(dec, r, no_abort, nullptr);
      const size_t first = std::find(manual.begin(), manual.end(), manual[1]) - manual.begin();
      truth("stop id before the stop string",
            out.stop_reason == runtime::StopReason::Stop && out.tokens.size() == first + 1 && out.stop_string == -1);
    }
    // No stop string in the output: length, as without any.
    {
      auto r = req;
      r.pieces = &pieces;
      r.stop_strings = {"never-in-the-output"};
      model->reset();
      auto out = runtime::generate(dec, r, no_abort, nullptr);
      truth("absent stop string: length",
            out.tokens == manual && out.stop_reason == runtime::StopReason::Length && out.text_bytes == -1);
    }
    // Stop strings without a piece table are a ModelError.
    {
      auto r = req;
      r.stop_strings = {"x"};
      bool threw = false;
      try {
        runtime::generate(dec, r, no_abort, nullptr);
      } catch (const ModelError&) {
        threw = true;
      }
      truth("stop strings without pieces: ModelError", threw);
    }
  }
  // The decoder's opt-in fp8 prefill (Qwen3Text::set_fp8_prefill, the CPU twin of the CUDA path): a 40-token prefill
  // in e4m3 stays within fp8's error of f32 (~3.6e-2 relative per GEMM on random data, 12 GEMMs deep here: ~0.1 on
  // the tiny fixture; a wrong scale or layout is ~1) and is not f32 (the fp8 twin ran); a prefill of
  // kQwen3Fp8PrefillMinRows tokens or fewer, and every forward with it off, is the f32 one bit for bit; the copies
  // count in weight_bytes.
  // One logits row (all_logits = false, what the token loop asks): the last layer's MLP and the final norm run on the
  // last row alone, after an attention over every row. That row within 1e-5 of the full prefill's last row, and the
  // caches the same: 6 decode steps after each bit for bit.
  {
    const int m = 40;
    std::vector<int> ids(m), pos(3 * m);
    for (int i = 0; i < m; ++i) ids[i] = (i * 53 + 11) % 1400;
    for (int r = 0; r < 3; ++r)
      for (int i = 0; i < m; ++i) pos[r * m + i] = i;
    std::vector<float> all((size_t)m * V), one(V), step_all(V), step_one(V);
    std::vector<int> toks;
    std::vector<float> steps;
    model->reset();
    model->prefill(ids.data(), m, pos.data(), nullptr, all.data(), true);
    for (int t = 0; t < 6; ++t) {
      toks.push_back(argmax_cpu(t == 0 ? all.data() + (size_t)(m - 1) * V : step_all.data(), V));
      model->decode(toks.back(), step_all.data());
      steps.insert(steps.end(), step_all.begin(), step_all.end());
    }
    model->reset();
    model->prefill(ids.data(), m, pos.data(), nullptr, one.data(), false);
    double num = 0, den = 0, step_diff = 0;
    for (int i = 0; i < V; ++i) {
      const double d = (double)one[i] - all[(size_t)(m - 1) * V + i];
      num += d * d;
      den += (double)one[i] * one[i];
    }
    for (int t = 0; t < 6; ++t) {
      model->decode(toks[t], step_one.data());
      for (int i = 0; i < V; ++i)
        step_diff = std::max(step_diff, (double)std::fabs(step_one[i] - steps[(size_t)t * V + i]));
    }
    const double rel = std::sqrt(num / std::max(den, 1e-30));
    truth("one logits row: the full prefill's last row (rel l2 <= 1e-5)", rel <= 1e-5, std::to_string(rel));
    truth("one logits row: the decode steps after it bit for bit", step_diff == 0, std::to_string(step_diff));
  }
  double fp8_rel = -1;
  {
    const int m = 40;
    std::vector<int> ids(m), pos(3 * m);
    for (int i = 0; i < m; ++i) ids[i] = (i * 37 + 5) % 1400;
    for (int r = 0; r < 3; ++r)
      for (int i = 0; i < m; ++i) pos[r * m + i] = i;
    std::vector<float> l32((size_t)m * V), l8((size_t)m * V), loff((size_t)m * V), s32(V), s8(V);
    const size_t bytes32 = model->weight_bytes();
    model->reset();
    model->prefill(ids.data(), m, pos.data(), nullptr, l32.data(), true);
    model->reset();
    model->prefill(req.ids.data(), n, req.pos3.data(), nullptr, s32.data(), false);
    model->set_fp8_prefill(true);
    // Per layer, each of q|k|v, o, gate|up and down: a byte per weight and an f32 scale per output row.
    const int H = cfg.hidden_size, I = cfg.intermediate_size;
    const int qkv = (cfg.num_heads + 2 * cfg.num_kv_heads) * cfg.head_dim, o_in = cfg.num_heads * cfg.head_dim;
    const size_t copies =
        (size_t)cfg.num_layers * ((size_t)qkv * H + 4 * (size_t)qkv + (size_t)H * o_in + 4 * (size_t)H +
                                  (size_t)2 * I * H + 8 * (size_t)I + (size_t)H * I + 4 * (size_t)H);
    truth("fp8 prefill: the copies count in weight_bytes", model->weight_bytes() == bytes32 + copies,
          std::to_string(model->weight_bytes()) + " vs " + std::to_string(bytes32 + copies));
    model->reset();
    model->prefill(ids.data(), m, pos.data(), nullptr, l8.data(), true);
    double num = 0, den = 0, diff = 0;
    for (size_t i = 0; i < l32.size(); ++i) {
      const double d = (double)l8[i] - l32[i];
      num += d * d;
      den += (double)l32[i] * l32[i];
      diff = std::max(diff, std::fabs(d));
    }
    fp8_rel = std::sqrt(num / std::max(den, 1e-30));
    truth("fp8 prefill: logits within fp8's error of f32 (rel l2 <= 0.2)", fp8_rel <= 0.2, std::to_string(fp8_rel));
    truth("fp8 prefill: the fp8 twin ran (logits differ from f32)", diff > 0);
    model->reset();
    model->prefill(req.ids.data(), n, req.pos3.data(), nullptr, s8.data(), false);
    truth("fp8 prefill: a prefill of <= kQwen3Fp8PrefillMinRows tokens is the f32 one",
          n <= kQwen3Fp8PrefillMinRows && s8 == s32);
    model->set_fp8_prefill(false);
    model->reset();
    model->prefill(ids.data(), m, pos.data(), nullptr, loff.data(), true);
    truth("fp8 prefill off: the f32 logits bit for bit", loff == l32);
  }
  // FP8 weights (set_fp8_weights: every forward on the copies, decode on the weight-only GEMV twin): greedy decode
  // logits within fp8's error of f32 and not f32; the f32 sources given back (weight_bytes drops by their bytes, off is
  // then a ModelError) with the outputs unchanged bit for bit.
  double fp8w_rel = -1;
  {
    auto m8 = Qwen3Text::load(*ck, cfg);
    auto m8k = Qwen3Text::load(*ck, cfg);
    const size_t f32_bytes = m8->weight_bytes();
    m8->set_fp8_weights(true, false);
    m8k->set_fp8_weights(true, true);
    const int H = cfg.hidden_size, I = cfg.intermediate_size;
    const int qkv = (cfg.num_heads + 2 * cfg.num_kv_heads) * cfg.head_dim, o_in = cfg.num_heads * cfg.head_dim;
    const size_t f32_of_linears = 4 * (size_t)cfg.num_layers * ((size_t)qkv * H + (size_t)H * o_in + 3 * (size_t)I * H);
    truth("fp8 weights: the f32 sources given back",
          m8->weight_bytes() == m8k->weight_bytes() - f32_of_linears && m8k->weight_bytes() > f32_bytes);
    std::vector<float> a(V), b(V), c(V);
    model->reset();
    m8->prefill(req.ids.data(), n, req.pos3.data(), nullptr, a.data(), false);
    m8k->prefill(req.ids.data(), n, req.pos3.data(), nullptr, b.data(), false);
    model->prefill(req.ids.data(), n, req.pos3.data(), nullptr, c.data(), false);
    double num = 0, den = 0, diff = 0;
    bool same = a == b;
    for (int t = 0; t < 8; ++t) {
      const int next = argmax_cpu(c.data(), V);  // all three follow the f32 model's tokens
      m8->decode(next, a.data());
      m8k->decode(next, b.data());
      model->decode(next, c.data());
      same = same && a == b;
      for (int i = 0; i < V; ++i) {
        num += ((double)a[i] - c[i]) * ((double)a[i] - c[i]);
        den += (double)c[i] * c[i];
        diff = std::max(diff, std::fabs((double)a[i] - c[i]));
      }
    }
    fp8w_rel = std::sqrt(num / std::max(den, 1e-30));
    truth("fp8 weights: decode logits within fp8's error of f32 (rel l2 <= 0.2)", fp8w_rel <= 0.2);
    truth("fp8 weights: decode ran on the copies (logits differ from f32)", diff > 0);
    truth("fp8 weights: sources given back, the same logits bit for bit", same);
    bool threw = false;
    try {
      m8->set_fp8_weights(false);
    } catch (const ModelError&) {
      threw = true;
    }
    truth("fp8 weights: off after the sources were given back is a ModelError", threw);
  }
  std::printf("{\"checks\": %d, \"failures\": %d, \"fp8_prefill_rel_l2\": %.3e, \"fp8_weights_decode_rel_l2\": %.3e}\n",
              checks, failures, fp8_rel, fp8w_rel);
  return failures ? 1 : 0;
}
