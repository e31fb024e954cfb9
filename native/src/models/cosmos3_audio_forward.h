// The Cosmos 3 AVAE decoder's forward, written once over a backend B (cosmos3_audio.cc: host vectors and the
// *_cpu ops; cosmos3_audio_cuda.cu: pool buffers and the *_cuda ops). Private to the two model files.
//
// B provides: `Buf` (owning, .data()), alloc(n floats), conv (ops/conv1d), conv_transpose (ops/conv_transpose1d),
// snake (ops/snake_beta, out may alias x) and add_inplace (out += a).
#pragma once
#include <algorithm>

#include "cosmos3_audio.h"

namespace cosmos {
namespace cosmos3_audio_detail {

inline void check_abort(const Cosmos3AudioRunOptions& opt) {
  if (opt.abort && opt.abort->load(std::memory_order_relaxed)) throw AbortedError();
}

// x: latents channels-last [T, latent_channels] (backend memory); out: [T * upsampling, audio_channels], unclamped
// (backend memory, the caller's). Three activation buffers of the widest stage, reused stage after stage.
template <class B>
void decode(B& b, const Cosmos3AudioDecoderWeights& w, const float* x_in, int T, float* out, size_t stage_floats,
            const Cosmos3AudioRunOptions& opt) {
  auto xbuf = b.alloc(stage_floats), abuf = b.alloc(stage_floats), bbuf = b.alloc(stage_floats);
  float *x = xbuf.data(), *a = abuf.data(), *t1 = bbuf.data();
  b.conv(x, x_in, T, w.conv1);
  int t = T;
  for (const AudioDecoderBlock& blk : w.block) {
    check_abort(opt);
    b.snake(a, x, t, blk.snake1);
    b.conv_transpose(x, a, t, blk.conv_t1);
    t = blk.conv_t1.d.out_t(t);
    const size_t n = (size_t)t * blk.conv_t1.d.cout;
    for (const AudioResidualUnit& r : blk.res) {  // x += conv2(snake2(conv1(snake1(x)))), lengths kept
      b.snake(a, x, t, r.snake1);
      b.conv(t1, a, t, r.conv1);
      b.snake(t1, t1, t, r.snake2);
      b.conv(a, t1, t, r.conv2);
      b.add_inplace(x, a, n);
    }
  }
  check_abort(opt);
  b.snake(a, x, t, w.snake1);
  b.conv(out, a, t, w.conv2);
}

}  // namespace cosmos3_audio_detail
}  // namespace cosmos
