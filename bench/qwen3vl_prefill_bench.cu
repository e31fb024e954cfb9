// Vision tower + multimodal prefill on a Qwen3-VL-8B-shaped model with random bf16 weights generated on
// the GPU (nothing read from disk): peak GPU memory and prefill tokens/s for
//   * one 1280x720 image  -> processor grid [1, 44, 80]  (3520 patches,  880 visual tokens)
//   * a 16-frame 854x480 video -> grid [8, 30, 54]      (12960 patches, 3240 visual tokens)
// (grids as src/media/qwen_vision.ts's qwenImagePlan / qwenVideoPlan give them), each with 30 text
// tokens around the visual ones (the video also with its 8 "<t seconds>" labels, 6 tokens each).
//
// The path is the engine's: Qwen3VisionCuda::forward_device (pixels from the host, embeddings + deepstack
// features left in the tower's pool, activations returned to CUDA after the run), then Qwen3TextCuda::prefill
// reading those rows in place — the hand-off the Node binding does (NativeTensor). DEVICE_OUTPUTS=0: the older
// forward, its outputs through the host and uploaded again. (transformers' baseline starts with the pixels
// already on the GPU; ours uploads them from the host inside the tower's time.)
// Memory: the two models' pools (exact bytes handed out; CUDA context, the attention op's split-KV
// workspace and the GEMM's bf16 copy of x (up to 64 MiB), cudaMalloc'd outside the pools, are not included) and
// cudaMemGetInfo's device-wide figure for comparison. Each case runs once to warm up, then PREFILL_REPS times
// (default 5; PREFILL_CASES=image or video runs one case); the times are the medians of those (first-launch costs and
// pool growth excluded), the peaks hold for all. COSMOS_FP8_PREFILL=1: the decoder's prefill GEMMs in fp8
// (Qwen3TextCuda::set_fp8_prefill; its copies count in the decoder's weights), and each case also prints the last-row
// logits' distance from the bf16 prefill's.
//   bash bench/build_qwen3vl_prefill_bench.sh && native/build/ops_test/qwen3vl_prefill_bench
#include <cuda_runtime.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <string>
#include <vector>

#include "../native/src/core/cuda_common.h"
#include "../native/src/core/env.h"
#include "../native/src/models/qwen3_text_cuda.h"
#include "../native/src/models/qwen3_vision_cuda.h"
#include "../native/src/ops/attention.h"
#include "../native/src/ops/flash_attention.h"

using namespace cosmos;

// Ops timed on their own run on the legacy default stream (the events time that stream); their
// workspaces come from this pool, which serves that stream only.
static const CudaContext& default_stream_ctx() {
  static CudaPool pool;
  static const CudaContext ctx{0, &pool};
  return ctx;
}

static double sec_since(std::chrono::steady_clock::time_point a) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - a).count();
}
static double gib(double b) { return b / (1024.0 * 1024.0 * 1024.0); }
static size_t device_used() {
  size_t f = 0, t = 0;
  CUDA_CHECK(cudaMemGetInfo(&f, &t));
  return t - f;
}

// Mean device milliseconds of fn over reps calls (after one warm-up call).
template <typename F>
static double time_ms(F fn, int reps = 5) {
  fn();
  cudaEvent_t e0, e1;
  cudaEventCreate(&e0);
  cudaEventCreate(&e1);
  cudaEventRecord(e0);
  for (int i = 0; i < reps; ++i) fn();
  cudaEventRecord(e1);
  cudaEventSynchronize(e1);
  float ms = 0;
  cudaEventElapsedTime(&ms, e0, e1);
  cudaEventDestroy(e0);
  cudaEventDestroy(e1);
  return ms / reps;
}

// Where the time goes: the whole-model attention and GEMM time of each case, measured op by op on
// the default stream with zeroed inputs (the ops' speed does not depend on the values).
static void breakdown(int n_img_tokens, int n_vid_tokens) {
  auto buf = [](size_t bytes) {
    void* p = nullptr;
    CUDA_CHECK(cudaMalloc(&p, bytes));
    CUDA_CHECK(cudaMemset(p, 0, bytes));
    return p;
  };
  const size_t big = (size_t)12960 * 4304 * 4;  // largest activation below
  float *a = (float*)buf(big), *b = (float*)buf(big), *c = (float*)buf(big), *o = (float*)buf(big);
  void* w = buf((size_t)12288 * 4096 * 2);
  // Attention of one call, whole model: the kernel a bf16 model runs (flash_attention_cuda; which one: its path) and
  // attention_cuda (what the models ran before they opted in, and what f32 models run).
  struct Att {
    double flash_ms, attention_cuda_ms;
    const char* path;
  };
  auto att = [&](int calls, int n, int qh, int kvh, int hd, bool causal) {
    const float scale = 1.0f / std::sqrt((float)hd);
    Att r;
    r.flash_ms = calls * time_ms([&] {
                   flash_attention_cuda(o, a, b, c, n, n, qh, kvh, hd, 0, causal, scale, default_stream_ctx());
                 });
    r.attention_cuda_ms =
        calls * time_ms([&] { attention_cuda(o, a, b, c, n, n, qh, kvh, hd, 0, causal, scale, default_stream_ctx()); });
    r.path = flash_attention_path(n, n, hd, causal, default_stream_ctx().stream);
    return r;
  };
  // Vision tower: 27 blocks, 16 heads of 72, full attention per frame.
  const Att img = att(27, 3520, 16, 16, 72, false), vid = att(27 * 8, 1620, 16, 16, 72, false);
  const double img_att = img.flash_ms, vid_att = vid.flash_ms;
  auto tower_gemm = [&](int N) {
    return 27 * (time_ms([&] { matmul_cuda(o, a, w, WType::BF16, nullptr, N, 1152, 3456, default_stream_ctx()); }) +
                 time_ms([&] { matmul_cuda(o, a, w, WType::BF16, nullptr, N, 1152, 1152, default_stream_ctx()); }) +
                 time_ms([&] { matmul_cuda(o, a, w, WType::BF16, nullptr, N, 1152, 4304, default_stream_ctx()); }) +
                 time_ms([&] { matmul_cuda(o, a, w, WType::BF16, nullptr, N, 4304, 1152, default_stream_ctx()); }));
  };
  // Decoder: 36 layers, causal GQA 32/8 heads of 128; q|k|v, o, gate, up, down GEMMs.
  auto dec_att = [&](int n) { return att(36, n, 32, 8, 128, true); };
  auto dec_gemm = [&](int n) {
    return 36 *
           (time_ms([&] { matmul_cuda(o, a, w, WType::BF16, nullptr, n, 4096, 4096, default_stream_ctx()); }) +
            2 * time_ms([&] { matmul_cuda(o, a, w, WType::BF16, nullptr, n, 4096, 1024, default_stream_ctx()); }) +
            time_ms([&] { matmul_cuda(o, a, w, WType::BF16, nullptr, n, 4096, 4096, default_stream_ctx()); }) +
            2 * time_ms([&] { matmul_cuda(o, a, w, WType::BF16, nullptr, n, 4096, 12288, default_stream_ctx()); }) +
            time_ms([&] { matmul_cuda(o, a, w, WType::BF16, nullptr, n, 12288, 4096, default_stream_ctx()); }));
  };
  auto tflops = [](double flop, double ms) { return flop / (ms * 1e-3) / 1e12; };
  const double tg_img = tower_gemm(3520), tg_vid = tower_gemm(12960);
  const double dg_img = dec_gemm(n_img_tokens), dg_vid = dec_gemm(n_vid_tokens);
  const Att dai = dec_att(n_img_tokens), dav = dec_att(n_vid_tokens);
  const double da_img = dai.flash_ms, da_vid = dav.flash_ms;
  const double tw = 2.0 * 27 * (1152.0 * 3456 + 1152.0 * 1152 + 2 * 1152.0 * 4304);
  const double dw = 2.0 * 36 * (4096.0 * 6144 + 4096.0 * 4096 + 3 * 4096.0 * 12288);
  std::printf("breakdown (op by op, whole model):\n");
  std::printf("  tower image: attention %.1f ms (%.1f TFLOP/s), GEMMs %.1f ms (%.0f TFLOP/s)\n", img_att,
              tflops(27 * 4.0 * 3520 * 3520 * 1152, img_att), tg_img, tflops(tw * 3520, tg_img));
  std::printf("  tower video: attention %.1f ms (%.1f TFLOP/s), GEMMs %.1f ms (%.0f TFLOP/s)\n", vid_att,
              tflops(27 * 8 * 4.0 * 1620 * 1620 * 1152, vid_att), tg_vid, tflops(tw * 12960, tg_vid));
  std::printf("  decoder %4d tokens: attention %.1f ms (%.1f TFLOP/s causal), GEMMs %.1f ms (%.0f TFLOP/s)\n",
              n_img_tokens, da_img, tflops(36 * 2.0 * n_img_tokens * n_img_tokens * 4096, da_img), dg_img,
              tflops(dw * n_img_tokens, dg_img));
  std::printf("  decoder %4d tokens: attention %.1f ms (%.1f TFLOP/s causal), GEMMs %.1f ms (%.0f TFLOP/s)\n",
              n_vid_tokens, da_vid, tflops(36 * 2.0 * n_vid_tokens * n_vid_tokens * 4096, da_vid), dg_vid,
              tflops(dw * n_vid_tokens, dg_vid));
  std::printf(
      "  attention above = flash_attention_cuda [%s / %s / %s / %s]; attention_cuda: tower %.1f / %.1f ms, decoder "
      "%.1f "
      "/ %.1f ms\n",
      img.path, vid.path, dai.path, dav.path, img.attention_cuda_ms, vid.attention_cuda_ms, dai.attention_cuda_ms,
      dav.attention_cuda_ms);
  // Each GEMM shape on its own (bench/gemm_bench.cu compares them with the previous WMMA kernel).
  struct Shape {
    const char* what;
    int n, k, m;
  };
  const Shape shapes[] = {{"tower img qkv", 3520, 1152, 3456},
                          {"tower img proj", 3520, 1152, 1152},
                          {"tower img fc1", 3520, 1152, 4304},
                          {"tower img fc2", 3520, 4304, 1152},
                          {"tower vid qkv", 12960, 1152, 3456},
                          {"tower vid fc2", 12960, 4304, 1152},
                          {"dec 910 q/o", n_img_tokens, 4096, 4096},
                          {"dec 910 k/v", n_img_tokens, 4096, 1024},
                          {"dec 910 gate/up", n_img_tokens, 4096, 12288},
                          {"dec 910 down", n_img_tokens, 12288, 4096},
                          {"dec 3318 q/o", n_vid_tokens, 4096, 4096},
                          {"dec 3318 gate/up", n_vid_tokens, 4096, 12288},
                          {"dec 3318 down", n_vid_tokens, 12288, 4096}};
  std::printf("GEMM shapes (bf16 weights, f32 x/out):\n");
  for (const Shape& sh : shapes) {
    double ms =
        time_ms([&] { matmul_cuda(o, a, w, WType::BF16, nullptr, sh.n, sh.k, sh.m, default_stream_ctx()); }, 10);
    std::printf("  %-17s n=%5d k=%5d m=%5d: %7.3f ms %6.1f TFLOP/s\n", sh.what, sh.n, sh.k, sh.m, ms,
                tflops(2.0 * sh.n * sh.k * sh.m, ms));
  }
  for (void* p : {(void*)a, (void*)b, (void*)c, (void*)o, w}) cudaFree(p);
}

struct Case {
  const char* name;
  Qwen3VisionGrid grid;
  int text_tokens;  // besides the visual ones
};

int main() {
  if (cuda_device_count() == 0) {
    std::printf("no CUDA device\n");
    return 2;
  }
  cudaDeviceProp prop;
  CUDA_CHECK(cudaGetDeviceProperties(&prop, 0));
  CUDA_CHECK(cudaFree(nullptr));  // create the context before the baseline reading
  const size_t used0 = device_used();

  Qwen3TextConfig tc;
  tc.vocab_size = 151936;
  tc.hidden_size = 4096;
  tc.intermediate_size = 12288;
  tc.num_layers = 36;
  tc.num_heads = 32;
  tc.num_kv_heads = 8;
  tc.head_dim = 128;
  tc.rms_norm_eps = 1e-6f;
  tc.rope_theta = 5000000.f;
  tc.mrope_section[0] = 24;
  tc.mrope_section[1] = 20;
  tc.mrope_section[2] = 20;
  tc.mrope_interleaved = true;
  Qwen3VisionConfig vc;  // defaults are Qwen3-VL-8B's: depth 27, hidden 1152, 16 heads, I 4304, out 4096,
                         // patch 16, temporal 2, merge 2, 2304 position embeddings, deepstack {8, 16, 24}

  auto t0 = std::chrono::steady_clock::now();
  auto tower = Qwen3VisionCuda::random(vc, WType::BF16, 7, 0.02f);
  auto dec = Qwen3TextCuda::random(tc, WType::BF16, 1234, 0.02f);
  CudaPool& dpool = const_cast<CudaPool&>(dec->pool());
  std::printf(
      "device %s, %.1f GiB; random weights in %.1f s: tower %.2f GiB, decoder %.2f GiB (bf16 matmuls, f32 "
      "embedding table)\n",
      prop.name, gib((double)prop.totalGlobalMem), sec_since(t0), gib((double)tower->weight_bytes()),
      gib((double)dec->weight_bytes()));

  const Case cases[] = {{"image 1280x720", {1, 44, 80}, 30}, {"video 16 x 854x480", {8, 30, 54}, 30 + 8 * 6}};
  std::mt19937 rng(1);
  std::uniform_real_distribution<float> U(-1.f, 1.f);
  std::string json = "[";
  // PREFILL_CASES=image or video: that case alone (a profiler's run over one case's kernels).
  const char* only = std::getenv("PREFILL_CASES");
  for (const Case& cs : cases) {
    if (only && std::string(cs.name).rfind(only, 0) != 0) continue;
    const std::vector<Qwen3VisionGrid> grids = {cs.grid};
    const int N = (int)qwen3_vision_num_patches(grids);
    const int T = N / vc.merge_unit();
    std::vector<float> px((size_t)N * vc.patch_dim());
    for (auto& v : px) v = U(rng);
    // Prompt: half the text, the visual tokens, the rest of the text. mRoPE positions as get_rope_index
    // lays out one image/video: t = start + frame group, h / w = start + merged row / column.
    const int n = T + cs.text_tokens, pre = cs.text_tokens / 2;
    std::vector<int> ids(n), rows(T), pos3(3 * (size_t)n);
    for (auto& i : ids) i = (int)(rng() % 150000);
    const int gh = cs.grid.h / 2, gw = cs.grid.w / 2;
    int p = 0;
    for (int i = 0; i < n; ++i) {
      if (i < pre) {
        for (int r = 0; r < 3; ++r) pos3[(size_t)r * n + i] = p;
        ++p;
      } else if (i < pre + T) {
        int v = i - pre, t = v / (gh * gw), h = v / gw % gh, w = v % gw;
        rows[v] = i;
        pos3[i] = pre + t;
        pos3[(size_t)n + i] = pre + h;
        pos3[2 * (size_t)n + i] = pre + w;
        if (i == pre + T - 1) p = pre + std::max(cs.grid.t, std::max(gh, gw));
      } else {
        for (int r = 0; r < 3; ++r) pos3[(size_t)r * n + i] = p;
        ++p;
      }
    }
    // One warm-up run, then the median of PREFILL_REPS timed ones (default 5; as bench/hf_qwen3vl_prefill.py).
    const char* reps_env = std::getenv("PREFILL_REPS");
    const int reps = 1 + std::max(1, reps_env ? std::atoi(reps_env) : 5);
    std::vector<double> towers, prefills;
    double t_tower = 0, t_prefill = 0;
    bool prefill_bf16_stream = false;  // the timed prefills' residual stream (COSMOS_PREFILL_BF16_RESIDUAL=1)
    size_t tower_peak = 0, dec_peak = 0, dec_in_use_before = 0, dev_peak_seen = 0;
    // The tower's outputs stay in its pool (forward_device, what the addon's NativeTensor path runs for reason())
    // and the prefill reads them in place; DEVICE_OUTPUTS=0: through the host instead (forward, the older path).
    const bool device_outputs = !(std::getenv("DEVICE_OUTPUTS") && std::string(std::getenv("DEVICE_OUTPUTS")) == "0");
    for (int rep = 0; rep < reps; ++rep) {
      dec->reset();
      Qwen3VisionOutput out;
      const size_t n_out = (size_t)T * tower->config().out_hidden_size;
      std::vector<DeviceBuffer<float>> dev_out;
      std::vector<float*> dev_ds;
      dec_in_use_before = dpool.bytes_in_use();
      auto a = std::chrono::steady_clock::now();
      if (device_outputs) {
        for (size_t k = 0; k <= tower->config().deepstack_visual_indexes.size(); ++k)
          dev_out.emplace_back(tower->pool(), n_out);
        for (size_t k = 1; k < dev_out.size(); ++k) dev_ds.push_back(dev_out[k].get());
        tower->forward_device(px.data(), px.size(), grids, dev_out[0].get(), dev_ds);
      } else {
        tower->forward(px.data(), px.size(), grids, out);
      }
      t_tower = sec_since(a);
      tower_peak = tower->last_run_peak_bytes();
      const Qwen3VisionCuda::Phases& ph = tower->last_phases();
      std::printf(
          "  run %d tower %.1f ms: pixels %.1f, tables %.1f, blocks %.1f, last output %.1f, release %.1f ms "
          "(host pinned staging %.1f MiB; GEMM inputs %s; %zu cudaMalloc calls, %.2f ms; blocks %s, %d graphs)\n",
          rep, t_tower * 1e3, ph.pixels, ph.tables, ph.blocks, ph.outputs, ph.release,
          tower->host_pinned_bytes() / 1048576.0, ph.bf16_inputs ? "bf16 from their producers" : "f32, cast",
          ph.mallocs, ph.malloc_ms,
          ph.graph == kGraphReplayed   ? "replayed"
          : ph.graph == kGraphCaptured ? "recorded"
                                       : "eager",
          ph.graph_segments);
      VisualInputs vis;
      vis.rows = rows.data();
      vis.n_rows = T;
      if (device_outputs) {
        vis.embeds = dev_out[0].get();
        for (float* d : dev_ds) vis.deepstack.push_back(d);
        vis.on_device = true;
      } else {
        vis.embeds = out.embeds.data();
        for (auto& d : out.deepstack) vis.deepstack.push_back(d.data());
      }
      dpool.reset_peak();
      a = std::chrono::steady_clock::now();
      dec->prefill(ids.data(), n, pos3.data(), &vis, nullptr, false);
      int first = dec->last_argmax();
      t_prefill = sec_since(a);
      prefill_bf16_stream = dec->last_prefill_bf16_residual();
      dec_peak = dpool.peak_bytes();
      dev_peak_seen = std::max(dev_peak_seen, device_used() - used0);
      (void)first;
      if (rep > 0) towers.push_back(t_tower), prefills.push_back(t_prefill);
    }
    auto median = [](std::vector<double> v) {
      std::sort(v.begin(), v.end());
      return v[v.size() / 2];
    };
    t_tower = median(towers);
    t_prefill = median(prefills);
    // FP8 prefill (COSMOS_FP8_PREFILL=1, read by the decoder's load): its fidelity cost on this prompt, the last
    // row's logits against the same model's bf16 prefill (the copies detached), then attached again. Text rows only:
    // the last run's visual rows went back to the tower's pool.
    double fp8_rel = -1;
    int fp8_same_argmax = -1;
    if (dec->fp8_prefill()) {
      const int V = tc.vocab_size;
      std::vector<float> lf(V), lb(V);
      for (int pass = 0; pass < 2; ++pass) {
        dec->set_fp8_prefill(pass == 0);
        dec->reset();
        dec->prefill(ids.data(), n, pos3.data(), nullptr, pass == 0 ? lf.data() : lb.data(), false);
      }
      dec->set_fp8_prefill(true);
      double num = 0, den = 0;
      for (int i = 0; i < V; ++i)
        num += ((double)lf[i] - lb[i]) * ((double)lf[i] - lb[i]), den += (double)lb[i] * lb[i];
      fp8_rel = std::sqrt(num / std::max(den, 1e-30));
      fp8_same_argmax =
          std::max_element(lf.begin(), lf.end()) - lf.begin() == std::max_element(lb.begin(), lb.end()) - lb.begin();
      std::printf("  fp8 prefill vs bf16 (text rows only): last-row logits rel l2 %.3e, same argmax %d\n", fp8_rel,
                  fp8_same_argmax);
    }
    // Process peak from the pools: the tower's run peak while the decoder held what it had before
    // the prefill, or the decoder's prefill peak while the tower held its weights.
    const size_t peak = std::max(tower_peak + dec_in_use_before, dec_peak + tower->pool().bytes_in_use());
    std::printf(
        "%-20s patches %5d, tokens %4d (visual %4d) | tower %7.1f ms (%.0f patches/s), tower peak %.2f GiB "
        "(activations %.2f GiB) | prefill %7.1f ms = %.0f tokens/s, decoder peak %.2f GiB (KV cache + activations "
        "%.2f GiB) | tower+prefill %.0f tokens/s | process peak (pools) %.2f GiB, device-wide used after %.2f GiB\n",
        cs.name, N, n, T, t_tower * 1e3, N / t_tower, gib((double)tower_peak),
        gib((double)(tower_peak - tower->weight_bytes())), t_prefill * 1e3, n / t_prefill, gib((double)dec_peak),
        gib((double)(dec_peak - dec->weight_bytes())), n / (t_tower + t_prefill), gib((double)peak),
        gib((double)dev_peak_seen));
    char buf[768];
    std::snprintf(buf, sizeof buf,
                  "%s{\"case\":\"%s\",\"grid\":[%d,%d,%d],\"patches\":%d,\"tokens\":%d,\"visual_tokens\":%d,"
                  "\"tower_ms\":%.1f,\"prefill_ms\":%.1f,\"prefill_tokens_per_s\":%.0f,\"tower_peak_bytes\":%zu,"
                  "\"decoder_peak_bytes\":%zu,\"process_peak_bytes\":%zu,\"fp8_prefill\":%s,\"fp8_logits_rel_l2\":%.3e,"
                  "\"fp8_same_argmax\":%d,\"tower_bf16_inputs\":%s,\"prefill_bf16_residual\":%s,"
                  "\"gelu_tanh_approx\":%s}",
                  json.size() > 1 ? "," : "", cs.name, cs.grid.t, cs.grid.h, cs.grid.w, N, n, T, t_tower * 1e3,
                  t_prefill * 1e3, n / t_prefill, tower_peak, dec_peak, peak, dec->fp8_prefill() ? "true" : "false",
                  fp8_rel, fp8_same_argmax, tower->last_phases().bf16_inputs ? "true" : "false",
                  prefill_bf16_stream ? "true" : "false",
                  cosmos::env_switch("COSMOS_GELU_TANH_APPROX", true) ? "true" : "false");
    json += buf;
  }
  json += "]";
  if (!std::getenv("NO_BREAKDOWN")) breakdown(910, 3318);
  std::printf(
      "{\"bench\":\"qwen3vl_8b_tower_prefill\",\"device\":\"%s\",\"tower_weight_bytes\":%zu,"
      "\"decoder_weight_bytes\":%zu,\"cases\":%s}\n",
      prop.name, tower->weight_bytes(), dec->weight_bytes(), json.c_str());
  return 0;
}
