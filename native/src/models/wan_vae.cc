#include "wan_vae.h"

#include <cstring>

#include "../core/config.h"
#include "../ops/add.h"
#include "../ops/attention_gemm.h"
#include "../ops/avg_down.h"
#include "../ops/dup_up.h"
#include "../ops/pixel_patchify.h"
#include "../ops/upsample_nearest.h"
#include "../ops/wan_latent_norm.h"
#include "../ops/wan_rmsnorm.h"
#include "wan_vae_forward.h"

namespace cosmos {

int WanVaeConfig::temporal_scale() const {
  int s = 1;
  for (size_t i = 0; i + 1 < dim_mult.size(); ++i) s *= temperal_downsample[i] ? 2 : 1;
  return s;
}

namespace {
const char* kWhere = "vae config";

std::vector<float> float_list(const Json& c, const char* key, size_t n) {
  const Json* a = c.get(key);
  if (!a || !a->is_arr() || a->arr.size() != n)
    throw ModelError(std::string(kWhere) + "." + key + " must be an array of " + std::to_string(n) + " numbers");
  std::vector<float> v;
  for (const Json& e : a->arr) {
    if (!e.is_num()) throw ModelError(std::string(kWhere) + "." + key + " must hold numbers");
    v.push_back((float)e.num);
  }
  return v;
}
// A positive int, or `fallback` when the field is missing or null (diffusers' optional sizes).
int optional_int(const Json& c, const char* key, int fallback) {
  const Json* v = c.get(key);
  if (!v || v->type == Json::Type::Null) return fallback;
  return config_positive_int(c, key, kWhere);
}
}  // namespace

WanVaeConfig WanVaeConfig::from_json(const std::string& text) {
  const Json c = parse_config_object(text);
  WanVaeConfig k;
  k.base_dim = config_positive_int(c, "base_dim", kWhere, 96);  // diffusers' default
  k.decoder_base_dim = optional_int(c, "decoder_base_dim", k.base_dim);
  k.z_dim = config_positive_int(c, "z_dim", kWhere, 16);
  k.num_res_blocks = config_positive_int(c, "num_res_blocks", kWhere, 2);
  k.in_channels = config_positive_int(c, "in_channels", kWhere, 3);
  k.out_channels = config_positive_int(c, "out_channels", kWhere, 3);
  k.patch_size = optional_int(c, "patch_size", 1);
  if (const Json* d = c.get("dim_mult")) {
    if (!d->is_arr() || d->arr.size() < 2 || d->arr.size() > 8)
      throw ModelError("vae config.dim_mult must be an array of 2..8 positive integers");
    k.dim_mult.clear();
    for (const Json& e : d->arr) {
      if (!e.is_num() || !e.is_integer || e.i64 <= 0 || e.i64 > 64)
        throw ModelError("vae config.dim_mult must be an array of 2..8 positive integers");
      k.dim_mult.push_back((int)e.i64);
    }
  }
  k.temperal_downsample.assign(k.dim_mult.size() - 1, false);
  if (const Json* d = c.get("temperal_downsample")) {
    if (!d->is_arr() || d->arr.size() != k.dim_mult.size() - 1)
      throw ModelError("vae config.temperal_downsample must be an array of len(dim_mult) - 1 booleans");
    for (size_t i = 0; i < d->arr.size(); ++i) {
      if (d->arr[i].type != Json::Type::Bool)
        throw ModelError("vae config.temperal_downsample must be an array of len(dim_mult) - 1 booleans");
      k.temperal_downsample[i] = d->arr[i].b;
    }
  } else {
    k.temperal_downsample = std::vector<bool>(k.dim_mult.size() - 1, true);
    k.temperal_downsample[0] = false;  // diffusers' default [False, True, True]
  }
  const Json* res = c.get("is_residual");
  if (!res || res->type != Json::Type::Bool || !res->b)
    throw ModelError(
        "vae config.is_residual must be true: only the Wan2.2 VAE (residual up / down blocks) is supported");
  if (const Json* a = c.get("attn_scales"); a && (!a->is_arr() || !a->arr.empty()))
    throw ModelError("vae config.attn_scales must be empty (Wan2.2 has attention in the mid blocks only)");
  if (k.in_channels % (k.patch_size * k.patch_size) || k.out_channels != k.in_channels)
    throw ModelError("vae config.in_channels / out_channels must be equal and a multiple of patch_size^2");
  k.latents_mean = float_list(c, "latents_mean", k.z_dim);
  k.latents_std = float_list(c, "latents_std", k.z_dim);
  for (float s : k.latents_std)
    if (!(s > 0)) throw ModelError("vae config.latents_std must be positive");
  // The shortcuts fold channels: AvgDown3D needs in*factor % out == 0, DupUp3D out*factor % in == 0.
  for (size_t i = 0; i + 1 < k.dim_mult.size(); ++i) {
    const int factor = (k.temperal_downsample[i] ? 2 : 1) * 4;
    const int ein = k.base_dim * (i ? k.dim_mult[i - 1] : 1), eout = k.base_dim * k.dim_mult[i];
    const int din = k.decoder_base_dim * k.dim_mult[k.dim_mult.size() - 1 - i];
    const int dout = k.decoder_base_dim * k.dim_mult[k.dim_mult.size() - 2 - i];
    if ((ein * factor) % eout || (dout * factor) % din)
      throw ModelError("vae config.dim_mult: the residual shortcuts cannot fold these channel counts");
  }
  return k;
}

namespace {
std::vector<int64_t> conv_shape(int cout, int cin, int kt, int kh, int kw) {
  if (kt == 0) return {cout, cin, kh, kw};  // Conv2d
  return {cout, cin, kt, kh, kw};
}
// A conv bound as a matmul weight; Conv2d (kt == 0 here) is kt 1.
WanConv bind_conv(WeightBinder& wb, const std::string& name, int cin, int cout, int kt, int k, Conv3dDims d = {}) {
  d.cin = cin, d.cout = cout, d.kt = kt ? kt : 1, d.kh = k, d.kw = k;
  WanConv c;
  c.w = wb.linear(name + ".weight", conv_shape(cout, cin, kt, k, k), name + ".bias");
  c.d = d;
  return c;
}
Conv3dDims pad1() {
  Conv3dDims d;
  d.pad_top = d.pad_bottom = d.pad_left = d.pad_right = 1;
  return d;
}
WanResBlock bind_res(WeightBinder& wb, const std::string& p, int in, int out) {
  WanResBlock r;
  r.norm1 = wb.param(p + ".norm1.gamma", {in, 1, 1, 1});
  r.conv1 = bind_conv(wb, p + ".conv1", in, out, 3, 3, pad1());
  r.norm2 = wb.param(p + ".norm2.gamma", {out, 1, 1, 1});
  r.conv2 = bind_conv(wb, p + ".conv2", out, out, 3, 3, pad1());
  r.has_shortcut = in != out;
  if (r.has_shortcut) r.shortcut = bind_conv(wb, p + ".conv_shortcut", in, out, 1, 1);
  return r;
}
WanMidBlock bind_mid(WeightBinder& wb, const std::string& p, int dim) {
  WanMidBlock m;
  m.res0 = bind_res(wb, p + ".resnets.0", dim, dim);
  m.res1 = bind_res(wb, p + ".resnets.1", dim, dim);
  m.attn.norm = wb.param(p + ".attentions.0.norm.gamma", {dim, 1, 1});
  m.attn.qkv = wb.linear(p + ".attentions.0.to_qkv.weight", {3 * dim, dim, 1, 1}, p + ".attentions.0.to_qkv.bias");
  m.attn.proj = wb.linear(p + ".attentions.0.proj.weight", {dim, dim, 1, 1}, p + ".attentions.0.proj.bias");
  return m;
}
}  // namespace

void wan_vae_for_each_conv(WanVaeWeights& w, const std::function<void(WanConv&)>& f) {
  auto res = [&](WanResBlock& r) {
    f(r.conv1), f(r.conv2);
    if (r.has_shortcut) f(r.shortcut);
  };
  auto mid = [&](WanMidBlock& m) { res(m.res0), res(m.res1); };
  f(w.enc_conv_in);
  for (WanDownBlock& d : w.down) {
    for (WanResBlock& r : d.res) res(r);
    if (d.down) f(d.resample);
    if (d.down_t) f(d.time_conv);
  }
  mid(w.enc_mid);
  f(w.enc_conv_out), f(w.quant_mu), f(w.post_quant), f(w.dec_conv_in);
  mid(w.dec_mid);
  for (WanUpBlock& u : w.up) {
    for (WanResBlock& r : u.res) res(r);
    if (u.up) f(u.resample);
    if (u.up_t) f(u.time_conv);
  }
  f(w.dec_conv_out);
}

void wan_vae_bind(const WanVaeConfig& cfg, WeightBinder& wb, WanVaeWeights& w, bool encoder, bool decoder) {
  const int levels = (int)cfg.dim_mult.size(), z = cfg.z_dim;
  {  // the config's lists, in the store's memory (not checkpoint tensors)
    auto put = [&](const std::vector<float>& v) {
      void* p = wb.store().alloc(v.size(), false);
      wb.store().put(p, v.data(), v.size(), false);
      return static_cast<const float*>(p);
    };
    w.latents_mean = put(cfg.latents_mean);
    w.latents_std = put(cfg.latents_std);
  }
  if (encoder) {
    std::vector<int> dims = {cfg.base_dim};
    for (int m : cfg.dim_mult) dims.push_back(cfg.base_dim * m);
    w.enc_conv_in = bind_conv(wb, "encoder.conv_in", cfg.in_channels, dims[0], 3, 3, pad1());
    w.down.assign(levels, {});
    for (int i = 0; i < levels; ++i) {
      WanDownBlock& d = w.down[i];
      const std::string p = "encoder.down_blocks." + std::to_string(i);
      d.in = dims[i], d.out = dims[i + 1];
      for (int j = 0, in = d.in; j < cfg.num_res_blocks; ++j, in = d.out)
        d.res.push_back(bind_res(wb, p + ".resnets." + std::to_string(j), in, d.out));
      d.down = i != levels - 1;
      d.down_t = d.down && cfg.temperal_downsample[i];
      if (d.down) {
        Conv3dDims s;
        s.sh = s.sw = 2, s.pad_bottom = s.pad_right = 1;  // ZeroPad2d((0, 1, 0, 1)) then Conv2d(3, stride 2)
        d.resample = bind_conv(wb, p + ".downsampler.resample.1", d.out, d.out, 0, 3, s);
        if (d.down_t) {
          Conv3dDims t;
          t.st = 2;
          t.kh = t.kw = 1;
          d.time_conv = bind_conv(wb, p + ".downsampler.time_conv", d.out, d.out, 3, 1, t);
        }
      }
    }
    const int top = dims.back();
    w.enc_mid = bind_mid(wb, "encoder.mid_block", top);
    w.enc_norm_out = wb.param("encoder.norm_out.gamma", {top, 1, 1, 1});
    w.enc_conv_out = bind_conv(wb, "encoder.conv_out", top, 2 * z, 3, 3, pad1());
    WanConv q = bind_conv(wb, "quant_conv", 2 * z, 2 * z, 1, 1);
    w.quant_mu = q;
    w.quant_mu.w = q.w.rows(0, z);  // mean | logvar: the mode is the mean
    w.quant_mu.d.cout = z;
    w.has_encoder = true;
  }
  if (decoder) {
    const int base = cfg.decoder_base_dim;
    std::vector<int> dims = {base * cfg.dim_mult.back()};
    for (int i = levels - 1; i >= 0; --i) dims.push_back(base * cfg.dim_mult[i]);
    w.post_quant = bind_conv(wb, "post_quant_conv", z, z, 1, 1);
    w.dec_conv_in = bind_conv(wb, "decoder.conv_in", z, dims[0], 3, 3, pad1());
    w.dec_mid = bind_mid(wb, "decoder.mid_block", dims[0]);
    w.up.assign(levels, {});
    for (int i = 0; i < levels; ++i) {
      WanUpBlock& u = w.up[i];
      const std::string p = "decoder.up_blocks." + std::to_string(i);
      u.in = dims[i], u.out = dims[i + 1];
      for (int j = 0, in = u.in; j <= cfg.num_res_blocks; ++j, in = u.out)
        u.res.push_back(bind_res(wb, p + ".resnets." + std::to_string(j), in, u.out));
      u.up = i != levels - 1;
      u.up_t = u.up && cfg.temperal_downsample[levels - 2 - i];  // temperal_upsample = reversed
      if (u.up) {
        u.resample = bind_conv(wb, p + ".upsampler.resample.1", u.out, u.out, 0, 3, pad1());
        if (u.up_t) {
          Conv3dDims t;
          t.kh = t.kw = 1;
          u.time_conv = bind_conv(wb, p + ".upsampler.time_conv", u.out, 2 * u.out, 3, 1, t);
        }
      }
    }
    w.dec_norm_out = wb.param("decoder.norm_out.gamma", {dims.back(), 1, 1, 1});
    w.dec_conv_out = bind_conv(wb, "decoder.conv_out", dims.back(), cfg.out_channels, 3, 3, pad1());
    w.has_decoder = true;
  }
}

void wan_vae_check_decode(const WanVaeConfig& cfg, const WanVaeWeights& w, int T, int h, int w_,
                          const WanVaeRunOptions& opt) {
  if (!w.has_decoder) throw ModelError("Wan VAE: loaded without its decoder");
  if (T < 1 || h < 1 || w_ < 1) throw ModelError("Wan VAE decode: latents must have T, h, w >= 1");
  if (opt.chunk_latent_frames < 1) throw ModelError("Wan VAE decode: chunk_latent_frames must be >= 1");
  const long long s = cfg.spatial_scale();
  if (h * s > 16384 || w_ * s > 16384) throw ModelError("Wan VAE decode: latents h, w too large (video side > 16384)");
}

void wan_vae_check_encode(const WanVaeConfig& cfg, const WanVaeWeights& w, int F, int H, int W,
                          const WanVaeRunOptions& opt) {
  if (!w.has_encoder) throw ModelError("Wan VAE: loaded without its encoder");
  const int ts = cfg.temporal_scale(), s = cfg.spatial_scale();
  if (F < 1 || (F - 1) % ts) throw ModelError("Wan VAE encode: frames must be 1 + " + std::to_string(ts) + "k");
  if (H < s || W < s || H % s || W % s)
    throw ModelError("Wan VAE encode: height and width must be positive multiples of " + std::to_string(s));
  if (H > 16384 || W > 16384) throw ModelError("Wan VAE encode: video side > 16384");
  if (opt.chunk_latent_frames < 1) throw ModelError("Wan VAE encode: chunk_latent_frames must be >= 1");
}

namespace {
// The CPU backend of wan_vae_forward.h: host vectors and the *_cpu ops.
struct CpuBackend {
  struct Buf {
    std::vector<float> v;
    float* data() const { return const_cast<float*>(v.data()); }
  };
  static constexpr bool kWindows = false;  // f32 convs: nothing rounds their inputs
  CpuContext ctx;
  Buf alloc(size_t n) { return Buf{std::vector<float>(n)}; }
  void zero(float* p, size_t n) { std::memset(p, 0, n * sizeof(float)); }
  void copy(float* dst, const float* src, size_t n) { std::memmove(dst, src, n * sizeof(float)); }
  void conv(float* out, const float* hist, int n_hist, bool /*hist_bf16: never here*/, const float* x, int t, int h,
            int w, const WanConv& c) {
    conv3d_cpu(out, hist, n_hist, x, t, h, w, static_cast<const float*>(c.w.w), c.w.b, c.d, ctx);
  }
  bool hist_bf16(const WanConv&) const { return false; }  // f32 weights, f32 convs: the history stays f32
  void hist_put(float* dst, const float* src, size_t n, bool) { copy(dst, src, n); }
  void hist_move(float* dst, const float* src, size_t n, bool) { copy(dst, src, n); }
  void norm(float* out, const float* x, const float* g, long long rows, int dim, bool silu) {
    wan_rmsnorm_cpu(out, x, g, rows, dim, silu);
  }
  void add_inplace(float* out, const float* a, size_t n) {
    for (size_t i = 0; i < n; i += (1u << 30)) add_cpu(out + i, out + i, a + i, (int)std::min<size_t>(n - i, 1u << 30));
  }
  void linear(float* y, const float* x, const Linear& l, int n) { linear_cpu(y, x, l, n, ctx); }
  void attention(float* out, const float* q, const float* k, const float* v, int n, int dim) {
    attention_gemm_cpu(out, q, k, v, n, n, dim, 1.0f / std::sqrt((float)dim), ctx);
  }
  void upsample(float* out, const float* x, int frames, int h, int w, int c, long long fs, int ps) {
    upsample_nearest2x_cpu(out, x, frames, h, w, c, fs, ps);
  }
  void avg_down_add(float* out, const float* x, int t, int h, int w, int cin, int cout, int ft, int fs) {
    avg_down_add_cpu(out, x, t, h, w, cin, cout, ft, fs);
  }
  void dup_up_add(float* out, const float* x, int t, int h, int w, int cin, int cout, int ft, int fs, int skip) {
    dup_up_add_cpu(out, x, t, h, w, cin, cout, ft, fs, skip);
  }
  void patchify(float* out, const float* v, int c, int ft, int f0, int nf, int H, int W, int p) {
    pixel_patchify_cpu(out, v, c, ft, f0, nf, H, W, p);
  }
  void unpatchify(float* v, const float* in, int c, int ft, int f0, int nf, int h, int w, int p, bool clamp) {
    pixel_unpatchify_cpu(v, in, c, ft, f0, nf, h, w, p, clamp);
  }
  void latent_norm(float* x, long long rows, int c, const float* mean, const float* std, bool inverse) {
    wan_latent_norm_cpu(x, rows, c, mean, std, inverse);
  }
};
}  // namespace

std::unique_ptr<WanVae> WanVae::load(const Checkpoint& ck, const WanVaeConfig& cfg, bool encoder, bool decoder) {
  auto m = std::unique_ptr<WanVae>(new WanVae());
  m->cfg_ = cfg;
  WeightBinder wb(ck, m->store_, "vae config");
  wan_vae_bind(cfg, wb, m->w_, encoder, decoder);
  return m;
}

std::unique_ptr<WanVae> WanVae::random(const WanVaeConfig& cfg, uint64_t seed, float std) {
  auto m = std::unique_ptr<WanVae>(new WanVae());
  m->cfg_ = cfg;
  WeightBinder wb(seed, std, m->store_);
  wan_vae_bind(cfg, wb, m->w_);
  return m;
}

std::vector<float> WanVae::decode(const float* latents, int T, int h, int w, const WanVaeRunOptions& opt) const {
  wan_vae_check_decode(cfg_, w_, T, h, w, opt);
  const int s = cfg_.spatial_scale();
  std::vector<float> video((size_t)cfg_.video_channels() * cfg_.frames_for(T) * h * s * w * s);
  CpuBackend b;
  b.ctx = cpu_;
  wan_vae_detail::Runner<CpuBackend> run(b, cfg_, w_);
  run.decode(latents, T, h, w, video.data(), opt);
  return video;
}

std::vector<float> WanVae::encode(const float* video, int F, int H, int W, const WanVaeRunOptions& opt) const {
  wan_vae_check_encode(cfg_, w_, F, H, W, opt);
  const int s = cfg_.spatial_scale();
  std::vector<float> latents((size_t)cfg_.z_dim * cfg_.latent_frames_for(F) * (H / s) * (W / s));
  CpuBackend b;
  b.ctx = cpu_;
  wan_vae_detail::Runner<CpuBackend> run(b, cfg_, w_);
  run.encode(video, F, H, W, latents.data(), opt);
  return latents;
}

}  // namespace cosmos
