// The shared layers (native/src/layers) on the CPU against direct double-precision computations on tiny
// hand-made cases: the attention block with extra K/V from another stream (the Cosmos 3 Generator's gen
// queries over cat(K_und, K_gen)), causal and full, with and without a KV cache; a prefill split over a
// KV cache equals one call; segments equal separate calls; the SwiGLU and GELU MLPs; a fused Linear's
// rows(); a Linear's fp8 path (the CPU twin of linear_cuda's) against gemm_fp8_cpu; the weight binder stacking
// parts by rows; the shared weight cache (two stores binding one file's
// tensors under different names hold one block, counted once, freed with the last holder). Prints a JSON
// summary; exit 1 on any failure.
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <map>
#include <memory>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "../src/core/errors.h"
#include "../src/core/memory.h"
#include "../src/layers/attention_block.h"
#include "../src/layers/linear.h"
#include "../src/layers/mlp.h"
#include "../src/layers/weights.h"
#include "../src/ops/gemm_fp8_wgmma.h"
#include "../src/ops/quantize_fp8.h"

using namespace cosmos;

static int checks = 0, failures = 0;
static std::map<std::string, double> worst;
static std::mt19937 rng(11);

static std::vector<float> randv(size_t n, float s = 0.5f) {
  std::normal_distribution<float> d(0.f, s);
  std::vector<float> v(n);
  for (auto& x : v) x = d(rng);
  return v;
}
static void close(const std::string& what, const float* got, const std::vector<double>& ref, double tol) {
  double m = 0;
  for (size_t i = 0; i < ref.size(); ++i) m = std::max(m, std::fabs(got[i] - ref[i]) / (1.0 + std::fabs(ref[i])));
  worst[what] = std::max(worst[what], m);
  ++checks;
  if (!(m <= tol)) {
    ++failures;
    std::fprintf(stderr, "%s: rel err %g > %g\n", what.c_str(), m, tol);
  }
}
static void truth(const std::string& what, bool ok) {
  ++checks;
  if (!ok) {
    ++failures;
    std::fprintf(stderr, "%s failed\n", what.c_str());
  }
}

// y[n, out] = x[n, in] . w[out, in]^T (+ b), in double.
static std::vector<double> dlinear(const std::vector<double>& x, const float* w, const float* b, int n, int in,
                                   int out) {
  std::vector<double> y((size_t)n * out);
  for (int i = 0; i < n; ++i)
    for (int j = 0; j < out; ++j) {
      double a = b ? b[j] : 0;
      for (int t = 0; t < in; ++t) a += x[(size_t)i * in + t] * w[(size_t)j * in + t];
      y[(size_t)i * out + j] = a;
    }
  return y;
}
static std::vector<double> to_d(const std::vector<float>& v) { return std::vector<double>(v.begin(), v.end()); }

// One tiny Qwen3-style attention block with its weights (GQA 4 q heads over 2 kv heads of 8).
struct Tiny {
  int width = 12, heads = 4, kv = 2, hd = 8;
  std::vector<float> wqkv, wo, qn, kn;
  AttentionBlock b;
  explicit Tiny(bool norm) {
    const int QH = heads * hd, KH = kv * hd;
    wqkv = randv((size_t)(QH + 2 * KH) * width);
    wo = randv((size_t)width * QH);
    qn = randv(hd, 0.3f);
    kn = randv(hd, 0.3f);
    for (auto& v : qn) v += 1.f;
    for (auto& v : kn) v += 1.f;
    b.qkv = Linear{wqkv.data(), WType::F32, nullptr, width, QH + 2 * KH};
    b.o = Linear{wo.data(), WType::F32, nullptr, QH, width};
    if (norm) b.q_norm = qn.data(), b.k_norm = kn.data();
    b.heads = heads;
    b.kv_heads = kv;
    b.head_dim = hd;
  }
  // q or k of one stream, in double: projection, optional per-head RMSNorm, rotate_half rotary.
  std::vector<double> prep(const std::vector<float>& x, int n, int row0, int heads_, const float* nw,
                           const std::vector<float>& cs, const std::vector<float>& sn) const {
    const std::vector<double> p = dlinear(to_d(x), wqkv.data() + (size_t)row0 * width, nullptr, n, width, heads_ * hd);
    std::vector<double> out(p.size());
    for (int t = 0; t < n; ++t)
      for (int h = 0; h < heads_; ++h) {
        const double* v = &p[((size_t)t * heads_ + h) * hd];
        double ss = 0;
        for (int d = 0; d < hd; ++d) ss += v[d] * v[d];
        const double inv = nw ? 1.0 / std::sqrt(ss / hd + 1e-6) : 1.0;
        std::vector<double> y(hd);
        for (int d = 0; d < hd; ++d) y[d] = (nw ? nw[d] : 1.0) * v[d] * inv;
        for (int d = 0; d < hd; ++d) {
          const double rot = d < hd / 2 ? -y[d + hd / 2] : y[d - hd / 2];
          out[((size_t)t * heads_ + h) * hd + d] = y[d] * cs[(size_t)t * hd + d] + rot * sn[(size_t)t * hd + d];
        }
      }
    return out;
  }
};

// softmax(q . k / sqrt(hd)) . v over the keys each query may see, then the output projection.
// Query i sees keys [0, visible(i)). k, v: [n_keys, kv, hd].
static std::vector<double> dattend(const Tiny& t, const std::vector<double>& q, int n, const std::vector<double>& k,
                                   const std::vector<double>& v, int n_keys, const std::vector<int>& visible) {
  const int QH = t.heads * t.hd, group = t.heads / t.kv;
  std::vector<double> att((size_t)n * QH);
  for (int i = 0; i < n; ++i)
    for (int h = 0; h < t.heads; ++h) {
      const int kh = h / group, m = std::min(visible[i], n_keys);
      std::vector<double> s(m);
      double mx = -1e300, sum = 0;
      for (int j = 0; j < m; ++j) {
        double a = 0;
        for (int d = 0; d < t.hd; ++d)
          a += q[((size_t)i * t.heads + h) * t.hd + d] * k[((size_t)j * t.kv + kh) * t.hd + d];
        s[j] = a / std::sqrt((double)t.hd);
        mx = std::max(mx, s[j]);
      }
      for (int j = 0; j < m; ++j) sum += (s[j] = std::exp(s[j] - mx));
      for (int d = 0; d < t.hd; ++d) {
        double a = 0;
        for (int j = 0; j < m; ++j) a += s[j] / sum * v[((size_t)j * t.kv + kh) * t.hd + d];
        att[((size_t)i * t.heads + h) * t.hd + d] = a;
      }
    }
  return dlinear(att, t.wo.data(), nullptr, n, QH, t.width);
}

// Values of a projection, not rotated (the v rows), in double.
static std::vector<double> dproj(const Tiny& t, const std::vector<float>& x, int n, int row0, int rows) {
  return dlinear(to_d(x), t.wqkv.data() + (size_t)row0 * t.width, nullptr, n, t.width, rows);
}

// Writes an f32 safetensors file of these tensors (name -> shape, values) to path.
static void write_safetensors(
    const std::string& path,
    const std::vector<std::pair<std::string, std::pair<std::vector<int64_t>, std::vector<float>>>>& ts) {
  std::string json = "{";
  size_t off = 0;
  for (const auto& [name, t] : ts) {
    std::string shape;
    for (auto d : t.first) shape += (shape.empty() ? "" : ",") + std::to_string(d);
    const size_t bytes = t.second.size() * 4;
    json += (json.size() > 1 ? "," : "") + std::string("\"") + name + "\":{\"dtype\":\"F32\",\"shape\":[" + shape +
            "],\"data_offsets\":[" + std::to_string(off) + "," + std::to_string(off + bytes) + "]}";
    off += bytes;
  }
  json += "}";
  while ((8 + json.size()) % 8) json += ' ';
  std::ofstream f(path, std::ios::binary);
  const uint64_t n = json.size();
  f.write(reinterpret_cast<const char*>(&n), 8);
  f.write(json.data(), (std::streamsize)json.size());
  for (const auto& [name, t] : ts)
    f.write(reinterpret_cast<const char*>(t.second.data()), (std::streamsize)(t.second.size() * 4));
}

static int64_t host_bytes() { return memory_stats(DeviceKind::CPU).bytes_in_use; }

// 6. The shared weight cache: a plain and a renamed checkpoint of one file (the Generator's diffusers names and
// the Reasoner's Qwen3-VL names of a Cosmos 3 und tower), each bound by its own store.
static void shared_weights_checks() {
  char dir_template[] = "/tmp/layers_cpu_test_XXXXXX";
  const char* dir = mkdtemp(dir_template);
  if (!dir) {
    truth("shared weights: temp dir", false);
    return;
  }
  const std::string file = std::string(dir) + "/w.safetensors", link = std::string(dir) + "/link.safetensors",
                    copy = std::string(dir) + "/copy.safetensors";
  const std::vector<float> q = randv(12), k = randv(6), v = randv(6), n = randv(3);
  write_safetensors(file, {{"to_q.weight", {{4, 3}, q}},
                           {"to_k.weight", {{2, 3}, k}},
                           {"to_v.weight", {{2, 3}, v}},
                           {"norm_q.weight", {{3}, n}}});
  write_safetensors(copy, {{"to_q.weight", {{4, 3}, q}},
                           {"to_k.weight", {{2, 3}, k}},
                           {"to_v.weight", {{2, 3}, v}},
                           {"norm_q.weight", {{3}, n}}});
  truth("shared weights: symlink", symlink(file.c_str(), link.c_str()) == 0);
  const std::map<std::string, std::string> renames = {{"to_q.weight", "q_proj.weight"},
                                                      {"to_k.weight", "k_proj.weight"},
                                                      {"to_v.weight", "v_proj.weight"},
                                                      {"norm_q.weight", "q_norm.weight"}};
  auto plain = Checkpoint::open(file);
  auto renamed = Checkpoint::open_files({link}, renames);  // another path and other names, one file
  auto copied = Checkpoint::open(copy);                    // equal bytes, another file: not shared
  const size_t blocks0 = SharedWeights::live_blocks();
  const int64_t base = host_bytes();
  const size_t fused = sizeof(float) * 24, gain = sizeof(float) * 3;

  auto gen = std::make_unique<HostWeightStore>();
  WeightBinder gb(*plain, *gen);
  const Linear g_qkv =
      gb.linear({{"to_q.weight", {4, 3}, ""}, {"to_k.weight", {2, 3}, ""}, {"to_v.weight", {2, 3}, ""}});
  const float* g_norm = gb.param("norm_q.weight", {3});
  truth("shared weights: first store allocates its blocks", host_bytes() - base == (int64_t)(fused + gain));

  auto rea = std::make_unique<HostWeightStore>();
  WeightBinder rb(*renamed, *rea);
  const Linear r_qkv =
      rb.linear({{"q_proj.weight", {4, 3}, ""}, {"k_proj.weight", {2, 3}, ""}, {"v_proj.weight", {2, 3}, ""}});
  const float* r_norm = rb.param("q_norm.weight", {3});
  truth("shared weights: same tensors, same blocks", r_qkv.w == g_qkv.w && r_norm == g_norm);
  truth("shared weights: counted once", host_bytes() - base == (int64_t)(fused + gain));
  truth("shared weights: each store reports them",
        rea->bytes() == fused + gain && rea->shared_bytes() == fused + gain && gen->bytes() == fused + gain);
  truth("shared weights: two live blocks", SharedWeights::live_blocks() == blocks0 + 2);

  // Another stacking order, a part alone, or another file with equal bytes: other blocks.
  const Linear kqv =
      rb.linear({{"k_proj.weight", {2, 3}, ""}, {"q_proj.weight", {4, 3}, ""}, {"v_proj.weight", {2, 3}, ""}});
  const Linear q_only = rb.linear("q_proj.weight", {4, 3});
  auto other = std::make_unique<HostWeightStore>();
  WeightBinder ob(*copied, *other);
  const float* o_norm = ob.param("norm_q.weight", {3});
  truth("shared weights: other order, part or file is its own block",
        kqv.w != g_qkv.w && q_only.w != g_qkv.w && o_norm != g_norm);
  truth("shared weights: those blocks counted", host_bytes() - base == (int64_t)(2 * fused + 12 * 4 + 2 * gain));
  close("shared weights: other order holds k first", static_cast<const float*>(kqv.w), to_d(k), 0);

  // Freeing the first holder keeps the values for the second; freeing the last gives the memory back.
  gen.reset();
  truth("shared weights: the second holder keeps them",
        host_bytes() - base == (int64_t)(2 * fused + 12 * 4 + 2 * gain));
  std::vector<double> qkv_ref = to_d(q);
  qkv_ref.insert(qkv_ref.end(), k.begin(), k.end());
  qkv_ref.insert(qkv_ref.end(), v.begin(), v.end());
  close("shared weights: values after the first holder is freed", static_cast<const float*>(r_qkv.w), qkv_ref, 0);
  close("shared weights: gain after the first holder is freed", r_norm, to_d(n), 0);
  rea.reset();
  other.reset();
  truth("shared weights: all freed, memory back", host_bytes() == base);
  truth("shared weights: no live blocks", SharedWeights::live_blocks() == blocks0);

  // Random values are each store's own.
  {
    HostWeightStore a, b;
    WeightBinder wa(7, 0.02f, a), wb(7, 0.02f, b);
    truth("shared weights: random values not shared",
          wa.param("x.weight", {3}) != wb.param("x.weight", {3}) && a.shared_bytes() == 0);
  }

  // A first writer that fails leaves the block to the next caller, who writes it.
  {
    HostWeightStore s;
    bool threw = false;
    try {
      s.shared({"test/failing"}, 3, false, [](void*) { throw ModelError("read failed"); });
    } catch (const ModelError&) {
      threw = true;
    }
    const float* p = static_cast<const float*>(
        s.shared({"test/failing"}, 3, false, [&](void* d) { std::memcpy(d, n.data(), sizeof(float) * 3); }));
    truth("shared weights: failed write rethrown, next caller writes", threw && p[0] == n[0] && p[2] == n[2]);
  }

  // Concurrent binders of one key get one block, written once.
  {
    HostWeightStore a, b;
    WeightBinder wa(*plain, a), wb(*renamed, b);
    const float *pa = nullptr, *pb = nullptr;
    std::thread t([&] { pa = wa.param("norm_q.weight", {3}); });
    pb = wb.param("q_norm.weight", {3});
    t.join();
    truth("shared weights: concurrent binders share", pa == pb && pa != nullptr && pa[1] == n[1]);
  }
  std::remove(link.c_str());
  std::remove(file.c_str());
  std::remove(copy.c_str());
  rmdir(dir);
}

int main() {
  const CpuContext ctx{2};

  // 1. Extra K/V (the Generator's joint attention): a gen stream of 3 tokens attends over the und stream's
  // 2 keys (normed and rotated by the und stream's own weights) and then its own. Full (the Generator's
  // gen stream) and causal; and the gen stream run as 2 + 1 tokens over a KV cache equals one call.
  for (int causal = 0; causal < 2; ++causal) {
    Tiny und(true), gen(true);
    const int ne = 2, n = 3, KH = gen.kv * gen.hd;
    auto xu = randv((size_t)ne * und.width), xg = randv((size_t)n * gen.width);
    auto csu = randv((size_t)ne * und.hd, 1.f), snu = randv((size_t)ne * und.hd, 1.f);
    auto csg = randv((size_t)n * gen.hd, 1.f), sng = randv((size_t)n * gen.hd, 1.f);
    // The und stream's keys and values as its attention block leaves them (prepared in double here).
    const std::vector<double> ku = und.prep(xu, ne, und.heads * und.hd, und.kv, und.kn.data(), csu, snu);
    const std::vector<double> vu = dproj(und, xu, ne, und.heads * und.hd + KH, KH);
    std::vector<float> eku(ku.begin(), ku.end()), evu(vu.begin(), vu.end());
    // Expected: gen queries over [K_und | K_gen], [V_und | V_gen].
    const std::vector<double> q = gen.prep(xg, n, 0, gen.heads, gen.qn.data(), csg, sng);
    std::vector<double> k = ku, v = vu;
    const std::vector<double> kg = gen.prep(xg, n, gen.heads * gen.hd, gen.kv, gen.kn.data(), csg, sng);
    const std::vector<double> vg = dproj(gen, xg, n, gen.heads * gen.hd + KH, KH);
    k.insert(k.end(), kg.begin(), kg.end());
    v.insert(v.end(), vg.begin(), vg.end());
    std::vector<int> visible(n);
    for (int i = 0; i < n; ++i) visible[i] = causal ? ne + i + 1 : ne + n;
    const std::vector<double> ref = dattend(gen, q, n, k, v, ne + n, visible);

    const std::string what = causal ? "attention_extra_kv_causal" : "attention_extra_kv_full";
    for (int fused = 0; fused < 2; ++fused) {
      gen.b.fused_prefill_gemm = fused;
      AttentionCall call;
      call.n = n;
      call.cos = csg.data();
      call.sin = sng.data();
      call.causal = causal;
      call.extra = ExtraKv{eku.data(), evu.data(), ne};
      std::vector<float> scratch(attention_scratch_floats(gen.b, n, false)), y(xg);
      attention_block_cpu(y.data(), y.data(), gen.b, call, scratch.data(), ctx);  // y aliases x
      close(what, y.data(), ref, 1e-5);
    }
    // Over a KV cache, in two calls (2 tokens, then 1): the same rows.
    gen.b.fused_prefill_gemm = false;
    std::vector<float> kc((size_t)8 * KH), vc((size_t)8 * KH), y((size_t)n * gen.width);
    KvCache cache{kc.data(), vc.data(), 8, 0};
    for (int part = 0, done = 0; part < 2; ++part) {
      const int m = part == 0 ? 2 : 1;
      AttentionCall call;
      call.n = m;
      call.cos = csg.data() + (size_t)done * gen.hd;
      call.sin = sng.data() + (size_t)done * gen.hd;
      call.causal = causal;
      call.cache = &cache;
      call.extra = ExtraKv{eku.data(), evu.data(), ne};
      std::vector<float> scratch(attention_scratch_floats(gen.b, m, true));
      attention_block_cpu(y.data() + (size_t)done * gen.width, xg.data() + (size_t)done * gen.width, gen.b, call,
                          scratch.data(), ctx);
      done += m;
      cache.n_past = done;
    }
    if (causal) close(what + "_cache", y.data(), ref, 1e-5);
    // Full attention over a cache sees the keys cached so far (not later ones): only the last call's
    // query matches the one-call result there.
    else
      close(what + "_cache_last", y.data() + (size_t)2 * gen.width,
            std::vector<double>(ref.begin() + 2 * gen.width, ref.end()), 1e-5);
  }

  // 2. The decoder's prefill split over its KV cache (5 tokens = 3 + 2) equals one 5-token call, and both
  // match the direct causal computation (no extra K/V: the und stream).
  {
    Tiny t(true);
    const int n = 5, KH = t.kv * t.hd;
    auto x = randv((size_t)n * t.width), cs = randv((size_t)n * t.hd, 1.f), sn = randv((size_t)n * t.hd, 1.f);
    const std::vector<double> q = t.prep(x, n, 0, t.heads, t.qn.data(), cs, sn);
    const std::vector<double> k = t.prep(x, n, t.heads * t.hd, t.kv, t.kn.data(), cs, sn);
    const std::vector<double> v = dproj(t, x, n, t.heads * t.hd + KH, KH);
    std::vector<int> visible(n);
    for (int i = 0; i < n; ++i) visible[i] = i + 1;
    const std::vector<double> ref = dattend(t, q, n, k, v, n, visible);
    std::vector<float> kc((size_t)16 * KH), vc((size_t)16 * KH), y((size_t)n * t.width);
    KvCache cache{kc.data(), vc.data(), 16, 0};
    for (int done = 0; done < n;) {
      const int m = done == 0 ? 3 : 2;
      AttentionCall call;
      call.n = m;
      call.cos = cs.data() + (size_t)done * t.hd;
      call.sin = sn.data() + (size_t)done * t.hd;
      call.cache = &cache;
      std::vector<float> scratch(attention_scratch_floats(t.b, m, true));
      attention_block_cpu(y.data() + (size_t)done * t.width, x.data() + (size_t)done * t.width, t.b, call,
                          scratch.data(), ctx);
      done += m;
      cache.n_past = done;
    }
    close("attention_kv_cache_split", y.data(), ref, 1e-5);
    std::vector<double> kref = k;  // the cache holds the normed, rotated keys
    close("attention_kv_cache_rows", kc.data(), kref, 1e-5);
    // A cache too small for the call is refused with a ModelError.
    bool threw = false;
    try {
      KvCache small{kc.data(), vc.data(), 2, 0};
      AttentionCall call;
      call.n = 3;
      call.cos = cs.data();
      call.sin = sn.data();
      call.cache = &small;
      std::vector<float> scratch(attention_scratch_floats(t.b, 3, true));
      attention_block_cpu(y.data(), x.data(), t.b, call, scratch.data(), ctx);
    } catch (const ModelError&) {
      threw = true;
    }
    truth("attention: a KV cache too small is a ModelError", threw);
    // A bf16 cache (CUDA only), a cache of both forms, and a bf16 one with extra K/V are ModelErrors naming why.
    std::vector<uint16_t> kb((size_t)16 * KH), vb((size_t)16 * KH);
    auto refused = [&](KvCache c, int extra, const char* want) {
      AttentionCall call;
      call.n = 3;
      call.cos = cs.data();
      call.sin = sn.data();
      call.cache = &c;
      call.extra = ExtraKv{kc.data(), vc.data(), extra};
      std::vector<float> scratch(attention_scratch_floats(t.b, 3, true));
      try {
        attention_block_cpu(y.data(), x.data(), t.b, call, scratch.data(), ctx);
      } catch (const ModelError& e) {
        return std::string(e.what()).find(want) != std::string::npos;
      }
      return false;
    };
    KvCache b16;
    b16.k_bf16 = kb.data();
    b16.v_bf16 = vb.data();
    b16.capacity = 16;
    KvCache mixed = b16;
    mixed.k = kc.data();
    truth("attention: a bf16 KV cache on the CPU is a ModelError", refused(b16, 0, "CUDA only"));
    truth("attention: a KV cache of f32 and bf16 rows is a ModelError", refused(mixed, 0, "not a mix"));
    truth("attention: a bf16 KV cache with extra K/V is a ModelError", refused(b16, 2, "extra K/V"));
  }

  // 3. Segments (the tower's per-frame attention, no norm, fused [q|k|v] GEMM, MHA): two segments equal
  // two separate calls.
  {
    Tiny t(false);
    t.kv = t.heads;
    const int QH = t.heads * t.hd, W = 3 * QH;
    t.wqkv = randv((size_t)W * t.width);
    t.b.qkv = Linear{t.wqkv.data(), WType::F32, nullptr, t.width, W};
    t.b.kv_heads = t.heads;
    t.b.fused_prefill_gemm = true;
    const int n = 7, split = 3;
    auto x = randv((size_t)n * t.width), cs = randv((size_t)n * t.hd, 1.f), sn = randv((size_t)n * t.hd, 1.f);
    const int seg[3] = {0, split, n};
    AttentionCall call;
    call.n = n;
    call.cos = cs.data();
    call.sin = sn.data();
    call.causal = false;
    call.segments = seg;
    call.n_segments = 2;
    std::vector<float> y((size_t)n * t.width), scratch(attention_scratch_floats(t.b, n, false));
    attention_block_cpu(y.data(), x.data(), t.b, call, scratch.data(), ctx);
    for (int s = 0; s < 2; ++s) {
      const int o = seg[s], m = seg[s + 1] - seg[s];
      std::vector<float> xs(x.begin() + (size_t)o * t.width, x.begin() + (size_t)(o + m) * t.width);
      std::vector<float> cs_(cs.begin() + (size_t)o * t.hd, cs.begin() + (size_t)(o + m) * t.hd);
      std::vector<float> sn_(sn.begin() + (size_t)o * t.hd, sn.begin() + (size_t)(o + m) * t.hd);
      const std::vector<double> q = t.prep(xs, m, 0, t.heads, nullptr, cs_, sn_);
      const std::vector<double> k = t.prep(xs, m, QH, t.heads, nullptr, cs_, sn_);
      const std::vector<double> v = dproj(t, xs, m, 2 * QH, QH);
      const std::vector<double> ref = dattend(t, q, m, k, v, m, std::vector<int>(m, m));
      close("attention_segments", y.data() + (size_t)o * t.width, ref, 1e-5);
    }
    // residual: y += the block's output, the sum of the plain output and y bit for bit (the CUDA epilogue's order).
    std::vector<float> acc = randv((size_t)n * t.width), want = acc;
    for (size_t i = 0; i < want.size(); ++i) want[i] += y[i];
    call.residual = true;
    attention_block_cpu(acc.data(), x.data(), t.b, call, scratch.data(), ctx);
    truth("attention: residual adds into y (bitwise)", acc == want);
  }

  // 4. MLPs and Linear::rows: SwiGLU (gate | up fused by rows) and GELU (tanh and erf) vs double.
  {
    const int n = 3, width = 10, inter = 6;
    auto gu = randv((size_t)2 * inter * width), down = randv((size_t)width * inter), x = randv((size_t)n * width);
    SwiGluMlp m{Linear{gu.data(), WType::F32, nullptr, width, 2 * inter},
                Linear{down.data(), WType::F32, nullptr, inter, width}};
    std::vector<float> y((size_t)n * width), scratch(mlp_scratch_floats(m, n));
    mlp_cpu(y.data(), x.data(), m, n, scratch.data(), ctx);
    const std::vector<double> g = dlinear(to_d(x), gu.data(), nullptr, n, width, inter);
    const std::vector<double> u = dlinear(to_d(x), gu.data() + (size_t)inter * width, nullptr, n, width, inter);
    std::vector<double> a(g.size());
    for (size_t i = 0; i < a.size(); ++i) a[i] = g[i] / (1 + std::exp(-g[i])) * u[i];
    close("mlp_swiglu", y.data(), dlinear(a, down.data(), nullptr, n, inter, width), 1e-5);

    std::vector<float> up((size_t)n * inter);
    linear_cpu(up.data(), x.data(), m.gate_up.rows(inter, inter), n, ctx);
    close("linear_rows", up.data(), u, 1e-5);

    auto b1 = randv(inter), b2 = randv(width);
    for (int tanh_form = 0; tanh_form < 2; ++tanh_form) {
      GeluMlp gm{Linear{gu.data(), WType::F32, b1.data(), width, inter},
                 Linear{down.data(), WType::F32, b2.data(), inter, width}, (bool)tanh_form};
      std::vector<float> gy((size_t)n * width), gs(mlp_scratch_floats(gm, n));
      mlp_cpu(gy.data(), x.data(), gm, n, gs.data(), ctx);
      std::vector<double> h = dlinear(to_d(x), gu.data(), b1.data(), n, width, inter);
      for (double& z : h)
        z = tanh_form ? 0.5 * z * (1 + std::tanh(std::sqrt(2 / M_PI) * (z + 0.044715 * z * z * z)))
                      : 0.5 * z * (1 + std::erf(z / std::sqrt(2.0)));
      close(tanh_form ? "mlp_gelu_tanh" : "mlp_gelu_erf", gy.data(),
            dlinear(h, down.data(), b2.data(), n, inter, width), 1e-5);
    }
    bool threw = false;
    try {
      Linear bf = m.down;
      bf.wt = WType::BF16;
      linear_cpu(y.data(), scratch.data(), bf, n, ctx);
    } catch (const ModelError&) {
      threw = true;
    }
    truth("linear_cpu: bf16 weights are a ModelError", threw);
  }

  // 4b. A Linear with an fp8 copy (w8, w8_scale: Cosmos3Transformer::set_fp8) against gemm_fp8_cpu on the same
  // quantized operands (only the summation order differs), through rows() too; and its distance from the f32 GEMM
  // (e4m3 keeps 3 mantissa bits: a few percent).
  {
    const int n = 5, in = 52, out = 9;
    auto w = randv((size_t)out * in), b = randv(out), x = randv((size_t)n * in);
    x[7] = 0.f;  // a zero and a row-dominating value: the scales follow each row's absmax
    x[in + 3] = 40.f;
    std::vector<uint8_t> w8((size_t)out * in), x8((size_t)n * in);
    std::vector<float> ws(out), xs(n);
    quantize_fp8_rows_cpu(w8.data(), ws.data(), w.data(), out, in);
    quantize_fp8_rows_cpu(x8.data(), xs.data(), x.data(), n, in);
    Linear l{w.data(), WType::F32, b.data(), in, out};
    l.w8 = w8.data();
    l.w8_scale = ws.data();
    std::vector<float> y((size_t)n * out), ref((size_t)n * out), yf((size_t)n * out);
    linear_cpu(y.data(), x.data(), l, n, ctx);
    gemm_fp8_cpu(ref.data(), x8.data(), w8.data(), xs.data(), ws.data(), b.data(), n, out, in);
    close("linear_fp8_vs_gemm_fp8_cpu", y.data(), std::vector<double>(ref.begin(), ref.end()), 1e-5);

    const Linear part = l.rows(3, 4);
    std::vector<float> yp((size_t)n * 4), refp;
    linear_cpu(yp.data(), x.data(), part, n, ctx);
    for (int r = 0; r < n; ++r)
      refp.insert(refp.end(), ref.begin() + (size_t)r * out + 3, ref.begin() + (size_t)r * out + 7);
    close("linear_fp8_rows", yp.data(), std::vector<double>(refp.begin(), refp.end()), 1e-5);

    Linear f32 = l;
    f32.w8 = nullptr;
    f32.w8_scale = nullptr;
    linear_cpu(yf.data(), x.data(), f32, n, ctx);
    double num = 0, den = 0;
    for (size_t i = 0; i < y.size(); ++i) num += (y[i] - yf[i]) * (y[i] - yf[i]), den += yf[i] * yf[i];
    const double rel = std::sqrt(num / den);
    worst["linear_fp8_vs_f32_rel_l2"] = rel;
    truth("linear_fp8: within 6% (relative L2) of the f32 GEMM, and not equal to it", rel < 0.06 && rel > 1e-4);

    // Its weight given back (set_fp8's keep_source = false): the fp8 path alone, and without w8 a ModelError.
    Linear given_back = l;
    given_back.w = nullptr;
    std::vector<float> yg((size_t)n * out);
    linear_cpu(yg.data(), x.data(), given_back, n, ctx);
    truth("linear_fp8: the weight given back, the same fp8 output", yg == y && given_back.rows(3, 4).w == nullptr);
    given_back.w8 = nullptr;
    given_back.w8_scale = nullptr;
    bool threw = false;
    try {
      linear_cpu(yg.data(), x.data(), given_back, n, ctx);
    } catch (const ModelError&) {
      threw = true;
    }
    truth("linear_cpu: no weight and no fp8 copy is a ModelError", threw);
  }

  // 4c. A SwiGLU MLP in fp8 that mlp_fp8_fused takes (inter % 128 == 0, in % 16 == 0, no gate|up bias): the CPU twin
  // of CUDA's fused path, i.e. gemm_fp8_cpu over gate|up, silu(g) * u, h rounded to bf16, h quantized per token,
  // gemm_fp8_cpu over down; and an inter that is not a multiple of 128 takes the unfused path (h not rounded).
  for (const int inter : {128, 96}) {
    const int n = 3, in = 32;
    auto wgu = randv((size_t)2 * inter * in), wd = randv((size_t)in * inter), bd = randv(in), x = randv((size_t)n * in);
    std::vector<uint8_t> gu8(wgu.size()), d8(wd.size()), x8(x.size()), h8((size_t)n * inter);
    std::vector<float> gus(2 * inter), ds(in), xs(n), hs(n);
    quantize_fp8_rows_cpu(gu8.data(), gus.data(), wgu.data(), 2 * inter, in);
    quantize_fp8_rows_cpu(d8.data(), ds.data(), wd.data(), in, inter);
    SwiGluMlp m{Linear{wgu.data(), WType::F32, nullptr, in, 2 * inter},
                Linear{wd.data(), WType::F32, bd.data(), inter, in}};
    m.gate_up.w8 = gu8.data(), m.gate_up.w8_scale = gus.data(), m.down.w8 = d8.data(), m.down.w8_scale = ds.data();
    truth("mlp_fp8_fused: inter " + std::to_string(inter), mlp_fp8_fused(m) == (inter % 128 == 0));
    std::vector<float> scratch(mlp_scratch_floats(m, n)), y((size_t)n * in);
    mlp_cpu(y.data(), x.data(), m, n, scratch.data(), ctx);
    std::vector<float> gu((size_t)n * 2 * inter), h((size_t)n * inter), ref((size_t)n * in);
    quantize_fp8_rows_cpu(x8.data(), xs.data(), x.data(), n, in);
    gemm_fp8_cpu(gu.data(), x8.data(), gu8.data(), xs.data(), gus.data(), nullptr, n, 2 * inter, in);
    for (int r = 0; r < n; ++r)
      for (int c = 0; c < inter; ++c) {
        const float g = gu[(size_t)r * 2 * inter + c], u = gu[(size_t)r * 2 * inter + inter + c];
        const float v = g / (1.f + std::exp(-g)) * u;
        h[(size_t)r * inter + c] = inter % 128 == 0 ? bf16_to_f32(f32_to_bf16(v)) : v;
      }
    quantize_fp8_rows_cpu(h8.data(), hs.data(), h.data(), n, inter);
    gemm_fp8_cpu(ref.data(), h8.data(), d8.data(), hs.data(), ds.data(), bd.data(), n, in, inter);
    close("mlp_fp8_swiglu_vs_formula_inter" + std::to_string(inter), y.data(),
          std::vector<double>(ref.begin(), ref.end()), 1e-4);
  }

  // 4d. One token on fp8 copies (decode): weight-only, x in f32 (linear_cpu -> gemv_fp8_cpu, the twin of linear_cuda's
  // gemv_fp8), and the SwiGLU MLP's h in f32 (no bf16 rounding, no per-token quantization: gemv_fp8_swiglu on CUDA),
  // against the formula in double.
  {
    const int inter = 128, in = 32;
    auto wgu = randv((size_t)2 * inter * in), wd = randv((size_t)in * inter), bd = randv(in), x = randv(in);
    std::vector<uint8_t> gu8(wgu.size()), d8(wd.size());
    std::vector<float> gus(2 * inter), ds(in);
    quantize_fp8_rows_cpu(gu8.data(), gus.data(), wgu.data(), 2 * inter, in);
    quantize_fp8_rows_cpu(d8.data(), ds.data(), wd.data(), in, inter);
    SwiGluMlp m{Linear{nullptr, WType::F32, nullptr, in, 2 * inter}, Linear{nullptr, WType::F32, bd.data(), inter, in}};
    m.gate_up.w8 = gu8.data(), m.gate_up.w8_scale = gus.data(), m.down.w8 = d8.data(), m.down.w8_scale = ds.data();
    auto dot = [](const uint8_t* w, const auto* v, int k) {
      double a = 0;
      for (int c = 0; c < k; ++c) a += (double)fp8_e4m3_to_float(w[c]) * v[c];
      return a;
    };
    std::vector<float> y(in), yl(in), scratch(mlp_scratch_floats(m, 1));
    std::vector<double> h(inter), ref(in), refl(in);
    for (int j = 0; j < inter; ++j) {
      const double g = gus[j] * dot(&gu8[(size_t)j * in], x.data(), in);
      const double u = gus[inter + j] * dot(&gu8[(size_t)(inter + j) * in], x.data(), in);
      h[j] = g / (1.0 + std::exp(-g)) * u;
    }
    for (int c = 0; c < in; ++c) {
      ref[c] = ds[c] * dot(&d8[(size_t)c * inter], h.data(), inter) + bd[c];
      refl[c] = gus[c] * dot(&gu8[(size_t)c * in], x.data(), in);
    }
    linear_cpu(yl.data(), x.data(), m.gate_up.rows(0, in), 1, ctx);
    close("linear_fp8_one_token_vs_formula", yl.data(), refl, 1e-5);
    mlp_cpu(y.data(), x.data(), m, 1, scratch.data(), ctx);
    close("mlp_fp8_one_token_vs_formula", y.data(), ref, 1e-5);
  }

  // 5. The weight binder (random source, host store): parts stacked by rows with their biases, each part
  // its own values; norm gains 1 and norm biases 0; byte count.
  {
    HostWeightStore store;
    WeightBinder wb(5, 0.02f, store);
    const Linear l = wb.linear({{"a.q.weight", {4, 3}, "a.q.bias"}, {"a.k.weight", {2, 3}, "a.k.bias"}});
    const float* gain = wb.param("a.norm.weight", {3});
    const float* shift = wb.param("a.norm.bias", {3});
    const float* w = static_cast<const float*>(l.w);
    bool stacked = l.in == 3 && l.out == 6 && l.b != nullptr && w[0] != w[12] && std::fabs(w[0]) < 0.035f;
    truth("weights: parts stacked by rows", stacked);
    truth("weights: random norm gain 1, norm bias 0", gain[0] == 1.f && gain[2] == 1.f && shift[1] == 0.f);
    truth("weights: bytes counted", store.bytes() == sizeof(float) * (18 + 6 + 3 + 3));
    const Linear k = l.rows(4, 2);
    truth("weights: rows() views one part", static_cast<const float*>(k.w) == w + 12 && k.b == l.b + 4 && k.out == 2);
  }

  shared_weights_checks();

  std::printf("{\"checks\":%d,\"failures\":%d,\"worst\":{", checks, failures);
  bool first = true;
  for (auto& kv : worst) {
    std::printf("%s\"%s\":%.3g", first ? "" : ",", kv.first.c_str(), kv.second);
    first = false;
  }
  std::printf("}}\n");
  return failures ? 1 : 0;
}
