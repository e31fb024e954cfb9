#ifndef COSMOS_CUDA
#define COSMOS_CUDA 1
#endif
#include "cosmos3_audio_cuda.h"

#include <algorithm>

#include "../core/cuda_common.h"
#include "../ops/add.h"
#include "../ops/conv1d.h"
#include "../ops/conv_transpose1d.h"
#include "../ops/snake_beta.h"
#include "../ops/transpose2d.h"
#include "cosmos3_audio_forward.h"
#include "cuda_model_run.h"

namespace cosmos {

namespace {
struct CudaBackend {
  struct Buf {
    DeviceBuffer<float> d;
    float* data() { return d.get(); }
  };
  CudaContext ctx;
  Buf alloc(size_t n) { return Buf{DeviceBuffer<float>(*ctx.pool, n)}; }
  void conv(float* out, const float* x, int t, const AudioConv& c) {
    conv1d_cuda(out, x, t, c.w.w, c.w.wt, c.w.b, c.d, ctx);
  }
  void conv_transpose(float* out, const float* x, int t, const AudioConvTranspose& c) {
    conv_transpose1d_cuda(out, x, t, c.w.w, c.w.wt, c.bias, c.d, ctx);
  }
  void snake(float* out, const float* x, int t, const AudioSnake& s) {
    snake_beta_cuda(out, x, s.log_alpha, s.log_beta, t, s.channels, ctx);
  }
  void add_inplace(float* out, const float* a, size_t n) {
    for (size_t i = 0; i < n; i += (1u << 30))
      add_cuda(out + i, out + i, a + i, (int)std::min<size_t>(n - i, 1u << 30), ctx);
  }
};
}  // namespace

Cosmos3AudioDecoderCuda::Cosmos3AudioDecoderCuda(const Cosmos3AudioConfig& cfg, WType wt) : cfg_(cfg) {
  store_ = std::make_unique<CudaWeightStore>(pool_, stream_.get(), wt);
}

Cosmos3AudioDecoderCuda::~Cosmos3AudioDecoderCuda() { cudaStreamSynchronize(stream_.get()); }

std::unique_ptr<Cosmos3AudioDecoderCuda> Cosmos3AudioDecoderCuda::load(const Checkpoint& ck,
                                                                       const Cosmos3AudioConfig& cfg, WType wt) {
  auto m = std::unique_ptr<Cosmos3AudioDecoderCuda>(new Cosmos3AudioDecoderCuda(cfg, wt));
  WeightBinder wb(ck, *m->store_, "sound_tokenizer config");
  cosmos3_audio_bind_decoder(cfg, wb, m->w_);
  CUDA_CHECK(cudaStreamSynchronize(m->stream_.get()));
  return m;
}

std::unique_ptr<Cosmos3AudioDecoderCuda> Cosmos3AudioDecoderCuda::random(const Cosmos3AudioConfig& cfg, WType wt,
                                                                         uint64_t seed, float std) {
  auto m = std::unique_ptr<Cosmos3AudioDecoderCuda>(new Cosmos3AudioDecoderCuda(cfg, wt));
  WeightBinder wb(seed, std, *m->store_);
  cosmos3_audio_bind_decoder(cfg, wb, m->w_);
  CUDA_CHECK(cudaStreamSynchronize(m->stream_.get()));
  return m;
}

std::vector<float> Cosmos3AudioDecoderCuda::decode_device(const float* latents, int T,
                                                          const Cosmos3AudioRunOptions& opt) {
  cosmos3_audio_check_decode(cfg_, latents, T);
  const int cl = cfg_.latent_channels, ca = cfg_.audio_channels, n = cfg_.samples_for(T);
  std::vector<float> out((size_t)n * ca), wave((size_t)n * ca);
  const PoolRunPeak peak(pool_);
  {
    DeviceBuffer<float> x(pool_, (size_t)T * cl), dout(pool_, out.size());
    CudaBackend b;
    b.ctx = {stream_.get(), &pool_};
    run_drained(stream_.get(), [&] {
      transpose2d_cuda(x.get(), latents, cl, T, b.ctx);  // [C, T] -> channels-last [T, C]
      cosmos3_audio_detail::decode(b, w_, x.get(), T, dout.get(), cfg_.widest_stage_floats(T), opt);
      CUDA_CHECK(
          cudaMemcpyAsync(out.data(), dout.get(), out.size() * sizeof(float), cudaMemcpyDeviceToHost, stream_.get()));
    });
  }
  last_peak_ = peak.bytes();
  cosmos3_audio_to_waveform(wave.data(), out.data(), ca, n, opt.clamp);
  return wave;
}

std::vector<float> Cosmos3AudioDecoderCuda::decode(const float* latents, int T, const Cosmos3AudioRunOptions& opt) {
  cosmos3_audio_check_decode(cfg_, latents, T);
  const size_t count = (size_t)cfg_.latent_channels * T;
  DeviceBuffer<float> din(pool_, count);
  CUDA_CHECK(cudaMemcpyAsync(din.get(), latents, count * sizeof(float), cudaMemcpyHostToDevice, stream_.get()));
  return decode_device(din.get(), T, opt);
}

}  // namespace cosmos
