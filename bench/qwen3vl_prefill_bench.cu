// Vision tower + multimodal prefill on a Qwen3-VL-8B-shaped model with random bf16 weights generated on
// the GPU (nothing read from disk): peak GPU memory and prefill tokens/s for
//   * one 1280x720 image  -> processor grid [1, 44, 80]  (3520 patches,  880 visual tokens)
//   * a 16-frame 854x480 video -> grid [8, 30, 54]      (12960 patches, 3240 visual tokens)
// (grids as src/media/qwen_vision.ts's qwenImagePlan / qwenVideoPlan give them), each with 30 text
// tokens around the visual ones (the video also with its 8 "<t seconds>" labels, 6 tokens each).
//
// The path is the engine's: Qwen3VisionCuda::forward (pixels from the host, embeddings + deepstack
// features back to the host, activations returned to CUDA after the run), then Qwen3TextCuda::prefill
// with those rows (uploaded again) — the same hand-off the Node binding does.
// Memory: the two models' pools (exact bytes handed out; CUDA context and the attention op's split-KV
// workspace, which is cudaMalloc'd outside the pools, are not included) and cudaMemGetInfo's device-wide
// figure for comparison. Each case runs twice; the figures are the second run's (first-launch costs
// and pool growth excluded), the peaks hold for both.
//   bash bench/build_qwen3vl_prefill_bench.sh && native/build/ops_test/qwen3vl_prefill_bench
#include <cuda_runtime.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <string>
#include <vector>

#include "../native/src/core/cuda_common.h"
#include "../native/src/models/qwen3_text_cuda.h"
#include "../native/src/models/qwen3_vision_cuda.h"

using namespace cosmos;

static double sec_since(std::chrono::steady_clock::time_point a) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - a).count();
}
static double gib(double b) { return b / (1024.0 * 1024.0 * 1024.0); }
static size_t device_used() {
  size_t f = 0, t = 0;
  CUDA_CHECK(cudaMemGetInfo(&f, &t));
  return t - f;
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
  std::printf("device %s, %.1f GiB; random weights in %.1f s: tower %.2f GiB, decoder %.2f GiB (bf16 matmuls, f32 "
              "embedding table)\n",
              prop.name, gib((double)prop.totalGlobalMem), sec_since(t0), gib((double)tower->weight_bytes()),
              gib((double)dec->weight_bytes()));

  const Case cases[] = {{"image 1280x720", {1, 44, 80}, 30}, {"video 16 x 854x480", {8, 30, 54}, 30 + 8 * 6}};
  std::mt19937 rng(1);
  std::uniform_real_distribution<float> U(-1.f, 1.f);
  std::string json = "[";
  for (const Case& cs : cases) {
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
    double t_tower = 0, t_prefill = 0;
    size_t tower_peak = 0, dec_peak = 0, dec_in_use_before = 0, dev_peak_seen = 0;
    for (int rep = 0; rep < 2; ++rep) {
      dec->reset();
      Qwen3VisionOutput out;
      dec_in_use_before = dpool.bytes_in_use();
      auto a = std::chrono::steady_clock::now();
      tower->forward(px.data(), px.size(), grids, out);
      t_tower = sec_since(a);
      tower_peak = tower->last_run_peak_bytes();
      VisualInputs vis;
      vis.rows = rows.data();
      vis.n_rows = T;
      vis.embeds = out.embeds.data();
      for (auto& d : out.deepstack) vis.deepstack.push_back(d.data());
      dpool.reset_peak();
      a = std::chrono::steady_clock::now();
      dec->prefill(ids.data(), n, pos3.data(), &vis, nullptr, false);
      int first = dec->last_argmax();
      t_prefill = sec_since(a);
      dec_peak = dpool.peak_bytes();
      dev_peak_seen = std::max(dev_peak_seen, device_used() - used0);
      (void)first;
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
    char buf[640];
    std::snprintf(buf, sizeof buf,
                  "%s{\"case\":\"%s\",\"grid\":[%d,%d,%d],\"patches\":%d,\"tokens\":%d,\"visual_tokens\":%d,"
                  "\"tower_ms\":%.1f,\"prefill_ms\":%.1f,\"prefill_tokens_per_s\":%.0f,\"tower_peak_bytes\":%zu,"
                  "\"decoder_peak_bytes\":%zu,\"process_peak_bytes\":%zu}",
                  json.size() > 1 ? "," : "", cs.name, cs.grid.t, cs.grid.h, cs.grid.w, N, n, T, t_tower * 1e3,
                  t_prefill * 1e3, n / t_prefill, tower_peak, dec_peak, peak);
    json += buf;
  }
  json += "]";
  std::printf("{\"bench\":\"qwen3vl_8b_tower_prefill\",\"device\":\"%s\",\"tower_weight_bytes\":%zu,"
              "\"decoder_weight_bytes\":%zu,\"cases\":%s}\n",
              prop.name, tower->weight_bytes(), dec->weight_bytes(), json.c_str());
  return 0;
}
