// conv3d_igemm_emulate_cpu: conv3d_igemm_cuda's tiles, windows and bf16 rounding on the host, through the same
// index functions (conv3d_igemm.h), so the CPU tests check the kernel's index math. See conv3d_igemm.h.
#include <algorithm>
#include <stdexcept>
#include <vector>

#include "conv3d_igemm.h"

void conv3d_igemm_emulate_cpu(float* out, const float* hist, int n_hist, const float* x, int t, int h, int w,
                              const float* wgt, const float* bias, const Conv3dDims& d, bool out_bf16,
                              size_t window_cap_bytes) {
  using namespace cosmos;
  if (!conv3d_igemm_supported(d)) throw std::invalid_argument("conv3d_igemm: d.cin must be a positive multiple of 8");
  const int ot = d.out_t(n_hist, t), oh = d.out_h(h), ow = d.out_w(w);
  if (ot <= 0 || oh <= 0 || ow <= 0) return;
  const IgemmGeometry g = igemm_geometry(d, h, w);
  const int taps = g.taps(), ktiles = g.ktiles();
  const size_t frame = (size_t)h * w * d.cin;
  std::vector<float> packed((size_t)d.cout * taps * d.cin);  // step 1: the tap-major bf16 weight
  for (long long i = 0; i < (long long)packed.size(); ++i)
    packed[i] = igemm_round_bf16(wgt[igemm_pack_source(d.cin, taps, i)]);
  const int per = igemm_frames_per_launch(d, ot, h, w, window_cap_bytes);
  std::vector<float> win, A((size_t)kIgemmBM * kIgemmBK), B((size_t)kIgemmBN * kIgemmBK), acc;
  for (int o0 = 0; o0 < ot; o0 += per) {
    const int frames = std::min(per, ot - o0), nv = igemm_window_frames(d, frames), v0 = o0 * d.st;
    win.assign((size_t)nv * frame, 0.f);  // step 2: the bf16 window (zeros for a null history)
    for (int i = 0; i < nv; ++i) {
      const int v = v0 + i;
      const float* f = v < n_hist ? (hist ? hist + (size_t)v * frame : nullptr) : x + (size_t)(v - n_hist) * frame;
      if (f)
        for (size_t e = 0; e < frame; ++e) win[(size_t)i * frame + e] = igemm_round_bf16(f[e]);
    }
    const int M = frames * oh * ow;
    float* ob = out + (size_t)o0 * oh * ow * d.cout;
    for (int bm = 0; bm < M; bm += kIgemmBM)  // step 3: the kernel's block tiles
      for (int bn = 0; bn < d.cout; bn += kIgemmBN) {
        acc.assign((size_t)kIgemmBM * kIgemmBN, 0.f);
        IgemmKTile k = igemm_ktile(g, 0);
        for (int kt = 0; kt < ktiles; ++kt, igemm_ktile_next(g, k)) {  // stepped, as the kernel does
          for (int r = 0; r < kIgemmBM; ++r) {  // 16-byte chunks of 8 channels, as the cp.async copies
            const int row = bm + r;
            const IgemmRowOrigin o = row < M ? igemm_row_origin(g, row) : IgemmRowOrigin{};
            for (int c = 0; c < kIgemmBK / 8; ++c) {
              const long long off = row < M ? igemm_a_offset(g, o, k, k.ci0 + 8 * c) : -1;
              for (int e = 0; e < 8; ++e) A[(size_t)r * kIgemmBK + 8 * c + e] = off < 0 ? 0.f : win[off + e];
            }
          }
          for (int n = 0; n < kIgemmBN; ++n)
            for (int c = 0; c < kIgemmBK / 8; ++c) {
              const long long off = igemm_b_offset(g, bn + n, k.tap, k.ci0 + 8 * c);
              for (int e = 0; e < 8; ++e) B[(size_t)n * kIgemmBK + 8 * c + e] = off < 0 ? 0.f : packed[off + e];
            }
          for (int r = 0; r < kIgemmBM; ++r)
            for (int n = 0; n < kIgemmBN; ++n) {
              float s = 0.f;
              for (int e = 0; e < kIgemmBK; ++e) s += A[(size_t)r * kIgemmBK + e] * B[(size_t)n * kIgemmBK + e];
              acc[(size_t)r * kIgemmBN + n] += s;
            }
        }
        for (int r = 0; r < kIgemmBM && bm + r < M; ++r)
          for (int n = 0; n < kIgemmBN && bn + n < d.cout; ++n) {
            const float v = acc[(size_t)r * kIgemmBN + n] + (bias ? bias[bn + n] : 0.f);
            ob[(size_t)(bm + r) * d.cout + bn + n] = out_bf16 ? igemm_round_bf16(v) : v;
          }
      }
  }
}
