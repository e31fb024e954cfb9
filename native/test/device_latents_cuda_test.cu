// Latents on the GPU from the noise to the VAE (issue 12 item 4), on the cosmos3-tiny fixture — run on the device
// machine:
//  - Cosmos3TransformerCuda::forward_gen_device (inputs and velocities in a CudaLatentDevice on the model's context)
//    == forward_gen (host) bitwise on the 9 diffusers cases, vs diffusers and vs the CPU model <= 1e-4, inputs left
//    untouched;
//  - WanVaeCuda decode_device / decode_device_to_host / encode_device == decode / encode bitwise (one latent frame
//    per chunk and whole), and the AVAE's decode_device == decode bitwise;
//  - CudaLatentDevice == CpuLatentDevice: upload / download, copy, lincomb 1..6 terms (in place too), set_rows
//    zero / copy bitwise, fill_normal <= 1e-6; pool bytes back at the baseline once the buffers are freed; a
//    context without a pool is a ModelError;
//  - three denoising runs (i2v, sound, policy cases; 3 UniPC steps, CFG 3, conditioned rows masked) with every
//    latent on the GPU (CudaLatentDevice on the transformer's context + forward_gen_device, then the VAE's /
//    AVAE's decode_device) == the same run through the host entry points (CpuLatentDevice + forward_gen + decode)
//    bitwise, and vs the CPU models <= 1e-4; the transformer's pool back at its baseline afterwards.
// Usage: device_latents_cuda_test [repo root] (default .). One table row per check; exit 1 on any failure.
#include <cuda_runtime.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdio>
#include <functional>
#include <string>
#include <vector>

#include "../src/core/cuda_common.h"
#include "../src/models/cosmos3_audio.h"
#include "../src/models/cosmos3_audio_cuda.h"
#include "../src/models/cosmos3_transformer.h"
#include "../src/models/cosmos3_transformer_cuda.h"
#include "../src/models/wan_vae.h"
#include "../src/models/wan_vae_cuda.h"
#include "../src/runtime/denoise_loop.h"
#include "../src/runtime/flow_schedule.h"
#include "../src/runtime/latent_device_cuda.h"
#include "cosmos3_test_inputs.h"
#include "test_util.h"

using namespace cosmos;
using namespace cosmos::runtime;

namespace {
// Host -> device, landed before the model's stream reads it. A cudaMemcpy from pageable memory may return before its
// DMA reaches the device, and the models' streams do not wait for the legacy stream (CudaStream is non-blocking), so a
// kernel on them could read the buffer half written: that race, not the engine, made encode_device differ from
// encode in 3,456 floats (it vanished under compute-sanitizer, which serialises the work; 2026-12-01).
void upload_landed(float* dst, const float* src, size_t count) {
  CUDA_CHECK(cudaMemcpy(dst, src, count * sizeof(float), cudaMemcpyHostToDevice));
  CUDA_CHECK(cudaDeviceSynchronize());
}
}  // namespace
using cosmos3_test::FixtureCase;
using test_util::failures;
using test_util::max_abs_diff;
using test_util::read_tensor;
using test_util::read_text;

namespace {

void row(const std::string& what, double v, double tol) {
  const bool ok = v <= tol;
  if (!ok) ++failures;
  std::printf("| %-66s | %10.3e | %7.0e | %s |\n", what.c_str(), v, tol, ok ? "PASS" : "FAIL");
}
// 0 when a and b hold the same bits (NaN included), else the number of differing elements (or 1e30 on a size
// mismatch): the rows that must be bitwise.
double bit_diff(const std::vector<float>& a, const std::vector<float>& b) {
  if (a.size() != b.size()) return 1e30;
  double n = 0;
  for (size_t i = 0; i < a.size(); ++i) n += std::memcmp(&a[i], &b[i], sizeof(float)) != 0;
  return n;
}

// Host vector <-> a buffer of a LatentDevice.
LatentBuffer put(LatentDevice& d, const std::vector<float>& h) {
  LatentBuffer b(d, (long long)h.size());
  if (!h.empty()) d.upload(b.get(), h.data(), (long long)h.size());
  return b;
}
std::vector<float> get(LatentDevice& d, const float* p, size_t n) {
  std::vector<float> h(n);
  if (n) d.download(h.data(), p, (long long)n);
  return h;
}

struct Models {
  Cosmos3TransformerConfig tc;
  std::unique_ptr<Cosmos3Transformer> cpu;
  std::unique_ptr<Cosmos3TransformerCuda> gpu;
  WanVaeConfig vc;
  std::unique_ptr<WanVae> vae_cpu;
  std::unique_ptr<WanVaeCuda> vae_gpu;
  Cosmos3AudioConfig ac;
  std::unique_ptr<Cosmos3AudioDecoder> avae_cpu;
  std::unique_ptr<Cosmos3AudioDecoderCuda> avae_gpu;
  std::unique_ptr<SafetensorsFile> cases;
  std::vector<std::string> names;
};

// ---- forward_gen_device vs forward_gen ---------------------------------------------------------------------

void transformer_rows(Models& m) {
  std::printf("\n| transformer: forward_gen_device vs forward_gen | value | tol | result |\n|---|---|---|---|\n");
  CudaLatentDevice dev(m.gpu->ctx());
  const size_t base = m.gpu->pool().bytes_in_use();
  for (const std::string& name : m.names) {
    FixtureCase fc(*m.cases, name);
    if (!fc.problem.empty()) {
      row(name + ": fixture case readable (" + fc.problem + ")", 1, 0);
      continue;
    }
    const size_t nv = fc.latents.size(), ns = fc.sound.size(), na = fc.action.size();
    std::vector<float> hv(nv), hs(ns), ha(na);
    const Cosmos3UndCacheCuda cache = m.gpu->prefill_text(fc.ids.data(), (int)fc.ids.size(), fc.text_pos.data());
    m.gpu->forward_gen(cache, fc.in, Cosmos3GenOutputs{hv.data(), ns ? hs.data() : nullptr, na ? ha.data() : nullptr});
    std::vector<float> cv(nv), cs(ns), ca(na);
    {
      const Cosmos3UndCache cc = m.cpu->prefill_text(fc.ids.data(), (int)fc.ids.size(), fc.text_pos.data());
      m.cpu->forward_gen(cc, fc.in, Cosmos3GenOutputs{cv.data(), ns ? cs.data() : nullptr, na ? ca.data() : nullptr});
    }
    LatentBuffer lat = put(dev, fc.latents), snd = put(dev, fc.sound), act = put(dev, fc.action);
    LatentBuffer ov(dev, (long long)nv), os(dev, (long long)ns), oa(dev, (long long)na);
    Cosmos3GenInputs in = fc.in;
    in.latents = lat.get();
    in.sound = ns ? snd.get() : nullptr;
    in.action = na ? act.get() : nullptr;
    m.gpu->forward_gen_device(cache, in, Cosmos3GenOutputs{ov.get(), os.get(), oa.get()});
    const auto dv = get(dev, ov.get(), nv), ds = get(dev, os.get(), ns), da = get(dev, oa.get(), na);
    row(name + ": vision device == host (differing floats)", bit_diff(dv, hv), 0);
    row(name + ": vision device vs diffusers", max_abs_diff(dv, fc.want_vision), 1e-4);
    row(name + ": vision device vs cpu", max_abs_diff(dv, cv), 1e-4);
    if (ns) {
      row(name + ": sound device == host (differing floats)", bit_diff(ds, hs), 0);
      row(name + ": sound device vs diffusers", max_abs_diff(ds, fc.want_sound), 1e-4);
    }
    if (na) {
      row(name + ": action device == host (differing floats)", bit_diff(da, ha), 0);
      row(name + ": action device vs diffusers", max_abs_diff(da, fc.want_action), 1e-4);
    }
    const double untouched = bit_diff(get(dev, lat.get(), nv), fc.latents) +
                             (ns ? bit_diff(get(dev, snd.get(), ns), fc.sound) : 0) +
                             (na ? bit_diff(get(dev, act.get(), na), fc.action) : 0);
    row(name + ": device inputs unchanged by the step (differing floats)", untouched, 0);
  }
  row("transformer pool: bytes in use back at the baseline (bytes)",
      std::fabs((double)m.gpu->pool().bytes_in_use() - (double)base), 0);
}

// ---- the VAE and the AVAE ----------------------------------------------------------------------------------

void vae_rows(Models& m, const std::string& root) {
  std::printf("\n| VAE / AVAE: device entry points vs host | value | tol | result |\n|---|---|---|---|\n");
  auto rf = Checkpoint::open(root + "/test/fixtures/cosmos3-tiny-reference/vae.safetensors");
  WanVaeCuda& g = *m.vae_gpu;
  CudaPool& pool = g.pool();
  const size_t base = pool.bytes_in_use();
  std::vector<int64_t> s;
  for (const char* k : {"decode", "decode1"}) {
    const auto z = read_tensor(*rf, std::string(k) + "_in", &s);
    const int T = (int)s[2], h = (int)s[3], w = (int)s[4];
    for (int chunk : {1, T}) {
      WanVaeRunOptions opt;
      opt.chunk_latent_frames = chunk;
      const std::string what = std::string(k) + " chunk " + std::to_string(chunk);
      const auto host = g.decode(z.data(), T, h, w, opt);
      DeviceBuffer<float> dz(pool, z.size()), dv(pool, host.size());
      upload_landed(dz.get(), z.data(), z.size());
      g.decode_device(dz.get(), T, h, w, dv.get(), opt);
      std::vector<float> via_pool(host.size()), to_host(host.size());
      CUDA_CHECK(cudaMemcpy(via_pool.data(), dv.get(), host.size() * 4, cudaMemcpyDeviceToHost));
      g.decode_device_to_host(dz.get(), T, h, w, to_host.data(), opt);
      row(what + ": decode_device == decode (differing floats)", bit_diff(via_pool, host), 0);
      row(what + ": decode_device_to_host == decode (differing floats)", bit_diff(to_host, host), 0);
      row(what + ": decode vs cpu", max_abs_diff(host, m.vae_cpu->decode(z.data(), T, h, w, opt)), 1e-4);
    }
  }
  {
    const auto video = read_tensor(*rf, "video_in", &s);
    const int F = (int)s[2], H = (int)s[3], W = (int)s[4];
    const auto host = g.encode(video.data(), F, H, W);
    DeviceBuffer<float> dvid(pool, video.size()), dz(pool, host.size());
    upload_landed(dvid.get(), video.data(), video.size());
    g.encode_device(dvid.get(), F, H, W, dz.get());
    std::vector<float> dev(host.size());
    CUDA_CHECK(cudaMemcpy(dev.data(), dz.get(), host.size() * 4, cudaMemcpyDeviceToHost));
    row("encode_device == encode (differing floats)", bit_diff(dev, host), 0);
    row("encode vs diffusers latents", max_abs_diff(host, read_tensor(*rf, "encode_latents")), 1e-4);
  }
  row("VAE pool: bytes in use back at the baseline (bytes)", std::fabs((double)pool.bytes_in_use() - (double)base), 0);
  auto ar = Checkpoint::open(root + "/test/fixtures/cosmos3-tiny-reference/avae.safetensors");
  const auto lat = read_tensor(*ar, "avae.latent", &s);
  const int T = (int)s[2];
  CudaPool& apool = m.avae_gpu->pool();
  const size_t abase = apool.bytes_in_use();
  {
    const auto host = m.avae_gpu->decode(lat.data(), T);
    DeviceBuffer<float> dl(apool, lat.size());
    upload_landed(dl.get(), lat.data(), lat.size());
    row("AVAE decode_device == decode (differing floats)", bit_diff(m.avae_gpu->decode_device(dl.get(), T), host), 0);
    row("AVAE decode vs diffusers", max_abs_diff(host, read_tensor(*ar, "avae.wave")), 1e-4);
  }
  row("AVAE pool: bytes in use back at the baseline (bytes)", std::fabs((double)apool.bytes_in_use() - (double)abase),
      0);
}

// ---- CudaLatentDevice vs CpuLatentDevice ----------------------------------------------------------------------

void latent_device_rows() {
  std::printf("\n| CudaLatentDevice vs CpuLatentDevice | value | tol | result |\n|---|---|---|---|\n");
  CudaStream stream;
  CudaPool pool;
  CudaLatentDevice gpu(CudaContext{stream.get(), &pool});
  CpuLatentDevice cpu;
  const size_t base = pool.bytes_in_use();
  const long long n = 100003;
  {
    std::vector<std::vector<float>> xs;
    for (int k = 0; k < kLincombMaxTerms; ++k) xs.push_back(test_util::normal_values((size_t)n, 11 + k));
    std::vector<LatentBuffer> g, c;
    for (int k = 0; k < kLincombMaxTerms; ++k) g.push_back(put(gpu, xs[k])), c.push_back(put(cpu, xs[k]));
    row("upload then download (differing floats)", bit_diff(get(gpu, g[0].get(), n), xs[0]), 0);
    const float coef[kLincombMaxTerms] = {0.75f, -1.5f, 2.25f, -0.125f, 3.f, -0.6f};
    const float *gp[kLincombMaxTerms], *cp[kLincombMaxTerms];
    for (int k = 0; k < kLincombMaxTerms; ++k) gp[k] = g[k].get(), cp[k] = c[k].get();
    LatentBuffer go(gpu, n), co(cpu, n);
    for (int terms = 1; terms <= kLincombMaxTerms; ++terms) {
      gpu.lincomb(go.get(), gp, coef, terms, n);
      cpu.lincomb(co.get(), cp, coef, terms, n);
      row("lincomb " + std::to_string(terms) + " terms (differing floats)",
          bit_diff(get(gpu, go.get(), n), get(cpu, co.get(), n)), 0);
    }
    gpu.lincomb(g[1].get(), gp, coef, 3, n);  // out aliases an input
    cpu.lincomb(c[1].get(), cp, coef, 3, n);
    row("lincomb in place (differing floats)", bit_diff(get(gpu, g[1].get(), n), get(cpu, c[1].get(), n)), 0);
    gpu.copy(go.get(), g[2].get(), n);
    cpu.copy(co.get(), c[2].get(), n);
    row("copy (differing floats)", bit_diff(get(gpu, go.get(), n), get(cpu, co.get(), n)), 0);
    // [outer 7, rows 13, inner 1099] = 100009 > n: use 7 x 13 x 1098 = 99918 floats.
    const RowSpan zero{7, 13, 1098, 2, 5}, copy{7, 13, 1098, 9, 13};
    gpu.set_rows(go.get(), nullptr, zero);
    cpu.set_rows(co.get(), nullptr, zero);
    gpu.set_rows(go.get(), g[3].get(), copy);
    cpu.set_rows(co.get(), c[3].get(), copy);
    row("set_rows zero + copy (differing floats)", bit_diff(get(gpu, go.get(), n), get(cpu, co.get(), n)), 0);
    gpu.fill_normal(go.get(), n, 1234);
    cpu.fill_normal(co.get(), n, 1234);
    row("fill_normal seed 1234 (max |diff|)", max_abs_diff(get(gpu, go.get(), n), get(cpu, co.get(), n)), 1e-6);
    row("7 buffers held: pool bytes in use >= 7 x n floats (shortfall, bytes)",
        std::max(0.0, 7.0 * n * 4 - (double)(pool.bytes_in_use() - base)), 0);
  }
  row("buffers freed: pool bytes in use back at the baseline (bytes)",
      std::fabs((double)pool.bytes_in_use() - (double)base), 0);
  bool typed = false;
  try {
    CudaLatentDevice none(CudaContext{stream.get(), nullptr});
  } catch (const ModelError&) {
    typed = true;
  }
  row("a context without a pool is a ModelError (0 = yes)", typed ? 0 : 1, 0);
}

// ---- a denoising run with every latent on the GPU -----------------------------------------------------------

// The transformer as the loop's velocity model, for one fixture case: streams vision [, sound][, action]; every
// noisy token gets the step's timestep. `forward` is one of the three backends (CPU, CUDA host, CUDA device).
struct CaseVelocity : VelocityModel {
  const FixtureCase& fc;
  std::function<void(bool, const Cosmos3GenInputs&, const Cosmos3GenOutputs&)> forward;
  CaseVelocity(const FixtureCase& f) : fc(f) {}
  void velocity(const VelocityQuery& q, const std::vector<const float*>& x, const std::vector<float*>& v) override {
    Cosmos3GenInputs in = fc.in;
    std::vector<float> vt(fc.vision_t.size(), q.timestep), st(fc.sound_t.size(), q.timestep),
        at(fc.action_t.size(), q.timestep);
    in.vision_timesteps = vt.data(), in.sound_timesteps = st.data(), in.action_timesteps = at.data();
    size_t k = 0;
    Cosmos3GenOutputs out;
    in.latents = x[k], out.vision = v[k++];
    if (fc.in.sound) in.sound = x[k], out.sound = v[k++];
    if (fc.in.action) in.action = x[k], out.action = v[k++];
    forward(q.conditional, in, out);
  }
};

std::vector<RowSpan> clean_rows(const std::vector<int>& noisy, int rows, long long outer, long long inner) {
  std::vector<RowSpan> spans;
  for (int r = 0; r < rows; ++r)
    if (std::find(noisy.begin(), noisy.end(), r) == noisy.end()) spans.push_back(RowSpan{outer, rows, inner, r, r + 1});
  return spans;
}

struct RunResult {
  std::vector<std::vector<float>> latents;  // per stream, after the last step
  std::vector<float> video, wave;
};

// One run: the case's inputs as the starting latents, 3 steps, CFG 3 (uncond: the ids reversed), then the VAE
// (and the AVAE for sound). dev holds the latents; decode(stream index, latents pointer) runs the decoders.
RunResult run_case(const Models& m, const FixtureCase& fc, LatentDevice& dev, CaseVelocity& model,
                   const std::function<void(RunResult&, const std::vector<float*>&)>& decode) {
  const Cosmos3TransformerConfig& c = m.tc;
  std::vector<LatentBuffer> bufs;
  std::vector<DenoiseStream> streams;
  auto add = [&](const char* name, const std::vector<float>& x0, std::vector<RowSpan> cond) {
    bufs.push_back(put(dev, x0));
    DenoiseStream s;
    s.name = name, s.x = bufs.back().get(), s.n = (long long)x0.size(), s.conditioned = std::move(cond);
    streams.push_back(std::move(s));
  };
  add("video", fc.latents, clean_rows(fc.vision_noisy, fc.in.T, c.latent_channel, (long long)fc.in.H * fc.in.W));
  if (fc.in.sound) add("sound", fc.sound, clean_rows(fc.sound_noisy, fc.in.sound_len, c.sound_dim, 1));
  if (fc.in.action) add("action", fc.action, clean_rows(fc.action_noisy, fc.in.action_len, 1, c.action_dim));
  DenoiseRequest req;
  req.scheduler.kind = FlowSchedulerKind::UniPC;
  ScheduleOverrides o;
  o.steps = 3;
  req.schedule = make_flow_schedule(req.scheduler, o);
  req.guidance = 3.f;
  std::atomic<bool> abort{false};
  denoise(model, dev, streams, req, abort, [](int, int) {});
  RunResult r;
  std::vector<float*> xs;
  for (const DenoiseStream& s : streams) r.latents.push_back(get(dev, s.x, (size_t)s.n)), xs.push_back(s.x);
  decode(r, xs);
  return r;
}

void denoise_rows(Models& m) {
  std::printf(
      "\n| denoise + decode: latents on the GPU vs through the host | value | tol | result |\n"
      "|---|---|---|---|\n");
  const size_t base = m.gpu->pool().bytes_in_use();
  for (const std::string name : {"i2v", "sound", "policy"}) {
    if (std::find(m.names.begin(), m.names.end(), name) == m.names.end()) {
      row(name + ": fixture case present", 1, 0);
      continue;
    }
    const FixtureCase fc(*m.cases, name);
    std::vector<int> un_ids(fc.ids.rbegin(), fc.ids.rend());
    const int nt = (int)fc.ids.size();
    const bool sound = fc.in.sound != nullptr;
    const int T = fc.in.T, H = fc.in.H, W = fc.in.W;
    // CPU models, host memory.
    RunResult cpu_r;
    {
      CpuLatentDevice dev;
      const Cosmos3UndCache cond = m.cpu->prefill_text(fc.ids.data(), nt, fc.text_pos.data());
      const Cosmos3UndCache uncond = m.cpu->prefill_text(un_ids.data(), nt, fc.text_pos.data());
      CaseVelocity v(fc);
      v.forward = [&](bool c, const Cosmos3GenInputs& in, const Cosmos3GenOutputs& out) {
        m.cpu->forward_gen(c ? cond : uncond, in, out);
      };
      cpu_r = run_case(m, fc, dev, v, [&](RunResult& r, const std::vector<float*>& x) {
        r.video = m.vae_cpu->decode(x[0], T, H, W);
        if (sound) r.wave = m.avae_cpu->decode(x[1], fc.in.sound_len);
      });
    }
    // CUDA models through their host entry points, latents in host memory.
    RunResult host_r, dev_r;
    {
      CpuLatentDevice dev;
      const Cosmos3UndCacheCuda cond = m.gpu->prefill_text(fc.ids.data(), nt, fc.text_pos.data());
      const Cosmos3UndCacheCuda uncond = m.gpu->prefill_text(un_ids.data(), nt, fc.text_pos.data());
      CaseVelocity v(fc);
      v.forward = [&](bool c, const Cosmos3GenInputs& in, const Cosmos3GenOutputs& out) {
        m.gpu->forward_gen(c ? cond : uncond, in, out);
      };
      host_r = run_case(m, fc, dev, v, [&](RunResult& r, const std::vector<float*>& x) {
        r.video = m.vae_gpu->decode(x[0], T, H, W);
        if (sound) r.wave = m.avae_gpu->decode(x[1], fc.in.sound_len);
      });
      // The same models with every latent on the GPU: the loop's buffers in the transformer's pool, the steps on
      // its stream, the decoders reading the final latents in place.
      CudaLatentDevice gdev(m.gpu->ctx());
      v.forward = [&](bool c, const Cosmos3GenInputs& in, const Cosmos3GenOutputs& out) {
        m.gpu->forward_gen_device(c ? cond : uncond, in, out);
      };
      dev_r = run_case(m, fc, gdev, v, [&](RunResult& r, const std::vector<float*>& x) {
        gdev.sync();  // the decoders run on their own streams
        r.video.resize(host_r.video.size());
        m.vae_gpu->decode_device_to_host(x[0], T, H, W, r.video.data());
        if (sound) r.wave = m.avae_gpu->decode_device(x[1], fc.in.sound_len);
      });
    }
    for (size_t s = 0; s < dev_r.latents.size(); ++s) {
      const std::string what = name + " stream " + std::to_string(s);
      row(what + ": final latents GPU-resident == host path (differing floats)",
          bit_diff(dev_r.latents[s], host_r.latents[s]), 0);
      row(what + ": final latents GPU-resident vs cpu", max_abs_diff(dev_r.latents[s], cpu_r.latents[s]), 1e-4);
    }
    row(name + ": video GPU-resident == host path (differing floats)", bit_diff(dev_r.video, host_r.video), 0);
    row(name + ": video GPU-resident vs cpu", max_abs_diff(dev_r.video, cpu_r.video), 1e-4);
    if (sound) {
      row(name + ": wave GPU-resident == host path (differing floats)", bit_diff(dev_r.wave, host_r.wave), 0);
      row(name + ": wave GPU-resident vs cpu", max_abs_diff(dev_r.wave, cpu_r.wave), 1e-4);
    }
  }
  row("transformer pool after the runs: back at the baseline (bytes)",
      std::fabs((double)m.gpu->pool().bytes_in_use() - (double)base), 0);
}

}  // namespace

int main(int argc, char** argv) {
  const std::string root = argc > 1 ? argv[1] : ".";
  return test_util::run_table_report([&] {
    Models m;
    const std::string fx = root + "/test/fixtures/cosmos3-tiny";
    const std::string ref = root + "/test/fixtures/cosmos3-tiny-reference";
    m.tc = Cosmos3TransformerConfig::from_json(read_text(fx + "/transformer/config.json"));
    auto tck = Checkpoint::open(fx + "/transformer");
    m.cpu = Cosmos3Transformer::load(*tck, m.tc);
    m.gpu = Cosmos3TransformerCuda::load(*tck, m.tc, WType::F32);
    m.vc = WanVaeConfig::from_json(read_text(fx + "/vae/config.json"));
    auto vck = Checkpoint::open(fx + "/vae/diffusion_pytorch_model.safetensors");
    m.vae_cpu = WanVae::load(*vck, m.vc);
    m.vae_gpu = WanVaeCuda::load(*vck, m.vc, WType::F32);
    m.ac = Cosmos3AudioConfig::from_json(read_text(fx + "/sound_tokenizer/config.json"));
    auto ack = Checkpoint::open(fx + "/sound_tokenizer/diffusion_pytorch_model.safetensors");
    m.avae_cpu = Cosmos3AudioDecoder::load(*ack, m.ac);
    m.avae_gpu = Cosmos3AudioDecoderCuda::load(*ack, m.ac, WType::F32);
    m.cases = std::make_unique<SafetensorsFile>(ref + "/transformer.safetensors");
    m.names = cosmos3_test::fixture_case_names(ref + "/reference.json");
    row("fixture: transformer cases found (missing)", m.names.empty() ? 1 : 0, 0);
    latent_device_rows();
    transformer_rows(m);
    vae_rows(m, root);
    denoise_rows(m);
  });
}
