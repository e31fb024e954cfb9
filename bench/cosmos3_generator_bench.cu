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
//            Generator's tensor-core kernel: "flash_path" says which, the wgmma one on an H200, then "flash_mma_*"
//            times the mma.sync kernel too, COSMOS_FLASH=mma), median of reps, TFLOP/s = 4 n_q n_kv hd heads / s,
//            and the max |diff| of attention_cuda and the default flash kernel; then attention_fp8_cuda (the fp8 mode's
//            attention, its operand preparation included): "fp8_s", and both kernels' relative L2 distance from
//            attention_cuda ("flash_rel_l2", "fp8_rel_l2").
//   e2e      480p t2v, 35 steps + CFG 6: 2 prefills (cond, uncond) + 35 x (2 forward_gen + the CFG combine and a
//            flow Euler update on the host) + decode. The update is Euler on the shifted flow sigmas (shift 10), not
//            UniPC: the sampler's arithmetic is a few ms per step either way against ~2 forwards of ~1 s.
//   engine   whole requests through the Generator engine (models/cosmos3_generator: Cosmos3Generator built from the
//            CUDA twins with these random weights, UniPC flow_shift 10, Karras off): --engine-runs picks from
//              t2v480   480p t2v, 189 frames, 35 steps, CFG 6 (text prefill x2, denoise loop, VAE decode);
//              t2v720   the same at 720x1280 (ours only: bench/run.sh e2e720);
//              policy   action policy at the 256 tier, 16-step chunk = 17 frames, 320x256 content, frame 0 clean
//                       (encoded), 16 noisy action tokens (bridge: domain 7, 10 wide), 30 steps, guidance 1;
//              fdyn     forward dynamics, 61 frames = 60 transitions, a 640x480 frame on the 480 tier's 736x544
//                       canvas, frame 0 clean, all 60 actions given, 30 steps, guidance 1.
//            Text lengths: --text-tokens (t2v) / --policy-text-tokens / --fdyn-text-tokens (the shell passes the
//            lengths diffusers' pipeline tokenized, so both sides attend over the same sequence). Positions are
//            shaped as the pipeline's (text 0..n-1, vision (t + n + 15000, h, w), actions after); their values do
//            not change the work. Peak = both pools' high-water marks (the weights are in them); device peak = the
//            most all pools held from CUDA at once during the request (cuda_pools_reserved_peak), every pool's
//            cache emptied first as in a fresh process.
//
// Peak of a transformer row = its pool's peak bytes: the model's weights live in that pool (CudaWeightStore allocates
// from it; random weights are never shared blocks), so the pool's high-water mark is weights + activations (until
// 2026-12-01 the weights were added once more: rows before then read 27.17 GiB high). The pools only grow and the
// rows run in increasing size, so each row's peak is its own. The VAE's last_run_peak_bytes counts its activations
// only, so its weights, input and output (f32, on the GPU for the call) are added. Ours is host in / host out per call
// as the engine runs it (the decoded video is copied to the host inside the timed decode; diffusers' stays on the GPU).
// VAE rows: --vae-shapes picks 480p / 720p, --vae-720p-latent-frames N decodes fewer latent frames at 720p (the row
// says how many), --vae-deadline S aborts a decode after S seconds through the VAE's abort flag and reports the chunks
// done and the time per chunk (row "partial": true), --vae-chunk N decodes N latent frames a chunk (default 1, as
// the engine). The row "device_used" closes every run: cudaMemGetInfo's used
// bytes minus those at start (the pools keep their blocks, so after forward 720p + VAE 720p in one process it is the
// 720p run's footprint).
//
// Usage (device): cosmos3_generator_bench [forward] [attention] [vae] [e2e] [engine] [--reps N]
//   [--shapes 256p,480p] [--no-720p-vae] [--vae-shapes 480p,720p] [--vae-720p-latent-frames N] [--vae-deadline S]
//   [--vae-chunk N]
//   [--engine-runs t2v480,t2v720,policy,fdyn] [--text-tokens N] [--policy-text-tokens N] [--fdyn-text-tokens N]
//   [--steps N] [--layers N] [--fp8] [--fp8-load]
// --fp8 (forward only): after each shape's bf16 rows, the same forward with the gen stream's linears in FP8
// (Cosmos3TransformerCuda::set_fp8: e4m3 weights per output channel, activations per token): rows "..._fp8",
// "..._fp8_with_prefill" and "..._fp8_fidelity" (its velocity vs the bf16 one on the same weights and inputs).
// --fp8-load: the transformer quantized as the Generator's load option does (set_fp8 with the bf16 weights of those
// linears given back) right after it is built: row "transformer_fp8_load" (weights before / after, the device's
// free memory change); then every mode runs fp8 (forward: the "_fp8" rows only; e2e and engine: fp8 requests).
// COSMOS_FP8_ATTENTION=1 in the environment adds the gen stream's attention in 8 bits to the fp8 rows
// (ops/attention_fp8).
#include <cuda_runtime.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <random>
#include <string>
#include <vector>

#include "../native/src/core/errors.h"
#include "../native/src/models/cosmos3_audio.h"
#include "../native/src/models/cosmos3_audio_cuda.h"
#include "../native/src/models/cosmos3_generator.h"
#include "../native/src/models/cosmos3_transformer_cuda.h"
#include "../native/src/models/wan_vae_cuda.h"
#include "../native/src/ops/attention.h"
#include "../native/src/ops/attention_fp8.h"
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
    DeviceBuffer<float> q(pool, nq), k(pool, nkv), v(pool, nkv), a(pool, nq), b(pool, nq), c(pool, nq);
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
    const std::string path = flash_attention_path(n_q, n_kv, kHd, false, ctx.stream);
    auto flash = [&] {
      flash_attention_cuda(b.get(), q.get(), k.get(), v.get(), n_q, n_kv, kHeads, kKvHeads, kHd, 0, false, scale, ctx);
    };
    const double t_flash = time_it(flash);
    double t_mma = t_flash;  // flash_attention.cu's mma.sync kernel, when the default is the wgmma one
    if (path == "wgmma") {
      setenv("COSMOS_FLASH", "mma", 1);
      t_mma = time_it(flash);
      unsetenv("COSMOS_FLASH");
      flash();  // b holds the default kernel's output for the comparison below
    }
    const bool fp8 = attention_fp8_cuda_supported(n_kv, kHd, ctx.stream);
    const double t_fp8 = !fp8 ? 0.0 : time_it([&] {
      attention_fp8_cuda(c.get(), q.get(), k.get(), v.get(), n_q, n_kv, kHeads, kKvHeads, kHd, 0, false, scale, ctx);
    });
    std::vector<float> ha(nq), hb(nq), hc(nq);
    cudaDeviceSynchronize();
    cudaMemcpy(ha.data(), a.get(), nq * 4, cudaMemcpyDeviceToHost);
    cudaMemcpy(hb.data(), b.get(), nq * 4, cudaMemcpyDeviceToHost);
    cudaMemcpy(hc.data(), c.get(), nq * 4, cudaMemcpyDeviceToHost);
    double diff = 0, ref = 0, d2_flash = 0, d2_fp8 = 0, r2 = 0;
    for (size_t i = 0; i < nq; ++i) {
      diff = std::max(diff, (double)std::fabs(ha[i] - hb[i])), ref = std::max(ref, (double)std::fabs(ha[i]));
      d2_flash += ((double)ha[i] - hb[i]) * ((double)ha[i] - hb[i]);
      d2_fp8 += ((double)ha[i] - hc[i]) * ((double)ha[i] - hc[i]);
      r2 += (double)ha[i] * ha[i];
    }
    const char* f32 = std::getenv("COSMOS_ATTENTION_F32");
    std::printf(
        "{\"row\": \"attention_gen_%s\", \"impl\": \"ours\", \"n_q\": %d, \"n_kv\": %d, "
        "\"attention_cuda_s\": %.5f, \"attention_cuda_tflops\": %.1f, \"attention_cuda_path\": \"%s\", "
        "\"flash_path\": \"%s\", \"flash_s\": %.5f, \"flash_tflops\": %.1f, \"flash_mma_s\": %.5f, "
        "\"flash_mma_tflops\": %.1f, \"per_forward_36_layers_s\": [%.3f, %.3f], "
        "\"max_abs_diff\": %.3e, \"max_abs_ref\": %.3e, \"flash_rel_l2\": %.3e, \"fp8_s\": %.5f, "
        "\"fp8_tflops\": %.1f, \"fp8_rel_l2\": %.3e, \"fp8_per_forward_36_layers_s\": %.3f}\n",
        s.name, n_q, n_kv, t_ref, flop / t_ref * 1e-12, f32 && *f32 && *f32 != '0' ? "f32 simt" : "attention.cu mma",
        path.c_str(), t_flash, flop / t_flash * 1e-12, t_mma, flop / t_mma * 1e-12, 36 * t_ref, 36 * t_flash, diff, ref,
        std::sqrt(d2_flash / r2), t_fp8, fp8 ? flop / t_fp8 * 1e-12 : 0.0, fp8 ? std::sqrt(d2_fp8 / r2) : -1.0,
        36 * t_fp8);
    std::fflush(stdout);
  }
}

// fp8: bf16 rows, then fp8 rows and the fidelity (set_fp8 on and off, the bf16 weights kept). fp8_loaded: the
// model was quantized as the load option does (--fp8-load: bf16 weights given back), fp8 rows only.
void bench_forward(Cosmos3TransformerCuda& m, const std::vector<std::string>& shapes, int reps, bool fp8,
                   bool fp8_loaded) {
  for (const Shape& s : kShapes) {
    if (std::find(shapes.begin(), shapes.end(), s.name) == shapes.end()) continue;
    Request r(m.config(), s, 5);
    Cosmos3GenOutputs o{r.velocity.data(), nullptr, nullptr};
    std::vector<float> v_bf16;  // the bf16 forward's velocity, for the fp8 row's fidelity
    for (const bool use_fp8 : {false, true}) {
      if (use_fp8 ? !(fp8 || fp8_loaded) : fp8_loaded) continue;  // bf16 rows unless loaded fp8; fp8 rows if asked
      if (use_fp8 && !fp8_loaded && !m.set_fp8(true)) {
        std::printf("{\"row\": \"%s_fp8_error\", \"error\": \"no sm_90a fp8 GEMM on this build / device\"}\n", s.name);
        break;
      }
      const std::string row = std::string("transformer_forward_") + s.name + (use_fp8 ? "_fp8" : "");
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
      const double peak = gib((double)m.pool().peak_bytes());  // weights included (the header)
      std::printf("{\"row\": \"%s\", \"impl\": \"ours\", \"s\": %.4f, \"times\": [", row.c_str(), median(gen));
      for (int i = 0; i < reps; ++i) std::printf("%s%.4f", i ? ", " : "", gen[i]);
      std::printf(
          "], \"vision_tokens\": %d, \"text_tokens\": %d, \"finite\": %s, \"peak_gib\": %.2f, "
          "\"note\": \"forward_gen only; und prefill cached per request%s\"}\n",
          r.gen_tokens, kTextTokens, finite ? "true" : "false", peak,
          use_fp8 ? "; gen stream's linears fp8 e4m3 (set_fp8)" : "");
      std::printf(
          "{\"row\": \"%s_with_prefill\", \"impl\": \"ours\", \"s\": %.4f, "
          "\"prefill_s\": %.4f, \"peak_gib\": %.2f}\n",
          row.c_str(), median(gen) + median(prefill), median(prefill), peak);
      if (!use_fp8) {
        v_bf16 = r.velocity;
      } else if (!fp8_loaded) {
        // The fp8 velocity vs the bf16 one (same weights, inputs, text cache): max |diff| / max |bf16|,
        // mean |diff| / mean |bf16|, max over elements of |diff| / (|bf16| + 1e-3 max |bf16|), ||diff|| / ||bf16||.
        double max_d = 0, max_r = 0, sum_d = 0, sum_r = 0, d2 = 0, r2 = 0, max_el = 0;
        for (size_t i = 0; i < v_bf16.size(); ++i) max_r = std::max(max_r, (double)std::fabs(v_bf16[i]));
        for (size_t i = 0; i < v_bf16.size(); ++i) {
          const double d = std::fabs((double)r.velocity[i] - v_bf16[i]), a = std::fabs((double)v_bf16[i]);
          max_d = std::max(max_d, d), sum_d += d, sum_r += a, d2 += d * d, r2 += a * a;
          max_el = std::max(max_el, d / (a + 1e-3 * max_r));
        }
        std::printf(
            "{\"row\": \"%s_fidelity\", \"impl\": \"ours\", \"max_abs_diff_over_max_abs\": %.4e, "
            "\"mean_abs_diff_over_mean_abs\": %.4e, \"rel_l2\": %.4e, \"max_elementwise_rel\": %.4e, "
            "\"max_abs_bf16\": %.4e, \"note\": \"fp8 velocity vs bf16 velocity\"}\n",
            row.c_str(), max_d / std::max(max_r, 1e-30), sum_d / std::max(sum_r, 1e-30),
            std::sqrt(d2 / std::max(r2, 1e-30)), max_el, max_r);
        m.set_fp8(false);
      }
      std::fflush(stdout);
    }
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

struct VaeBenchOptions {
  std::vector<std::string> shapes = {"480p", "720p"};
  int latent_frames_720p = kLatentT;  // fewer when 720p x 189 does not fit a call
  double deadline_s = 0;              // > 0: abort a decode after this long and report the rate
  int chunk = 1;                      // latent frames per chunk (WanVaeRunOptions::chunk_latent_frames)
};

void bench_vae(WanVaeCuda& vae, const VaeBenchOptions& vo) {
  for (const Shape& s : kShapes) {
    if (std::find(vo.shapes.begin(), vo.shapes.end(), s.name) == vo.shapes.end() || std::string(s.name) == "256p")
      continue;
    const int h = s.height / 16, w = s.width / 16;
    const int T = std::string(s.name) == "720p" ? std::min(vo.latent_frames_720p, kLatentT) : kLatentT;
    std::vector<float> z((size_t)48 * T * h * w);
    std::mt19937 rng(7);
    std::normal_distribution<float> nd(0.f, 1.f);
    for (float& v : z) v = nd(rng);
    vae.decode(z.data(), 1, h, w);  // warm-up
    // The deadline goes through the VAE's own abort flag (read between chunks); the chunk times give the rate.
    std::atomic<bool> stop{false};
    std::vector<double> chunk_end;
    WanVaeRunOptions opt;
    opt.abort = &stop;
    opt.chunk_latent_frames = vo.chunk;
    const double t0 = now_s();
    opt.on_chunk = [&](int, int) {
      cudaDeviceSynchronize();  // the chunk's kernels done: its end time is real (48 syncs per decode)
      chunk_end.push_back(now_s() - t0);
      if (vo.deadline_s > 0 && chunk_end.back() > vo.deadline_s) stop = true;
    };
    std::vector<float> video;
    bool partial = false;
    const double sec = sync_time([&] {
      try {
        video = vae.decode(z.data(), T, h, w, opt);
      } catch (const AbortedError&) {
        partial = true;
      }
    });
    bool finite = true;
    for (float v : video) finite = finite && std::isfinite(v);
    const int done = (int)chunk_end.size();
    // Chunks after the first give the steady rate (with one latent frame a chunk the first is 1 video frame).
    const double per_chunk = done > 1 ? (chunk_end.back() - chunk_end.front()) / (done - 1) : sec;
    const int chunks = (T + vo.chunk - 1) / vo.chunk;
    const size_t out_floats = (size_t)3 * vae.config().frames_for(T) * s.height * s.width;
    std::printf(
        "{\"row\": \"vae_decode_%s\", \"impl\": \"ours\", \"s\": %s, \"latent\": [48, %d, %d, %d], "
        "\"frames\": %d, \"partial\": %s, \"chunks_done\": %d, \"chunk_s\": %.4f, \"elapsed_s\": %.3f, "
        "\"estimate_full_s\": %.2f, \"finite\": %s, \"peak_gib\": %.2f, \"activation_peak_gib\": %.2f, "
        "\"weights_gib\": %.2f, \"chunk_latent_frames\": %d}\n",
        s.name, partial ? "null" : std::to_string(sec).c_str(), T, h, w, vae.config().frames_for(T),
        partial ? "true" : "false", done, per_chunk, sec,
        chunk_end.empty() ? sec : chunk_end.front() + per_chunk * (chunks - 1),
        partial ? "false" : (finite ? "true" : "false"),
        gib((double)vae.weight_bytes() + vae.last_run_peak_bytes() + 4.0 * (z.size() + out_floats)),
        gib(vae.last_run_peak_bytes()), gib(vae.weight_bytes()), vo.chunk);
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
      gib((double)m.pool().peak_bytes() + vae.weight_bytes() + vae.last_run_peak_bytes() +
          4.0 * (r.latents.size() + video.size())));
  std::fflush(stdout);
}

// An error as a JSON row (quotes and backslashes become ').
void print_error(const std::string& row, std::string msg) {
  std::replace(msg.begin(), msg.end(), '"', '\'');
  std::replace(msg.begin(), msg.end(), '\\', '\'');
  std::printf("{\"row\": \"%s\", \"impl\": \"ours\", \"error\": \"%s\"}\n", row.c_str(), msg.c_str());
  std::fflush(stdout);
}

// UniPC as the pipelines run the video and action modes: flow sigmas, flow_shift 10, Karras off (the same for
// diffusers' side).
runtime::FlowSchedulerConfig unipc_flow() {
  return runtime::FlowSchedulerConfig::from_json(
      "{\"_class_name\":\"UniPCMultistepScheduler\",\"num_train_timesteps\":1000,\"solver_order\":2,"
      "\"solver_type\":\"bh2\",\"lower_order_final\":true,\"prediction_type\":\"flow_prediction\","
      "\"use_flow_sigmas\":true,\"flow_shift\":10.0,\"use_karras_sigmas\":false,\"sigma_min\":0.147,"
      "\"sigma_max\":200.0,\"final_sigmas_type\":\"zero\"}");
}

// One engine request of the bench: its shapes as the pipeline plans them (see the header), random ids and values.
struct EngineRun {
  std::string name;
  int text_tokens, latent_t, latent_h, latent_w, steps;
  float guidance;
  bool clean_first = false;        // latent frame 0 clean, encoded from one canvas frame
  int canvas_h = 0, canvas_w = 0;  // the canvas it is encoded from (0: the latent size x 16)
  int action_len = 0, domain_id = 7, raw_action_dim = 10;
  bool actions_given = false;  // forward dynamics: every action token clean
};

Cosmos3Branch branch(const Cosmos3TransformerConfig& c, const EngineRun& e, uint32_t seed) {
  Cosmos3Branch b;
  std::mt19937 rng(seed);
  for (int i = 0; i < e.text_tokens; ++i) b.ids.push_back((int)(rng() % c.vocab_size));
  const int hp = (e.latent_h + 1) / 2, wp = (e.latent_w + 1) / 2, nv = e.latent_t * hp * wp;
  const int n = e.text_tokens, L = n + nv + e.action_len;
  b.positions.assign(3 * (size_t)L, 0.f);
  float* t = b.positions.data();
  float* hrow = t + L;
  float* wrow = hrow + L;
  for (int i = 0; i < n; ++i) t[i] = hrow[i] = wrow[i] = (float)i;
  for (int f = 0, r = n; f < e.latent_t; ++f)
    for (int i = 0; i < hp; ++i)
      for (int j = 0; j < wp; ++j, ++r) t[r] = n + 15000.f + f, hrow[r] = (float)i, wrow[r] = (float)j;
  for (int k = 0; k < e.action_len; ++k) t[n + nv + k] = n + 15000.f + k / 4.f;  // one token per transition
  return b;
}

void bench_engine(Cosmos3Generator& g, const std::vector<EngineRun>& runs) {
  const Cosmos3TransformerConfig& c = g.transformer_config();
  std::vector<CudaPool*> pools = g.cuda_pools();
  for (const EngineRun& e : runs) {
    Cosmos3GenerateRequest r;
    r.cond = branch(c, e, 1);
    r.guidance = e.guidance;
    if (e.guidance != 1.0f) r.uncond = branch(c, e, 2);
    r.latent_t = e.latent_t, r.latent_h = e.latent_h, r.latent_w = e.latent_w;
    r.seed = 3;
    r.schedule.steps = e.steps;
    r.schedule.flow_shift = 10.0;
    r.schedule.use_karras_sigmas = false;
    std::mt19937 rng(9);
    std::uniform_real_distribution<float> ud(-1.f, 1.f);
    if (e.clean_first) {
      r.clean_frames = {0};
      r.cond_frames = 1;
      r.cond_height = e.canvas_h, r.cond_width = e.canvas_w;
      const int H = e.canvas_h ? e.canvas_h : e.latent_h * 16, W = e.canvas_w ? e.canvas_w : e.latent_w * 16;
      r.cond_video.resize((size_t)3 * H * W);
      for (float& v : r.cond_video) v = ud(rng);
    }
    if (e.action_len > 0) {
      r.action_len = e.action_len, r.domain_id = e.domain_id, r.raw_action_dim = e.raw_action_dim;
      if (e.actions_given) {
        for (int k = 0; k < e.action_len; ++k) r.action_clean.push_back(k);
        r.action_values.assign((size_t)e.action_len * c.action_dim, 0.f);
        for (float& v : r.action_values) v = ud(rng);
      }
    }
    // As a fresh process would start the request: no blocks cached by the rows before (the device peak would
    // count them).
    for (CudaPool* p : pools) p->release_cached(), p->reset_peak();
    cuda_pools_reset_reserved_peak();
    int steps_done = 0;
    double denoise_end = 0;
    size_t denoise_peak = 0, held_after_denoise = 0, cached_after_denoise = 0;
    const double t0 = now_s();
    Cosmos3GenerateResult res;
    double sec = 0;
    try {
      sec = sync_time([&] {
        res = g.generate(r, [&](Cosmos3Stage st, int done, int total) {
          if (st == Cosmos3Stage::Denoise) steps_done = done, denoise_end = now_s() - t0;
          if (st == Cosmos3Stage::Denoise && done == total) {  // the phases' device peaks apart (see the row)
            denoise_peak = cuda_pools_reserved_peak();
            for (CudaPool* p : pools) held_after_denoise += p->bytes_in_use() + p->bytes_cached();
            cached_after_denoise = pools.empty() ? 0 : pools[0]->bytes_cached();
            cuda_pools_reset_reserved_peak();
          }
        });
      });
    } catch (const std::exception& ex) {  // one run failing leaves the others measured
      print_error("engine_" + e.name + "_error", ex.what());
      continue;
    }
    bool finite = true;
    for (float v : res.video) finite = finite && std::isfinite(v);
    double pool_peak = 0;
    for (CudaPool* p : pools) pool_peak += (double)p->peak_bytes();
    const int hp = (e.latent_h + 1) / 2, wp = (e.latent_w + 1) / 2;
    std::printf(
        "{\"row\": \"engine_%s\", \"impl\": \"ours\", \"s\": %.3f, \"denoise_s\": %.3f, \"steps\": %d, "
        "\"guidance\": %.1f, \"text_tokens\": %d, \"vision_tokens\": %d, \"action_tokens\": %d, "
        "\"frames\": %d, \"height\": %d, \"width\": %d, \"finite\": %s, \"peak_gib\": %.2f, "
        "\"device_peak_gib\": %.2f, \"device_peak_denoise_gib\": %.2f, \"device_peak_decode_gib\": %.2f, "
        "\"pools_held_after_denoise_gib\": %.2f, \"transformer_cached_after_denoise_gib\": %.2f, "
        "\"note\": \"Cosmos3Generator::generate: prefill, UniPC loop (latents in the pool between steps), "
        "encode of frame 0 where clean, VAE decode; peak_gib = the sum of the pools' in-use peaks, device_peak_gib = "
        "the most all pools held from CUDA at once (in use + cached)\"}\n",
        e.name.c_str(), sec, denoise_end, steps_done, e.guidance, e.text_tokens, e.latent_t * hp * wp, e.action_len,
        res.frames, res.height, res.width, finite ? "true" : "false", gib(pool_peak),  // weights are in the pools
        gib((double)std::max(denoise_peak, cuda_pools_reserved_peak())), gib((double)denoise_peak),
        gib((double)cuda_pools_reserved_peak()), gib((double)held_after_denoise), gib((double)cached_after_denoise));
    std::fflush(stdout);
  }
}

void print_device_used(size_t free_at_start) {
  size_t free_b = 0, total_b = 0;
  cudaMemGetInfo(&free_b, &total_b);
  std::printf(
      "{\"row\": \"device_used\", \"impl\": \"ours\", \"used_gib\": %.2f, \"note\": \"cudaMemGetInfo used now minus "
      "at start: every pool's blocks kept, i.e. this process's footprint\"}\n",
      gib((double)free_at_start - (double)free_b));
  std::fflush(stdout);
}

std::vector<std::string> split_list(const std::string& list) {
  std::vector<std::string> out;
  std::string cur;
  for (char ch : list + ",") {
    if (ch == ',') {
      if (!cur.empty()) out.push_back(cur);
      cur.clear();
    } else
      cur += ch;
  }
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  bool do_forward = false, do_attention = false, do_vae = false, do_e2e = false, do_engine = false, fp8 = false,
       fp8_load = false;
  int reps = 3, steps = 35, layers = 36, text_t2v = kTextTokens, text_policy = 256, text_fdyn = 256;
  std::vector<std::string> shapes = {"256p", "480p", "720p"}, engine_runs = {"t2v480", "policy", "fdyn"};
  VaeBenchOptions vo;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto next = [&]() -> std::string { return i + 1 < argc ? argv[++i] : ""; };
    auto next_int = [&](int lo) { return std::max(lo, std::atoi(next().c_str())); };
    if (a == "forward")
      do_forward = true;
    else if (a == "attention")
      do_attention = true;
    else if (a == "vae")
      do_vae = true;
    else if (a == "e2e")
      do_e2e = true;
    else if (a == "engine")
      do_engine = true;
    else if (a == "--reps")
      reps = next_int(1);
    else if (a == "--fp8")
      fp8 = true;
    else if (a == "--fp8-load")
      fp8_load = true;
    else if (a == "--steps")
      steps = next_int(1);
    else if (a == "--layers")
      layers = next_int(1);
    else if (a == "--no-720p-vae")
      vo.shapes = {"480p"};
    else if (a == "--vae-shapes")
      vo.shapes = split_list(next());
    else if (a == "--vae-720p-latent-frames")
      vo.latent_frames_720p = next_int(1);
    else if (a == "--vae-chunk")
      vo.chunk = next_int(1);
    else if (a == "--vae-deadline")
      vo.deadline_s = std::atof(next().c_str());
    else if (a == "--engine-runs")
      engine_runs = split_list(next());
    else if (a == "--text-tokens")
      text_t2v = next_int(1);
    else if (a == "--policy-text-tokens")
      text_policy = next_int(1);
    else if (a == "--fdyn-text-tokens")
      text_fdyn = next_int(1);
    else if (a == "--shapes")
      shapes = split_list(next());
    else {
      std::fprintf(stderr, "unknown argument: %s\n", a.c_str());
      return 2;
    }
  }
  int n = 0;
  if (cudaGetDeviceCount(&n) != cudaSuccess || n == 0) {
    std::printf("no CUDA device\n");
    return 2;
  }
  cudaFree(nullptr);  // the context first, so the baseline below excludes it
  size_t free_at_start = 0, total = 0;
  cudaMemGetInfo(&free_at_start, &total);
  try {
    std::unique_ptr<Cosmos3TransformerCuda> m;
    std::unique_ptr<WanVaeCuda> vae;
    if (do_forward || do_e2e || do_engine) {
      const double t0 = now_s();
      Cosmos3TransformerConfig cfg = nano(layers);
      // The Nano's heads as diffusers' bench builds them (action 64 wide, sound 64): the engine's action runs
      // need them; a t2v forward does not touch them.
      cfg.action_gen = true, cfg.action_dim = 64, cfg.sound_gen = true, cfg.sound_dim = 64;
      m = Cosmos3TransformerCuda::random(cfg, WType::BF16, 1, 0.02f);
      cudaDeviceSynchronize();
      std::printf("{\"row\": \"transformer_build\", \"impl\": \"ours\", \"s\": %.1f, \"weights_gib\": %.2f}\n",
                  now_s() - t0, gib(m->weight_bytes()));
      if (fp8_load) {  // as the load option: the gen stream's linears in e4m3, their bf16 weights given back
        const size_t before = m->weight_bytes();
        size_t free_before = 0, free_after = 0;
        cudaMemGetInfo(&free_before, &total);
        if (!m->set_fp8(true, /*keep_source=*/false)) {
          std::printf("{\"row\": \"transformer_fp8_load_error\", \"error\": \"no sm_90a fp8 GEMM\"}\n");
          return 1;
        }
        cudaMemGetInfo(&free_after, &total);
        std::printf(
            "{\"row\": \"transformer_fp8_load\", \"impl\": \"ours\", \"weights_gib_bf16\": %.2f, "
            "\"weights_gib_fp8\": %.2f, \"device_free_gib_change\": %.2f}\n",
            gib(before), gib(m->weight_bytes()), gib((double)free_after - (double)free_before));
      }
    }
    if (do_attention) bench_attention(shapes, reps);
    if (do_forward) bench_forward(*m, shapes, reps, fp8 && !fp8_load, fp8_load);
    if (do_vae || do_e2e || do_engine) vae = WanVaeCuda::random(wan22(), WType::BF16, 5, 0.02f);
    if (do_vae) bench_vae(*vae, vo);
    if (do_e2e) bench_e2e(*m, *vae, steps, 6.0f);
    if (do_engine) {
      std::vector<EngineRun> runs;
      for (const std::string& name : engine_runs) {
        if (name == "t2v480")  // 480x832, 189 frames
          runs.push_back({"t2v480", text_t2v, kLatentT, 30, 52, steps, 6.0f});
        else if (name == "t2v720")  // 720x1280, 189 frames (issue 14's 720p request; no diffusers row: ~4 min each)
          runs.push_back({"t2v720", text_t2v, kLatentT, 45, 80, steps, 6.0f});
        else if (name == "policy") {  // 320x256 content = the 256 tier's 1.25 canvas, 17 frames
          EngineRun e{"policy", text_policy, 5, 16, 20, 30, 1.0f};
          e.clean_first = true, e.action_len = 16;
          runs.push_back(e);
        } else if (name == "fdyn") {  // 640x480 on the 480 tier's 736x544 canvas, 61 frames
          EngineRun e{"fdyn", text_fdyn, 16, 30, 40, 30, 1.0f};
          e.clean_first = true, e.canvas_h = 544, e.canvas_w = 736, e.action_len = 60, e.actions_given = true;
          runs.push_back(e);
        } else {
          std::fprintf(stderr, "unknown engine run: %s\n", name.c_str());
          return 2;
        }
      }
      Cosmos3Generator g(cosmos3_generator_cuda_parts(std::move(m), std::move(vae), nullptr), unipc_flow());
      bench_engine(g, runs);
      print_device_used(free_at_start);  // while the engine (which now owns the models' pools) is alive
    } else {
      print_device_used(free_at_start);
    }
  } catch (const std::exception& e) {
    print_error("error", e.what());
    print_device_used(free_at_start);
    return 1;
  }
  return 0;
}
