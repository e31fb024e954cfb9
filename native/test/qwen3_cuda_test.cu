// Qwen3 text decoder: CUDA (Qwen3TextCuda) vs CPU (Qwen3Text) vs transformers on the tiny fixture.
// For each text prompt of test/fixtures/qwen3vl-tiny-reference.json:
//   * prefill logits (all rows): CUDA f32 weights vs CPU (<= 1e-3 abs), and vs transformers (printed)
//   * the prompt again in two prefill calls (exercises q_offset > 0 with n > 1): last row vs CPU
//   * 32 greedy steps: CUDA f32 tokens must equal CPU's and transformers' greedy_ids; per-step logits
//     max-abs-diff vs CPU <= 1e-3
//   * bf16 weights: greedy tokens and logits diff vs CPU, printed (not a pass criterion: the tiny
//     random model has near-ties, margin 0.004, that bf16 rounding may flip)
//   * decode through the CUDA graph (the default) vs the eager forward (set_decode_graph(false)):
//     identical logits at every step, also across a KV-cache growth (re-capture) and prefills that
//     move the logits buffer
//   * opt-in fp8 prefill (set_fp8_prefill, sm_90 only): logits vs bf16 within fp8's error, decode after it graph ==
//     eager, off == bf16 bit for bit
//   * fp8 weights (set_fp8_weights, sm_90 only): decode graph == eager, sources given back == kept, CUDA vs the CPU
//   twin
//   * the persistent decode step (set_decode_persistent, sm_90 only, random bf16 weights at head_dim 128): logits vs
//     the graph step's within f32 rounding, across key splits (to 64 at 1100 keys; the warp combine in one and two
//     levels, the block combine) and a KV-cache growth; with fp8 weights, against the graph of fp8 GEMVs, and
//     back to bf16 when they are switched off
// Usage: qwen3_cuda_test [repo root] (default: .). Exit 1 on failure.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "../src/core/json.h"
#include "../src/models/qwen3_text.h"
#include "../src/models/qwen3_text_cuda.h"
#include "../src/ops/argmax.h"

using namespace cosmos;

static std::string slurp(const std::string& p) {
  std::ifstream f(p, std::ios::binary);
  if (!f) throw std::runtime_error("cannot read " + p);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}
static double max_abs_diff(const float* a, const float* b, size_t n) {
  double m = 0;
  for (size_t i = 0; i < n; ++i) {
    double d = std::fabs((double)a[i] - b[i]);
    if (!(d == d)) return INFINITY;
    m = std::max(m, d);
  }
  return m;
}
// A prompt of n spread-out token ids below vocab at positions 0 .. n-1 on all three rope rows (the persistent rows').
static void spread_prompt(int n, int vocab, std::vector<int>& ids, std::vector<int>& pos3) {
  ids.assign(n, 0);
  pos3.assign(3 * n, 0);
  for (int i = 0; i < n; ++i) ids[i] = (i * 7919 + 13) % vocab;
  for (int r = 0; r < 3; ++r)
    for (int i = 0; i < n; ++i) pos3[r * n + i] = i;
}
// ||got - want|| / ||want|| over n values.
static double rel_l2(const float* got, const float* want, size_t n) {
  double dn = 0, dd = 0;
  for (size_t i = 0; i < n; ++i) {
    dn += ((double)got[i] - want[i]) * ((double)got[i] - want[i]);
    dd += (double)want[i] * want[i];
  }
  return std::sqrt(dn / std::max(dd, 1e-30));
}
static std::vector<int> ints(const Json* a) {
  std::vector<int> v;
  if (a && a->is_arr())
    for (auto& e : a->arr) v.push_back((int)e.i64);
  return v;
}

// base and pers reset and given the same prompt, then `steps` decode steps, each fed base's argmax: the worst rel l2 of
// pers's logits against base's, and the steps whose argmax differs. seen(next, lp) sees each step's token and pers's
// logits (the persistent rows').
struct Agreement {
  double worst = 0;
  int argmax_diff = 0;
};
template <class Seen>
static Agreement follow_base(Qwen3TextCuda& base, Qwen3TextCuda& pers, const std::vector<int>& ids,
                             const std::vector<int>& pos3, int vocab, int steps, Seen seen) {
  const int n = (int)ids.size();
  base.reset();
  pers.reset();
  std::vector<float> lb(vocab), lp(vocab);
  base.prefill(ids.data(), n, pos3.data(), nullptr, lb.data(), false);
  pers.prefill(ids.data(), n, pos3.data(), nullptr, lp.data(), false);
  Agreement a;
  for (int t = 0; t < steps; ++t) {
    const int next = argmax_cpu(lb.data(), vocab);
    base.decode(next, lb.data());
    pers.decode(next, lp.data());
    seen(next, lp);
    a.worst = std::max(a.worst, rel_l2(lp.data(), lb.data(), vocab));
    a.argmax_diff += argmax_cpu(lp.data(), vocab) != argmax_cpu(lb.data(), vocab);
  }
  return a;
}
static Agreement follow_base(Qwen3TextCuda& base, Qwen3TextCuda& pers, const std::vector<int>& ids,
                             const std::vector<int>& pos3, int vocab, int steps) {
  return follow_base(base, pers, ids, pos3, vocab, steps, [](int, const std::vector<float>&) {});
}

int main(int argc, char** argv) {
  std::string root = argc > 1 ? argv[1] : ".";
  std::string dir = root + "/test/fixtures/qwen3vl-tiny";
  if (cuda_device_count() == 0) {
    std::printf("no CUDA device\n");
    return 2;
  }
  auto cfg = Qwen3TextConfig::from_json(slurp(dir + "/config.json"));
  auto ck = Checkpoint::open(dir);
  auto refck = Checkpoint::open(root + "/test/fixtures/qwen3vl-tiny-reference.safetensors");
  std::string rj = slurp(root + "/test/fixtures/qwen3vl-tiny-reference.json");
  Json ref = json_parse(rj.data(), rj.size(), 64);
  auto cpu = Qwen3Text::load(*ck, cfg);
  auto g32 = Qwen3TextCuda::load(*ck, cfg, WType::F32);
  auto g16 = Qwen3TextCuda::load(*ck, cfg, WType::BF16);
  auto g32e = Qwen3TextCuda::load(*ck, cfg, WType::F32);  // eager decode: the graph path's reference
  g32e->set_decode_graph(false);
  double graph_vs_eager = 0;
  const int V = cfg.vocab_size, steps = 32;
  int fails = 0;
  auto check = [&](bool ok, const char* what, double val) {
    if (!ok) ++fails;
    std::printf("  %-58s %12.3e  %s\n", what, val, ok ? "PASS" : "FAIL");
  };
  const Json* prompts = ref.get("text_prompts");
  for (size_t pi = 0; prompts && pi < prompts->arr.size(); ++pi) {
    const Json& P = prompts->arr[pi];
    std::vector<int> ids = ints(P.get("input_ids")), want = ints(P.get("greedy_ids"));
    int n = (int)ids.size();
    std::printf("prompt %zu: %d tokens\n", pi, n);
    std::vector<int> pos3(3 * n);
    for (int r = 0; r < 3; ++r)
      for (int i = 0; i < n; ++i) pos3[r * n + i] = i;
    std::vector<float> lc((size_t)n * V), lg((size_t)n * V), lb((size_t)n * V), lt((size_t)n * V);
    cpu->reset();
    g32->reset();
    g16->reset();
    g32e->reset();
    g32e->prefill(ids.data(), n, pos3.data(), nullptr, nullptr, false);
    cpu->prefill(ids.data(), n, pos3.data(), nullptr, lc.data(), true);
    g32->prefill(ids.data(), n, pos3.data(), nullptr, lg.data(), true);
    g16->prefill(ids.data(), n, pos3.data(), nullptr, lb.data(), true);
    check(max_abs_diff(lc.data(), lg.data(), lc.size()) <= 1e-3, "prefill logits, CUDA f32 vs CPU (max-abs-diff)",
          max_abs_diff(lc.data(), lg.data(), lc.size()));
    std::string lname = "text." + std::to_string(pi) + ".logits";
    if (refck->has(lname) && (size_t)refck->info(lname).shape[0] * V == lt.size()) {
      refck->read_f32(lname, lt.data(), lt.size());
      std::printf("  %-58s %12.3e  (info)\n", "prefill logits, CUDA f32 vs transformers",
                  max_abs_diff(lt.data(), lg.data(), lt.size()));
      std::printf("  %-58s %12.3e  (info)\n", "prefill logits, CPU vs transformers",
                  max_abs_diff(lt.data(), lc.data(), lt.size()));
    }
    std::printf("  %-58s %12.3e  (info)\n", "prefill logits, CUDA bf16 weights vs CPU f32",
                max_abs_diff(lc.data(), lb.data(), lc.size()));

    // Chunked prefill on the GPU: first half, then the rest at q_offset = half.
    {
      auto gc = Qwen3TextCuda::load(*ck, cfg, WType::F32);
      int h = n / 2;
      std::vector<int> p1(3 * h), p2(3 * (n - h));
      for (int r = 0; r < 3; ++r) {
        for (int i = 0; i < h; ++i) p1[r * h + i] = i;
        for (int i = h; i < n; ++i) p2[r * (n - h) + i - h] = i;
      }
      std::vector<float> last(V);
      gc->prefill(ids.data(), h, p1.data(), nullptr, nullptr, false);
      gc->prefill(ids.data() + h, n - h, p2.data(), nullptr, last.data(), false);
      check(max_abs_diff(lc.data() + (size_t)(n - 1) * V, last.data(), V) <= 1e-3,
            "two-chunk prefill last row, CUDA f32 vs CPU",
            max_abs_diff(lc.data() + (size_t)(n - 1) * V, last.data(), V));
    }

    // Greedy decode.
    std::vector<int> tc, tg, tb;
    int nc = argmax_cpu(lc.data() + (size_t)(n - 1) * V, V);
    int ng = argmax_cpu(lg.data() + (size_t)(n - 1) * V, V);
    int nb = g16->last_argmax();
    double worst = 0;
    double worst_b = 0;
    std::vector<float> sc(V), sg(V), sb(V), se(V);
    for (int t = 0; t < steps; ++t) {
      tc.push_back(nc);
      tg.push_back(ng);
      tb.push_back(nb);
      cpu->decode(nc, sc.data());
      g32->decode(ng, sg.data());
      g32e->decode(ng, se.data());
      graph_vs_eager = std::max(graph_vs_eager, max_abs_diff(sg.data(), se.data(), V));
      if (nc == ng) worst = std::max(worst, max_abs_diff(sc.data(), sg.data(), V));
      g16->decode(nb, sb.data());
      if (nb == nc) worst_b = std::max(worst_b, max_abs_diff(sc.data(), sb.data(), V));
      nc = argmax_cpu(sc.data(), V);
      ng = argmax_cpu(sg.data(), V);
      nb = argmax_cpu(sb.data(), V);
    }
    int same_cpu = 0, same_hf = 0, same_b = 0;
    for (int t = 0; t < steps; ++t) {
      same_cpu += tg[t] == tc[t];
      same_hf += t < (int)want.size() && tg[t] == want[t];
      same_b += tb[t] == tc[t];
    }
    check(worst <= 1e-3, "decode logits (32 steps), CUDA f32 vs CPU, worst step", worst);
    check(same_cpu == steps, "greedy tokens CUDA f32 == CPU (count of 32)", same_cpu);
    check(same_hf == steps && (int)want.size() >= steps, "greedy tokens CUDA f32 == transformers (count of 32)",
          same_hf);
    std::printf("  %-58s %12d  (info)\n", "greedy tokens CUDA bf16 == CPU (count of 32)", same_b);
    std::printf("  %-58s %12.3e  (info)\n", "decode logits CUDA bf16 vs CPU, worst matching step", worst_b);
  }
  check(g32->decode_graph() && g32->graph_captures() >= 1 && graph_vs_eager == 0,
        "decode CUDA graph == eager forward, 3 x 32 steps (max-abs-diff)", graph_vs_eager);
  std::printf("  %-58s %12d  (info)\n", "decode graph captures (f32 model, 3 prompts)", g32->graph_captures());
  // A long decode: the KV cache grows past its first 256 rows (moves: the graph is captured again).
  {
    auto gg = Qwen3TextCuda::load(*ck, cfg, WType::F32);
    auto ge = Qwen3TextCuda::load(*ck, cfg, WType::F32);
    ge->set_decode_graph(false);
    std::vector<int> ids = {1401, 82, 88, 818, 13, 502, 77};
    int n = (int)ids.size(), pos[21];
    for (int r = 0; r < 3; ++r)
      for (int i = 0; i < n; ++i) pos[r * n + i] = i;
    gg->prefill(ids.data(), n, pos, nullptr, nullptr, false);
    ge->prefill(ids.data(), n, pos, nullptr, nullptr, false);
    int a = gg->last_argmax(), b = ge->last_argmax(), same = 0, total = 300;
    double worst = 0;
    std::vector<float> la(V), lb(V);
    for (int t = 0; t < total; ++t) {
      gg->decode(a, la.data());
      ge->decode(b, lb.data());
      worst = std::max(worst, max_abs_diff(la.data(), lb.data(), V));
      same += a == b;
      a = argmax_cpu(la.data(), V);
      b = argmax_cpu(lb.data(), V);
    }
    check(same == total && worst == 0 && gg->graph_captures() >= 2 && gg->n_past() == n + total,
          "300 steps past the 256-row cache: graph == eager (max-abs-diff)", worst);
    std::printf("  %-58s %12d  (info)\n", "decode graph captures (cache grew 256 -> 512)", gg->graph_captures());
  }
  // Opt-in FP8 prefill (set_fp8_prefill) on the bf16 model: a prefill's layers run in e4m3, decode stays bf16.
  // On an sm_90 device: the fp8 prefill logits against the bf16 model's, within fp8's error (e4m3 keeps 3 mantissa
  // bits: ~3.6e-2 relative per GEMM on random data, 12 GEMMs deep: the CPU twin measures ~0.1 against f32) and not
  // equal to them (the fp8 path was taken); the f32-weight model's fp8 prefill against the CPU twin's (the same e4m3
  // weights, bit for bit; the sums' order differs, so an activation an ulp apart may round to another e4m3 value, and
  // the tiny model's logits cancel: 4.7e-2 on an H200, as bf16 weights alone move them 8.7e-2 max-abs; a wrong
  // scale or layout is ~1); greedy decode after it through the graph equals the eager forward's bit for bit (the
  // graph never sees the copies); and off gives the bf16 logits back bit for bit. Elsewhere set_fp8_prefill must
  // answer false.
  {
    auto gb = Qwen3TextCuda::load(*ck, cfg, WType::BF16);
    auto gf = Qwen3TextCuda::load(*ck, cfg, WType::BF16);
    auto ge = Qwen3TextCuda::load(*ck, cfg, WType::BF16);
    ge->set_decode_graph(false);
    int dev = 0, major = 0, minor = 0;
    cudaGetDevice(&dev);
    cudaDeviceGetAttribute(&major, cudaDevAttrComputeCapabilityMajor, dev);
    cudaDeviceGetAttribute(&minor, cudaDevAttrComputeCapabilityMinor, dev);
    const bool sm90 = major == 9 && minor == 0;
    const bool on = gf->set_fp8_prefill(true) && ge->set_fp8_prefill(true);
    check(on == sm90, "fp8 prefill: on exactly on sm_90 (1 = on)", on);
    if (on) {
      const Json& P = prompts->arr[prompts->arr.size() - 1];
      std::vector<int> ids = ints(P.get("input_ids"));
      const int n = (int)ids.size();
      std::vector<int> pos3(3 * n);
      for (int r = 0; r < 3; ++r)
        for (int i = 0; i < n; ++i) pos3[r * n + i] = i;
      std::vector<float> lb((size_t)n * V), lf((size_t)n * V), le((size_t)n * V), lo((size_t)n * V);
      gb->prefill(ids.data(), n, pos3.data(), nullptr, lb.data(), true);
      gf->prefill(ids.data(), n, pos3.data(), nullptr, lf.data(), true);
      ge->prefill(ids.data(), n, pos3.data(), nullptr, le.data(), true);
      double num = 0, den = 0;
      for (size_t i = 0; i < lb.size(); ++i) {
        num += ((double)lf[i] - lb[i]) * ((double)lf[i] - lb[i]);
        den += (double)lb[i] * lb[i];
      }
      const double rel = std::sqrt(num / std::max(den, 1e-30)), diff = max_abs_diff(lf.data(), lb.data(), lb.size());
      check(rel <= 0.2, "fp8 prefill logits vs bf16, rel l2 (tol 0.2)", rel);
      check(diff > 0, "fp8 prefill path taken (max |fp8 - bf16| > 0)", diff);
      check(max_abs_diff(lf.data(), le.data(), lf.size()) == 0, "fp8 prefill, two models: identical logits",
            max_abs_diff(lf.data(), le.data(), lf.size()));
      int a = gf->last_argmax(), b = ge->last_argmax(), same = 0;
      double worst = 0;
      std::vector<float> da(V), db(V);
      for (int t = 0; t < steps; ++t) {
        gf->decode(a, da.data());
        ge->decode(b, db.data());
        worst = std::max(worst, max_abs_diff(da.data(), db.data(), V));
        same += a == b;
        a = argmax_cpu(da.data(), V);
        b = argmax_cpu(db.data(), V);
      }
      check(same == steps && worst == 0 && gf->graph_captures() >= 1,
            "after a fp8 prefill, decode graph == eager, 32 steps (max-abs-diff)", worst);
      gf->set_fp8_prefill(false);
      gf->reset();
      gf->prefill(ids.data(), n, pos3.data(), nullptr, lo.data(), true);
      check(max_abs_diff(lo.data(), lb.data(), lb.size()) == 0, "fp8 prefill off: the bf16 logits bit for bit",
            max_abs_diff(lo.data(), lb.data(), lb.size()));
      std::printf("  %-58s %12.2f  (info)\n", "fp8 copies, MB (weights with them)", gf->weight_bytes() / 1e6);
      auto g8 = Qwen3TextCuda::load(*ck, cfg, WType::F32);
      g8->set_fp8_prefill(true);
      cpu->set_fp8_prefill(true);
      cpu->reset();
      std::vector<float> lcpu((size_t)n * V), lcuda((size_t)n * V);
      cpu->prefill(ids.data(), n, pos3.data(), nullptr, lcpu.data(), true);
      g8->prefill(ids.data(), n, pos3.data(), nullptr, lcuda.data(), true);
      cpu->set_fp8_prefill(false);
      double tn = 0, td = 0;
      for (size_t i = 0; i < lcpu.size(); ++i) {
        tn += ((double)lcuda[i] - lcpu[i]) * ((double)lcuda[i] - lcpu[i]);
        td += (double)lcpu[i] * lcpu[i];
      }
      const double twin = std::sqrt(tn / std::max(td, 1e-30));
      check(twin <= 0.1, "fp8 prefill, CUDA f32 weights vs the CPU twin, rel l2 (tol 0.1)", twin);
    }
  }
  // FP8 weights (set_fp8_weights: the copies for every forward, decode on ops/gemv_fp8), on an sm_90 device: decode
  // through the graph == the eager forward bit for bit, 32 steps; the bf16 sources given back: the same logits bit for
  // bit and weight_bytes down by their bytes; the f32-weight model's decode logits against the CPU twin's, following
  // the same tokens (rel l2, tol 0.1 as the fp8 prefill's twin row above).
  if (cfg.hidden_size % 16 == 0) {
    auto wg = Qwen3TextCuda::load(*ck, cfg, WType::BF16), we = Qwen3TextCuda::load(*ck, cfg, WType::BF16);
    auto wr = Qwen3TextCuda::load(*ck, cfg, WType::BF16), w32 = Qwen3TextCuda::load(*ck, cfg, WType::F32);
    auto wc = Qwen3Text::load(*ck, cfg);
    we->set_decode_graph(false);
    const size_t bf16_bytes = wr->weight_bytes();
    const bool on = wg->set_fp8_weights(true) && we->set_fp8_weights(true) && wr->set_fp8_weights(true, false) &&
                    w32->set_fp8_weights(true);
    wc->set_fp8_weights(true);
    if (on) {
      const Json& P = prompts->arr[0];
      std::vector<int> ids = ints(P.get("input_ids"));
      const int n = (int)ids.size();
      std::vector<int> pos3(3 * n);
      for (int r = 0; r < 3; ++r)
        for (int i = 0; i < n; ++i) pos3[r * n + i] = i;
      std::vector<float> lg(V), le(V), lr(V), l32(V), lcpu(V);
      wg->prefill(ids.data(), n, pos3.data(), nullptr, lg.data(), false);
      we->prefill(ids.data(), n, pos3.data(), nullptr, le.data(), false);
      wr->prefill(ids.data(), n, pos3.data(), nullptr, lr.data(), false);
      w32->prefill(ids.data(), n, pos3.data(), nullptr, l32.data(), false);
      wc->prefill(ids.data(), n, pos3.data(), nullptr, lcpu.data(), false);
      double ge = max_abs_diff(lg.data(), le.data(), V), gr = max_abs_diff(lg.data(), lr.data(), V), tn = 0, td = 0;
      for (int t = 0; t < steps; ++t) {
        const int next = argmax_cpu(lcpu.data(), V);  // every model follows the CPU twin's tokens
        wg->decode(next, lg.data());
        we->decode(next, le.data());
        wr->decode(next, lr.data());
        w32->decode(next, l32.data());
        wc->decode(next, lcpu.data());
        ge = std::max(ge, max_abs_diff(lg.data(), le.data(), V));
        gr = std::max(gr, max_abs_diff(lg.data(), lr.data(), V));
        for (int i = 0; i < V; ++i) {
          tn += ((double)l32[i] - lcpu[i]) * ((double)l32[i] - lcpu[i]);
          td += (double)lcpu[i] * lcpu[i];
        }
      }
      check(ge == 0 && wg->graph_captures() >= 1, "fp8 weights: decode graph == eager, 32 steps (max-abs-diff)", ge);
      check(gr == 0 && wr->weight_bytes() < bf16_bytes, "fp8 weights: bf16 given back, the same logits (max-abs-diff)",
            gr);
      const double twin = std::sqrt(tn / std::max(td, 1e-30));
      check(twin <= 0.1, "fp8 weights decode, CUDA f32 weights vs the CPU twin, rel l2 (tol 0.1)", twin);
      std::printf("  %-58s %12.2f  (info)\n", "fp8 weights: MB after the bf16 ones were given back",
                  wr->weight_bytes() / 1e6);
    }
  }
  // The prefill's GEMM inputs in bf16 from their producers (the default where every layer's q|k|v and gate|up run on
  // the bf16 GEMM: the norms write the rows, the flash kernel its output for o) against the f32 rows and a cast before
  // each GEMM (COSMOS_PREFILL_BF16_INPUTS=0): the same numbers, so every row's logits bit for bit, across a prompt with
  // 100 visual rows and deepstack features after layers 0 and 1 (the f32 norm and a cast there), then 8 decode steps
  // on the caches each prefill wrote.
  // A 3-layer decoder at the 8B's head shape (head_dim 128, 8 q / 2 kv heads) for random bf16 weights.
  auto head128_config = [](int hidden, int inter) {
    Qwen3TextConfig c;
    c.vocab_size = 2048;
    c.hidden_size = hidden;
    c.intermediate_size = inter;
    c.num_layers = 3;
    c.num_heads = 8;
    c.num_kv_heads = 2;
    c.head_dim = 128;
    c.mrope_section[0] = 24;
    c.mrope_section[1] = 20;
    c.mrope_section[2] = 20;
    return c;
  };
  {
    const Qwen3TextConfig bc = head128_config(1024, 1024);  // gate|up + SwiGLU fused: inter % 128 == 0
    auto m = Qwen3TextCuda::random(bc, WType::BF16, 91, 0.02f);
    const int n = 230, BV = bc.vocab_size, BH = bc.hidden_size;
    std::vector<int> ids(n), pos3(3 * n), rows(100);
    for (int i = 0; i < n; ++i) ids[i] = (i * 7919 + 5) % BV;
    for (int r = 0; r < 3; ++r)
      for (int i = 0; i < n; ++i) pos3[r * n + i] = i;
    for (int i = 0; i < 100; ++i) rows[i] = 10 + i;
    std::vector<float> emb(100 * (size_t)BH), ds0(emb.size()), ds1(emb.size());
    for (size_t i = 0; i < emb.size(); ++i) {
      emb[i] = 0.02f * std::sin(0.37f * i);
      ds0[i] = 0.01f * std::cos(0.11f * i);
      ds1[i] = 0.01f * std::sin(0.23f * i + 1.f);
    }
    VisualInputs vis;
    vis.rows = rows.data();
    vis.n_rows = 100;
    vis.embeds = emb.data();
    vis.deepstack = {ds0.data(), ds1.data()};
    std::vector<float> lf((size_t)n * BV), lb((size_t)n * BV), sf(BV), sb(BV);
    double step_diff = 0;
    // The f32 residual stream throughout the bit-for-bit checks (the bf16 stream, the default, needs the bf16 inputs
    // and rounds each add: checked against this after them).
    setenv("COSMOS_PREFILL_BF16_RESIDUAL", "0", 1);
    setenv("COSMOS_PREFILL_BF16_INPUTS", "0", 1);
    m->prefill(ids.data(), n, pos3.data(), &vis, lf.data(), true);
    const bool off = !m->last_prefill_bf16_inputs();
    std::vector<float> steps_f32;
    std::vector<int> toks;
    for (int t = 0; t < 8; ++t) {
      toks.push_back(argmax_cpu(t == 0 ? lf.data() + (size_t)(n - 1) * BV : sf.data(), BV));
      m->decode(toks.back(), sf.data());
      steps_f32.insert(steps_f32.end(), sf.begin(), sf.end());
    }
    unsetenv("COSMOS_PREFILL_BF16_INPUTS");
    m->reset();
    m->prefill(ids.data(), n, pos3.data(), &vis, lb.data(), true);
    const bool on = m->last_prefill_bf16_inputs(), in_gemm = m->last_prefill_residual_in_gemm();
    for (int t = 0; t < 8; ++t) {
      m->decode(argmax_cpu(t == 0 ? lb.data() + (size_t)(n - 1) * BV : sb.data(), BV), sb.data());
      step_diff = std::max(step_diff, max_abs_diff(sb.data(), steps_f32.data() + (size_t)t * BV, BV));
    }
    if (!on) {
      check(off, "prefill bf16 inputs: not served here (f32 rows both times)", 0);
      std::printf("  %-58s %12s  (skipped: no bf16 GEMM path on this device)\n", "prefill bf16 inputs vs f32 + casts",
                  "");
    } else {
      check(off, "prefill bf16 inputs: f32 rows with =0, bf16 rows by default", 0);
      check(lf == lb, "prefill logits, bf16 inputs vs f32 + casts (bitwise), max |diff|",
            max_abs_diff(lb.data(), lf.data(), lf.size()));
      check(step_diff == 0, "8 decode steps after them (bitwise), max |diff|", step_diff);
      // The residual adds in the o and down GEMMs' epilogue (the default with the bf16 inputs) against the norms'
      // (COSMOS_RESIDUAL_IN_GEMM=0): the same logits.
      std::vector<float> ln((size_t)n * BV);
      setenv("COSMOS_RESIDUAL_IN_GEMM", "0", 1);
      m->reset();
      m->prefill(ids.data(), n, pos3.data(), &vis, ln.data(), true);
      const bool norm_adds = !m->last_prefill_residual_in_gemm();
      unsetenv("COSMOS_RESIDUAL_IN_GEMM");
      check(in_gemm && norm_adds, "prefill residual adds: in the GEMMs by default, in the norms with =0", 0);
      check(ln == lb, "prefill logits, residual in the GEMMs vs in the norms (bitwise), max |diff|",
            max_abs_diff(lb.data(), ln.data(), ln.size()));
    }
    // One logits row (all_logits = false, what reason() asks): the last layer (no deepstack feature) runs its MLP and
    // final norm on the last row alone, on the decode GEMVs (x and h in f32, not rounded to bf16 as the GEMM rows):
    // that row within bf16 rounding of the full prefill's, and the caches the same: the 8 steps bit for bit.
    {
      std::vector<float> l1(BV), s1(BV);
      m->reset();
      m->prefill(ids.data(), n, pos3.data(), &vis, l1.data(), false);
      double num = 0, den = 0, one_steps = 0;
      for (int i = 0; i < BV; ++i) {
        const double d = (double)l1[i] - lb[(size_t)(n - 1) * BV + i];
        num += d * d;
        den += (double)lb[(size_t)(n - 1) * BV + i] * lb[(size_t)(n - 1) * BV + i];
      }
      for (int t = 0; t < 8; ++t) {
        m->decode(toks[t], s1.data());
        one_steps = std::max(one_steps, max_abs_diff(s1.data(), steps_f32.data() + (size_t)t * BV, BV));
      }
      const double rel = std::sqrt(num / std::max(den, 1e-30));
      check(rel <= 1e-2, "prefill, one logits row vs the full prefill's last row (rel l2)", rel);
      check(one_steps == 0, "8 decode steps after it, vs after the full prefill (bitwise)", one_steps);
    }
    // The residual stream in bf16 (the default, transformers' own), every row's logits and then the logits row alone,
    // against the f32 stream (lb, COSMOS_PREFILL_BF16_RESIDUAL=0): each residual add and the deepstack adds round to
    // bf16 (~2^-9 of the stream a step; a wiring slip, a missed add or a stale row, would be O(1)); the row alone
    // within bf16 rounding of the full prefill's last row again.
    unsetenv("COSMOS_PREFILL_BF16_RESIDUAL");
    if (on && in_gemm) {
      std::vector<float> lr((size_t)n * BV), lr1(BV), l_f32(BV);
      m->reset();
      m->prefill(ids.data(), n, pos3.data(), &vis, lr.data(), true);
      const bool bf16_stream = m->last_prefill_bf16_residual();
      m->reset();
      m->prefill(ids.data(), n, pos3.data(), &vis, lr1.data(), false);
      setenv("COSMOS_PREFILL_BF16_RESIDUAL", "0", 1);
      m->reset();
      m->prefill(ids.data(), n, pos3.data(), &vis, l_f32.data(), false);
      const bool f32_again = !m->last_prefill_bf16_residual();
      unsetenv("COSMOS_PREFILL_BF16_RESIDUAL");
      check(bf16_stream && f32_again, "prefill residual stream: bf16 by default, f32 with =0", 0);
      const double all_rows = rel_l2(lr.data(), lb.data(), lr.size());
      check(all_rows <= 2e-2, "prefill logits, bf16 stream vs f32 (rel l2, every row)", all_rows);
      const double last = rel_l2(lr1.data(), lr.data() + (size_t)(n - 1) * BV, BV);
      check(last <= 1e-2, "bf16 stream: one logits row vs its full prefill's last row (rel l2)", last);
    }
  }
  // The persistent decode step (set_decode_persistent; sm_90 only) on random bf16 weights of a shape it serves
  // (head_dim 128; q|k|v's and gate|up's 4096-wide rows fill a ring slot, o's 1024-wide rows are one short piece,
  // down's 5000-wide rows a slot and a short piece): its graph step against the graph of kernels', the same tokens
  // fed to both. A 3-token prompt + 40 steps (one key split, then two), then a 230-token prompt + 40 steps (8-9
  // splits; the KV cache grows past 256 rows: a re-capture with the layer table rewritten), then 1100- and 140-token
  // prompts at 32 / 64 key splits and one / two combine levels. Logits rel l2 <= 1e-4 at every step (the GEMVs sum in
  // the graph's order; the norms and the attention in their own), the same argmax. On the f32 KV cache: f32 rounding
  // apart stays f32 rounding apart there (on the bf16 cache a key an f32 ulp apart may round to a bf16 one apart:
  // those rows follow the bf16 cache's tests below).
  {
    const Qwen3TextConfig pc = head128_config(4096, 5000);
    auto base = Qwen3TextCuda::random(pc, WType::BF16, 77, 0.02f);
    auto pers = Qwen3TextCuda::random(pc, WType::BF16, 77, 0.02f);
    base->set_kv_cache_bf16(false);
    pers->set_kv_cache_bf16(false);
    const bool on_by_default = base->decode_persistent();
    base->set_decode_persistent(false);  // the graph of kernels
    if (!pers->set_decode_persistent(true)) {
      std::printf("  %-58s %12s  (skipped: not served on this device)\n", "persistent decode step", "");
    } else {
      const int PV = pc.vocab_size;
      double worst = 0;
      int argmax_diff = 0;
      std::vector<int> fed;           // the 230-token run's tokens fed
      std::vector<float> pers_first;  // and its persistent logits, step after step
      std::vector<int> ids, pos3;
      auto set_prompt = [&](int n) { spread_prompt(n, PV, ids, pos3); };
      for (int n : {3, 230}) {
        set_prompt(n);
        const Agreement a = follow_base(*base, *pers, ids, pos3, PV, 40, [&](int next, const std::vector<float>& lp) {
          if (n != 230) return;
          fed.push_back(next);
          pers_first.insert(pers_first.end(), lp.begin(), lp.end());
        });
        worst = std::max(worst, a.worst);
        argmax_diff += a.argmax_diff;
      }
      check(worst <= 1e-4 && pers->decode_persistent() && pers->graph_captures() >= 2,
            "persistent decode step vs the graph step, 80 steps, rel l2 (tol 1e-4)", worst);
      check(argmax_diff == 0, "persistent decode step: the same argmax at every step", argmax_diff);
      const char* env = std::getenv("COSMOS_DECODE_PERSISTENT");
      check(on_by_default || (env && std::strcmp(env, "0") == 0), "persistent decode step: on at load where served", 0);
      // The 230-token run again, with plain copies (not evict-first), 12 blocks fewer in the grid, rows prefetched into
      // L2 at the phase boundaries and the timed twin: none changes the arithmetic, so the logits are the same bit for
      // bit; the timing holds the 40 steps and the attention's parts.
      Qwen3PersistentTuning tuning;
      tuning.copies_evict_first = false;
      tuning.grid_blocks = std::max(8, qwen3_decode_persistent_blocks() - 12);
      tuning.boundary_prefetch_kb = 32;
      pers->set_decode_persistent_tuning(tuning, true);
      pers->reset();
      std::vector<float> lp(PV);
      pers->prefill(ids.data(), (int)ids.size(), pos3.data(), nullptr, lp.data(), false);
      double tuned_diff = 0;
      for (size_t t = 0; t < fed.size(); ++t) {
        pers->decode(fed[t], lp.data());
        for (int i = 0; i < PV; ++i)
          tuned_diff = std::max(tuned_diff, (double)std::fabs(lp[i] - pers_first[t * PV + i]));
      }
      check(tuned_diff == 0 && fed.size() == 40,
            "persistent step, plain copies + fewer blocks + boundary prefetch + timed vs defaults, max |diff|",
            tuned_diff);
      const std::string report = pers->decode_persistent_timing_report();
      check(report.find("40 steps") != std::string::npos && report.find("items a step") != std::string::npos &&
                report.find("ring slots landed at a grid-wide wait") != std::string::npos,
            "persistent step timing: the 40 timed steps, the attention's parts and the rings at the waits recorded", 0);
      std::printf("%s", report.c_str());
      // lm_head apart (gemv_decode after the step) against in the step (the default): the logits sum in gemv_decode's
      // order instead of the step's, so f32 rounding apart.
      Qwen3PersistentTuning apart;
      apart.lm_head_in_step = false;
      pers->set_decode_persistent_tuning(apart, false);
      pers->reset();
      pers->prefill(ids.data(), (int)ids.size(), pos3.data(), nullptr, lp.data(), false);
      double head_worst = 0;
      int head_argmax_diff = 0;
      for (size_t t = 0; t < fed.size(); ++t) {
        pers->decode(fed[t], lp.data());
        const float* ref = pers_first.data() + t * PV;
        head_worst = std::max(head_worst, rel_l2(lp.data(), ref, PV));
        head_argmax_diff += argmax_cpu(lp.data(), PV) != argmax_cpu(ref, PV);
      }
      check(head_worst <= 1e-5 && head_argmax_diff == 0 && !pers->decode_persistent_lm_head(),
            "persistent step with lm_head apart vs in it, 40 steps, rel l2 (tol 1e-5, same argmax)", head_worst);
      // Longer contexts, each a prompt + 8 steps against the graph step: 1100 tokens, where the default (32 key splits
      // a KV head) and max_splits 64 both split as far as they may (69 splits' worth of keys), each with one level of
      // combine and with the default two levels (4 / 8 groups of 8 splits); 140 tokens with two levels from 2 groups
      // (9-10 splits: a last group of 1-2). Then the attention a block an item (block_combine): 1100 tokens at 32 and
      // 64 splits (8 and 16 blocks a KV head), 140 tokens at 8 keys a split (5 blocks, 20 splits; the timed twin), and
      // 5 and 20 tokens with one block a KV head (its 4 splits combined straight into att; at 5 tokens the last split
      // empty).
      struct LongCase {
        int n, splits, two_level_from_groups, keys_per_split = 16;
        bool block_combine = false, timed = false;
      };
      const int two_default = Qwen3PersistentTuning{}.two_level_from_groups;
      for (const LongCase c : {LongCase{1100, 32, 0}, LongCase{1100, 64, 0}, LongCase{1100, 32, two_default},
                               LongCase{1100, 64, two_default}, LongCase{140, 32, 2}, LongCase{1100, 32, 0, 16, true},
                               LongCase{1100, 64, 0, 16, true}, LongCase{140, 32, 0, 8, true, true},
                               LongCase{5, 32, 0, 16, true}, LongCase{20, 32, 0, 16, true}}) {
        set_prompt(c.n);
        Qwen3PersistentTuning t;
        t.max_splits = c.splits;
        t.two_level_from_groups = c.two_level_from_groups;
        t.keys_per_split = c.keys_per_split;
        t.block_combine = c.block_combine;
        pers->set_decode_persistent_tuning(t, c.timed);
        const Agreement a = follow_base(*base, *pers, ids, pos3, PV, 8);
        char what[200];
        if (c.block_combine)
          std::snprintf(what, sizeof what,
                        "persistent step, %d keys, %d splits at most, %d keys a split, a block an item, vs graph, rel "
                        "l2 (1e-4)",
                        c.n, c.splits, c.keys_per_split);
        else
          std::snprintf(what, sizeof what,
                        "persistent step, %d keys, %d splits at most, two-level combine from %d groups (0: never), vs "
                        "graph, rel l2 (1e-4)",
                        c.n, c.splits, c.two_level_from_groups);
        check(a.worst <= 1e-4 && a.argmax_diff == 0, what, a.worst);
      }
      pers->set_decode_persistent_tuning(Qwen3PersistentTuning{}, false);
    }
  }
  // The persistent step with fp8 weights (set_fp8_weights: its e4m3 copies streamed through 4 KB slots) against the
  // graph of the fp8 GEMVs (ops/gemv_fp8), the same tokens fed to both: a 230-token prompt + 40 steps, logits rel l2 <=
  // 1e-4 (each row sums as gemv_fp8's; the norms and the attention in their own order), the same argmax. The shape's
  // rows: q|k|v's and gate|up's 4096 e4m3 bytes one slot each (x in registers), o's 1024 a short piece, down's 5008 a
  // slot and a short piece; lm_head's bf16 rows two slots. Again on 8 blocks (32 consumer warps: 48 q|k|v rows a
  // warp, so its row scales are loaded in two rounds of 32). Then set_fp8_weights(false) on the persistent model:
  // the bf16 step again, its logits against the bf16 graph step's. On the f32 KV cache, as above.
  {
    const Qwen3TextConfig pc = head128_config(4096, 5008);
    auto base = Qwen3TextCuda::random(pc, WType::BF16, 78, 0.02f);
    auto pers = Qwen3TextCuda::random(pc, WType::BF16, 78, 0.02f);
    base->set_kv_cache_bf16(false);
    pers->set_kv_cache_bf16(false);
    base->set_decode_persistent(false);
    const bool fp8 = base->set_fp8_weights(true) && pers->set_fp8_weights(true);
    if (!fp8 || !pers->decode_persistent()) {
      std::printf("  %-58s %12s  (skipped: not served on this device)\n", "persistent decode step, fp8 weights", "");
    } else {
      const int PV = pc.vocab_size;
      std::vector<int> ids, pos3;
      spread_prompt(230, PV, ids, pos3);
      Agreement a = follow_base(*base, *pers, ids, pos3, PV, 40);
      check(a.worst <= 1e-4 && a.argmax_diff == 0 && pers->graph_captures() >= 1,
            "persistent step, fp8 weights, vs the fp8 graph step, 40 steps, rel l2 (1e-4, same argmax)", a.worst);
      Qwen3PersistentTuning few;
      few.grid_blocks = 8;
      pers->set_decode_persistent_tuning(few, false);
      a = follow_base(*base, *pers, ids, pos3, PV, 40);
      check(a.worst <= 1e-4 && a.argmax_diff == 0,
            "persistent step, fp8 weights, 8 blocks (row scales in two rounds), vs graph, rel l2 (1e-4)", a.worst);
      pers->set_decode_persistent_tuning(Qwen3PersistentTuning{}, false);
      const bool back = !base->set_fp8_weights(false) && !pers->set_fp8_weights(false) && pers->decode_persistent();
      a = follow_base(*base, *pers, ids, pos3, PV, 40);
      check(back && a.worst <= 1e-4 && a.argmax_diff == 0,
            "fp8 weights off: the bf16 persistent step again, vs the bf16 graph step, rel l2 (1e-4)", a.worst);
    }
  }
  // The KV cache in bf16 (set_kv_cache_bf16; on at load for bf16 weights with head_dim >= 64, so every head-128 row
  // above ran on it unless COSMOS_KV_CACHE says otherwise): on by default there and off for f32 weights; half the
  // cache's bytes; the decode graph == the eager forward bit for bit (230-token prompt + 40 steps: the cache grows past
  // 256 rows); against the f32 cache, the same tokens fed, logits within bf16 rounding of the keys and values (rel l2
  // <= 2e-2; a wrong row or layout is O(1)) and not equal (the bf16 rows were read); the persistent step on the bf16
  // cache against the graph step on it, bf16 and fp8 weights: 3 + 40, 230 + 40 and 1100 + 8 tokens, rel l2 <= 1e-3 and
  // the same argmax (the two steps' keys agree to f32 rounding, and a key an f32 ulp apart may round to a bf16 ulp
  // apart: 2.3e-4 measured over 3 + 40 tokens on an H100, ~1e-6 elsewhere; a wrong row or layout is O(1e-2) or more).
  {
    const Qwen3TextConfig kc = head128_config(1024, 1024);
    auto kb = Qwen3TextCuda::random(kc, WType::BF16, 93, 0.02f);
    auto ke = Qwen3TextCuda::random(kc, WType::BF16, 93, 0.02f);
    auto kf = Qwen3TextCuda::random(kc, WType::BF16, 93, 0.02f);
    const char* env = std::getenv("COSMOS_KV_CACHE");
    check(env || (kb->kv_cache_bf16() && !g32->kv_cache_bf16() && !g16->kv_cache_bf16()),
          "KV cache: bf16 at load for bf16 weights at head_dim >= 64, f32 otherwise", 0);
    kb->set_kv_cache_bf16(true);
    ke->set_kv_cache_bf16(true);
    ke->set_decode_graph(false);
    ke->set_decode_persistent(false);
    kb->set_decode_persistent(false);  // the graph of kernels
    kf->set_decode_persistent(false);
    // bytes: the f32 cache of 1024 rows, then the bf16 one (a switch gives the old blocks back)
    const double row_bytes = 2.0 * kc.num_layers * kc.num_kv_heads * kc.head_dim;  // K and V, a value each
    kf->set_kv_cache_bf16(false);
    const size_t before = kf->pool().bytes_in_use();
    kf->reserve(1024);
    const double f32_bytes = (double)(kf->pool().bytes_in_use() - before);
    kf->set_kv_cache_bf16(true);
    kf->reserve(1024);
    const double bf16_bytes = (double)(kf->pool().bytes_in_use() - before);
    check(f32_bytes >= 4 * 1024 * row_bytes && bf16_bytes >= 2 * 1024 * row_bytes && bf16_bytes <= 0.55 * f32_bytes,
          "KV cache bytes at 1024 rows, bf16 / f32", bf16_bytes / std::max(f32_bytes, 1.0));
    kf->set_kv_cache_bf16(false);
    const int KV = kc.vocab_size;
    std::vector<int> ids, pos3;
    spread_prompt(230, KV, ids, pos3);
    const Agreement ge = follow_base(*kb, *ke, ids, pos3, KV, 40);
    check(ge.worst == 0 && kb->graph_captures() >= 2 && kb->kv_cache_bf16() && ke->kv_cache_bf16(),
          "bf16 KV cache: decode graph == eager, 230 + 40 steps (rel l2)", ge.worst);
    const Agreement bf = follow_base(*kf, *kb, ids, pos3, KV, 40);
    check(bf.worst > 0 && bf.worst <= 2e-2, "bf16 KV cache vs f32, 40 steps, rel l2 (tol 2e-2, > 0)", bf.worst);
    std::printf("  %-58s %12d  (info)\n", "bf16 KV cache vs f32: steps whose argmax differs (of 40)", bf.argmax_diff);
    const Qwen3TextConfig pc = head128_config(4096, 5008);
    auto pbase = Qwen3TextCuda::random(pc, WType::BF16, 79, 0.02f);
    auto pers = Qwen3TextCuda::random(pc, WType::BF16, 79, 0.02f);
    pbase->set_decode_persistent(false);
    pbase->set_kv_cache_bf16(true);
    pers->set_kv_cache_bf16(true);
    for (const bool fp8 : {false, true}) {
      if (fp8 && !(pbase->set_fp8_weights(true) && pers->set_fp8_weights(true))) break;
      if (!pers->decode_persistent()) break;
      for (const int n : {3, 230, 1100}) {
        spread_prompt(n, pc.vocab_size, ids, pos3);
        const Agreement a = follow_base(*pbase, *pers, ids, pos3, pc.vocab_size, n == 1100 ? 8 : 40);
        char what[160];
        std::snprintf(what, sizeof what, "persistent step on the bf16 KV cache vs graph, %s weights, %d tokens, rel l2",
                      fp8 ? "fp8" : "bf16", n);
        check(a.worst <= 1e-3 && a.argmax_diff == 0 && pers->kv_cache_bf16(), what, a.worst);
      }
    }
  }
  // decode_greedy / decode_sample smoke: greedy through the GPU argmax matches the host argmax path.
  {
    g32->reset();
    std::vector<int> ids = {1401, 82, 88, 818};
    int pos[12];
    for (int r = 0; r < 3; ++r)
      for (int i = 0; i < 4; ++i) pos[r * 4 + i] = i;
    std::vector<float> l(V);
    g32->prefill(ids.data(), 4, pos, nullptr, l.data(), false);
    int a = g32->last_argmax(), b = argmax_cpu(l.data(), V);
    int c = g32->decode_greedy(a);
    uint64_t rs = 7;
    SamplingParams sp{0.f, 0, 1.f, 1.0f, 0.f};
    int d = g32->decode_sample(c, sp, ids.data(), 4, &rs);
    check(a == b && c >= 0 && d >= 0 && g32->n_past() == 6, "GPU argmax == host argmax; decode_greedy/sample run", a);
    std::printf("pool after tests: in use %.2f MB, peak %.2f MB, weights %.2f MB\n", g32->pool().bytes_in_use() / 1e6,
                g32->pool().peak_bytes() / 1e6, g32->weight_bytes() / 1e6);
  }
  std::printf("%s: %d failing check(s)\n", fails ? "FAIL" : "OK", fails);
  return fails ? 1 : 0;
}
