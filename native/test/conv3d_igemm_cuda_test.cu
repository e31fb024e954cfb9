// conv3d_igemm_cuda (ops/conv3d_igemm.h) on the GPU — run on the device machine by tools/device/vae_conv_check.sh:
//   check  the Wan VAE's conv kinds at their real channel counts on small frames (rows labelled with the kernel:
//          "wgmma tma" / "wgmma gather" on an H200, "mma.sync" with COSMOS_VAE_CONV=mma; the script runs it under
//          each switch) (ragged rows, frames and cout, cin past a k-tile, zero and real histories, several launches
//          per call, f32 and bf16 output, an unaligned output): vs the host emulation of the kernel (same bf16
//          operands: only the summation order differs, <= 1e-4 of max |out|) and vs conv3d_cpu on the f32 operands
//          (<= 2e-2 of max |out|, the bf16 rounding); cin 12 is refused.
//   time [im2col|mma|gather]  per conv at the 480x832 decoder's shapes (one chunk = 4 video frames): the default
//          path (wgmma tma on an H200) vs COSMOS_VAE_CONV=<baseline> (default gather), ms and TFLOP/s, and their
//          difference
//   vae    the Wan2.2 decoder (random bf16 weights): a 2 x 2-latent decode vs the CPU model (<= 5e-2 of max |out|),
//          then decode time at 480x832 for each latent-frame count given (5 = 17 frames, 48 = 189), JSON rows;
//          the conv path is COSMOS_VAE_CONV's (the script runs it twice); the run with COSMOS_VAE_CONV set (im2col,
//          mma or gather) writes the first count's video to /tmp, the default run (wgmma tma on an H200) compares
//          its own with it (<= 2e-2 of max |out|)
// Usage: conv3d_igemm_cuda_test check | time [baseline] | vae [T...]. Exit 1 on any failure.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <random>
#include <stdexcept>
#include <string>
#include <vector>

#include "../src/core/cuda_common.h"
#include "../src/core/cuda_pool.h"
#include "../src/models/wan_vae.h"
#include "../src/models/wan_vae_cuda.h"
#include "../src/ops/cast_bf16.h"
#include "../src/ops/conv3d.h"
#include "../src/ops/conv3d_igemm.h"
#include "../src/ops/fill_uniform.h"
#include "test_util.h"

using namespace cosmos;
using test_util::failures;
using test_util::max_rel_diff;

namespace {
std::mt19937 rng(5);
std::vector<float> randv(size_t n, float s) {
  std::normal_distribution<float> nd(0.f, s);
  std::vector<float> v(n);
  for (auto& e : v) e = nd(rng);
  return v;
}
std::vector<uint16_t> bf16_bits(const std::vector<float>& v) {
  std::vector<uint16_t> b(v.size());
  for (size_t i = 0; i < v.size(); ++i) {
    const float r = igemm_round_bf16(v[i]);
    uint32_t u;
    std::memcpy(&u, &r, 4);
    b[i] = (uint16_t)(u >> 16);
  }
  return b;
}
float from_bf16(uint16_t b) {
  const uint32_t u = (uint32_t)b << 16;
  float f;
  std::memcpy(&f, &u, 4);
  return f;
}
template <class T>
T* upload(const std::vector<T>& v) {
  T* p = nullptr;
  CUDA_CHECK(cudaMalloc(&p, std::max<size_t>(1, v.size()) * sizeof(T)));
  if (!v.empty()) CUDA_CHECK(cudaMemcpy(p, v.data(), v.size() * sizeof(T), cudaMemcpyHostToDevice));
  // A pageable copy may return before its DMA lands, and the conv runs on a non-blocking stream: wait for it.
  CUDA_CHECK(cudaDeviceSynchronize());
  return p;
}
void row(const std::string& what, double v, double tol) {
  const bool ok = v <= tol;
  if (!ok) ++failures;
  std::printf("| %-64s | %10.3e | %7.0e | %s |\n", what.c_str(), v, tol, ok ? "PASS" : "FAIL");
  std::fflush(stdout);
}
Conv3dDims dims(int cin, int cout, int kt, int k, int pad, int st = 1, int s = 1) {
  Conv3dDims d;
  d.cin = cin, d.cout = cout, d.kt = kt, d.kh = d.kw = k, d.st = st, d.sh = d.sw = s;
  d.pad_top = d.pad_bottom = d.pad_left = d.pad_right = pad;
  return d;
}

struct Case {
  std::string name;
  Conv3dDims d;
  int n_hist, t, h, w;
  bool hist, bias, out_bf16 = false, misalign = false;
  size_t cap = kIgemmWindowCapBytes;
};

void check() {
  CudaStream stream;
  CudaPool pool;
  const CudaContext ctx{stream.get(), &pool};
  const CpuContext cpu{0};
  std::vector<Case> cases = {
      {"conv_in 48 -> 1024, zero history, 6x8", dims(48, 1024, 3, 3, 1), 2, 1, 6, 8, false, true},
      {"res conv 1024 -> 1024, history, 5x7", dims(1024, 1024, 3, 3, 1), 2, 1, 5, 7, true, true},
      {"up2 conv1 1024 -> 512, 2 frames, 1 per launch", dims(1024, 512, 3, 3, 1), 2, 2, 6, 6, true, true},
      {"time_conv 1024 -> 2048 (3x1x1), 2 frames", dims(1024, 2048, 3, 1, 0), 2, 2, 4, 5, true, true},
      {"resample 3x3 512 -> 512, 2 frames, 9x7", dims(512, 512, 1, 3, 1), 0, 2, 9, 7, false, true},
      {"res conv 256 -> 256, 4 frames, 10x12 (480 rows)", dims(256, 256, 3, 3, 1), 2, 4, 10, 12, true, true},
      {"conv_out 256 -> 12, 4 frames", dims(256, 12, 3, 3, 1), 2, 4, 8, 8, true, true},
      {"odd cout 256 -> 13, no bias", dims(256, 13, 3, 3, 1), 2, 2, 5, 5, true, false},
      {"res conv 256 -> 256, bf16 out", dims(256, 256, 3, 3, 1), 2, 2, 6, 7, true, true, true},
      {"res conv 256 -> 256, out not 8-byte aligned", dims(256, 256, 3, 3, 1), 2, 2, 6, 7, true, true, false, true},
      {"res conv 64 -> 96, 5 frames, 2 per launch", dims(64, 96, 3, 3, 1), 2, 5, 6, 5, true, true},
      {"encoder resample 3x3 stride 2 (pad r/b) 320 -> 320", dims(320, 320, 1, 3, 0, 1, 2), 0, 2, 8, 10, false, true},
      {"encoder time_conv stride 2 640 -> 640", dims(640, 640, 3, 1, 0, 2), 1, 4, 3, 4, true, true},
      // For the TMA kernel's spatial tiles: wide and tall frames (tiles of 128 x 1 .. 4 x 32 pixels), ragged on
      // both sides, cin past one k-tile but not two, no padding (a smaller output), a 1-pixel frame.
      {"res conv 256 -> 256, 3 frames, 3x130 (wide tiles)", dims(256, 256, 3, 3, 1), 2, 3, 3, 130, true, true},
      {"res conv 256 -> 256, 2 frames, 37x5 (tall tiles)", dims(256, 256, 3, 3, 1), 2, 2, 37, 5, true, true},
      {"cin 96 -> 320, 2 frames, 11x19", dims(96, 320, 3, 3, 1), 2, 2, 11, 19, true, true},
      {"valid 3x3 (no padding) 512 -> 512, 9x21", dims(512, 512, 1, 3, 0), 0, 2, 9, 21, false, true},
      {"res conv 512 -> 256, 1x1 frame, bf16 out", dims(512, 256, 3, 3, 1), 2, 3, 1, 1, true, true, true},
  };
  cases[2].cap = (size_t)3 * 6 * 6 * 1024 * 2;       // one output frame per launch
  cases[10].cap = (size_t)4 * 6 * 5 * 64 * 2 + 100;  // two
  cases[11].d.pad_top = cases[11].d.pad_left = 0, cases[11].d.pad_bottom = cases[11].d.pad_right = 1;
  for (const Case& c : cases) {
    const Conv3dDims& d = c.d;
    const int ot = d.out_t(c.n_hist, c.t), oh = d.out_h(c.h), ow = d.out_w(c.w);
    const size_t nout = (size_t)ot * oh * ow * d.cout;
    auto x = randv((size_t)c.t * c.h * c.w * d.cin, 1.f), hist = randv((size_t)c.n_hist * c.h * c.w * d.cin, 1.f);
    auto wt = randv((size_t)d.cout * d.k(), 1.f / std::sqrt((float)d.k()));
    auto b = c.bias ? randv(d.cout, 1.f) : std::vector<float>{};
    const float* hp = c.hist ? hist.data() : nullptr;
    std::vector<float> ref(nout), emu(nout);
    conv3d_cpu(ref.data(), hp, c.n_hist, x.data(), c.t, c.h, c.w, wt.data(), c.bias ? b.data() : nullptr, d, cpu);
    conv3d_igemm_emulate_cpu(emu.data(), hp, c.n_hist, x.data(), c.t, c.h, c.w, wt.data(), c.bias ? b.data() : nullptr,
                             d, c.out_bf16, c.cap);
    float *dx = upload(x), *dh = c.hist ? upload(hist) : nullptr, *db = c.bias ? upload(b) : nullptr;
    uint16_t* dw = upload(bf16_bits(wt));
    const size_t esz = c.out_bf16 ? 2 : 4;
    unsigned char* dout = nullptr;
    CUDA_CHECK(cudaMalloc(&dout, nout * esz + 16));
    void* o = dout + (c.misalign ? esz : 0);
    conv3d_igemm_cuda(o, c.out_bf16, dh, c.n_hist, dx, c.t, c.h, c.w, dw, db, d, ctx, c.cap);
    CUDA_CHECK(cudaStreamSynchronize(stream.get()));
    std::vector<float> got(nout);
    if (c.out_bf16) {
      std::vector<uint16_t> g16(nout);
      CUDA_CHECK(cudaMemcpy(g16.data(), o, nout * 2, cudaMemcpyDeviceToHost));
      for (size_t i = 0; i < nout; ++i) got[i] = from_bf16(g16[i]);
    } else {
      CUDA_CHECK(cudaMemcpy(got.data(), o, nout * 4, cudaMemcpyDeviceToHost));
    }
    // bf16 outputs may differ by one bf16 step where the f32 sums straddle a rounding boundary.
    const std::string kern = std::string(" [") + conv3d_igemm_kernel(stream.get(), d) + "]";
    row(c.name + kern + ": vs emulation", max_rel_diff(got, emu), c.out_bf16 ? 8e-3 : 1e-4);
    row(c.name + kern + ": vs conv3d_cpu f32", max_rel_diff(got, ref), 2e-2);
    // The same history kept in bf16 (cast_bf16_cuda, as the Wan VAE's caches): bit-identical, since the window
    // rounds f32 history frames the same way. The host twin's bits too (cast_bf16_cpu == cast_bf16_cuda).
    if (dh) {
      std::vector<unsigned char> a(nout * esz), bb(nout * esz);
      CUDA_CHECK(cudaMemcpy(a.data(), o, nout * esz, cudaMemcpyDeviceToHost));  // the f32-history run's output
      void* dh16 = nullptr;
      CUDA_CHECK(cudaMalloc(&dh16, hist.size() * 2));
      cast_bf16_cuda(dh16, dh, hist.size(), ctx);
      conv3d_igemm_cuda(o, c.out_bf16, dh16, c.n_hist, dx, c.t, c.h, c.w, dw, db, d, ctx, c.cap, true);
      std::vector<uint16_t> h16(hist.size()), h16_cpu(hist.size());
      CUDA_CHECK(cudaMemcpyAsync(h16.data(), dh16, hist.size() * 2, cudaMemcpyDeviceToHost, stream.get()));
      CUDA_CHECK(cudaMemcpyAsync(bb.data(), o, nout * esz, cudaMemcpyDeviceToHost, stream.get()));
      CUDA_CHECK(cudaStreamSynchronize(stream.get()));
      cast_bf16_cpu(h16_cpu.data(), hist.data(), hist.size());
      row(c.name + kern + ": bf16 history == f32 history (bytes differing)", (double)(a != bb), 0);
      row(c.name + ": cast_bf16_cuda == cast_bf16_cpu (1 = not)", (double)(h16 != h16_cpu), 0);
      CUDA_CHECK(cudaFree(dh16));
    }
    // The window built by the caller ([hist | x] rounded to bf16 on the host, zeros for a null history, one buffer):
    // conv3d_igemm_window_cuda gives the same bytes as the run above (which built the window itself).
    {
      std::vector<unsigned char> a(nout * esz), bb(nout * esz);
      CUDA_CHECK(cudaMemcpy(a.data(), o, nout * esz, cudaMemcpyDeviceToHost));
      const size_t frame = (size_t)c.h * c.w * d.cin;
      std::vector<uint16_t> win((c.n_hist + c.t) * frame, 0);
      if (hp) cast_bf16_cpu(win.data(), hist.data(), hist.size());
      cast_bf16_cpu(win.data() + c.n_hist * frame, x.data(), x.size());
      uint16_t* dwin = upload(win);
      CUDA_CHECK(cudaMemsetAsync(o, 0, nout * esz, stream.get()));
      conv3d_igemm_window_cuda(o, c.out_bf16, dwin, c.n_hist + c.t, c.h, c.w, dw, db, d, ctx);
      CUDA_CHECK(cudaStreamSynchronize(stream.get()));
      CUDA_CHECK(cudaMemcpy(bb.data(), o, nout * esz, cudaMemcpyDeviceToHost));
      row(c.name + kern + ": caller's bf16 window == built window (bytes differing)", (double)(a != bb), 0);
      CUDA_CHECK(cudaFree(dwin));
    }
    for (void* p : {(void*)dx, (void*)dh, (void*)db, (void*)dw, (void*)dout})
      if (p) CUDA_CHECK(cudaFree(p));
  }
  bool threw = false;
  try {
    conv3d_igemm_cuda(nullptr, false, nullptr, 2, nullptr, 1, 4, 4, nullptr, nullptr, dims(12, 12, 3, 3, 1), ctx);
  } catch (const std::invalid_argument&) {
    threw = true;
  }
  row("cin 12 refused (std::invalid_argument; 1 = not thrown)", threw ? 0 : 1, 0);
  threw = false;
  try {
    conv3d_window_cuda(nullptr, nullptr, 3, 4, 4, nullptr, WType::BF16, nullptr, dims(12, 12, 3, 3, 1), ctx);
  } catch (const std::invalid_argument&) {
    threw = true;
  }
  row("conv3d_window_cuda: cin 12 refused (std::invalid_argument; 1 = not thrown)", threw ? 0 : 1, 0);
}

double event_ms(const std::function<void()>& f, cudaStream_t s, int reps) {
  cudaEvent_t a, b;
  CUDA_CHECK(cudaEventCreate(&a));
  CUDA_CHECK(cudaEventCreate(&b));
  f();  // warm-up
  CUDA_CHECK(cudaEventRecord(a, s));
  for (int i = 0; i < reps; ++i) f();
  CUDA_CHECK(cudaEventRecord(b, s));
  CUDA_CHECK(cudaEventSynchronize(b));
  float ms = 0;
  CUDA_CHECK(cudaEventElapsedTime(&ms, a, b));
  cudaEventDestroy(a);
  cudaEventDestroy(b);
  return ms / reps;
}

// The 480x832 decoder's convs for one chunk (1 latent frame -> 4 video frames): name, dims, frames, h, w, count
// per chunk (how many such convs a chunk runs).
// The default path vs COSMOS_VAE_CONV=<baseline>, switched in this process (conv3d reads the switch per call).
void time_convs(const std::string& baseline) {
  if (baseline != "im2col" && baseline != "mma" && baseline != "gather")
    throw std::runtime_error("time: the baseline is im2col, mma or gather, not " + baseline);
  unsetenv("COSMOS_VAE_CONV");
  CudaStream stream;
  CudaPool pool;
  const CudaContext ctx{stream.get(), &pool};
  struct Shape {
    const char* name;
    Conv3dDims d;
    int n_hist, t, h, w, per_chunk;
  };
  const Shape shapes[] = {
      {"conv_in 48->1024 30x52", dims(48, 1024, 3, 3, 1), 2, 1, 30, 52, 1},
      {"mid/up0 res 1024 30x52 t1", dims(1024, 1024, 3, 3, 1), 2, 1, 30, 52, 10},
      {"up0 time_conv 1024->2048 30x52", dims(1024, 2048, 3, 1, 0), 2, 1, 30, 52, 1},
      {"up0 resample 1024 60x104 t2", dims(1024, 1024, 1, 3, 1), 0, 2, 60, 104, 1},
      {"up1 res 1024 60x104 t2", dims(1024, 1024, 3, 3, 1), 2, 2, 60, 104, 6},
      {"up1 time_conv 1024->2048 60x104 t2", dims(1024, 2048, 3, 1, 0), 2, 2, 60, 104, 1},
      {"up1 resample 1024 120x208 t4", dims(1024, 1024, 1, 3, 1), 0, 4, 120, 208, 1},
      {"up2 conv1 1024->512 120x208 t4", dims(1024, 512, 3, 3, 1), 2, 4, 120, 208, 1},
      {"up2 res 512 120x208 t4", dims(512, 512, 3, 3, 1), 2, 4, 120, 208, 5},
      {"up2 resample 512 240x416 t4", dims(512, 512, 1, 3, 1), 0, 4, 240, 416, 1},
      {"up3 conv1 512->256 240x416 t4", dims(512, 256, 3, 3, 1), 2, 4, 240, 416, 1},
      {"up3 res 256 240x416 t4", dims(256, 256, 3, 3, 1), 2, 4, 240, 416, 5},
      {"conv_out 256->12 240x416 t4", dims(256, 12, 3, 3, 1), 2, 4, 240, 416, 1},
  };
  std::printf(
      "\n| conv (480x832 decode chunk) | x/chunk | %s ms | default ms | kernel | default TFLOP/s | speedup | "
      "default vs %s (rel) |\n|---|---|---|---|---|---|---|---|\n",
      baseline.c_str(), baseline.c_str());
  double sum_old = 0, sum_new = 0;
  for (const Shape& s : shapes) {
    const Conv3dDims& d = s.d;
    const size_t nx = (size_t)s.t * s.h * s.w * d.cin, nh = (size_t)s.n_hist * s.h * s.w * d.cin;
    const int ot = d.out_t(s.n_hist, s.t);
    const size_t nout = (size_t)ot * d.out_h(s.h) * d.out_w(s.w) * d.cout, nw = (size_t)d.cout * d.k();
    DeviceBuffer<float> x(pool, nx), hist(pool, std::max<size_t>(nh, 1)), bias(pool, d.cout), a(pool, nout),
        b(pool, nout);
    DeviceBuffer<uint16_t> w(pool, nw);
    fill_uniform_cuda(x.get(), (long long)nx, false, 1, 1.f, 0.f, ctx);
    if (nh) fill_uniform_cuda(hist.get(), (long long)nh, false, 2, 1.f, 0.f, ctx);
    fill_uniform_cuda(bias.get(), d.cout, false, 3, 0.1f, 0.f, ctx);
    fill_uniform_cuda(w.get(), (long long)nw, true, 4, 1.f / std::sqrt((float)d.k()), 0.f, ctx);
    const float* hp = s.n_hist ? hist.get() : nullptr;
    const int reps = 3;
    auto run = [&](float* o) {
      conv3d_cuda(o, hp, s.n_hist, x.get(), s.t, s.h, s.w, w.get(), WType::BF16, bias.get(), d, ctx);
    };
    setenv("COSMOS_VAE_CONV", baseline.c_str(), 1);
    const double old_ms = event_ms([&] { run(a.get()); }, stream.get(), reps);
    unsetenv("COSMOS_VAE_CONV");
    const double new_ms = event_ms([&] { run(b.get()); }, stream.get(), reps);
    std::vector<float> ha(nout), hb(nout);
    CUDA_CHECK(cudaMemcpy(ha.data(), a.get(), nout * 4, cudaMemcpyDeviceToHost));
    CUDA_CHECK(cudaMemcpy(hb.data(), b.get(), nout * 4, cudaMemcpyDeviceToHost));
    const double flop = 2.0 * (double)nout * d.k();
    const double diff = max_rel_diff(hb, ha);
    if (!(diff <= 1e-2)) ++failures;
    std::printf("| %s | %d | %.3f | %.3f | %s | %.0f | %.2fx | %.1e %s |\n", s.name, s.per_chunk, old_ms, new_ms,
                conv3d_igemm_kernel(stream.get(), d), flop / (new_ms * 1e-3) / 1e12, old_ms / new_ms, diff,
                diff <= 1e-2 ? "PASS" : "FAIL");
    std::fflush(stdout);
    sum_old += old_ms * s.per_chunk, sum_new += new_ms * s.per_chunk;
  }
  std::printf("| all 3x3x3 / 3x3 / 3x1x1 convs of one chunk | | %.1f | %.1f | | | %.2fx | |\n", sum_old, sum_new,
              sum_old / sum_new);
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

void vae(const std::vector<int>& frame_counts) {
  const char* e = std::getenv("COSMOS_VAE_CONV");
  const bool reference_run =
      e && *e;  // COSMOS_VAE_CONV=im2col, mma or gather: the run the default one is compared with
  const std::string conv = vae_conv_switch() == VaeConvSwitch::Im2col
                               ? "im2col"
                               : std::string("igemm ") + conv3d_igemm_kernel(nullptr, dims(256, 256, 3, 3, 1));
  const WanVaeConfig cfg = wan22();
  auto g = WanVaeCuda::random(cfg, WType::BF16, 5, 0.02f);
  {  // the real decoder on a tiny latent vs the CPU model (f32 weights, the same draws)
    auto c = WanVae::random(cfg, 5, 0.02f);
    const int T = 2, h = 2, w = 2;
    std::vector<float> z((size_t)48 * T * h * w);
    std::mt19937 r(3);
    std::normal_distribution<float> nd(0.f, 1.f);
    for (float& v : z) v = nd(r);
    row("wan2.2 decoder 2 latent frames 2x2: cuda (" + conv + ") vs cpu (rel)",
        max_rel_diff(g->decode(z.data(), T, h, w), c->decode(z.data(), T, h, w)), 5e-2);
  }
  const int h = 480 / 16, w = 832 / 16;
  {  // the causal convs' histories in bf16 (the default) == in f32 (COSMOS_VAE_HISTORY=f32), bit for bit: 3 latent
     // frames, so the third chunk reads histories shifted through two chunks
    const int T = 3;
    std::vector<float> z((size_t)48 * T * h * w);
    std::mt19937 r(11);
    std::normal_distribution<float> nd(0.f, 1.f);
    for (float& v : z) v = nd(r);
    unsetenv("COSMOS_VAE_HISTORY");
    const std::vector<float> a = g->decode(z.data(), T, h, w);
    const double peak16 = g->last_run_peak_bytes() / 1073741824.0;
    setenv("COSMOS_VAE_HISTORY", "f32", 1);
    const std::vector<float> b = g->decode(z.data(), T, h, w);
    const double peak32 = g->last_run_peak_bytes() / 1073741824.0;
    unsetenv("COSMOS_VAE_HISTORY");
    row("480x832 decode of 9 frames: bf16 histories == f32 histories (1 = not bitwise)", (double)(a != b), 0);
    std::printf("480x832 decode of 9 frames, pool peak: bf16 histories %.2f GiB, f32 histories %.2f GiB\n", peak16,
                peak32);
    // The norms and upsamplings writing their conv's bf16 window (the default) == f32 frames the conv rounds
    // itself (COSMOS_VAE_WINDOW=f32), bit for bit, and the time of each.
    setenv("COSMOS_VAE_WINDOW", "f32", 1);
    auto t0 = std::chrono::steady_clock::now();
    const std::vector<float> c = g->decode(z.data(), T, h, w);
    const double s_f32 = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    const double peak_f32 = g->last_run_peak_bytes() / 1073741824.0;
    unsetenv("COSMOS_VAE_WINDOW");
    t0 = std::chrono::steady_clock::now();
    const std::vector<float> a2 = g->decode(z.data(), T, h, w);
    const double s_win = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    row("480x832 decode of 9 frames: bf16 windows == f32 frames (1 = not bitwise)", (double)(a != c || a2 != a), 0);
    std::printf("480x832 decode of 9 frames: bf16 windows %.3f s (pool peak %.2f GiB), f32 frames %.3f s (%.2f GiB)\n",
                s_win, peak16, s_f32, peak_f32);
    // The convs' weights packed once at load (the default) == packed at every call (COSMOS_VAE_PACK=call, read at
    // load): the same draws in a second model, the same video bit for bit; the packed copies are its extra bytes.
    setenv("COSMOS_VAE_PACK", "call", 1);
    auto per_call = WanVaeCuda::random(cfg, WType::BF16, 5, 0.02f);
    unsetenv("COSMOS_VAE_PACK");
    t0 = std::chrono::steady_clock::now();
    const std::vector<float> d = per_call->decode(z.data(), T, h, w);
    const double s_call = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    row("480x832 decode of 9 frames: weights packed at load == per call (1 = not bitwise)", (double)(a != d), 0);
    // The originals given back for the packed copies: the same bytes as the per-call model's (a packed weight has
    // its original's element count); the im2col path, which reads the originals, then says what to set instead.
    row("weights packed at load: bytes - the per-call model's (GiB; 0 = the originals given back)",
        std::fabs((double)g->weight_bytes() - (double)per_call->weight_bytes()) / 1073741824.0, 0);
    setenv("COSMOS_VAE_CONV", "im2col", 1);
    std::string err;
    try {
      g->decode(z.data(), 1, h, w);
    } catch (const std::invalid_argument& ex) {
      err = ex.what();
    }
    unsetenv("COSMOS_VAE_CONV");
    row("COSMOS_VAE_CONV=im2col after a packing load: std::invalid_argument naming the switch (1 = no)",
        err.find("before the Wan VAE loads") != std::string::npos ? 0 : 1, 0);
    std::printf("480x832 decode of 9 frames: packed at load %.3f s, per call %.3f s; weights %.3f / %.3f GiB\n", s_win,
                s_call, g->weight_bytes() / 1073741824.0, per_call->weight_bytes() / 1073741824.0);
  }
  for (int T : frame_counts) {
    std::vector<float> z((size_t)48 * T * h * w);
    std::mt19937 r(7);
    std::normal_distribution<float> nd(0.f, 1.f);
    for (float& v : z) v = nd(r);
    g->decode(z.data(), 1, h, w);  // warm-up
    const auto t0 = std::chrono::steady_clock::now();
    const std::vector<float> video = g->decode(z.data(), T, h, w);
    const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    bool finite = true;
    for (float v : video) finite = finite && std::isfinite(v);
    if (!finite) ++failures;
    if (T == frame_counts.front()) {  // the two processes' videos of the first count: written, then compared
      const std::string path = "/tmp/conv3d_igemm_vae_T" + std::to_string(T) + ".f32";
      if (reference_run) {
        if (FILE* f = std::fopen(path.c_str(), "wb")) {
          std::fwrite(video.data(), 4, video.size(), f);
          std::fclose(f);
        }
      } else if (FILE* f = std::fopen(path.c_str(), "rb")) {
        std::vector<float> ref(video.size());
        const size_t n = std::fread(ref.data(), 4, ref.size(), f);
        std::fclose(f);
        if (n == ref.size())
          row("480x832 decode of " + std::to_string(cfg.frames_for(T)) + " frames: " + conv +
                  " vs the COSMOS_VAE_CONV run (rel)",
              max_rel_diff(video, ref), 2e-2);
      }
    }
    std::printf(
        "{\"row\": \"vae_decode_480p\", \"impl\": \"ours\", \"conv\": \"%s\", \"latent\": [48, %d, %d, %d], "
        "\"frames\": %d, \"s\": %.3f, \"s_per_latent_frame\": %.4f, \"finite\": %s, \"activation_peak_gib\": %.2f, "
        "\"weights_gib\": %.2f}\n",
        conv.c_str(), T, h, w, cfg.frames_for(T), s, s / T, finite ? "true" : "false",
        g->last_run_peak_bytes() / 1073741824.0, g->weight_bytes() / 1073741824.0);
    std::fflush(stdout);
  }
}
}  // namespace

int main(int argc, char** argv) {
  const std::string mode = argc > 1 ? argv[1] : "";
  try {
    if (mode == "check") {
      std::printf("| conv3d_igemm_cuda check | err | tol | |\n|---|---|---|---|\n");
      check();
    } else if (mode == "time") {
      time_convs(argc > 2 ? argv[2] : "gather");
    } else if (mode == "vae") {
      std::vector<int> counts;
      for (int i = 2; i < argc; ++i) counts.push_back(std::atoi(argv[i]));
      if (counts.empty()) counts = {5, 48};
      vae(counts);
    } else {
      std::fprintf(stderr, "usage: conv3d_igemm_cuda_test check | time [im2col|mma|gather] | vae [latent frames...]\n");
      return 2;
    }
  } catch (const std::exception& ex) {
    std::fprintf(stderr, "exception: %s\n", ex.what());
    return 1;
  }
  std::printf("%s (%d failures)\n", failures ? "FAIL" : "OK", failures);
  return failures ? 1 : 0;
}
