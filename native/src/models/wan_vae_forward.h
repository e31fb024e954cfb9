// The Wan2.2 VAE's forward, written once over a backend B (wan_vae.cc: host vectors and the *_cpu ops;
// wan_vae_cuda.cu: pool buffers and the *_cuda ops), so the chunking and the causal caches — the part that
// is easy to get subtly wrong — exist in one copy. Private to the two model files.
//
// B provides: `Buf` (owning, .data()), alloc(n floats), zero / copy, conv (ops/conv3d; its history f32 or bf16),
// hist_bf16 (whether a conv's history may be kept in bf16: its conv rounds it so anyway, so the numbers do not
// change and the caches take half the memory, ~3 GiB of a 720p decode), hist_put / hist_move (history frames in
// that format), norm (ops/wan_rmsnorm), add_inplace (out += a), linear, attention (one head, full), upsample
// (ops/upsample_nearest), avg_down_add, dup_up_add, patchify / unpatchify (ops/pixel_patchify) and latent_norm
// (ops/wan_latent_norm). And kWindows: whether its convs can read a bf16 window their producer wrote (the CUDA
// backend: window_conv(c) says for which, norm_bf16 and upsample_bf16 write such windows into alloc'd buffers,
// conv_window reads one; ops/conv3d.h conv3d_window_cuda). The norm before a causal conv and the upsampling before
// a resample conv then write the conv's operand directly instead of f32 frames the conv rounds in a pass of its own:
// the same bits, with less of a decode's kernel time (rounding passes 10%, norms 7% of a 720p decode, ncu).
//
// Causality, as diffusers' feat_cache implements it, expressed as streams: every 3x3x3 conv sees its input
// stream with two zero frames in front, so it keeps the last two input frames of the previous chunk (a
// Slot). The decoder's time upsampling conv skips the stream's first frame (it passes as one frame, diffusers'
// "Rep") and sees the rest with two zero frames in front, each input frame giving two output frames; the
// DupUp3D shortcut drops its first ft-1 frames on the first chunk to match. The encoder's time downsampling
// passes the first frame and then reads frames (2j-2, 2j-1, 2j), i.e. a conv of stride 2 with the previous
// chunk's last frame as history. Written this way any chunking (1 + 4k frames into the encoder, any number of
// latent frames into the decoder) gives the same result; slots are visited in the same order every chunk.
#pragma once
#include <algorithm>
#include <cmath>
#include <vector>

#include "wan_vae.h"

namespace cosmos {
namespace wan_vae_detail {

template <class B>
class Runner {
 public:
  using Buf = typename B::Buf;
  struct Act {  // channels-last frames [t, h, w, c]; owns buf, or is a view of another Act's frames
    Buf buf;
    float* view = nullptr;
    int t = 0, h = 0, w = 0, c = 0;
    float* p() const { return view ? view : buf.data(); }
    size_t frame() const { return (size_t)h * w * c; }
    size_t n() const { return (size_t)t * frame(); }
    long long rows() const { return (long long)t * h * w; }
  };

  Runner(B& b, const WanVaeConfig& cfg, const WanVaeWeights& w) : b_(b), cfg_(cfg), w_(w) {}

  // latents [z, T, h, w] (backend memory) -> video [C, F, h*s, w*s] (backend memory, allocated by the caller).
  void decode(const float* latents, int T, int h, int w, float* video, const WanVaeRunOptions& opt) {
    const int F = cfg_.frames_for(T), step = std::max(1, opt.chunk_latent_frames);
    const int chunks = (T + step - 1) / step;
    int f_out = 0;
    for (int ci = 0, t0 = 0; t0 < T; ++ci, t0 += step) {
      if (opt.abort && opt.abort->load()) throw AbortedError();
      next_ = 0;
      const int nt = std::min(step, T - t0);
      Act z = make(nt, h, w, cfg_.z_dim);
      b_.patchify(z.p(), latents, cfg_.z_dim, T, t0, nt, h, w, 1);  // p = 1: the layout change only
      if (opt.normalized) b_.latent_norm(z.p(), z.rows(), z.c, w_.latents_mean, w_.latents_std, true);
      Act x = conv(w_.post_quant, z);
      z = Act{};
      x = causal(w_.dec_conv_in, x);
      mid(w_.dec_mid, x);
      const size_t tail = tail_start();
      for (size_t i = 0; i < tail; ++i) x = up_block(w_.up[i], x, t0 == 0);
      // After the last time upsampling every layer maps frame to frame, and its causal convs stream exactly (the
      // slots carry the history), so the full-resolution tail runs one frame at a time: its activations are a
      // quarter of a 4-frame chunk's (at 720p ~4.5 GiB less at the decode's peak), the result is the same.
      const size_t tail_slots = next_;
      for (int f = 0; f < x.t; ++f) {
        next_ = tail_slots;
        Act y = frames_of(x, f, 1);
        for (size_t i = tail; i < w_.up.size(); ++i) y = up_block(w_.up[i], y, t0 == 0 && f == 0);
        y = norm_causal(w_.dec_norm_out, w_.dec_conv_out, y, true);
        b_.unpatchify(video, y.p(), cfg_.video_channels(), F, f_out, y.t, y.h, y.w, cfg_.patch_size, opt.clamp);
        f_out += y.t;
      }
      if (opt.on_chunk) opt.on_chunk(ci + 1, chunks);
    }
  }

  // video [C, F, H, W] -> latents [z, T, H/s, W/s] (both backend memory).
  void encode(const float* video, int F, int H, int W, float* latents, const WanVaeRunOptions& opt) {
    const int T = cfg_.latent_frames_for(F), ts = cfg_.temporal_scale();
    const int step = std::max(1, opt.chunk_latent_frames);
    const int chunks = 1 + (T - 1 + step - 1) / step;
    int t_out = 0;
    for (int ci = 0, f0 = 0; f0 < F; ++ci) {
      if (opt.abort && opt.abort->load()) throw AbortedError();
      next_ = 0;
      const int nf = f0 == 0 ? 1 : std::min(step * ts, F - f0);  // frame 0 alone, then 4 per latent frame
      const int p = cfg_.patch_size;
      Act x = make(nf, H / p, W / p, cfg_.in_channels);
      b_.patchify(x.p(), video, cfg_.video_channels(), F, f0, nf, H, W, p);
      x = causal(w_.enc_conv_in, x);
      for (const WanDownBlock& d : w_.down) x = down_block(d, x);
      mid(w_.enc_mid, x);
      x = norm_causal(w_.enc_norm_out, w_.enc_conv_out, x, true);
      Act mu = conv(w_.quant_mu, x);
      if (opt.normalized) b_.latent_norm(mu.p(), mu.rows(), mu.c, w_.latents_mean, w_.latents_std, false);
      b_.unpatchify(latents, mu.p(), cfg_.z_dim, T, t_out, mu.t, mu.h, mu.w, 1, false);
      t_out += mu.t;
      f0 += nf;
      if (opt.on_chunk) opt.on_chunk(ci + 1, chunks);
    }
  }

 private:
  struct Slot {  // a conv's input history across chunks
    Buf frames;
    int n = 0;
    bool started = false;
    bool bf16 = false;  // frames held in bf16 (B::hist_bf16: the conv rounds them so anyway), else f32
    // Frame i of the history, frame floats (or bf16 values) each.
    float* at(int i, size_t frame) const {
      return reinterpret_cast<float*>(reinterpret_cast<char*>(frames.data()) + (size_t)i * frame * (bf16 ? 2 : 4));
    }
  };
  B& b_;
  const WanVaeConfig& cfg_;
  const WanVaeWeights& w_;
  std::vector<Slot> slots_;
  size_t next_ = 0;

  // The first up block from which none doubles frames (the decoder's tail; all of them when none does).
  size_t tail_start() const {
    size_t i = w_.up.size();
    while (i > 0 && !w_.up[i - 1].up_t) --i;
    return i;
  }
  // A view of frames [f, f + n) of x (x keeps the memory).
  static Act frames_of(const Act& x, int f, int n) {
    Act v;
    v.view = x.p() + (size_t)f * x.frame();
    v.t = n, v.h = x.h, v.w = x.w, v.c = x.c;
    return v;
  }
  // Floats that hold n values: bf16 ones two to a float (the backend's buffers are counted in floats).
  static size_t floats_for(size_t n, bool bf16) { return bf16 ? (n + 1) / 2 : n; }
  // The float* the backend's frame arguments take, `elems` bf16 values into a bf16 buffer.
  static float* bf16_at(const Buf& b, size_t elems) {
    return reinterpret_cast<float*>(reinterpret_cast<char*>(b.data()) + elems * 2);
  }
  Act make(int t, int h, int w, int c) {
    Act a;
    a.t = t, a.h = h, a.w = w, a.c = c;
    a.buf = b_.alloc(a.n());
    return a;
  }
  Slot& slot() {
    if (next_ == slots_.size()) slots_.emplace_back();
    return slots_[next_++];
  }
  // Keeps the last `keep` frames of [history | x[0..t)] (frame floats each) as the new history.
  void push(Slot& s, const float* x, int t, size_t frame, int keep) {
    if (t <= 0) return;
    if (t >= keep) {
      b_.hist_put(s.at(0, frame), x + (size_t)(t - keep) * frame, keep * frame, s.bf16);
    } else {  // shift the old frames down, append x
      const int old = keep - t;
      for (int i = 0; i < old; ++i) b_.hist_move(s.at(i, frame), s.at(i + t, frame), frame, s.bf16);
      b_.hist_put(s.at(old, frame), x, (size_t)t * frame, s.bf16);
    }
  }
  // A new history of n zero frames for conv c (bf16 where the backend's conv of c reads it so).
  void start(Slot& s, const WanConv& c, int n, size_t frame) {
    s.bf16 = b_.hist_bf16(c);
    const size_t count = (size_t)n * frame;
    s.frames = b_.alloc(floats_for(count, s.bf16));
    b_.zero(s.frames.data(), floats_for(count, s.bf16));
    s.started = true;
  }
  // A conv without time history (kt 1): 1x1x1, 2D spatial.
  Act conv(const WanConv& c, const Act& x) {
    Act y = make(c.d.out_t(0, x.t), c.d.out_h(x.h), c.d.out_w(x.w), c.d.cout);
    b_.conv(y.p(), nullptr, 0, false, x.p(), x.t, x.h, x.w, c);
    return y;
  }
  // A causal conv (kt 3, stride 1): two frames of history, zeros before the stream.
  Act causal(const WanConv& c, const Act& x) {
    Slot& s = slot();
    const size_t frame = x.frame();
    if (!s.started) start(s, c, 2, frame);
    Act y = make(x.t, c.d.out_h(x.h), c.d.out_w(x.w), c.d.cout);
    b_.conv(y.p(), s.frames.data(), 2, s.bf16, x.p(), x.t, x.h, x.w, c);
    push(s, x.p(), x.t, frame, 2);
    return y;
  }
  // The causal conv c of norm(x) (+ SiLU; every norm before a causal conv has it). Where the backend's conv reads a
  // bf16 window its producer writes, the norm writes its rows there after the two history frames, and the window's
  // last two frames become the history: the numbers of norm + causal, which round the same values to bf16. Else the
  // normed frames in f32 (in x's own memory where may_overwrite_x), then causal.
  Act norm_causal(const float* g, const WanConv& c, const Act& x, bool may_overwrite_x) {
    if constexpr (B::kWindows) {
      if (b_.window_conv(c)) {
        Slot& s = slot();
        const size_t frame = x.frame();
        if (!s.started) start(s, c, 2, frame);
        if (!s.bf16) throw ModelError("Wan VAE: a bf16 conv window with an f32 history");
        Act y = make(x.t, c.d.out_h(x.h), c.d.out_w(x.w), c.d.cout);
        Buf win = b_.alloc(floats_for((2 + x.t) * frame, true));
        b_.hist_move(win.data(), s.frames.data(), 2 * frame, true);
        b_.norm_bf16(bf16_at(win, 2 * frame), x.p(), g, x.rows(), x.c, true);
        b_.conv_window(y.p(), win.data(), 2 + x.t, x.h, x.w, c);
        b_.hist_move(s.frames.data(), bf16_at(win, x.t * frame), 2 * frame, true);
        return y;
      }
    }
    Act t;
    if (!may_overwrite_x) t = make(x.t, x.h, x.w, x.c);
    const Act& in = may_overwrite_x ? x : t;
    b_.norm(in.p(), x.p(), g, x.rows(), x.c, true);
    return causal(c, in);
  }
  Act res_block(const WanResBlock& r, const Act& x) {
    Act y = norm_causal(r.norm1, r.conv1, x, false);
    Act out = norm_causal(r.norm2, r.conv2, y, true);
    y = Act{};
    if (r.has_shortcut) {
      Act h = conv(r.shortcut, x);
      b_.add_inplace(out.p(), h.p(), out.n());
    } else {
      b_.add_inplace(out.p(), x.p(), out.n());
    }
    return out;
  }
  // x += proj(attention(qkv(norm(x)))) per frame: one head of width C over the frame's h*w pixels.
  void attention(const WanAttnBlock& a, Act& x) {
    const int n = x.h * x.w, C = x.c;
    Buf xn = b_.alloc((size_t)n * C), q = b_.alloc((size_t)n * C), k = b_.alloc((size_t)n * C),
        v = b_.alloc((size_t)n * C), o = b_.alloc((size_t)n * C);
    for (int f = 0; f < x.t; ++f) {
      float* xf = x.p() + (size_t)f * n * C;
      b_.norm(xn.data(), xf, a.norm, n, C, false);
      b_.linear(q.data(), xn.data(), a.qkv.rows(0, C), n);
      b_.linear(k.data(), xn.data(), a.qkv.rows(C, C), n);
      b_.linear(v.data(), xn.data(), a.qkv.rows(2 * C, C), n);
      b_.attention(o.data(), q.data(), k.data(), v.data(), n, C);
      b_.linear(xn.data(), o.data(), a.proj, n);
      b_.add_inplace(xf, xn.data(), (size_t)n * C);
    }
  }
  void mid(const WanMidBlock& m, Act& x) {
    x = res_block(m.res0, x);
    attention(m.attn, x);
    x = res_block(m.res1, x);
  }
  Act up_block(const WanUpBlock& u, const Act& x, bool first_chunk) {
    Act y = res_block(u.res[0], x);
    for (size_t i = 1; i < u.res.size(); ++i) y = res_block(u.res[i], y);
    if (!u.up) return y;
    y = upsample(u, y);
    const int ft = u.up_t ? 2 : 1;
    b_.dup_up_add(y.p(), x.p(), x.t, x.h, x.w, x.c, u.out, ft, 2, first_chunk ? ft - 1 : 0);
    return y;
  }
  // WanResample upsample2d / upsample3d: [time conv doubling frames], nearest 2x, 3x3 conv. Where the 3x3 conv reads
  // a bf16 window its producer writes, the upsampling writes that window (the same bits as f32 frames the conv
  // rounds).
  Act upsample(const WanUpBlock& u, const Act& x) {
    const int c = x.c;
    const size_t frame = x.frame(), bframe = 4 * frame;
    bool window = false;
    if constexpr (B::kWindows) window = b_.window_conv(u.resample);
    Act big;  // the upsampled frames: f32, or bf16 in its buf where window
    big.h = 2 * x.h, big.w = 2 * x.w, big.c = c;
    auto alloc_big = [&](int frames) {
      big.t = frames;
      big.buf = b_.alloc(floats_for(big.n(), window));
    };
    // Frames [at, at + frames) of big from input pixels at src (frame stride fs, pixel stride ps).
    auto up = [&](int at, const float* src, int frames, long long fs, int ps) {
      if constexpr (B::kWindows) {
        if (window) return b_.upsample_bf16(bf16_at(big.buf, at * bframe), src, frames, x.h, x.w, c, fs, ps);
      }
      b_.upsample(big.p() + at * bframe, src, frames, x.h, x.w, c, fs, ps);
    };
    if (!u.up_t) {
      alloc_big(x.t);
      up(0, x.p(), x.t, (long long)frame, c);
    } else {
      Slot& s = slot();
      int pass = 0;  // the stream's first frame skips the time conv
      if (!s.started) {
        pass = x.t > 0 ? 1 : 0;
        start(s, u.time_conv, 2, frame);
      }
      const int r = x.t - pass;
      Act tc = make(r, x.h, x.w, 2 * c);  // frame 2i's channels, then frame 2i+1's
      b_.conv(tc.p(), s.frames.data(), 2, s.bf16, x.p() + pass * frame, r, x.h, x.w, u.time_conv);
      push(s, x.p() + pass * frame, r, frame, 2);
      alloc_big(pass + 2 * r);
      if (pass) up(0, x.p(), 1, (long long)frame, c);
      for (int i = 0; i < r; ++i)
        for (int half = 0; half < 2; ++half)
          up(pass + 2 * i + half, tc.p() + i * 2 * frame + half * c, 1, (long long)(2 * frame), 2 * c);
    }
    if constexpr (B::kWindows) {
      if (window) {
        const Conv3dDims& d = u.resample.d;
        Act y = make(d.out_t(0, big.t), d.out_h(big.h), d.out_w(big.w), d.cout);
        b_.conv_window(y.p(), big.buf.data(), big.t, big.h, big.w, u.resample);
        return y;
      }
    }
    return conv(u.resample, big);
  }
  Act down_block(const WanDownBlock& d, const Act& x) {
    Act y = res_block(d.res[0], x);
    for (size_t i = 1; i < d.res.size(); ++i) y = res_block(d.res[i], y);
    if (d.down) y = downsample(d, y);
    b_.avg_down_add(y.p(), x.p(), x.t, x.h, x.w, x.c, d.out, d.down_t ? 2 : 1, d.down ? 2 : 1);
    return y;
  }
  // WanResample downsample2d / downsample3d: pad right / bottom, 3x3 stride 2, [time conv of stride 2].
  Act downsample(const WanDownBlock& d, const Act& x) {
    Act s = conv(d.resample, x);
    if (!d.down_t) return s;
    Slot& sl = slot();
    const size_t frame = s.frame();
    int pass = 0;
    if (!sl.started) {  // the first frame passes and becomes the history
      pass = s.t > 0 ? 1 : 0;
      sl.frames = b_.alloc(frame);
      if (pass) b_.copy(sl.frames.data(), s.p(), frame);
      sl.started = true;
    }
    const int r = s.t - pass;
    if (r % 2) throw ModelError("Wan VAE encode: a chunk after the first must have a multiple of 4 frames");
    Act y = make(pass + r / 2, s.h, s.w, s.c);
    if (pass) b_.copy(y.p(), s.p(), frame);
    b_.conv(y.p() + pass * frame, sl.frames.data(), 1, false, s.p() + pass * frame, r, s.h, s.w, d.time_conv);
    push(sl, s.p() + pass * frame, r, frame, 1);
    return y;
  }
};

}  // namespace wan_vae_detail
}  // namespace cosmos
