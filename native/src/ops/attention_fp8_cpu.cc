// CPU twin of attention_fp8 (see attention_fp8.h): the same scales and bytes as the CUDA op's operand preparation,
// the same tiles of the online softmax and the same e4m3 rounding of the probabilities.
#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <string>
#include <vector>

#include "attention_fp8.h"
#include "quantize_fp8.h"

namespace {
float round_e4m3(float x) { return fp8_e4m3_to_float(fp8_e4m3_from_float(x)); }

// k or v [n, heads, hd] -> the decoded 8-bit values (x8, same layout: int8 or e4m3) and one scale per head.
void quantize_per_head(std::vector<float>& x8, std::vector<float>& s, const float* x, int n, int heads, int hd,
                       bool int8) {
  s.assign(heads, 0.f);
  for (int h = 0; h < heads; ++h) {
    float amax = 0.f;
    for (int r = 0; r < n; ++r)
      for (int d = 0; d < hd; ++d) amax = std::fmax(amax, std::fabs(x[((size_t)r * heads + h) * hd + d]));
    s[h] = int8 ? int8_scale_for_absmax(amax) : fp8_scale_for_absmax(amax);
  }
  x8.resize((size_t)n * heads * hd);
  for (int r = 0; r < n; ++r)
    for (int h = 0; h < heads; ++h)
      for (int d = 0; d < hd; ++d) {
        const size_t i = ((size_t)r * heads + h) * hd + d;
        x8[i] = int8 ? (float)int8_round(x[i] / s[h]) : round_e4m3(x[i] / s[h]);
      }
}
}  // namespace

void attention_fp8_cpu(float* out, const float* q, const float* k, const float* v, int n_q, int n_kv, int q_heads,
                       int kv_heads, int head_dim, int q_offset, bool causal, float scale,
                       const cosmos::CpuContext& ctx) {
  const int hd = head_dim;
  if (hd < 1 || hd > 128 || kv_heads < 1 || q_heads % kv_heads != 0)
    throw std::invalid_argument("attention_fp8_cpu: head_dim must be 1..128 and q_heads a multiple of kv_heads, got " +
                                std::to_string(hd) + ", " + std::to_string(q_heads) + " / " + std::to_string(kv_heads));
  if (n_q <= 0) return;
  std::vector<float> k8, v8, sk, sv;
  quantize_per_head(k8, sk, k, n_kv, kv_heads, hd, true);
  quantize_per_head(v8, sv, v, n_kv, kv_heads, hd, false);
  const float scale_log2 = scale * 1.4426950408889634f;  // as the CUDA op's host side computes it
  const int group = q_heads / kv_heads;
  cosmos::parallel_for(ctx, n_q * q_heads, 16, [&](int t0, int t1) {
    std::vector<float> q8(hd), o(hd), p(kFp8AttentionTile);
    for (int t = t0; t < t1; ++t) {
      const int i = t / q_heads, h = t % q_heads, kh = h / group;
      const float* qrow = q + ((size_t)i * q_heads + h) * hd;
      float amax = 0.f;  // q's row scale
      for (int d = 0; d < hd; ++d) amax = std::fmax(amax, std::fabs(qrow[d]));
      const float sq = int8_scale_for_absmax(amax);
      for (int d = 0; d < hd; ++d) q8[d] = (float)int8_round(qrow[d] / sq);
      const float c = scale_log2 * sq * sk[kh];
      const int last = causal ? std::min(n_kv, q_offset + i + 1) : n_kv;  // keys this row sees
      std::fill(o.begin(), o.end(), 0.f);
      float m = -INFINITY, l = 0.f;
      for (int j0 = 0; j0 < last; j0 += kFp8AttentionTile) {
        const int nj = std::min(kFp8AttentionTile, last - j0);
        float mx = -INFINITY;
        for (int j = 0; j < nj; ++j) {
          const float* krow = k8.data() + ((size_t)(j0 + j) * kv_heads + kh) * hd;
          float s = 0.f;
          for (int d = 0; d < hd; ++d) s += q8[d] * krow[d];
          p[j] = s;
          mx = std::fmax(mx, s);
        }
        const float m_new = std::fmax(m, mx * c);
        const float alpha = std::exp2(m - m_new);
        const float m_p = m_new - 8.f;  // probabilities x 256
        float sum = 0.f;
        for (int j = 0; j < nj; ++j) {
          p[j] = std::exp2(std::fma(p[j], c, -m_p));
          sum += p[j];
        }
        l = l * alpha + sum;
        if (alpha != 1.f)
          for (int d = 0; d < hd; ++d) o[d] *= alpha;
        for (int j = 0; j < nj; ++j) {
          const float pj = round_e4m3(p[j]);
          if (pj == 0.f) continue;
          const float* vrow = v8.data() + ((size_t)(j0 + j) * kv_heads + kh) * hd;
          for (int d = 0; d < hd; ++d) o[d] += pj * vrow[d];
        }
        m = m_new;
      }
      float* orow = out + ((size_t)i * q_heads + h) * hd;
      const float inv = l > 0.f ? sv[kh] / l : 0.f;
      for (int d = 0; d < hd; ++d) orow[d] = o[d] * inv;
    }
  });
}
