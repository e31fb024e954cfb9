// CPU attention, two paths with the same softmax (f32 scores, max subtracted, sum in double):
// - blocked (n_q >= 4 where matmul's packed SIMD GEMM runs): per (head, block of queries) the scores are one GEMM
//   Q_h · K_h^T and the output one GEMM P · V_h (gemm_f32_cpu on the strided heads in place, no copies), so the
//   Generator's 300-token forwards and the prefills run at GEMM speed; parallel over (head, query block);
// - per (query, head) dot products, scores in a per-thread buffer: decode (1 query, many heads) and other CPUs.
// Each output is one task's work either way, so the thread count does not change the numbers.
#include <algorithm>
#include <cmath>
#include <vector>

#include "../core/parallel.h"
#include "attention.h"
#include "matmul.h"

namespace {
void attention_blocked(float* out, const float* q, const float* k, const float* v, int n_q, int n_kv, int q_heads,
                       int kv_heads, int head_dim, int q_offset, bool causal, float scale,
                       const cosmos::CpuContext& ctx) {
  const int group = q_heads / kv_heads, hd = head_dim;
  const int ldq = q_heads * hd, ldkv = kv_heads * hd;
  // Query block: up to 256 rows (each block packs its head's K and V once), fewer when the score block would pass
  // 256k floats (1 MiB per thread).
  const int qb = std::max(1, std::min(256, 262144 / std::max(1, n_kv)));
  const int blocks = (n_q + qb - 1) / qb;
  cosmos::parallel_for(ctx, q_heads * blocks, 1, [&](int t0, int t1) {
    std::vector<float> scores, pack;
    for (int t = t0; t < t1; ++t) {
      const int h = t / blocks, i0 = (t % blocks) * qb, nb = std::min(qb, n_q - i0), kh = h / group;
      const int width = causal ? std::min(n_kv, q_offset + i0 + nb) : n_kv;  // keys the block's last row sees
      float* o = out + (size_t)i0 * ldq + (size_t)h * hd;
      if (width <= 0) {
        for (int r = 0; r < nb; ++r) std::fill(o + (size_t)r * ldq, o + (size_t)r * ldq + hd, 0.f);
        continue;
      }
      scores.resize((size_t)nb * width);
      gemm_f32_cpu(scores.data(), width, q + (size_t)i0 * ldq + (size_t)h * hd, ldq, k + (size_t)kh * hd, ldkv, false,
                   nb, hd, width, pack);
      for (int r = 0; r < nb; ++r) {
        float* sc = scores.data() + (size_t)r * width;
        const int last = causal ? std::min(n_kv, q_offset + i0 + r + 1) : n_kv;
        if (last <= 0) {
          std::fill(sc, sc + width, 0.f);
          continue;
        }
        float mx = -INFINITY;
        for (int j = 0; j < last; ++j) mx = std::max(mx, sc[j] *= scale);
        double sum = 0;
        for (int j = 0; j < last; ++j) sum += (sc[j] = std::exp(sc[j] - mx));
        const float inv = (float)(1.0 / sum);
        for (int j = 0; j < last; ++j) sc[j] *= inv;
        std::fill(sc + last, sc + width, 0.f);  // causal: keys past the row's position
      }
      gemm_f32_cpu(o, ldq, scores.data(), width, v + (size_t)kh * hd, ldkv, true, nb, width, hd, pack);
    }
  });
}
}  // namespace

void attention_cpu(float* out, const float* q, const float* k, const float* v, int n_q, int n_kv, int q_heads,
                   int kv_heads, int head_dim, int q_offset, bool causal, float scale, const cosmos::CpuContext& ctx) {
  if (n_q >= 4 && gemm_f32_cpu_packed()) {
    attention_blocked(out, q, k, v, n_q, n_kv, q_heads, kv_heads, head_dim, q_offset, causal, scale, ctx);
    return;
  }
  int group = q_heads / kv_heads;
  int work = n_q * q_heads;
  int min_chunk = std::max(1, 16384 / std::max(1, n_kv * head_dim));
  cosmos::parallel_for(ctx, work, min_chunk, [&](int w0, int w1) {
    std::vector<float> sc(std::max(1, n_kv));
    for (int w = w0; w < w1; ++w) {
      int i = w / q_heads, h = w % q_heads, kh = h / group;
      const float* qi = q + ((size_t)i * q_heads + h) * head_dim;
      float* o = out + ((size_t)i * q_heads + h) * head_dim;
      int last = causal ? std::min(n_kv, q_offset + i + 1) : n_kv;
      if (last <= 0) {
        std::fill(o, o + head_dim, 0.f);
        continue;
      }
      float mx = -INFINITY;
      for (int j = 0; j < last; ++j) {
        const float* kj = k + ((size_t)j * kv_heads + kh) * head_dim;
        float s = 0;
        for (int d = 0; d < head_dim; ++d) s += qi[d] * kj[d];
        s *= scale;
        sc[j] = s;
        mx = std::max(mx, s);
      }
      double sum = 0;
      for (int j = 0; j < last; ++j) {
        sc[j] = std::exp(sc[j] - mx);
        sum += sc[j];
      }
      float inv = (float)(1.0 / sum);
      std::fill(o, o + head_dim, 0.f);
      for (int j = 0; j < last; ++j) {
        const float* vj = v + ((size_t)j * kv_heads + kh) * head_dim;
        float p = sc[j] * inv;
        for (int d = 0; d < head_dim; ++d) o[d] += p * vj[d];
      }
    }
  });
}
