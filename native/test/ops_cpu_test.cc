// CPU ops against direct formulas (double precision, no blocking, no threads): catches tiling,
// threading-split, GQA-indexing and mRoPE-axis mistakes at odd sizes. The model-level reference
// (transformers) is test/native/qwen3_text.test.ts. Prints a JSON summary; exit 1 on any failure.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <map>
#include <mutex>
#include <random>
#include <string>
#include <vector>

#include "../src/ops/add.h"
#include "../src/ops/add_rmsnorm.h"
#include "../src/ops/fill_uniform.h"
#include "../src/ops/gather4_add.h"
#include "../src/ops/qkv_rope.h"
#include "../src/ops/scatter_add_rows.h"
#include "../src/ops/argmax.h"
#include "../src/ops/attention.h"
#include "../src/ops/embedding.h"
#include "../src/ops/gelu.h"
#include "../src/ops/layernorm.h"
#include "../src/ops/matmul.h"
#include "../src/ops/rmsnorm.h"
#include "../src/ops/rope.h"
#include "../src/ops/sample.h"
#include "../src/ops/softmax.h"
#include "../src/ops/swiglu.h"

static int checks = 0, failures = 0;
static std::map<std::string, double> worst;
static std::mt19937 rng(42);

static std::vector<float> randv(size_t n, float s = 1.f) {
  std::normal_distribution<float> d(0.f, s);
  std::vector<float> v(n);
  for (auto& x : v) x = d(rng);
  return v;
}
static void close(const char* what, const std::vector<float>& got, const std::vector<double>& ref, double tol) {
  double m = 0;
  for (size_t i = 0; i < ref.size(); ++i) m = std::max(m, std::fabs(got[i] - ref[i]) / (1.0 + std::fabs(ref[i])));
  worst[what] = std::max(worst[what], m);
  ++checks;
  if (!(m <= tol)) { ++failures; std::fprintf(stderr, "%s: rel err %g > %g\n", what, m, tol); }
}
static void truth(const char* what, bool ok) {
  ++checks;
  if (!ok) { ++failures; std::fprintf(stderr, "%s failed\n", what); }
}

int main() {
  // matmul, including sizes that are not multiples of the 4x4 tile or the k block, and n=1 (decode).
  int sizes[][3] = {{1, 7, 13}, {5, 64, 33}, {37, 600, 129}, {1, 1030, 257}, {64, 64, 64}};
  for (auto& s : sizes) {
    int n = s[0], k = s[1], m = s[2];
    auto x = randv((size_t)n * k), w = randv((size_t)m * k), b = randv(m);
    std::vector<float> out((size_t)n * m);
    std::vector<double> ref((size_t)n * m);
    for (int bias = 0; bias < 2; ++bias) {
      matmul_cpu(out.data(), x.data(), w.data(), bias ? b.data() : nullptr, n, k, m, cosmos::CpuContext{});
      for (int i = 0; i < n; ++i)
        for (int j = 0; j < m; ++j) {
          double a = bias ? b[j] : 0;
          for (int t = 0; t < k; ++t) a += (double)x[(size_t)i * k + t] * w[(size_t)j * k + t];
          ref[(size_t)i * m + j] = a;
        }
      close("matmul", out, ref, 1e-4);
    }
  }
  // The CPU context: parallel_for splits into exactly ctx.threads chunks (1: one inline call), and the
  // thread count does not change matmul's or attention's numbers (each output is one thread's work).
  {
    for (int t : {1, 3}) {
      std::mutex mu;
      std::vector<std::pair<int, int>> chunks;
      cosmos::parallel_for(cosmos::CpuContext{t}, 300, 1, [&](int b, int e) {
        std::lock_guard<std::mutex> l(mu);
        chunks.push_back({b, e});
      });
      std::sort(chunks.begin(), chunks.end());
      bool cover = !chunks.empty() && chunks.front().first == 0 && chunks.back().second == 300;
      for (size_t i = 1; i < chunks.size(); ++i) cover = cover && chunks[i].first == chunks[i - 1].second;
      truth(t == 1 ? "parallel_for ctx.threads=1: one chunk" : "parallel_for ctx.threads=3: three chunks",
            (int)chunks.size() == t && cover);
    }
    int n = 37, k = 600, m = 129;
    auto x = randv((size_t)n * k), w = randv((size_t)m * k);
    std::vector<float> one((size_t)n * m), many((size_t)n * m);
    matmul_cpu(one.data(), x.data(), w.data(), nullptr, n, k, m, cosmos::CpuContext{1});
    matmul_cpu(many.data(), x.data(), w.data(), nullptr, n, k, m, cosmos::CpuContext{4});
    truth("matmul_cpu: 1 thread == 4 threads (bitwise)", one == many);
    int nq = 9, nkv = 40, qh = 4, kvh = 2, hd = 16;
    auto q = randv((size_t)nq * qh * hd), kk = randv((size_t)nkv * kvh * hd), vv = randv((size_t)nkv * kvh * hd);
    std::vector<float> a1((size_t)nq * qh * hd), a4(a1.size());
    attention_cpu(a1.data(), q.data(), kk.data(), vv.data(), nq, nkv, qh, kvh, hd, nkv - nq, true, 0.25f,
                  cosmos::CpuContext{1});
    attention_cpu(a4.data(), q.data(), kk.data(), vv.data(), nq, nkv, qh, kvh, hd, nkv - nq, true, 0.25f,
                  cosmos::CpuContext{4});
    truth("attention_cpu: 1 thread == 4 threads (bitwise)", a1 == a4);
  }
  // attention: GQA 6 q heads / 2 kv heads, causal with a cache offset, and full (non-causal).
  {
    int nq = 5, off = 7, nkv = off + nq, qh = 6, kvh = 2, hd = 8;
    auto q = randv((size_t)nq * qh * hd), k = randv((size_t)nkv * kvh * hd), v = randv((size_t)nkv * kvh * hd);
    for (int causal = 0; causal < 2; ++causal) {
      std::vector<float> out((size_t)nq * qh * hd);
      float scale = 1.f / std::sqrt((float)hd);
      attention_cpu(out.data(), q.data(), k.data(), v.data(), nq, nkv, qh, kvh, hd, off, causal, scale,
                    cosmos::CpuContext{});
      std::vector<double> ref(out.size(), 0);
      for (int i = 0; i < nq; ++i)
        for (int h = 0; h < qh; ++h) {
          int kh = h / (qh / kvh), last = causal ? off + i + 1 : nkv;
          std::vector<double> s(last);
          double mx = -1e300, sum = 0;
          for (int j = 0; j < last; ++j) {
            double a = 0;
            for (int d = 0; d < hd; ++d) a += (double)q[((size_t)i * qh + h) * hd + d] * k[((size_t)j * kvh + kh) * hd + d];
            s[j] = a * scale;
            mx = std::max(mx, s[j]);
          }
          for (int j = 0; j < last; ++j) sum += (s[j] = std::exp(s[j] - mx));
          for (int j = 0; j < last; ++j)
            for (int d = 0; d < hd; ++d) ref[((size_t)i * qh + h) * hd + d] += s[j] / sum * v[((size_t)j * kvh + kh) * hd + d];
        }
      close(causal ? "attention_causal" : "attention_full", out, ref, 1e-5);
    }
  }
  // mRoPE tables: interleaved sections [4,2,2] (head_dim 16): frequency j uses h for j%3==1, j<6;
  // w for j%3==2, j<6; else t. Non-interleaved: chunks [t t t t | h h | w w].
  {
    int hd = 16, T = 3, sec[3] = {4, 2, 2};
    int pos3[9] = {5, 6, 7, /*h*/ 11, 12, 13, /*w*/ 21, 22, 23};
    for (int il = 0; il < 2; ++il) {
      std::vector<float> c((size_t)T * hd), s((size_t)T * hd);
      mrope_tables_cpu(c.data(), s.data(), pos3, T, hd, 10000.f, sec, il);
      std::vector<double> rc(c.size()), rs(s.size());
      for (int t = 0; t < T; ++t)
        for (int j = 0; j < hd / 2; ++j) {
          int ax = 0;
          if (il) ax = (j % 3 == 1 && j < 6) ? 1 : (j % 3 == 2 && j < 6) ? 2 : 0;
          else ax = j < 4 ? 0 : (j < 6 ? 1 : 2);
          double ang = pos3[ax * T + t] * std::pow(10000.0, -2.0 * j / hd);
          rc[t * hd + j] = rc[t * hd + j + hd / 2] = std::cos(ang);
          rs[t * hd + j] = rs[t * hd + j + hd / 2] = std::sin(ang);
        }
      close(il ? "mrope_interleaved_cos" : "mrope_chunked_cos", c, rc, 1e-5);
      close(il ? "mrope_interleaved_sin" : "mrope_chunked_sin", s, rs, 1e-5);
      // rope_apply: x*cos + rotate_half(x)*sin, rotate_half = cat(-x2, x1)
      int heads = 3;
      auto x = randv((size_t)T * heads * hd);
      auto y = x;
      rope_apply_cpu(y.data(), c.data(), s.data(), T, heads, hd);
      std::vector<double> ry(y.size());
      for (int t = 0; t < T; ++t)
        for (int h = 0; h < heads; ++h)
          for (int d = 0; d < hd; ++d) {
            size_t o = ((size_t)t * heads + h) * hd;
            double rot = d < hd / 2 ? -x[o + d + hd / 2] : x[o + d - hd / 2];
            ry[o + d] = x[o + d] * rc[t * hd + d] + rot * rs[t * hd + d];
          }
      close("rope_apply", y, ry, 1e-5);
    }
  }
  // norms, softmax, activations, embedding, add, argmax
  {
    int rows = 3, dim = 37;
    auto x = randv((size_t)rows * dim, 3.f), w = randv(dim), b = randv(dim);
    std::vector<float> o(x.size());
    std::vector<double> r(x.size());
    rmsnorm_cpu(o.data(), x.data(), w.data(), rows, dim, 1e-6f);
    for (int i = 0; i < rows; ++i) {
      double ss = 0;
      for (int d = 0; d < dim; ++d) ss += (double)x[i * dim + d] * x[i * dim + d];
      for (int d = 0; d < dim; ++d) r[i * dim + d] = x[i * dim + d] / std::sqrt(ss / dim + 1e-6) * w[d];
    }
    close("rmsnorm", o, r, 1e-5);
    layernorm_cpu(o.data(), x.data(), w.data(), b.data(), rows, dim, 1e-5f);
    for (int i = 0; i < rows; ++i) {
      double mu = 0, var = 0;
      for (int d = 0; d < dim; ++d) mu += x[i * dim + d];
      mu /= dim;
      for (int d = 0; d < dim; ++d) var += (x[i * dim + d] - mu) * (x[i * dim + d] - mu);
      var /= dim;
      for (int d = 0; d < dim; ++d) r[i * dim + d] = (x[i * dim + d] - mu) / std::sqrt(var + 1e-5) * w[d] + b[d];
    }
    close("layernorm", o, r, 1e-5);
    o = x;
    softmax_cpu(o.data(), rows, dim);
    for (int i = 0; i < rows; ++i) {
      double mx = -1e300, s = 0;
      for (int d = 0; d < dim; ++d) mx = std::max(mx, (double)x[i * dim + d]);
      for (int d = 0; d < dim; ++d) s += std::exp(x[i * dim + d] - mx);
      for (int d = 0; d < dim; ++d) r[i * dim + d] = std::exp(x[i * dim + d] - mx) / s;
    }
    close("softmax", o, r, 1e-6);
    auto g = randv(dim, 3.f), u = randv(dim);
    std::vector<float> sw(dim);
    std::vector<double> rsw(dim);
    swiglu_cpu(sw.data(), g.data(), u.data(), dim);
    for (int d = 0; d < dim; ++d) rsw[d] = g[d] / (1 + std::exp(-(double)g[d])) * u[d];
    close("swiglu", sw, rsw, 1e-6);
    std::vector<float> ge = g;
    gelu_erf_cpu(ge.data(), dim);
    for (int d = 0; d < dim; ++d) rsw[d] = 0.5 * g[d] * (1 + std::erf(g[d] / std::sqrt(2.0)));
    close("gelu_erf", ge, rsw, 1e-6);
    ge = g;
    gelu_tanh_cpu(ge.data(), dim);
    for (int d = 0; d < dim; ++d) rsw[d] = 0.5 * g[d] * (1 + std::tanh(std::sqrt(2 / M_PI) * (g[d] + 0.044715 * std::pow((double)g[d], 3))));
    close("gelu_tanh", ge, rsw, 1e-6);
    int ids[3] = {2, 0, 2};
    std::vector<float> emb(3 * dim);
    embedding_cpu(emb.data(), x.data(), ids, 3, dim);
    truth("embedding", emb[0] == x[2 * dim] && emb[dim] == x[0] && emb[2 * dim + 5] == x[2 * dim + 5]);
    std::vector<float> sum(dim);
    add_cpu(sum.data(), g.data(), u.data(), dim);
    truth("add", sum[3] == g[3] + u[3]);
    float am[6] = {1, 5, 2, 5, -1, 0};
    truth("argmax first max", argmax_cpu(am, 6) == 1);
  }
  // sampling
  {
    std::vector<float> base = {1.0f, 3.0f, 2.0f, 0.5f, 2.9f};
    auto L = base;
    uint64_t st = 7;
    SamplingParams greedy{0, 0, 1, 1, 0};
    truth("temperature 0 = argmax", sample_cpu(L.data(), 5, greedy, nullptr, 0, &st) == 1);
    L = base;
    SamplingParams k1{1.0f, 1, 1, 1, 0};
    truth("top_k 1 = argmax", sample_cpu(L.data(), 5, k1, nullptr, 0, &st) == 1);
    L = base;
    SamplingParams p0{1.0f, 0, 0.01f, 1, 0};
    truth("tiny top_p = argmax", sample_cpu(L.data(), 5, p0, nullptr, 0, &st) == 1);
    int hist[1] = {1};
    L = base;
    SamplingParams rep{0, 0, 1, 2.0f, 0};  // 3.0/2 = 1.5 < 2.9 -> token 4 wins
    truth("repetition penalty", sample_cpu(L.data(), 5, rep, hist, 1, &st) == 4);
    L = base;
    SamplingParams pres{0, 0, 1, 1, 0.2f};  // 3.0-0.2 = 2.8 < 2.9
    truth("presence penalty", sample_cpu(L.data(), 5, pres, hist, 1, &st) == 4);
    // same seed -> same draws; empirical frequencies follow softmax(logits / T)
    SamplingParams t1{1.0f, 0, 1, 1, 0};
    uint64_t s1 = 99, s2 = 99;
    bool same = true;
    std::vector<int> cnt(5, 0);
    const int N = 40000;
    for (int i = 0; i < N; ++i) {
      auto a = base, b = base;
      int x = sample_cpu(a.data(), 5, t1, nullptr, 0, &s1);
      same &= x == sample_cpu(b.data(), 5, t1, nullptr, 0, &s2);
      cnt[x]++;
    }
    truth("seeded determinism", same);
    double z = 0, md = 0;
    for (float v : base) z += std::exp(v);
    for (int i = 0; i < 5; ++i) md = std::max(md, std::fabs(cnt[i] / (double)N - std::exp(base[i]) / z));
    worst["sample_freq_vs_softmax"] = md;
    truth("sampling frequencies follow softmax (|diff| < 0.015)", md < 0.015);
    // top-k 2 never draws outside the two best
    SamplingParams k2{1.0f, 2, 1, 1, 0};
    bool in2 = true;
    for (int i = 0; i < 2000; ++i) {
      auto a = base;
      int x = sample_cpu(a.data(), 5, k2, nullptr, 0, &s1);
      in2 &= (x == 1 || x == 4);
    }
    truth("top_k 2 stays in the top 2", in2);
  }
  // qkv_rope (the attention block's fused prep): per-head RMSNorm (optional) + rotate_half rotary + k/v
  // to their rows, from strided inputs, against the formulas in double. Cases: the decoder's prefill
  // (separate q/k/v, in place, k/v to cache rows from row0, GQA), the tower's (fused [q|k|v] rows, no
  // norm, split into new buffers) and decode (one fused row, q in place).
  {
    struct Case { int n, heads, kv, hd, row0; bool norm, fused, inplace; const char* what; };
    const Case cases[] = {{5, 4, 2, 16, 3, true, false, true, "qkv_rope_norm_cache"},
                          {7, 3, 3, 12, 0, false, true, false, "qkv_rope_split"},
                          {1, 4, 1, 8, 9, true, true, true, "qkv_rope_decode"}};
    for (const Case& c : cases) {
      const int QH = c.heads * c.hd, KH = c.kv * c.hd, W = QH + 2 * KH;
      auto proj = randv((size_t)c.n * W), cs = randv((size_t)c.n * c.hd), sn = randv((size_t)c.n * c.hd);
      auto qw = randv(c.hd), kw = randv(c.hd);
      // Inputs: fused rows [q | k | v] of width W, or three dense blocks [n, QH] [n, KH] [n, KH].
      std::vector<float> buf = proj;
      float* qi = buf.data();
      float* ki = c.fused ? qi + QH : qi + (size_t)c.n * QH;
      float* vi = c.fused ? qi + QH + KH : ki + (size_t)c.n * KH;
      const int qs = c.fused ? W : QH, kvs = c.fused ? W : KH;
      auto in_at = [&](const float* base, int stride, int t, int h, int d) { return (double)base[(size_t)t * stride + h * c.hd + d]; };
      std::vector<float> qo((size_t)c.n * QH, -7.f), ko((size_t)(c.row0 + c.n) * KH, -7.f), vo = ko;
      // The expected values come from the inputs before the op runs (in place overwrites them).
      std::vector<double> rq((size_t)c.n * QH), rk((size_t)c.n * KH), rv((size_t)c.n * KH);
      auto prep = [&](const float* base, int stride, const float* w, int heads, std::vector<double>& out) {
        for (int t = 0; t < c.n; ++t)
          for (int h = 0; h < heads; ++h) {
            std::vector<double> y(c.hd);
            double ss = 0;
            for (int d = 0; d < c.hd; ++d) ss += in_at(base, stride, t, h, d) * in_at(base, stride, t, h, d);
            const double inv = c.norm ? 1.0 / std::sqrt(ss / c.hd + 1e-6) : 1.0;
            for (int d = 0; d < c.hd; ++d) y[d] = (c.norm ? w[d] : 1.0) * in_at(base, stride, t, h, d) * inv;
            const int half = c.hd / 2;
            for (int d = 0; d < c.hd; ++d) {
              const double rot = d < half ? -y[d + half] : y[d - half];
              out[((size_t)t * heads + h) * c.hd + d] = y[d] * cs[(size_t)t * c.hd + d] + rot * sn[(size_t)t * c.hd + d];
            }
          }
      };
      prep(qi, qs, qw.data(), c.heads, rq);
      prep(ki, kvs, kw.data(), c.kv, rk);
      for (int t = 0; t < c.n; ++t)
        for (int i = 0; i < KH; ++i) rv[(size_t)t * KH + i] = vi[(size_t)t * kvs + i];
      float* q_out = c.inplace ? qi : qo.data();
      qkv_rope_cpu(q_out, ko.data(), vo.data(), qi, ki, vi, qs, kvs, c.norm ? qw.data() : nullptr,
                   c.norm ? kw.data() : nullptr, cs.data(), sn.data(), c.n, c.heads, c.kv, c.hd, 1e-6f, c.row0);
      std::vector<float> gq(q_out, q_out + (size_t)c.n * QH);
      close(c.what, gq, rq, 1e-5);
      close(c.what, std::vector<float>(ko.begin() + (size_t)c.row0 * KH, ko.end()), rk, 1e-5);
      close(c.what, std::vector<float>(vo.begin() + (size_t)c.row0 * KH, vo.end()), rv, 0);
      bool untouched = true;  // rows before row0 are not written
      for (size_t i = 0; i < (size_t)c.row0 * KH; ++i) untouched = untouched && ko[i] == -7.f && vo[i] == -7.f;
      truth("qkv_rope: cache rows before row0 untouched", untouched);
    }
  }
  // add_rmsnorm: x += h; out = rmsnorm(x) * w (out aliasing h, as the decoder calls it).
  {
    const int rows = 3, dim = 100;
    auto x = randv(rows * dim), h = randv(rows * dim), w = randv(dim);
    std::vector<double> rx(rows * dim), ro(rows * dim);
    for (int r = 0; r < rows; ++r) {
      double ss = 0;
      for (int i = 0; i < dim; ++i) {
        rx[r * dim + i] = (double)x[r * dim + i] + h[r * dim + i];
        ss += rx[r * dim + i] * rx[r * dim + i];
      }
      for (int i = 0; i < dim; ++i) ro[r * dim + i] = w[i] * rx[r * dim + i] / std::sqrt(ss / dim + 1e-6);
    }
    add_rmsnorm_cpu(h.data(), x.data(), h.data(), w.data(), rows, dim, 1e-6f);
    close("add_rmsnorm_x", x, rx, 1e-6);
    close("add_rmsnorm", h, ro, 1e-5);
  }
  // scatter_add_rows (deepstack) and gather4_add (the tower's interpolated position table).
  {
    const int dim = 9, n_rows = 3;
    auto x = randv(6 * dim), add = randv(n_rows * dim);
    const int rows[n_rows] = {4, 0, 2};
    std::vector<double> ref(x.begin(), x.end());
    for (int r = 0; r < n_rows; ++r)
      for (int i = 0; i < dim; ++i) ref[rows[r] * dim + i] += add[r * dim + i];
    scatter_add_rows_cpu(x.data(), rows, add.data(), n_rows, dim);
    close("scatter_add_rows", x, ref, 1e-6);

    const int n = 5, table_rows = 16;
    auto table = randv(table_rows * dim), y = randv(n * dim), wt = randv(4 * n);
    std::vector<int> idx(4 * n);
    for (auto& i : idx) i = (int)(rng() % table_rows);
    std::vector<double> gref(y.begin(), y.end());
    for (int p = 0; p < n; ++p)
      for (int d = 0; d < dim; ++d)
        for (int c = 0; c < 4; ++c) gref[p * dim + d] += (double)table[idx[4 * p + c] * dim + d] * wt[4 * p + c];
    gather4_add_cpu(y.data(), table.data(), idx.data(), wt.data(), n, dim);
    close("gather4_add", y, gref, 1e-5);
  }
  // fill_uniform: reproducible per element, in [c - a, c + a), mean ~c and std ~a/sqrt(3); a = 0 is c.
  {
    const long long n = 100000;
    std::vector<float> p(n), q(n);
    fill_uniform_cpu(p.data(), n, 7, 0.5f, 1.0f);
    fill_uniform_cpu(q.data(), n, 7, 0.5f, 1.0f);
    double mean = 0, var = 0;
    bool in_range = true;
    for (long long i = 0; i < n; ++i) {
      mean += p[i];
      in_range = in_range && p[i] >= 0.5f && p[i] < 1.5f;
    }
    mean /= n;
    for (long long i = 0; i < n; ++i) var += (p[i] - mean) * (p[i] - mean);
    const double sd = std::sqrt(var / n);
    truth("fill_uniform: same seed, same values", p == q);
    truth("fill_uniform: range, mean and std", in_range && std::fabs(mean - 1.0) < 0.01 &&
                                                    std::fabs(sd - 0.5 / std::sqrt(3.0)) < 0.01);
    fill_uniform_cpu(q.data(), 10, 8, 0.5f, 1.0f);
    truth("fill_uniform: another seed, other values", q[0] != p[0] || q[1] != p[1]);
    fill_uniform_cpu(q.data(), 10, 8, 0.0f, 1.0f);
    truth("fill_uniform: a = 0 gives the constant", q[0] == 1.0f && q[9] == 1.0f);
  }
  std::printf("{\"checks\":%d,\"failures\":%d,\"worst\":{", checks, failures);
  bool first = true;
  for (auto& kv : worst) {
    std::printf("%s\"%s\":%.3g", first ? "" : ",", kv.first.c_str(), kv.second);
    first = false;
  }
  std::printf("}}\n");
  return failures ? 1 : 0;
}
