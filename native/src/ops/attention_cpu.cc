// Reference attention: one (query, head) pair at a time, scores in a per-thread buffer.
// Parallel over query rows x heads so both prefill (many rows) and decode (1 row, many heads) spread.
#include "attention.h"

#include <algorithm>
#include <cmath>
#include <vector>

#include "../core/parallel.h"

void attention_cpu(float* out, const float* q, const float* k, const float* v, int n_q, int n_kv, int q_heads,
                   int kv_heads, int head_dim, int q_offset, bool causal, float scale, const cosmos::CpuContext& ctx) {
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
