// One denoising step of the CUDA Cosmos 3 MoT transformer at the Nano Generator's shape (hidden 4096, 36 layers,
// 32 q / 8 KV heads of 128, intermediate 12288, vocab 151936, latent 48, patch 2), random bf16 weights generated on
// the GPU: the text prefill (once per request and CFG branch) and forward_gen (per step) wall times, and the
// pool's peak bytes. Default latent: 480p 832x480, 93 frames -> [48, 24, 30, 52] (9360 gen tokens), frame 0 clean
// (image-to-video), 256 text tokens. Build + run on the device:
//   bash native/test/build_ops_test.sh && native/build/ops_test/cosmos3_transformer_bench [T H W text steps layers]
#include <cuda_runtime.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <vector>

#include "../native/src/models/cosmos3_transformer_cuda.h"

using namespace cosmos;

int main(int argc, char** argv) {
  auto arg = [&](int i, int d) { return argc > i ? std::atoi(argv[i]) : d; };
  const int T = arg(1, 24), H = arg(2, 30), W = arg(3, 52), n_text = arg(4, 256), steps = arg(5, 3);
  Cosmos3TransformerConfig c;
  c.vocab_size = 151936;
  c.hidden_size = 4096;
  c.intermediate_size = 12288;
  c.num_layers = arg(6, 36);
  c.num_heads = 32;
  c.num_kv_heads = 8;
  c.head_dim = 128;
  c.rope_axes_dim[0] = 24, c.rope_axes_dim[1] = 20, c.rope_axes_dim[2] = 20;
  try {
    auto t0 = std::chrono::steady_clock::now();
    auto m = Cosmos3TransformerCuda::random(c, WType::BF16, 1, 0.02f);
    const double load_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    std::mt19937 rng(5);
    std::normal_distribution<float> nd(0.f, 1.f);
    std::vector<int> ids(n_text);
    for (int i = 0; i < n_text; ++i) ids[i] = (int)(rng() % c.vocab_size);
    std::vector<float> text_pos(3 * (size_t)n_text);
    for (int a = 0; a < 3; ++a)
      for (int i = 0; i < n_text; ++i) text_pos[(size_t)a * n_text + i] = (float)i;
    std::vector<float> latents((size_t)c.latent_channel * T * H * W);
    for (float& v : latents) v = nd(rng);
    const int hp = (H + 1) / 2, wp = (W + 1) / 2, G = T * hp * wp;
    std::vector<int> noisy;
    for (int f = 1; f < T; ++f) noisy.push_back(f);
    std::vector<float> ts((size_t)noisy.size() * hp * wp, 900.f), pos(3 * (size_t)G);
    for (int t = 0, r = 0; t < T; ++t)
      for (int i = 0; i < hp; ++i)
        for (int j = 0; j < wp; ++j, ++r)
          pos[r] = n_text + 15000.f + t, pos[G + r] = (float)i, pos[2 * (size_t)G + r] = (float)j;
    Cosmos3GenInputs in;
    in.latents = latents.data();
    in.T = T, in.H = H, in.W = W;
    in.vision_noisy_frames = noisy.data();
    in.n_vision_noisy = (int)noisy.size();
    in.vision_timesteps = ts.data();
    in.pos3 = pos.data();
    std::vector<float> out(latents.size());
    Cosmos3GenOutputs o{out.data(), nullptr, nullptr};

    t0 = std::chrono::steady_clock::now();
    const Cosmos3UndCacheCuda cache = m->prefill_text(ids.data(), n_text, text_pos.data());
    const double prefill_ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
    m->forward_gen(cache, in, o);  // warm-up (pool blocks, first launches)
    std::vector<double> step_ms;
    for (int s = 0; s < steps; ++s) {
      t0 = std::chrono::steady_clock::now();
      m->forward_gen(cache, in, o);
      step_ms.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
    }
    double best = 1e30;
    for (double v : step_ms) best = std::min(best, v);
    std::printf(
        "{\"layers\": %d, \"text_tokens\": %d, \"gen_tokens\": %d, \"weights_gib\": %.2f, \"load_s\": %.1f, "
        "\"prefill_ms\": %.1f, \"step_ms_best\": %.1f, \"step_ms\": [",
        c.num_layers, n_text, G, m->weight_bytes() / 1073741824.0, load_s, prefill_ms, best);
    for (size_t i = 0; i < step_ms.size(); ++i) std::printf("%s%.1f", i ? ", " : "", step_ms[i]);
    std::printf("], \"pool_peak_gib\": %.2f}\n", m->pool().peak_bytes() / 1073741824.0);
  } catch (const std::exception& e) {
    std::printf("error: %s\n", e.what());
    return 1;
  }
  return 0;
}
