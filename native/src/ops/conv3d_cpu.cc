#include <algorithm>
#include <cstring>
#include <vector>

#include "conv3d.h"

namespace {
// Whether the conv reads each input pixel once, in order: then x itself is the im2col matrix.
bool is_pointwise(const Conv3dDims& d, int n_hist) {
  return d.kt == 1 && d.kh == 1 && d.kw == 1 && d.st == 1 && d.sh == 1 && d.sw == 1 && n_hist == 0 && d.pad_top == 0 &&
         d.pad_bottom == 0 && d.pad_left == 0 && d.pad_right == 0;
}
// The virtual frame v of [hist (n_hist) | x]: null for a zero history frame.
inline const float* frame_of(const float* hist, int n_hist, const float* x, size_t frame, int v) {
  return v < n_hist ? (hist ? hist + (size_t)v * frame : nullptr) : x + (size_t)(v - n_hist) * frame;
}

// With the packed SIMD GEMM: the weight's columns reordered tap-major (col tap*cin + ci), so an im2col row is
// taps copies of cin contiguous floats; rows in blocks small enough that a block's im2col stays in L2 between
// its writing and the GEMM reading it, each block one thread's (im2col + gemm_f32_cpu + bias): one pass, no
// matrix the size of the frame. Every output is still one FMA chain over the block's row (tap-major order), so
// the thread count does not change the numbers.
void conv3d_blocked(float* out, const float* hist, int n_hist, const float* x, int h, int w, const float* wgt,
                    const float* bias, const Conv3dDims& d, int ot, int oh, int ow, const cosmos::CpuContext& ctx) {
  const int k = d.k(), taps = d.taps(), cin = d.cin, cout = d.cout;
  std::vector<float> wt((size_t)cout * k);
  for (int co = 0; co < cout; ++co)
    for (int ci = 0; ci < cin; ++ci)
      for (int tap = 0; tap < taps; ++tap)
        wt[(size_t)co * k + (size_t)tap * cin + ci] = wgt[(size_t)co * k + (size_t)ci * taps + tap];
  const size_t frame = (size_t)h * w * cin;
  const long long rows = (long long)ot * oh * ow;
  const int rb = std::max(12, (65536 / k) / 12 * 12);  // rows per block: ~256 KiB of im2col, a multiple of 12 and 6
  const long long blocks = (rows + rb - 1) / rb;
  cosmos::parallel_for(ctx, (int)blocks, 1, [&](int b0, int b1) {
    std::vector<float> col((size_t)rb * k), pack;
    for (int b = b0; b < b1; ++b) {
      const long long r0 = (long long)b * rb;
      const int nr = (int)std::min<long long>(rb, rows - r0);
      for (int i = 0; i < nr; ++i) {
        const long long r = r0 + i;
        const int o = (int)(r / ((long long)oh * ow)), oy = (int)(r / ow % oh), ox = (int)(r % ow);
        float* c = col.data() + (size_t)i * k;
        for (int dt = 0; dt < d.kt; ++dt) {
          const float* f = frame_of(hist, n_hist, x, frame, o * d.st + dt);
          for (int dy = 0; dy < d.kh; ++dy) {
            const int iy = oy * d.sh - d.pad_top + dy;
            for (int dx = 0; dx < d.kw; ++dx, c += cin) {
              const int ix = ox * d.sw - d.pad_left + dx;
              if (f && iy >= 0 && iy < h && ix >= 0 && ix < w)
                std::memcpy(c, f + ((size_t)iy * w + ix) * cin, sizeof(float) * cin);
              else
                std::fill(c, c + cin, 0.f);
            }
          }
        }
      }
      float* o = out + (size_t)r0 * cout;
      gemm_f32_cpu(o, cout, col.data(), k, wt.data(), k, false, nr, k, cout, pack);
      if (bias)
        for (int i = 0; i < nr; ++i)
          for (int co = 0; co < cout; ++co) o[(size_t)i * cout + co] += bias[co];
    }
  });
}
}  // namespace

void conv3d_cpu(float* out, const float* hist, int n_hist, const float* x, int t, int h, int w, const float* wgt,
                const float* bias, const Conv3dDims& d, const cosmos::CpuContext& ctx) {
  const int ot = d.out_t(n_hist, t), oh = d.out_h(h), ow = d.out_w(w);
  if (ot <= 0 || oh <= 0 || ow <= 0) return;
  const long long rows = (long long)ot * oh * ow;
  if (is_pointwise(d, n_hist)) {
    matmul_cpu(out, x, wgt, bias, (int)rows, d.cin, d.cout, ctx);
    return;
  }
  if (gemm_f32_cpu_packed()) {
    conv3d_blocked(out, hist, n_hist, x, h, w, wgt, bias, d, ot, oh, ow, ctx);
    return;
  }
  const int k = d.k(), taps = d.taps();
  const size_t frame = (size_t)h * w * d.cin;
  const long long block = std::max<long long>(1, std::min<long long>(rows, (4ll << 20) / k));
  std::vector<float> col((size_t)block * k);
  for (long long r0 = 0; r0 < rows; r0 += block) {
    const int nr = (int)std::min(block, rows - r0);
    cosmos::parallel_for(ctx, nr, 64, [&](int b, int e) {
      for (int i = b; i < e; ++i) {
        const long long r = r0 + i;
        const int o = (int)(r / ((long long)oh * ow)), oy = (int)(r / ow % oh), ox = (int)(r % ow);
        float* c = col.data() + (size_t)i * k;
        for (int dt = 0; dt < d.kt; ++dt) {
          const int v = o * d.st + dt;  // virtual frame: history first, then x
          const float* f = v < n_hist ? (hist ? hist + (size_t)v * frame : nullptr) : x + (size_t)(v - n_hist) * frame;
          for (int dy = 0; dy < d.kh; ++dy) {
            const int iy = oy * d.sh - d.pad_top + dy;
            for (int dx = 0; dx < d.kw; ++dx) {
              const int ix = ox * d.sw - d.pad_left + dx;
              const int tap = (dt * d.kh + dy) * d.kw + dx;
              const bool inside = f && iy >= 0 && iy < h && ix >= 0 && ix < w;
              const float* p = inside ? f + ((size_t)iy * w + ix) * d.cin : nullptr;
              for (int ci = 0; ci < d.cin; ++ci) c[(size_t)ci * taps + tap] = p ? p[ci] : 0.f;
            }
          }
        }
      }
    });
    matmul_cpu(out + (size_t)r0 * d.cout, col.data(), wgt, bias, nr, k, d.cout, ctx);
  }
}
