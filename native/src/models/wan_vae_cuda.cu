#include "wan_vae_cuda.h"

#include <cmath>
#include <cstdlib>
#include <cstring>

#include "../core/cuda_common.h"
#include "../ops/add.h"
#include "../ops/attention_gemm.h"
#include "../ops/avg_down.h"
#include "../ops/cast_bf16.h"
#include "../ops/conv3d_igemm.h"
#include "../ops/dup_up.h"
#include "../ops/pixel_patchify.h"
#include "../ops/upsample_nearest.h"
#include "../ops/wan_latent_norm.h"
#include "../ops/wan_rmsnorm.h"
#include "cuda_model_run.h"
#include "wan_vae_forward.h"

namespace cosmos {
namespace {
// The CUDA backend of wan_vae_forward.h: blocks of the model's pool, ops on its stream.
struct CudaBackend {
  struct Buf {
    DeviceBuffer<float> d;
    float* data() const { return d.get(); }
  };
  CudaContext ctx;
  Buf alloc(size_t n) { return Buf{DeviceBuffer<float>(*ctx.pool, n)}; }
  void zero(float* p, size_t n) { CUDA_CHECK(cudaMemsetAsync(p, 0, n * sizeof(float), ctx.stream)); }
  void copy(float* dst, const float* src, size_t n) {
    CUDA_CHECK(cudaMemcpyAsync(dst, src, n * sizeof(float), cudaMemcpyDeviceToDevice, ctx.stream));
  }
  void conv(float* out, const float* hist, int n_hist, bool hist_bf16, const float* x, int t, int h, int w,
            const WanConv& c) {
    conv3d_cuda(out, hist, n_hist, x, t, h, w, c.w.w, c.w.wt, c.w.b, c.d, ctx, hist_bf16, c.packed);
  }
  // COSMOS_VAE_HISTORY=f32 keeps every history in f32 (the comparison the H200 check runs; read per stream).
  bool hist_bf16(const WanConv& c) const {
    const char* e = std::getenv("COSMOS_VAE_HISTORY");
    return !(e && std::strcmp(e, "f32") == 0) && conv3d_cuda_bf16_history(c.d, c.w.wt);
  }
  void hist_put(float* dst, const float* src, size_t n, bool bf16) {
    if (bf16)
      cast_bf16_cuda(dst, src, n, ctx);
    else
      copy(dst, src, n);
  }
  void hist_move(float* dst, const float* src, size_t n, bool bf16) {
    CUDA_CHECK(cudaMemcpyAsync(dst, src, n * (bf16 ? 2 : 4), cudaMemcpyDeviceToDevice, ctx.stream));
  }
  void norm(float* out, const float* x, const float* g, long long rows, int dim, bool silu) {
    wan_rmsnorm_cuda(out, x, g, rows, dim, silu, ctx);
  }
  // The bf16 windows (wan_vae_forward.h): every conv that rounds its input to bf16 (the implicit GEMM's) reads one
  // its producer wrote, unless COSMOS_VAE_WINDOW=f32 (f32 frames and the conv's own rounding pass: the comparison
  // the H200 check runs, bit-identical) or the histories are f32 (COSMOS_VAE_HISTORY=f32). Read per stream.
  static constexpr bool kWindows = true;
  bool window_conv(const WanConv& c) const {
    const char* e = std::getenv("COSMOS_VAE_WINDOW");
    return !(e && std::strcmp(e, "f32") == 0) && hist_bf16(c);
  }
  void norm_bf16(float* out, const float* x, const float* g, long long rows, int dim, bool silu) {
    wan_rmsnorm_bf16_cuda(out, x, g, rows, dim, silu, ctx);
  }
  void upsample_bf16(float* out, const float* x, int frames, int h, int w, int c, long long fs, int ps) {
    upsample_nearest2x_bf16_cuda(out, x, frames, h, w, c, fs, ps, ctx);
  }
  void conv_window(float* out, const float* win, int frames, int h, int w, const WanConv& c) {
    conv3d_window_cuda(out, win, frames, h, w, c.w.w, c.w.wt, c.w.b, c.d, ctx, c.packed);
  }
  void add_inplace(float* out, const float* a, size_t n) {
    for (size_t i = 0; i < n; i += (1u << 30))
      add_cuda(out + i, out + i, a + i, (int)std::min<size_t>(n - i, 1u << 30), ctx);
  }
  void linear(float* y, const float* x, const Linear& l, int n) { linear_cuda(y, x, l, n, ctx); }
  void attention(float* out, const float* q, const float* k, const float* v, int n, int dim) {
    attention_gemm_cuda(out, q, k, v, n, n, dim, 1.0f / std::sqrt((float)dim), ctx);
  }
  void upsample(float* out, const float* x, int frames, int h, int w, int c, long long fs, int ps) {
    upsample_nearest2x_cuda(out, x, frames, h, w, c, fs, ps, ctx);
  }
  void avg_down_add(float* out, const float* x, int t, int h, int w, int cin, int cout, int ft, int fs) {
    avg_down_add_cuda(out, x, t, h, w, cin, cout, ft, fs, ctx);
  }
  void dup_up_add(float* out, const float* x, int t, int h, int w, int cin, int cout, int ft, int fs, int skip) {
    dup_up_add_cuda(out, x, t, h, w, cin, cout, ft, fs, skip, ctx);
  }
  void patchify(float* out, const float* v, int c, int ft, int f0, int nf, int H, int W, int p) {
    pixel_patchify_cuda(out, v, c, ft, f0, nf, H, W, p, ctx);
  }
  // With video_host set, the decoder's frames go to host memory: each chunk unpatchified into a pool block
  // [c, nf, H, W], then one copy per channel into frames f0.. of the host video [c, ft, H, W] (v is unused; plain
  // copies rather than one 2D copy, whose pitch, a whole channel of the video, may pass cudaMemcpy2D's limit).
  float* video_host = nullptr;
  void unpatchify(float* v, const float* in, int c, int ft, int f0, int nf, int h, int w, int p, bool clamp) {
    if (!video_host) return pixel_unpatchify_cuda(v, in, c, ft, f0, nf, h, w, p, clamp, ctx);
    const size_t frame = (size_t)h * p * w * p, block = (size_t)nf * frame;
    DeviceBuffer<float> chunk(*ctx.pool, (size_t)c * block);
    pixel_unpatchify_cuda(chunk.get(), in, c, nf, 0, nf, h, w, p, clamp, ctx);
    for (int ch = 0; ch < c; ++ch)
      CUDA_CHECK(cudaMemcpyAsync(video_host + ((size_t)ch * ft + f0) * frame, chunk.get() + ch * block,
                                 block * sizeof(float), cudaMemcpyDeviceToHost, ctx.stream));
  }
  void latent_norm(float* x, long long rows, int c, const float* mean, const float* std, bool inverse) {
    wan_latent_norm_cuda(x, rows, c, mean, std, inverse, ctx);
  }
};
}  // namespace

WanVaeCuda::WanVaeCuda(const WanVaeConfig& cfg, WType wt) : cfg_(cfg) {
  store_ = std::make_unique<CudaWeightStore>(pool_, stream_.get(), wt);
}

// The implicit-GEMM convs' tap-major weights, packed once into the store (a decode packed each conv's weight at
// every call, and the full-resolution tail runs a frame at a time: ~3% of a decode's kernel time), and the
// checkpoint-layout originals given back (only the im2col path reads them: the same bytes as before, 1.3 GiB of
// Wan2.2's). 1x1x1 kernels run as matmuls and keep theirs. COSMOS_VAE_PACK=call (packed per call, the comparison
// the H200 check runs) or COSMOS_VAE_CONV=im2col, set before the load, keep the originals and pack nothing.
void WanVaeCuda::pack_conv_weights() {
  const char* e = std::getenv("COSMOS_VAE_PACK");
  if ((e && std::strcmp(e, "call") == 0) || vae_conv_switch() == VaeConvSwitch::Im2col) return;
  const CudaContext ctx{stream_.get(), &pool_};
  wan_vae_for_each_conv(w_, [&](WanConv& c) {
    const Conv3dDims& d = c.d;
    if (!c.w.w || c.w.wt != WType::BF16 || !conv3d_igemm_supported(d) || d.kt * d.kh * d.kw == 1) return;
    void* p = store_->alloc(conv3d_igemm_packed_count(d), true);
    conv3d_igemm_pack_weight_cuda(p, c.w.w, d, ctx);
    c.packed = p;
    // release() waits for the store's stream (the packing read the original); 0: a block another binding still
    // holds, kept
    if (store_->release(c.w.w) > 0) c.w.w = nullptr;
  });
}

WanVaeCuda::~WanVaeCuda() { cudaStreamSynchronize(stream_.get()); }

std::unique_ptr<WanVaeCuda> WanVaeCuda::load(const Checkpoint& ck, const WanVaeConfig& cfg, WType wt, bool encoder,
                                             bool decoder) {
  auto m = std::unique_ptr<WanVaeCuda>(new WanVaeCuda(cfg, wt));
  WeightBinder wb(ck, *m->store_, "vae config");
  wan_vae_bind(cfg, wb, m->w_, encoder, decoder);
  m->pack_conv_weights();
  CUDA_CHECK(cudaStreamSynchronize(m->stream_.get()));
  return m;
}

std::unique_ptr<WanVaeCuda> WanVaeCuda::random(const WanVaeConfig& cfg, WType wt, uint64_t seed, float std) {
  auto m = std::unique_ptr<WanVaeCuda>(new WanVaeCuda(cfg, wt));
  WeightBinder wb(seed, std, *m->store_);
  wan_vae_bind(cfg, wb, m->w_);
  m->pack_conv_weights();
  CUDA_CHECK(cudaStreamSynchronize(m->stream_.get()));
  return m;
}

// One run of the forward on the model's stream: body(runner) enqueues it, drained and measured as
// cuda_model_run.h says.
template <class Body>
void WanVaeCuda::run(float* video_host, Body&& body) {
  const PoolRunPeak peak(pool_);
  CudaBackend b;
  b.ctx = {stream_.get(), &pool_};
  b.video_host = video_host;
  wan_vae_detail::Runner<CudaBackend> runner(b, cfg_, w_);
  run_drained(stream_.get(), [&] { body(runner); });
  last_peak_ = peak.bytes();
}

void WanVaeCuda::decode_device(const float* latents, int T, int h, int w, float* video, const WanVaeRunOptions& opt) {
  wan_vae_check_decode(cfg_, w_, T, h, w, opt);
  run(nullptr, [&](auto& r) { r.decode(latents, T, h, w, video, opt); });
}

void WanVaeCuda::decode_device_to_host(const float* latents, int T, int h, int w, float* video,
                                       const WanVaeRunOptions& opt) {
  wan_vae_check_decode(cfg_, w_, T, h, w, opt);
  run(video, [&](auto& r) { r.decode(latents, T, h, w, nullptr, opt); });
}

void WanVaeCuda::encode_device(const float* video, int F, int H, int W, float* latents, const WanVaeRunOptions& opt) {
  wan_vae_check_encode(cfg_, w_, F, H, W, opt);
  run(nullptr, [&](auto& r) { r.encode(video, F, H, W, latents, opt); });
}

std::vector<float> WanVaeCuda::decode(const float* latents, int T, int h, int w, const WanVaeRunOptions& opt) {
  wan_vae_check_decode(cfg_, w_, T, h, w, opt);
  const int s = cfg_.spatial_scale();
  const size_t nin = (size_t)cfg_.z_dim * T * h * w;
  std::vector<float> video((size_t)cfg_.video_channels() * cfg_.frames_for(T) * h * s * w * s);
  DeviceBuffer<float> din(pool_, nin);
  CUDA_CHECK(cudaMemcpyAsync(din.get(), latents, nin * sizeof(float), cudaMemcpyHostToDevice, stream_.get()));
  decode_device_to_host(din.get(), T, h, w, video.data(), opt);
  return video;
}

std::vector<float> WanVaeCuda::encode(const float* video, int F, int H, int W, const WanVaeRunOptions& opt) {
  wan_vae_check_encode(cfg_, w_, F, H, W, opt);
  const int s = cfg_.spatial_scale();
  const size_t nin = (size_t)cfg_.video_channels() * F * H * W;
  std::vector<float> latents((size_t)cfg_.z_dim * cfg_.latent_frames_for(F) * (H / s) * (W / s));
  DeviceBuffer<float> din(pool_, nin), dout(pool_, latents.size());
  CUDA_CHECK(cudaMemcpyAsync(din.get(), video, nin * sizeof(float), cudaMemcpyHostToDevice, stream_.get()));
  encode_device(din.get(), F, H, W, dout.get(), opt);
  CUDA_CHECK(cudaMemcpyAsync(latents.data(), dout.get(), latents.size() * sizeof(float), cudaMemcpyDeviceToHost,
                             stream_.get()));
  CUDA_CHECK(cudaStreamSynchronize(stream_.get()));
  return latents;
}

}  // namespace cosmos
