// Ours for the Cosmos 3 Generator bench (issue 12 item 9): the same rows as bench/cosmos3_diffusers_bench.py, so
// bench/cosmos3_bench_join.py pairs them (JSON lines {"row", "impl": "ours", "s", "peak_gib", ...}).
//
//   forward  the Nano-shape CUDA MoT transformer (hidden 4096, 36 layers, 32 / 8 heads of 128, intermediate 12288,
//            vocab 151936), random bf16 weights generated on the GPU, t2v: 512 text tokens, 189 frames = 48 latent
//            frames all noisy, 256p 320x192 / 480p 832x480 / 720p 1280x720 (2,880 / 18,720 / 44,160 vision tokens).
//            One forward = one CFG branch as diffusers' figure; ours splits it into prefill_text (the und tower over
//            the text, once per request and branch: its K/V are cached) and forward_gen (the gen tower, per step).
//            Row "transformer_forward_<shape>" = forward_gen alone (what a denoising step costs us); the row
//            "..._with_prefill" adds one prefill (what diffusers recomputes every step). Warm-up, median of reps.
//   vae      the Wan2.2 VAE CUDA twin (vae22 config, random bf16 conv weights), decode of 48 latent frames -> 189
//            frames at 480p and 720p, one latent frame per chunk, after a 1-frame warm-up, one timed decode each.
//   attention  the gen stream's joint attention of one layer alone at 256p / 480p (--shapes): queries = vision tokens,
//            keys = [512 text | vision], 32 / 8 heads of 128, full, random f32 q/k/v of std 1: attention_cuda (the
//            default path; COSMOS_ATTENTION_F32=1 makes it the f32 SIMT kernel) vs flash_attention_cuda (the
//            Generator's tensor-core kernel), median of reps, TFLOP/s = 4 n_q n_kv hd heads / s, and their max |diff|.
//   e2e      480p t2v, 35 steps + CFG 6: 2 prefills (cond, uncond) + 35 x (2 forward_gen + the CFG combine and a
//            flow Euler update on the host) + decode. The update is Euler on the shifted flow sigmas (shift 10), not
//            UniPC: the sampler's arithmetic is a few ms per step either way against ~2 forwards of ~1 s.
//
// Peak = weight bytes + the pools' peak bytes (the pools only grow; the rows run in increasing size, so each row's
// peak is its own); the VAE's pool peak counts its activations only, so its input and output (f32, on the GPU for
// the call) are added. Ours is host in / host out per call as the engine runs it (the decoded video is copied to
// the host inside the timed decode; diffusers' stays on the GPU). Usage (device): cosmos3_generator_bench [forward]
// [attention] [vae] [e2e] [--reps N] [--shapes 256p,480p]
//   [--no-720p-vae] [--steps N] [--layers N]
#include <cuda_runtime.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <random>
#include <string>
#include <vector>

#include "../native/src/models/cosmos3_transformer_cuda.h"
#include "../native/src/models/wan_vae_cuda.h"
#include "../native/src/ops/attention.h"
#include "../native/src/ops/fill_normal.h"
#include "../native/src/ops/flash_attention.h"

using namespace cosmos;

namespace {

constexpr int kTextTokens = 512, kFrames = 189, kLatentT = 1 + (kFrames - 1) / 4;
struct Shape {
  const char* name;
  int height, width;
};
const Shape kShapes[] = {{"256p", 192, 320}, {"480p", 480, 832}, {"720p", 720, 1280}};

double now_s() { return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count(); }
double gib(double bytes) { return bytes / 1073741824.0; }
double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v.size() % 2 ? v[v.size() / 2] : 0.5 * (v[v.size() / 2 - 1] + v[v.size() / 2]);
}

Cosmos3TransformerConfig nano(int layers) {
  Cosmos3TransformerConfig c;
  c.vocab_size = 151936;
  c.hidden_size = 4096;
  c.intermediate_size = 12288;
  c.num_layers = layers;
  c.num_heads = 32;
  c.num_kv_heads = 8;
  c.head_dim = 128;
  c.rope_axes_dim[0] = 24, c.rope_axes_dim[1] = 20, c.rope_axes_dim[2] = 20;
  return c;
}

// One t2v request's host inputs at a shape, as the pipeline builds them: text positions 0..n-1 on all three axes,
// vision positions (t + n + 15000, h, w) (fps modulation at 24 fps maps latent frame t to t).
struct Request {
  std::vector<int> ids;
  std::vector<float> text_pos, latents, timesteps, pos, velocity;
  std::vector<int> noisy;
  int T, H, W, gen_tokens;
  Cosmos3GenInputs in;

  Request(const Cosmos3TransformerConfig& c, const Shape& s, uint32_t seed)
      : T(kLatentT), H(s.height / 16), W(s.width / 16) {
    std::mt19937 rng(seed);
    std::normal_distribution<float> nd(0.f, 1.f);
    for (int i = 0; i < kTextTokens; ++i) ids.push_back((int)(rng() % c.vocab_size));
    text_pos.resize(3 * (size_t)kTextTokens);
    for (int a = 0; a < 3; ++a)
      for (int i = 0; i < kTextTokens; ++i) text_pos[(size_t)a * kTextTokens + i] = (float)i;
    latents.resize((size_t)c.latent_channel * T * H * W);
    for (float& v : latents) v = nd(rng);
    velocity.resize(latents.size());
    const int hp = (H + 1) / 2, wp = (W + 1) / 2;
    gen_tokens = T * hp * wp;
    for (int f = 0; f < T; ++f) noisy.push_back(f);
    timesteps.assign((size_t)gen_tokens, 900.f);
    pos.resize(3 * (size_t)gen_tokens);
    for (int t = 0, r = 0; t < T; ++t)
      for (int i = 0; i < hp; ++i)
        for (int j = 0; j < wp; ++j, ++r)
          pos[r] = kTextTokens + 15000.f + t, pos[gen_tokens + r] = (float)i,
          pos[2 * (size_t)gen_tokens + r] = (float)j;
    in.latents = latents.data();
    in.T = T, in.H = H, in.W = W;
    in.vision_noisy_frames = noisy.data();
    in.n_vision_noisy = T;
    in.vision_timesteps = timesteps.data();
    in.pos3 = pos.data();
  }
};

double sync_time(const std::function<void()>& f) {
  cudaDeviceSynchronize();
  const double t0 = now_s();
  f();
  cudaDeviceSynchronize();
  return now_s() - t0;
}

void bench_attention(const std::vector<std::string>& shapes, int reps) {
  CudaPool pool;
  CudaStream stream;
  const CudaContext ctx{stream.get(), &pool};
  constexpr int kHeads = 32, kKvHeads = 8, kHd = 128;
  for (const Shape& s : kShapes) {
    if (std::find(shapes.begin(), shapes.end(), s.name) == shapes.end()) continue;
    const int n_q = kLatentT * ((s.height / 16 + 1) / 2) * ((s.width / 16 + 1) / 2), n_kv = kTextTokens + n_q;
    const size_t nq = (size_t)n_q * kHeads * kHd, nkv = (size_t)n_kv * kKvHeads * kHd;
    DeviceBuffer<float> q(pool, nq), k(pool, nkv), v(pool, nkv), a(pool, nq), b(pool, nq);
    fill_normal_cuda(q.get(), (long long)nq, 1, 0.f, 1.f, ctx);
    fill_normal_cuda(k.get(), (long long)nkv, 2, 0.f, 1.f, ctx);
    fill_normal_cuda(v.get(), (long long)nkv, 3, 0.f, 1.f, ctx);
    const float scale = 1.0f / std::sqrt((float)kHd);
    const double flop = 4.0 * n_q * (double)n_kv * kHd * kHeads;
    auto time_it = [&](const std::function<void()>& f) {
      f();  // warm-up
      std::vector<double> t;
      for (int i = 0; i < reps; ++i) t.push_back(sync_time(f));
      return median(t);
    };
    const double t_ref = time_it([&] {
      attention_cuda(a.get(), q.get(), k.get(), v.get(), n_q, n_kv, kHeads, kKvHeads, kHd, 0, false, scale, ctx);
    });
    const double t_flash = time_it([&] {
      flash_attention_cuda(b.get(), q.get(), k.get(), v.get(), n_q, n_kv, kHeads, kKvHeads, kHd, 0, false, scale, ctx);
    });
    std::vector<float> ha(nq), hb(nq);
    cudaDeviceSynchronize();
    cudaMemcpy(ha.data(), a.get(), nq * 4, cudaMemcpyDeviceToHost);
    cudaMemcpy(hb.data(), b.get(), nq * 4, cudaMemcpyDeviceToHost);
    double diff = 0, ref = 0;
    for (size_t i = 0; i < nq; ++i)
      diff = std::max(diff, (double)std::fabs(ha[i] - hb[i])), ref = std::max(ref, (double)std::fabs(ha[i]));
    const char* f32 = std::getenv("COSMOS_ATTENTION_F32");
    std::printf(
        "{\"row\": \"attention_gen_%s\", \"impl\": \"ours\", \"n_q\": %d, \"n_kv\": %d, "
        "\"attention_cuda_s\": %.5f, \"attention_cuda_tflops\": %.1f, \"attention_cuda_path\": \"%s\", "
        "\"flash_s\": %.5f, \"flash_tflops\": %.1f, \"per_forward_36_layers_s\": [%.3f, %.3f], "
        "\"max_abs_diff\": %.3e, \"max_abs_ref\": %.3e}\n",
        s.name, n_q, n_kv, t_ref, flop / t_ref * 1e-12, f32 && *f32 && *f32 != '0' ? "f32 simt" : "attention.cu mma",
        t_flash, flop / t_flash * 1e-12, 36 * t_ref, 36 * t_flash, diff, ref);
    std::fflush(stdout);
  }
}

void bench_forward(Cosmos3TransformerCuda& m, const std::vector<std::string>& shapes, int reps) {
  for (const Shape& s : kShapes) {
    if (std::find(shapes.begin(), shapes.end(), s.name) == shapes.end()) continue;
    Request r(m.config(), s, 5);
    Cosmos3GenOutputs o{r.velocity.data(), nullptr, nullptr};
    std::vector<double> prefill, gen;
    {
      Cosmos3UndCacheCuda warm = m.prefill_text(r.ids.data(), kTextTokens, r.text_pos.data());
      m.forward_gen(warm, r.in, o);  // warm-up: pool blocks, first launches
    }
    for (int i = 0; i < reps; ++i) {
      Cosmos3UndCacheCuda cache;
      prefill.push_back(sync_time([&] { cache = m.prefill_text(r.ids.data(), kTextTokens, r.text_pos.data()); }));
      gen.push_back(sync_time([&] { m.forward_gen(cache, r.in, o); }));
    }
    bool finite = true;
    for (float v : r.velocity) finite = finite && std::isfinite(v);
    const double peak = gib((double)m.weight_bytes() + m.pool().peak_bytes());
    std::printf("{\"row\": \"transformer_forward_%s\", \"impl\": \"ours\", \"s\": %.4f, \"times\": [", s.name,
                median(gen));
    for (int i = 0; i < reps; ++i) std::printf("%s%.4f", i ? ", " : "", gen[i]);
    std::printf(
        "], \"vision_tokens\": %d, \"text_tokens\": %d, \"finite\": %s, \"peak_gib\": %.2f, "
        "\"note\": \"forward_gen only; und prefill cached per request\"}\n",
        r.gen_tokens, kTextTokens, finite ? "true" : "false", peak);
    std::printf(
        "{\"row\": \"transformer_forward_%s_with_prefill\", \"impl\": \"ours\", \"s\": %.4f, "
        "\"prefill_s\": %.4f, \"peak_gib\": %.2f}\n",
        s.name, median(gen) + median(prefill), median(prefill), peak);
    std::fflush(stdout);
  }
}

WanVaeConfig wan22() {
  std::string mean = "[", sd = "[";
  for (int i = 0; i < 48; ++i) mean += std::string(i ? "," : "") + "0", sd += std::string(i ? "," : "") + "1";
  return WanVaeConfig::from_json(
      "{\"base_dim\":160,\"decoder_base_dim\":256,\"z_dim\":48,\"dim_mult\":[1,2,4,4],\"num_res_blocks\":2,"
      "\"attn_scales\":[],\"temperal_downsample\":[false,true,true],\"is_residual\":true,\"in_channels\":12,"
      "\"out_channels\":12,\"patch_size\":2,\"latents_mean\":" +
      mean + "],\"latents_std\":" + sd + "]}");
}

void bench_vae(WanVaeCuda& vae, bool with_720p) {
  for (const Shape& s : kShapes) {
    if (std::string(s.name) == "256p" || (!with_720p && std::string(s.name) == "720p")) continue;
    const int h = s.height / 16, w = s.width / 16;
    std::vector<float> z((size_t)48 * kLatentT * h * w);
    std::mt19937 rng(7);
    std::normal_distribution<float> nd(0.f, 1.f);
    for (float& v : z) v = nd(rng);
    vae.decode(z.data(), 1, h, w);  // warm-up
    std::vector<float> video;
    const double sec = sync_time([&] { video = vae.decode(z.data(), kLatentT, h, w); });
    bool finite = true;
    for (float v : video) finite = finite && std::isfinite(v);
    std::printf(
        "{\"row\": \"vae_decode_%s\", \"impl\": \"ours\", \"s\": %.3f, \"latent\": [48, %d, %d, %d], "
        "\"frames\": %d, \"finite\": %s, \"peak_gib\": %.2f, \"activation_peak_gib\": %.2f, "
        "\"weights_gib\": %.2f}\n",
        s.name, sec, kLatentT, h, w, vae.config().frames_for(kLatentT), finite ? "true" : "false",
        gib((double)vae.weight_bytes() + vae.last_run_peak_bytes() + 4.0 * (z.size() + video.size())),
        gib(vae.last_run_peak_bytes()), gib(vae.weight_bytes()));
    std::fflush(stdout);
  }
}

void bench_e2e(Cosmos3TransformerCuda& m, WanVaeCuda& vae, int steps, float guidance) {
  Request r(m.config(), kShapes[1], 11);
  std::vector<float> v_cond(r.latents.size()), v_uncond(r.latents.size());
  // Flow sigmas 1 -> 0, shifted as UniPC's use_flow_sigmas with flow_shift 10 (sigma' = 10 s / (1 + 9 s)).
  std::vector<double> sigma(steps + 1);
  for (int i = 0; i <= steps; ++i) {
    const double s = 1.0 - (double)i / steps * (1.0 - 0.0);
    sigma[i] = 10.0 * s / (1.0 + 9.0 * s);
  }
  std::vector<float> video;
  const double sec = sync_time([&] {
    std::vector<int> neg(r.ids.rbegin(), r.ids.rend());
    const Cosmos3UndCacheCuda cond = m.prefill_text(r.ids.data(), kTextTokens, r.text_pos.data());
    const Cosmos3UndCacheCuda uncond = m.prefill_text(neg.data(), kTextTokens, r.text_pos.data());
    for (int i = 0; i < steps; ++i) {
      std::fill(r.timesteps.begin(), r.timesteps.end(), (float)(sigma[i] * 1000.0));
      m.forward_gen(cond, r.in, Cosmos3GenOutputs{v_cond.data(), nullptr, nullptr});
      m.forward_gen(uncond, r.in, Cosmos3GenOutputs{v_uncond.data(), nullptr, nullptr});
      const float dt = (float)(sigma[i + 1] - sigma[i]);
      for (size_t k = 0; k < r.latents.size(); ++k)
        r.latents[k] += dt * (v_uncond[k] + guidance * (v_cond[k] - v_uncond[k]));
    }
    video = vae.decode(r.latents.data(), r.T, r.H, r.W);
  });
  bool finite = true;
  for (float v : video) finite = finite && std::isfinite(v);
  std::printf(
      "{\"row\": \"e2e_t2v_480p_35steps_cfg\", \"impl\": \"ours\", \"s\": %.2f, \"steps\": %d, "
      "\"frames\": %d, \"finite\": %s, \"peak_gib\": %.2f, \"note\": \"host Euler update, not UniPC\"}\n",
      sec, steps, vae.config().frames_for(r.T), finite ? "true" : "false",
      gib((double)m.weight_bytes() + m.pool().peak_bytes() + vae.weight_bytes() + vae.last_run_peak_bytes() +
          4.0 * (r.latents.size() + video.size())));
  std::fflush(stdout);
}

}  // namespace

int main(int argc, char** argv) {
  bool do_forward = false, do_attention = false, do_vae = false, do_e2e = false, vae_720p = true;
  int reps = 3, steps = 35, layers = 36;
  std::vector<std::string> shapes = {"256p", "480p", "720p"};
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto next = [&]() -> std::string { return i + 1 < argc ? argv[++i] : ""; };
    if (a == "forward")
      do_forward = true;
    else if (a == "attention")
      do_attention = true;
    else if (a == "vae")
      do_vae = true;
    else if (a == "e2e")
      do_e2e = true;
    else if (a == "--reps")
      reps = std::max(1, std::atoi(next().c_str()));
    else if (a == "--steps")
      steps = std::max(1, std::atoi(next().c_str()));
    else if (a == "--layers")
      layers = std::max(1, std::atoi(next().c_str()));
    else if (a == "--no-720p-vae")
      vae_720p = false;
    else if (a == "--shapes") {
      shapes.clear();
      std::string list = next(), cur;
      for (char ch : list + ",") {
        if (ch == ',') {
          if (!cur.empty()) shapes.push_back(cur);
          cur.clear();
        } else
          cur += ch;
      }
    } else {
      std::fprintf(stderr, "unknown argument: %s\n", a.c_str());
      return 2;
    }
  }
  int n = 0;
  if (cudaGetDeviceCount(&n) != cudaSuccess || n == 0) {
    std::printf("no CUDA device\n");
    return 2;
  }
  try {
    std::unique_ptr<Cosmos3TransformerCuda> m;
    std::unique_ptr<WanVaeCuda> vae;
    if (do_forward || do_e2e) {
      const double t0 = now_s();
      m = Cosmos3TransformerCuda::random(nano(layers), WType::BF16, 1, 0.02f);
      cudaDeviceSynchronize();
      std::printf("{\"row\": \"transformer_build\", \"impl\": \"ours\", \"s\": %.1f, \"weights_gib\": %.2f}\n",
                  now_s() - t0, gib(m->weight_bytes()));
    }
    if (do_attention) bench_attention(shapes, reps);
    if (do_forward) bench_forward(*m, shapes, reps);
    if (do_vae || do_e2e) vae = WanVaeCuda::random(wan22(), WType::BF16, 5, 0.02f);
    if (do_vae) bench_vae(*vae, vae_720p);
    if (do_e2e) bench_e2e(*m, *vae, steps, 6.0f);
  } catch (const std::exception& e) {
    std::string msg = e.what();  // kept valid JSON: quotes and backslashes become '
    std::replace(msg.begin(), msg.end(), '"', '\'');
    std::replace(msg.begin(), msg.end(), '\\', '\'');
    std::printf("{\"row\": \"error\", \"impl\": \"ours\", \"error\": \"%s\"}\n", msg.c_str());
    return 1;
  }
  return 0;
}
