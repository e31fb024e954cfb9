#include "cosmos3_audio.h"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "../core/config.h"
#include "../ops/add.h"
#include "../ops/snake_beta.h"

namespace cosmos {

namespace {
const char* kWhere = "sound_tokenizer config";

// A string field that must equal `want` (missing: the class default, which is `want`).
void require_string(const Json& c, const char* key, const char* want) {
  const Json* v = c.get(key);
  if (!v) return;
  if (!v->is_str() || v->str != want)
    throw ModelError(std::string(kWhere) + "." + key + " must be \"" + want + "\" (the shipped AVAE; diffusers supports no other)");
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
  c.d.pad = (stride + 1) / 2;      // ceil(stride / 2)
  c.d.output_pad = stride % 2;     // Cosmos 3's one change to Oobleck: odd strides still multiply the length
  const auto g = wb.values(prefix + ".weight_g", {cin, 1, 1}, true);
  const auto v = wb.values(prefix + ".weight_v", {cin, cout, c.d.k});
  const auto w = fold_weight_norm(g, v);
  std::vector<float> packed(w.size());
  conv_transpose1d_pack_weight(packed.data(), w.data(), cin, cout, c.d.k);
  const auto b = wb.values(prefix + ".bias", {cout}, true);
  c.w = wb.linear_from_values(packed.data(), c.d.k * cout, cin, b.data());
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

size_t Cosmos3AudioDecoder::activation_floats(int T) const {
  size_t widest = (size_t)T * std::max(cfg_.latent_channels, block_in(cfg_, 0));
  long long t = T;
  for (int i = 0; i < (int)cfg_.dec_strides.size(); ++i) {
    t *= block_stride(cfg_, i);
    widest = std::max(widest, (size_t)t * block_out(cfg_, i));
  }
  return 3 * widest;
}

namespace {
void check_abort(const Cosmos3AudioRunOptions& opt) {
  if (opt.abort && opt.abort->load(std::memory_order_relaxed)) throw AbortedError();
}
void run_conv(float* out, const float* x, int t, const AudioConv& c, const CpuContext& ctx) {
  conv1d_cpu(out, x, t, static_cast<const float*>(c.w.w), c.w.b, c.d, ctx);
}
void run_snake(float* out, const float* x, int t, const AudioSnake& s) {
  snake_beta_cpu(out, x, s.log_alpha, s.log_beta, t, s.channels);
}
}  // namespace

std::vector<float> Cosmos3AudioDecoder::decode(const float* latents, int T, const Cosmos3AudioRunOptions& opt) const {
  if (T < 1) throw ModelError("sound latents: T must be at least 1 frame");
  if (!latents) throw ModelError("sound latents: no data");
  const size_t cap = activation_floats(T) / 3;
  std::vector<float> xbuf(cap), abuf(cap), bbuf(cap);
  float *x = xbuf.data(), *a = abuf.data(), *b = bbuf.data();
  // [C, T] -> channels-last [T, C].
  const int cl = cfg_.latent_channels;
  for (int c = 0; c < cl; ++c)
    for (int t = 0; t < T; ++t) a[(size_t)t * cl + c] = latents[(size_t)c * T + t];
  run_conv(x, a, T, w_.conv1, cpu_);
  int t = T;
  for (const AudioDecoderBlock& blk : w_.block) {
    check_abort(opt);
    run_snake(a, x, t, blk.snake1);
    conv_transpose1d_cpu(x, a, t, static_cast<const float*>(blk.conv_t1.w.w), blk.conv_t1.w.b, blk.conv_t1.d, cpu_);
    t = blk.conv_t1.d.out_t(t);
    const int c = blk.conv_t1.d.cout;
    for (const AudioResidualUnit& r : blk.res) {  // x += conv2(snake2(conv1(snake1(x)))); lengths kept
      run_snake(a, x, t, r.snake1);
      run_conv(b, a, t, r.conv1, cpu_);
      run_snake(b, b, t, r.snake2);
      run_conv(a, b, t, r.conv2, cpu_);
      add_cpu(x, x, a, (int)((size_t)t * c));
    }
  }
  check_abort(opt);
  run_snake(a, x, t, w_.snake1);
  run_conv(b, a, t, w_.conv2, cpu_);
  // [t, audio_channels] -> [audio_channels, t], clamped as diffusers' decode.
  const int ca = cfg_.audio_channels;
  std::vector<float> wave((size_t)ca * t);
  for (int i = 0; i < t; ++i)
    for (int c = 0; c < ca; ++c) {
      const float v = b[(size_t)i * ca + c];
      wave[(size_t)c * t + i] = opt.clamp ? std::min(1.f, std::max(-1.f, v)) : v;
    }
  return wave;
}

}  // namespace cosmos
