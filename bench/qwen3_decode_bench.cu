// Decode tokens/s of the CUDA Qwen3 text decoder at Qwen3-VL-8B's text shape (hidden 4096, 36 layers,
// 32 q heads / 8 KV heads of 128, intermediate 12288, vocab 151936), random bf16 weights generated on
// the GPU, versus the bandwidth roofline: (matmul weight bytes read per token) / (measured D2D copy
// bandwidth). Decode runs through the CUDA graph (the default), then again on the eager path
// (set_decode_graph(false)) for comparison. Also times the GEMV alone on the model's shapes. COSMOS_FP8_WEIGHTS=1: the
// layers' weights in e4m3 (Qwen3TextCuda::set_fp8_weights; decode on ops/gemv_fp8), the roofline on their bytes.
// The graph's step is one persistent kernel where served (the default; COSMOS_DECODE_PERSISTENT=0: the graph of
// kernels; Qwen3TextCuda::set_decode_persistent; the eager comparison stays the kernels' forward; then its tuning swept
// (Qwen3PersistentTuning's levers, each alone and the faster ones together) and its timed twin's reports). Build + run:
//   bash native/test/build_ops_test.sh && native/build/ops_test/qwen3_decode_bench [prompt] [new]
#include <cuda_runtime.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <string>
#include <vector>

#include "../native/src/core/cuda_common.h"
#include "../native/src/models/qwen3_text_cuda.h"
#include "../native/src/ops/attention.h"
#include "../native/src/ops/gemv_decode.h"
#include "../native/src/ops/gemv_swiglu.h"
#include "../native/src/ops/rmsnorm.h"
#include "../native/src/ops/swiglu.h"

using namespace cosmos;

// Ops timed on their own run on the legacy default stream (the events time that stream); their
// workspaces come from this pool, which serves that stream only.
static const CudaContext& default_stream_ctx() {
  static CudaPool pool;
  static const CudaContext ctx{0, &pool};
  return ctx;
}

static double d2d_bandwidth(size_t bytes) {
  void *a, *b;
  CUDA_CHECK(cudaMalloc(&a, bytes));
  CUDA_CHECK(cudaMalloc(&b, bytes));
  CUDA_CHECK(cudaMemset(a, 1, bytes));
  cudaEvent_t e0, e1;
  cudaEventCreate(&e0);
  cudaEventCreate(&e1);
  CUDA_CHECK(cudaMemcpy(b, a, bytes, cudaMemcpyDeviceToDevice));
  cudaEventRecord(e0);
  const int reps = 10;
  for (int i = 0; i < reps; ++i) cudaMemcpyAsync(b, a, bytes, cudaMemcpyDeviceToDevice);
  cudaEventRecord(e1);
  cudaEventSynchronize(e1);
  float ms;
  cudaEventElapsedTime(&ms, e0, e1);
  cudaFree(a);
  cudaFree(b);
  return 2.0 * bytes * reps / (ms * 1e-3);  // read + write traffic
}

// Weight-read bandwidth of one n = 1 GEMV: matmul_cuda's GEMV, or gemv_decode_cuda (what decode uses).
static double gemv_bandwidth(int k, int m, bool decode_kernel = false) {
  size_t wb = (size_t)k * m * 2;
  void* w;
  float *x, *y;
  CUDA_CHECK(cudaMalloc(&w, wb));
  CUDA_CHECK(cudaMalloc(&x, k * 4));
  CUDA_CHECK(cudaMalloc(&y, m * 4));
  cudaMemset(w, 0, wb);
  cudaMemset(x, 0, k * 4);
  auto run = [&] {
    if (decode_kernel)
      gemv_decode_cuda(y, x, w, WType::BF16, k, m, default_stream_ctx());
    else
      matmul_cuda(y, x, w, WType::BF16, nullptr, 1, k, m, default_stream_ctx());
  };
  run();
  cudaEvent_t e0, e1;
  cudaEventCreate(&e0);
  cudaEventCreate(&e1);
  const int reps = 20;
  cudaEventRecord(e0);
  for (int i = 0; i < reps; ++i) run();
  cudaEventRecord(e1);
  cudaEventSynchronize(e1);
  float ms;
  cudaEventElapsedTime(&ms, e0, e1);
  cudaFree(w);
  cudaFree(x);
  cudaFree(y);
  return (double)wb * reps / (ms * 1e-3);
}

// Mean device time of fn over reps launches (microseconds).
template <typename F>
static double time_us(F fn, int reps = 200) {
  fn();
  cudaEvent_t e0, e1;
  cudaEventCreate(&e0);
  cudaEventCreate(&e1);
  cudaEventRecord(e0);
  for (int i = 0; i < reps; ++i) fn();
  cudaEventRecord(e1);
  cudaEventSynchronize(e1);
  float ms;
  cudaEventElapsedTime(&ms, e0, e1);
  return ms * 1e3 / reps;
}

int main(int argc, char** argv) {
  int prompt = argc > 1 ? std::atoi(argv[1]) : 128;
  int gen = argc > 2 ? std::atoi(argv[2]) : 128;
  if (cuda_device_count() == 0) {
    std::printf("no CUDA device\n");
    return 2;
  }
  cudaDeviceProp prop;
  CUDA_CHECK(cudaGetDeviceProperties(&prop, 0));
  Qwen3TextConfig c;
  c.vocab_size = 151936;
  c.hidden_size = 4096;
  c.intermediate_size = 12288;
  c.num_layers = 36;
  c.num_heads = 32;
  c.num_kv_heads = 8;
  c.head_dim = 128;
  c.rms_norm_eps = 1e-6f;
  c.rope_theta = 5000000.f;
  c.mrope_section[0] = 24;
  c.mrope_section[1] = 20;
  c.mrope_section[2] = 20;
  c.mrope_interleaved = true;

  double bw = d2d_bandwidth((size_t)2 << 30);
  double gemv_lm = gemv_bandwidth(4096, 151936), gemv_gu = gemv_bandwidth(4096, 2 * 12288),
         gemv_dn = gemv_bandwidth(12288, 4096), gemv_qkv = gemv_bandwidth(4096, 6144);
  double dgemv_lm = gemv_bandwidth(4096, 151936, true), dgemv_dn = gemv_bandwidth(12288, 4096, true),
         dgemv_qkv = gemv_bandwidth(4096, 6144, true);
  const double H = c.hidden_size, I = c.intermediate_size, V = c.vocab_size;
  const double QH = c.num_heads * 128.0, KH = c.num_kv_heads * 128.0;
  const double per_layer = (QH + 2 * KH) * H + H * QH + 2 * I * H + H * I;
  double wbytes = 2.0 * (c.num_layers * per_layer + V * H);  // bf16 matmul weights read per token

  auto t0 = std::chrono::steady_clock::now();
  auto m = Qwen3TextCuda::random(c, WType::BF16, 1234, 0.02f);
  // COSMOS_FP8_WEIGHTS=1 (read by the load): the layers' weights in e4m3, one byte each a token (lm_head stays bf16).
  if (m->fp8_weights()) wbytes = c.num_layers * per_layer + 2.0 * V * H;
  m->reserve(prompt + gen + 16);
  auto t1 = std::chrono::steady_clock::now();
  std::mt19937 rng(1);
  std::vector<int> ids(prompt), pos3(3 * prompt);
  for (auto& i : ids) i = rng() % 150000;
  for (int r = 0; r < 3; ++r)
    for (int i = 0; i < prompt; ++i) pos3[r * prompt + i] = i;
  // Warm-up pass (first launches, pool growth), then the measured prefill.
  m->prefill(ids.data(), prompt, pos3.data(), nullptr, nullptr, false);
  m->reset();
  auto t2 = std::chrono::steady_clock::now();
  m->prefill(ids.data(), prompt, pos3.data(), nullptr, nullptr, false);
  int tok = m->last_argmax();
  auto t3 = std::chrono::steady_clock::now();
  for (int i = 0; i < 4; ++i) tok = m->decode_greedy(tok);  // warm-up decode steps
  auto t4 = std::chrono::steady_clock::now();
  for (int i = 0; i < gen; ++i) tok = m->decode_greedy(tok);
  auto t5 = std::chrono::steady_clock::now();
  auto sec = [](auto a, auto b) { return std::chrono::duration<double>(b - a).count(); };
  double dec_s = sec(t4, t5), tps = gen / dec_s, roof_ms = wbytes / bw * 1e3;
  const int captures = m->graph_captures();
  const bool graph = m->decode_graph();
  // The same greedy decode again from the same prompt: ms a token over gen steps after 4 warm-up steps; last = the
  // last token.
  auto greedy_ms = [&](int& last) {
    m->reset();
    m->prefill(ids.data(), prompt, pos3.data(), nullptr, nullptr, false);
    last = m->last_argmax();
    for (int i = 0; i < 4; ++i) last = m->decode_greedy(last);
    auto a = std::chrono::steady_clock::now();
    for (int i = 0; i < gen; ++i) last = m->decode_greedy(last);
    return sec(a, std::chrono::steady_clock::now()) / gen * 1e3;
  };
  // On the eager path (one launch per kernel).
  m->set_decode_graph(false);
  int tok_e = 0;
  const double eager_ms = greedy_ms(tok_e);
  m->set_decode_graph(true);
  // The same graph step on the other KV cache format (Qwen3TextCuda::set_kv_cache_bf16: bf16 by default for these bf16
  // weights, COSMOS_KV_CACHE=f32 makes the run above the f32 one): what the cache's bytes are worth at this context.
  const bool kv_bf16 = m->kv_cache_bf16();
  m->set_kv_cache_bf16(!kv_bf16);
  m->reserve(prompt + gen + 16);
  int tok_kv = 0;
  const double other_kv_ms = greedy_ms(tok_kv);
  m->set_kv_cache_bf16(kv_bf16);
  m->reserve(prompt + gen + 16);
  // Sampled decode at the Reasoner's default settings (T 0.7, top-k 20, top-p 0.8, presence 1.5), two
  // ways on the same graph step: the logits row copied to the host and sample_cpu there (what the
  // addon's token loop did before the GPU sampler), and decode_sample (this tree: the GPU sampler, only
  // the id comes back). The history (prompt + sampled) feeds the penalty, as in the token loop.
  const SamplingParams reasoner{0.7f, 20, 0.8f, 1.0f, 1.5f};
  auto sampled_ms = [&](bool on_gpu) {
    m->reset();
    m->prefill(ids.data(), prompt, pos3.data(), nullptr, nullptr, false);
    std::vector<int> hist = ids;
    std::vector<float> row(c.vocab_size);
    uint64_t rs = 42;
    int t = m->last_argmax();
    auto step = [&] {
      hist.push_back(t);
      if (on_gpu) {
        t = m->decode_sample(t, reasoner, hist.data(), (int)hist.size(), &rs);
      } else {
        m->decode(t, row.data());
        t = sample_cpu(row.data(), c.vocab_size, reasoner, hist.data(), (int)hist.size(), &rs);
      }
    };
    for (int i = 0; i < 4; ++i) step();
    auto a = std::chrono::steady_clock::now();
    for (int i = 0; i < gen; ++i) step();
    return sec(a, std::chrono::steady_clock::now()) / gen * 1e3;
  };
  const double host_ms = sampled_ms(false), gpu_ms = sampled_ms(true);
  std::printf("device: %s\n", prop.name);
  std::printf("D2D copy bandwidth (read+write): %.0f GB/s\n", bw / 1e9);
  std::printf(
      "GEMV bf16 n=1 weight-read bandwidth: lm_head 4096x151936 %.0f GB/s, gate|up 4096x24576 %.0f GB/s, "
      "down 12288x4096 %.0f GB/s, qkv 4096x6144 %.0f GB/s\n",
      gemv_lm / 1e9, gemv_gu / 1e9, gemv_dn / 1e9, gemv_qkv / 1e9);
  std::printf("decode GEMV (gemv_decode_cuda, 8 loads/lane): lm_head %.0f GB/s, down %.0f GB/s, qkv %.0f GB/s\n",
              dgemv_lm / 1e9, dgemv_dn / 1e9, dgemv_qkv / 1e9);
  std::printf(
      "weights: %.2f GB on GPU (embedding bf16), %.2f GB %s matmul weights read per token; random init %.2f s\n",
      m->weight_bytes() / 1e9, wbytes / 1e9, m->fp8_weights() ? "e4m3 (layers) + bf16 (lm_head)" : "bf16", sec(t0, t1));
  std::printf("prefill %d tokens: %.1f ms (%.0f tokens/s)\n", prompt, sec(t2, t3) * 1e3, prompt / sec(t2, t3));
  // The graph's step is the persistent kernel by default, the graph of kernels under COSMOS_DECODE_PERSISTENT=0 (read
  // by the load); each its own row in the join.
  std::printf("decode %d tokens after a %d-token prompt%s: %.2f ms/token, %.1f tokens/s (%s, %d capture(s))\n", gen,
              prompt, m->decode_persistent() ? ", persistent step" : "", dec_s / gen * 1e3, tps,
              graph ? "CUDA graph" : "eager: graph capture failed", captures);
  std::printf("same decode on the eager path: %.2f ms/token, %.1f tokens/s; last token graph %d, eager %d (%s)\n",
              eager_ms, 1e3 / eager_ms, tok, tok_e, tok == tok_e ? "same" : "DIFFERENT");
  std::printf("KV cache %s; the same step on the %s cache: %.2f ms/token, %.1f tokens/s (%+.1f%% tokens/s)\n",
              kv_bf16 ? "bf16" : "f32", kv_bf16 ? "f32" : "bf16", other_kv_ms, 1e3 / other_kv_ms,
              100.0 * (dec_s / gen * 1e3 / other_kv_ms - 1.0));
  std::printf(
      "sampled decode %d tokens (T 0.7 top-k 20 top-p 0.8 presence 1.5): host row + sample_cpu %.2f ms/token "
      "%.1f tokens/s; decode_sample %.2f ms/token %.1f tokens/s\n",
      gen, host_ms, 1e3 / host_ms, gpu_ms, 1e3 / gpu_ms);
  std::printf("roofline (weight bytes / D2D bandwidth): %.2f ms/token = %.1f tokens/s; achieved %.0f%%\n", roof_ms,
              1e3 / roof_ms, 100.0 * roof_ms / (dec_s / gen * 1e3));
  {
    // Per-op device time at the decode shape (back-to-back launches of one op, so launch gaps that a
    // real step has between different kernels are not in these numbers).
    float *q, *kc, *vc, *o, *x, *w;
    int nkv = prompt + gen / 2;
    cudaMalloc(&q, 32 * 128 * 4);
    cudaMalloc(&o, 32 * 128 * 4);
    cudaMalloc(&kc, (size_t)nkv * 8 * 128 * 4);
    cudaMalloc(&vc, (size_t)nkv * 8 * 128 * 4);
    cudaMalloc(&x, 2 * 12288 * 4);
    cudaMalloc(&w, 12288 * 4);
    cudaMemset(q, 0, 32 * 128 * 4);
    cudaMemset(kc, 0, (size_t)nkv * 8 * 128 * 4);
    cudaMemset(vc, 0, (size_t)nkv * 8 * 128 * 4);
    cudaMemset(x, 0, 2 * 12288 * 4);
    cudaMemset(w, 0, 12288 * 4);
    double ta =
        time_us([&] { attention_cuda(o, q, kc, vc, 1, nkv, 32, 8, 128, nkv - 1, true, 0.088f, default_stream_ctx()); });
    double tr = time_us([&] { rmsnorm_cuda(o, x, w, 1, 4096, 1e-6f, default_stream_ctx()); });
    double ts = time_us([&] { swiglu_cuda(x, x, x + 12288, 12288, default_stream_ctx()); });
    double tgs;
    {
      void* wgu;
      float* gx;
      CUDA_CHECK(cudaMalloc(&wgu, (size_t)2 * 12288 * 4096 * 2));
      CUDA_CHECK(cudaMalloc(&gx, 4096 * 4));
      cudaMemset(wgu, 0, (size_t)2 * 12288 * 4096 * 2);
      cudaMemset(gx, 0, 4096 * 4);
      tgs = time_us([&] { gemv_swiglu_cuda(x, gx, wgu, WType::BF16, 4096, 12288, default_stream_ctx()); }, 50);
      cudaFree(wgu);
      cudaFree(gx);
    }
    double g_qkv = 4096.0 * 6144 * 2 / gemv_qkv * 1e6, g_o = 4096.0 * 4096 * 2 / gemv_qkv * 1e6,
           g_gu = 4096.0 * 24576 * 2 / gemv_gu * 1e6, g_dn = 4096.0 * 12288 * 2 / gemv_dn * 1e6,
           g_lm = 4096.0 * 151936 * 2 / gemv_lm * 1e6;
    // The decoder uses matmul's GEMV for qkv / o / down, gemv_decode for the lm_head, the fused gate|up.
    const double d_lm = 4096.0 * 151936 * 2 / dgemv_lm * 1e6;
    double layer = g_qkv + g_o + tgs + g_dn + ta + 4 * tr;  // 4 row kernels ~ rmsnorm-sized
    std::printf(
        "decode op times (us): attention n_kv=%d %.1f, rmsnorm 4096 %.1f, swiglu 12288 %.1f, matmul GEMVs qkv %.0f "
        "o~%.0f gate|up %.0f (+swiglu fused: %.0f, %.0f GB/s) down %.0f lm_head %.0f (gemv_decode: %.0f)\n",
        nkv, ta, tr, ts, g_qkv, g_o, g_gu, tgs, 4096.0 * 24576 * 2 / tgs / 1e3, g_dn, g_lm, d_lm);
    std::printf(
        "sum of op times per token: %.2f ms (36 layers x %.0f us + lm_head); measured %.2f ms -> %.2f ms of "
        "launch gaps / host work per token\n",
        (36 * layer + d_lm) / 1e3, layer, dec_s / gen * 1e3, dec_s / gen * 1e3 - (36 * layer + d_lm) / 1e3);
    cudaFree(q);
    cudaFree(o);
    cudaFree(kc);
    cudaFree(vc);
    cudaFree(x);
    cudaFree(w);
  }
  if (m->decode_persistent()) {
    // The persistent step's tuning swept on the same prompt and steps as above: the defaults, then each lever changed
    // from them alone (the ring's copies without the evict-first policy, lm_head apart, 32 / 64 key splits at most,
    // the two-level combine, 16 / 8 keys a split, the warp combine of 32 splits of 16 keys, 128 blocks, 4 slots a
    // ring, 24 KB prefetched at the phase boundaries), then the defaults with every change that was faster, one after
    // another, kept while faster. Then the timed twin at the defaults and at the fastest: where a step's time goes.
    // Tuning changes no arithmetic but summation orders (lm_head in the step: its logits'; the splits and the combine:
    // the attention's), so every run should end on the token above. A line a run: "persistent step [LEVERS]: X
    // ms/token, ..." (LEVERS "defaults" or the changes joined by " + "; bench/qwen3_bench_join.py's rows).
    const Qwen3PersistentTuning defaults;
    auto persistent_run = [&](const Qwen3PersistentTuning& tuning, bool timing) {
      m->set_decode_persistent_tuning(tuning, timing);
      int t = 0;
      const double ms = greedy_ms(t);
      const Qwen3PersistentTuning& d = defaults;
      std::string levers;
      auto add = [&](bool changed, const char* what) {
        if (changed) levers += (levers.empty() ? "" : " + ") + std::string(what);
      };
      add(tuning.copies_evict_first != d.copies_evict_first,
          tuning.copies_evict_first ? "evict-first copies" : "plain copies");
      add(tuning.lm_head_in_step != d.lm_head_in_step, tuning.lm_head_in_step ? "lm_head in step" : "lm_head apart");
      add(tuning.max_splits != d.max_splits, (std::to_string(tuning.max_splits) + " splits").c_str());
      add(tuning.two_level_from_groups != d.two_level_from_groups,
          tuning.two_level_from_groups == 0
              ? "one-level combine"
              : ("two-level combine from " + std::to_string(tuning.two_level_from_groups) + " groups").c_str());
      add(tuning.keys_per_split != d.keys_per_split, (std::to_string(tuning.keys_per_split) + " keys a split").c_str());
      add(tuning.block_combine != d.block_combine, tuning.block_combine ? "block combine" : "warp combine");
      add(tuning.grid_blocks != d.grid_blocks, (std::to_string(tuning.grid_blocks) + " blocks").c_str());
      add(tuning.ring_slots != d.ring_slots, (std::to_string(tuning.ring_slots) + " slots a ring").c_str());
      add(tuning.boundary_prefetch_kb != d.boundary_prefetch_kb,
          (std::to_string(tuning.boundary_prefetch_kb) + " KB prefetched at boundaries").c_str());
      add(tuning.stream_only, "stream only");
      add(tuning.skip_attention, "no attention");
      add(tuning.skip_waits, "no waits");
      std::printf("persistent step [%s]%s: %.2f ms/token, %.1f tokens/s, %.0f%% of roofline; last token %s\n",
                  levers.empty() ? "defaults" : levers.c_str(), timing ? ", timed" : "", ms, 1e3 / ms,
                  100.0 * roof_ms / ms, t == tok ? "same" : "DIFFERENT");
      if (timing) std::printf("%s", m->decode_persistent_timing_report().c_str());
      return ms;
    };
    constexpr int kLevers = 9;
    auto flip = [](Qwen3PersistentTuning& t, int lever) {  // lever 0 .. kLevers - 1: one change from t
      if (lever == 0) t.copies_evict_first = !t.copies_evict_first;
      if (lever == 1) t.lm_head_in_step = !t.lm_head_in_step;
      if (lever == 2) t.max_splits = t.max_splits == 32 ? 64 : 32;
      if (lever == 3) t.two_level_from_groups = t.two_level_from_groups == 0 ? 2 : 0;
      if (lever == 4) t.keys_per_split = t.keys_per_split == 16 ? 8 : 16;
      if (lever == 5) {  // the warp combine as it was the default (2026-12-05 .. 12-07): 32 splits of 16 keys at least
        t.block_combine = !t.block_combine;
        t.max_splits = t.block_combine ? 64 : 32;
        t.keys_per_split = t.block_combine ? 8 : 16;
      }
      if (lever == 6) t.grid_blocks = t.grid_blocks == 128 ? 0 : 128;  // the 8B's GEMVs' rows even over the warps
      if (lever == 7)
        t.ring_slots = t.ring_slots == 4 ? 0 : 4;  // one slot fewer a ring: what the ring's depth is worth
      if (lever == 8) t.boundary_prefetch_kb = t.boundary_prefetch_kb == 24 ? 0 : 24;
    };
    const double defaults_ms = persistent_run(defaults, false);
    std::vector<int> faster;  // the levers that alone beat the defaults, and their times
    std::vector<double> faster_ms;
    for (int lever = 0; lever < kLevers; ++lever) {
      Qwen3PersistentTuning t = defaults;
      flip(t, lever);
      if (const double ms = persistent_run(t, false); ms < defaults_ms)
        faster.push_back(lever), faster_ms.push_back(ms);
    }
    Qwen3PersistentTuning best = defaults;
    double best_ms = defaults_ms;
    for (size_t i = 0; i < faster.size(); ++i) {
      Qwen3PersistentTuning t = best;
      flip(t, faster[i]);
      const double ms = i == 0 ? faster_ms[0] : persistent_run(t, false);  // the first: the run alone above
      if (ms < best_ms) best_ms = ms, best = t;
    }
    persistent_run(defaults, true);
    persistent_run(best, true);
    // The diagnostics apart from the sweep (their last tokens garbage): the producers' stream of the same rows with
    // consumers that only give the slots back (the scheme's ceiling), then the defaults without the attention, and
    // without it and the grid-wide waits: where the defaults' time over the stream's goes.
    for (int d = 0; d < 3; ++d) {
      Qwen3PersistentTuning diag = defaults;
      diag.stream_only = d == 0;
      diag.skip_attention = d >= 1;
      diag.skip_waits = d == 2;
      persistent_run(diag, false);
      persistent_run(diag, true);
    }
    m->set_decode_persistent_tuning(Qwen3PersistentTuning{}, false);
  }
  std::printf("pool peak %.2f GB\n", m->pool().peak_bytes() / 1e9);
  std::printf(
      "{\"bench\":\"qwen3_8b_text_decode_cuda\",\"device\":\"%s\",\"prompt\":%d,\"gen\":%d,\"ms_per_token\":%.3f,"
      "\"tokens_per_s\":%.2f,\"eager_tokens_per_s\":%.2f,\"graph\":%s,\"d2d_gbps\":%.1f,\"roofline_tokens_per_s\":%.2f,"
      "\"prefill_tokens_per_s\":%.1f,\"weight_gb\":%.3f,\"kv_cache\":\"%s\","
      "\"other_kv_cache_tokens_per_s\":%.2f}\n",
      prop.name, prompt, gen, dec_s / gen * 1e3, tps, 1e3 / eager_ms, graph ? "true" : "false", bw / 1e9, 1e3 / roof_ms,
      prompt / sec(t2, t3), m->weight_bytes() / 1e9, kv_bf16 ? "bf16" : "f32", 1e3 / other_kv_ms);
  return 0;
}
