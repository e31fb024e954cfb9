#include "cosmos3_audio.h"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "../core/config.h"
#include "../ops/add.h"
#include "../ops/snake_beta.h"
#include "cosmos3_audio_forward.h"

namespace cosmos {

namespace {
const char* kWhere = "sound_tokenizer config";

// A string field that must equal `want` (missing: the class default, which is `want`).
void require_string(const Json& c, const char* key, const char* want) {
  const Json* v = c.get(key);
  if (!v) return;
  if (!v->is_str() || v->str != want)
    throw ModelError(std::string(kWhere) + "." + key + " must be \"" + want +
                     "\" (the shipped AVAE; diffusers supports no other)");
}
// A boolean field that must equal `want` (missing: the class default, which is `want`).
void require_bool(const Json& c, const char* key, bool want) {
  const Json* v = c.get(key);
  if (!v) return;
  if (v->type != Json::Type::Bool || v->b != want)
    throw ModelError(std::string(kWhere) + "." + key + " must be " + (want ? "true" : "false") +
                     " (the shipped AVAE; diffusers supports no other)");
}
void require_null(const Json& c, const char* key) {
  const Json* v = c.get(key);
  if (v && v->type != Json::Type::Null)
    throw ModelError(std::string(kWhere) + "." + key + " must be null: the AVAE applies no latent normalisation");
}
std::vector<int> int_list(const Json& c, const char* key, std::vector<int> fallback) {
  const Json* a = c.get(key);
  if (!a) return fallback;
  const std::string msg = std::string(kWhere) + "." + key + " must be an array of 1..8 positive integers";
  if (!a->is_arr() || a->arr.empty() || a->arr.size() > 8) throw ModelError(msg);
  std::vector<int> v;
  for (const Json& e : a->arr) {
    if (!e.is_num() || !e.is_integer || e.i64 <= 0 || e.i64 > 64) throw ModelError(msg);
    v.push_back((int)e.i64);
  }
  return v;
}

// torch's weight_norm(dim=0): w[i, ...] = v[i, ...] * (g[i] / ||v[i, ...]||), norm in double, scale in f32.
std::vector<float> fold_weight_norm(const std::vector<float>& g, const std::vector<float>& v) {
  const size_t rows = g.size(), per = v.size() / rows;
  std::vector<float> w(v.size());
  for (size_t r = 0; r < rows; ++r) {
    double sq = 0;
    for (size_t j = 0; j < per; ++j) sq += (double)v[r * per + j] * v[r * per + j];
    const float scale = g[r] / (float)std::sqrt(sq);
    for (size_t j = 0; j < per; ++j) w[r * per + j] = v[r * per + j] * scale;
  }
  return w;
}

// A weight-normed Conv1d `prefix` (prefix.weight_g [cout,1,1], prefix.weight_v [cout, cin, k], prefix.bias).
AudioConv bind_conv(WeightBinder& wb, const std::string& prefix, int cin, int cout, int k, int dilation, bool bias) {
  AudioConv c;
  c.d.cin = cin;
  c.d.cout = cout;
  c.d.k = k;
  c.d.dilation = dilation;
  c.d.pad_left = c.d.pad_right = (k - 1) * dilation / 2;  // "same" length, as Oobleck's convs
  const auto g = wb.values(prefix + ".weight_g", {cout, 1, 1}, true);
  const auto v = wb.values(prefix + ".weight_v", {cout, cin, k});
  const auto w = fold_weight_norm(g, v);
  std::vector<float> b;
  if (bias) b = wb.values(prefix + ".bias", {cout}, true);
  c.w = wb.linear_from_values(w.data(), cout, cin * k, bias ? b.data() : nullptr);
  return c;
}

// A weight-normed ConvTranspose1d (weight_v [cin, cout, 2s], weight_g [cin, 1, 1]: the norm runs over each
// input channel's slice, PyTorch's dim 0), folded then packed for conv_transpose1d.
AudioConvTranspose bind_conv_transpose(WeightBinder& wb, const std::string& prefix, int cin, int cout, int stride) {
  AudioConvTranspose c;
  c.d.cin = cin;
  c.d.cout = cout;
  c.d.k = 2 * stride;
  c.d.stride = stride;
  c.d.pad = (stride + 1) / 2;   // ceil(stride / 2)
  c.d.output_pad = stride % 2;  // Cosmos 3's one change to Oobleck: odd strides still multiply the length
  const auto g = wb.values(prefix + ".weight_g", {cin, 1, 1}, true);
  const auto v = wb.values(prefix + ".weight_v", {cin, cout, c.d.k});
  const auto w = fold_weight_norm(g, v);
  std::vector<float> packed(w.size());
  conv_transpose1d_pack_weight(packed.data(), w.data(), cin, cout, c.d.k);
  c.w =
      wb.linear_from_values(packed.data(), c.d.k * cout, cin, nullptr);  // the bias is per output channel, not per row
  c.bias = wb.param(prefix + ".bias", {cout});
  return c;
}

AudioSnake bind_snake(WeightBinder& wb, const std::string& prefix, int channels) {
  AudioSnake s;
  s.channels = channels;
  s.log_alpha = wb.param(prefix + ".alpha", {1, channels, 1});
  s.log_beta = wb.param(prefix + ".beta", {1, channels, 1});
  return s;
}

// Channels of the decoder: conv1 out = dim * c_mults[-1]; block i maps dim * m[n - i] -> dim * m[n - i - 1] with
// m = [1] + c_mults, n = len(strides) (diffusers' Cosmos3AudioDecoder).
int block_in(const Cosmos3AudioConfig& cfg, int i) {
  const int n = (int)cfg.dec_strides.size();
  const int idx = n - i;  // index into [1] + c_mults
  return cfg.dec_dim * (idx == 0 ? 1 : cfg.dec_c_mults[idx - 1]);
}
int block_out(const Cosmos3AudioConfig& cfg, int i) { return block_in(cfg, i + 1); }
int block_stride(const Cosmos3AudioConfig& cfg, int i) { return cfg.dec_strides[cfg.dec_strides.size() - 1 - i]; }
}  // namespace

Cosmos3AudioConfig Cosmos3AudioConfig::from_json(const std::string& text) {
  const Json c = parse_config_object(text);
  require_string(c, "model_type", "autoencoder_v2");
  require_string(c, "dec_type", "oobleck");
  require_string(c, "activation", "snakebeta");
  require_string(c, "bottleneck_type", "vae");
  require_bool(c, "dec_use_snake", true);
  require_bool(c, "dec_final_tanh", false);
  require_bool(c, "dec_anti_aliasing", false);
  require_bool(c, "dec_use_nearest_upsample", false);
  require_bool(c, "dec_use_tanh_at_final", false);
  require_bool(c, "snake_logscale", true);
  require_bool(c, "anti_aliasing", false);
  require_bool(c, "use_wav_as_input", true);
  require_null(c, "latent_mean");
  require_null(c, "latent_std");
  Cosmos3AudioConfig k;
  k.sampling_rate = config_positive_int(c, "sampling_rate", kWhere, k.sampling_rate);
  k.latent_channels = config_positive_int(c, "vocoder_input_dim", kWhere, k.latent_channels);
  k.dec_dim = config_positive_int(c, "dec_dim", kWhere, k.dec_dim);
  k.audio_channels = config_positive_int(c, "dec_out_channels", kWhere, k.audio_channels);
  k.dec_c_mults = int_list(c, "dec_c_mults", k.dec_c_mults);
  k.dec_strides = int_list(c, "dec_strides", k.dec_strides);
  if (k.dec_c_mults.size() != k.dec_strides.size())
    throw ModelError(std::string(kWhere) + ".dec_c_mults and .dec_strides must have the same length");
  const Json* hop = c.get("hop_size");
  k.hop_size = !hop || hop->type == Json::Type::Null ? k.upsampling() : config_positive_int(c, "hop_size", kWhere);
  return k;
}

int Cosmos3AudioConfig::upsampling() const {
  int p = 1;
  for (int s : dec_strides) p *= s;
  return p;
}

int Cosmos3AudioConfig::latent_frames_for_clip(int num_frames, double fps) const {
  // Python: int(num_frames / fps * sampling_rate) (double, truncated), then a ceiling division by hop_size.
  const long long samples = (long long)((double)num_frames / fps * (double)sampling_rate);
  return (int)((samples + hop_size - 1) / hop_size);
}

void cosmos3_audio_bind_decoder(const Cosmos3AudioConfig& cfg, WeightBinder& wb, Cosmos3AudioDecoderWeights& w) {
  const int n = (int)cfg.dec_strides.size();
  w.conv1 = bind_conv(wb, "decoder.conv1", cfg.latent_channels, block_in(cfg, 0), 7, 1, true);
  w.block.assign(n, {});
  for (int i = 0; i < n; ++i) {
    const std::string p = "decoder.block." + std::to_string(i);
    const int cin = block_in(cfg, i), cout = block_out(cfg, i);
    AudioDecoderBlock& b = w.block[i];
    b.snake1 = bind_snake(wb, p + ".snake1", cin);
    b.conv_t1 = bind_conv_transpose(wb, p + ".conv_t1", cin, cout, block_stride(cfg, i));
    const int dilation[3] = {1, 3, 9};
    for (int r = 0; r < 3; ++r) {
      const std::string q = p + ".res_unit" + std::to_string(r + 1);
      b.res[r].snake1 = bind_snake(wb, q + ".snake1", cout);
      b.res[r].conv1 = bind_conv(wb, q + ".conv1", cout, cout, 7, dilation[r], true);
      b.res[r].snake2 = bind_snake(wb, q + ".snake2", cout);
      b.res[r].conv2 = bind_conv(wb, q + ".conv2", cout, cout, 1, 1, true);
    }
  }
  w.snake1 = bind_snake(wb, "decoder.snake1", cfg.dec_dim);
  w.conv2 = bind_conv(wb, "decoder.conv2", cfg.dec_dim, cfg.audio_channels, 7, 1, false);
}

std::unique_ptr<Cosmos3AudioDecoder> Cosmos3AudioDecoder::load(const Checkpoint& ck, const Cosmos3AudioConfig& cfg) {
  auto m = std::unique_ptr<Cosmos3AudioDecoder>(new Cosmos3AudioDecoder());
  m->cfg_ = cfg;
  WeightBinder wb(ck, m->store_, kWhere);
  cosmos3_audio_bind_decoder(cfg, wb, m->w_);
  return m;
}

std::unique_ptr<Cosmos3AudioDecoder> Cosmos3AudioDecoder::random(const Cosmos3AudioConfig& cfg, uint64_t seed,
                                                                 float std) {
  auto m = std::unique_ptr<Cosmos3AudioDecoder>(new Cosmos3AudioDecoder());
  m->cfg_ = cfg;
  WeightBinder wb(seed, std, m->store_);
  cosmos3_audio_bind_decoder(cfg, wb, m->w_);
  return m;
}

size_t Cosmos3AudioConfig::widest_stage_floats(int latent_frames) const {
  size_t widest = (size_t)latent_frames * block_in(*this, 0);
  long long t = latent_frames;
  for (int i = 0; i < (int)dec_strides.size(); ++i) {
    t *= block_stride(*this, i);
    widest = std::max(widest, (size_t)t * block_out(*this, i));
  }
  return widest;
}

namespace {
struct CpuBackend {
  struct Buf {
    std::vector<float> v;
    float* data() { return v.data(); }
  };
  CpuContext ctx;
  Buf alloc(size_t n) { return Buf{std::vector<float>(n)}; }
  void conv(float* out, const float* x, int t, const AudioConv& c) {
    conv1d_cpu(out, x, t, static_cast<const float*>(c.w.w), c.w.b, c.d, ctx);
  }
  void conv_transpose(float* out, const float* x, int t, const AudioConvTranspose& c) {
    conv_transpose1d_cpu(out, x, t, static_cast<const float*>(c.w.w), c.bias, c.d, ctx);
  }
  void snake(float* out, const float* x, int t, const AudioSnake& s) {
    snake_beta_cpu(out, x, s.log_alpha, s.log_beta, t, s.channels);
  }
  void add_inplace(float* out, const float* a, size_t n) {
    for (size_t i = 0; i < n; i += (1u << 30)) add_cpu(out + i, out + i, a + i, (int)std::min<size_t>(n - i, 1u << 30));
  }
};
}  // namespace

void cosmos3_audio_check_decode(const Cosmos3AudioConfig& cfg, const float* latents, int T) {
  if (T < 1) throw ModelError("sound latents: T must be at least 1 frame");
  if ((long long)T * cfg.upsampling() > (1ll << 31) - 1)
    throw ModelError("sound latents: T is too long for one decode");
  if (!latents) throw ModelError("sound latents: no data");
}

void cosmos3_audio_to_channels_last(float* out, const float* x, int c, int t) {
  for (int i = 0; i < c; ++i)
    for (int j = 0; j < t; ++j) out[(size_t)j * c + i] = x[(size_t)i * t + j];
}

void cosmos3_audio_to_waveform(float* wave, const float* x, int c, int t, bool clamp) {
  for (int j = 0; j < t; ++j)
    for (int i = 0; i < c; ++i) {
      const float v = x[(size_t)j * c + i];
      wave[(size_t)i * t + j] = clamp ? std::min(1.f, std::max(-1.f, v)) : v;
    }
}

std::vector<float> Cosmos3AudioDecoder::decode(const float* latents, int T, const Cosmos3AudioRunOptions& opt) const {
  cosmos3_audio_check_decode(cfg_, latents, T);
  const int cl = cfg_.latent_channels, ca = cfg_.audio_channels, n = cfg_.samples_for(T);
  std::vector<float> x((size_t)T * cl), out((size_t)n * ca), wave((size_t)n * ca);
  cosmos3_audio_to_channels_last(x.data(), latents, cl, T);
  CpuBackend b;
  b.ctx = cpu_;
  cosmos3_audio_detail::decode(b, w_, x.data(), T, out.data(), cfg_.widest_stage_floats(T), opt);
  cosmos3_audio_to_waveform(wave.data(), out.data(), ca, n, opt.clamp);
  return wave;
}

}  // namespace cosmos
