// GPU memory lifecycle (issue 11 item 1): op workspaces are pool bytes, and freeing a model returns
// every byte. Three parts, each a PASS/FAIL line; exit 1 on any failure:
//
//  0. The pool's count of its CUDA calls (CudaPool::cuda_calls): one cudaMalloc a miss, none for a cached block, one
//     cudaFree a released block; epochs (release_cached_before keeps the blocks a run used); out of memory, another
//     pool's cache given back before alloc gives up. CudaGraphSegments (core/cuda_graph_segments.h): segments
//     recorded, replayed without their pieces, and a piece that capture cannot record (a sync of the capturing
//     stream) or that throws: the segment run eagerly instead, the stream out of capture.
//  1. Workspaces through the op context: the bf16 GEMM (n > 8: bf16 copy of x) and split-KV attention
//     (two query rows over a long cache: partial softmaxes) take their scratch from the context's pool. The pool's peak
//     must rise by at least the workspace's size during the call and its cache must hold the block
//     afterwards (so nativeMemory() counts it); the GEMV (n <= 8) and the unsplit attention need none.
//     After the pool releases its cache, cudaMemGetInfo is back where it started.
//  2. load -> run -> free, 20 rounds: a medium random bf16 decoder (prefill 700 tokens: bf16 GEMMs and
//     tensor-core attention; eager decode over a long cache: split-KV attention; graph decode; a
//     sampled token), the tiny fixture's decoder loaded with bf16 weights (prefill + graph decode) and
//     its vision tower with bf16 weights (one image). Round 1 is the warm-up (lazy module loading,
//     the driver's first graph); after every later round, with all models freed, device memory in use
//     (cudaMemGetInfo) must equal round 1's within kSlack, and must not trend upwards. Before each
//     free, the device bytes the models took are compared with their pools' in-use + cached bytes
//     (printed: what lies outside the pools is the CUDA graph and allocation granularity; at most 64 MiB in rounds
//     2..20, round 1's also holding the lazily loaded modules).
//
// Usage: lifecycle_cuda_test [repo root] (default: .). Needs a GPU (the device machine).
#include <cuda_runtime.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "../src/core/cuda_common.h"
#include "../src/core/cuda_context.h"
#include "../src/core/cuda_graph_segments.h"
#include "../src/core/cuda_pool.h"
#include "../src/models/qwen3_text_cuda.h"
#include "../src/models/qwen3_vision_cuda.h"
#include "../src/ops/attention.h"
#include "../src/ops/matmul.h"

using namespace cosmos;

namespace {
int failures = 0;
constexpr double kMiB = 1024.0 * 1024.0;
// Device memory may move by allocation granularity (2 MiB pages) without being a leak of ours.
constexpr long long kSlack = 2LL << 20;

void check(bool ok, const std::string& what) {
  if (!ok) ++failures;
  std::printf("  %-96s %s\n", what.c_str(), ok ? "PASS" : "FAIL");
}

long long device_used() {
  CUDA_CHECK(cudaDeviceSynchronize());
  size_t free_b = 0, total = 0;
  CUDA_CHECK(cudaMemGetInfo(&free_b, &total));
  return (long long)total - (long long)free_b;
}

std::string slurp(const std::string& p) {
  std::ifstream f(p, std::ios::binary);
  if (!f) throw std::runtime_error("cannot read " + p);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

std::vector<float> randv(size_t n, std::mt19937& g) {
  std::normal_distribution<float> d(0.f, 1.f);
  std::vector<float> v(n);
  for (auto& x : v) x = d(g);
  return v;
}

// Part 1: one op call on fresh device inputs; returns how far the pool's peak rose above what the inputs
// hold and what the pool caches after the call (the workspace, freed back into it).
struct OpWorkspace {
  size_t peak_rise = 0, cached = 0;
};
template <typename F>
OpWorkspace measure(CudaPool& pool, cudaStream_t s, F&& run) {
  pool.reset_peak();
  const size_t before = pool.bytes_in_use();
  run();
  CUDA_CHECK(cudaStreamSynchronize(s));
  return {pool.peak_bytes() - before, pool.bytes_cached()};
}

void op_workspaces() {
  std::printf("op workspaces through the context's pool\n");
  const long long base = device_used();
  {
    CudaStream stream;
    CudaPool pool;
    const CudaContext ctx{stream.get(), &pool};
    std::mt19937 g(7);
    // bf16 GEMM n = 700, k = 3072, m = 1024: workspace = 700 x 3072 bf16 = 4.1 MiB.
    const int n = 700, k = 3072, m = 1024;
    DeviceBuffer<float> x(pool, (size_t)n * k), out(pool, (size_t)n * m);
    DeviceBuffer<uint16_t> w(pool, (size_t)m * k);
    std::vector<float> hx = randv((size_t)n * k, g);
    CUDA_CHECK(cudaMemcpy(x.get(), hx.data(), hx.size() * 4, cudaMemcpyHostToDevice));
    CUDA_CHECK(cudaMemset(w.get(), 0x3c, w.bytes()));  // bf16 0x3c3c ~ 0.0115: finite, non-zero
    const size_t cast = (size_t)n * k * 2;
    OpWorkspace gemm = measure(pool, ctx.stream,
                               [&] { matmul_cuda(out.get(), x.get(), w.get(), WType::BF16, nullptr, n, k, m, ctx); });
    char line[256];
    std::snprintf(line, sizeof line,
                  "bf16 GEMM %dx%dx%d: peak rose %.2f MiB, cache holds %.2f MiB (cast of x = %.2f MiB)", n, k, m,
                  gemm.peak_rise / kMiB, gemm.cached / kMiB, cast / kMiB);
    check(gemm.peak_rise >= cast && gemm.cached >= cast, line);
    pool.release_cached();
    OpWorkspace gemv = measure(pool, ctx.stream,
                               [&] { matmul_cuda(out.get(), x.get(), w.get(), WType::BF16, nullptr, 8, k, m, ctx); });
    std::snprintf(line, sizeof line, "GEMV n=8: no workspace (peak rose %zu B, cache %zu B)", gemv.peak_rise,
                  gemv.cached);
    check(gemv.peak_rise == 0 && gemv.cached == 0, line);
    // Attention of 2 queries (the last two rows of a causal prefix) over 2048 cached keys, 32 q / 8 KV heads of 128:
    // split-KV partials. Two, not one: on Hopper one decode query takes the cluster kernel, which needs no workspace.
    const int n_kv = 2048, n_q = 2, qh = 32, kvh = 8, hd = 128;
    DeviceBuffer<float> q(pool, (size_t)n_q * qh * hd), kc(pool, (size_t)n_kv * kvh * hd),
        vc(pool, (size_t)n_kv * kvh * hd), ao(pool, (size_t)n_q * qh * hd);
    for (float* p : {q.get(), kc.get(), vc.get()}) {
      const size_t cnt = p == q.get() ? (size_t)n_q * qh * hd : (size_t)n_kv * kvh * hd;
      std::vector<float> h = randv(cnt, g);
      CUDA_CHECK(cudaMemcpy(p, h.data(), cnt * 4, cudaMemcpyHostToDevice));
    }
    OpWorkspace att = measure(pool, ctx.stream, [&] {
      attention_cuda(ao.get(), q.get(), kc.get(), vc.get(), n_q, n_kv, qh, kvh, hd, n_kv - n_q, true, 0.088f, ctx);
    });
    std::snprintf(line, sizeof line, "split-KV attention n_q=%d n_kv=%d: peak rose %.3f MiB, cache holds %.3f MiB", n_q,
                  n_kv, att.peak_rise / kMiB, att.cached / kMiB);
    check(att.peak_rise > 0 && att.cached > 0, line);
    pool.release_cached();
    OpWorkspace full = measure(pool, ctx.stream, [&] {
      attention_cuda(ao.get(), q.get(), kc.get(), vc.get(), 1, 1, qh, kvh, hd, 0, true, 0.088f, ctx);
    });
    std::snprintf(line, sizeof line, "attention n_kv=1 (one split): no workspace (peak rose %zu B)", full.peak_rise);
    check(full.peak_rise == 0 && full.cached == 0, line);
  }
  const long long after = device_used();
  char line[256];
  std::snprintf(line, sizeof line, "device memory after the pool is gone: %+.2f MiB vs before", (after - base) / kMiB);
  check(std::llabs(after - base) <= kSlack, line);
}

// Part 2.
struct RoundFigures {
  long long models_bytes = 0;  // device bytes taken while the models were loaded and had run
  long long pools_bytes = 0;   // their pools: in use + cached
  long long after_free = 0;    // device bytes in use once they were freed
};

RoundFigures one_round(const std::string& dir) {
  RoundFigures r;
  const long long start = device_used();
  std::mt19937 g(11);
  Qwen3TextConfig mid;
  mid.vocab_size = 8192;
  mid.hidden_size = 1024;
  mid.intermediate_size = 3072;
  mid.num_layers = 4;
  mid.num_heads = 8;
  mid.num_kv_heads = 4;
  mid.head_dim = 128;
  mid.mrope_section[0] = 24;
  mid.mrope_section[1] = 20;
  mid.mrope_section[2] = 20;
  auto text_cfg = Qwen3TextConfig::from_json(slurp(dir + "/config.json"));
  auto vis_cfg = Qwen3VisionConfig::from_json(slurp(dir + "/config.json"));
  auto ck = Checkpoint::open(dir);
  {
    auto big = Qwen3TextCuda::random(mid, WType::BF16, 3);
    auto tiny = Qwen3TextCuda::load(*ck, text_cfg, WType::BF16);
    auto tower = Qwen3VisionCuda::load(*ck, vis_cfg, WType::BF16);
    // Medium decoder: 700-token prefill, 3 eager steps over the cache (split-KV), 3 graph steps, 1 sample.
    const int n = 700;
    std::vector<int> ids(n), pos3(3 * n);
    for (int i = 0; i < n; ++i) {
      ids[i] = (int)(g() % mid.vocab_size);
      pos3[i] = pos3[n + i] = pos3[2 * n + i] = i;
    }
    big->prefill(ids.data(), n, pos3.data(), nullptr, nullptr, false);
    int tok = big->last_argmax();
    big->set_decode_graph(false);
    for (int i = 0; i < 3; ++i) tok = big->decode_greedy(tok);
    big->set_decode_graph(true);
    for (int i = 0; i < 3; ++i) tok = big->decode_greedy(tok);
    SamplingParams sp{0.7f, 20, 0.8f, 1.1f, 0.5f};
    uint64_t rng = 42;
    tok = big->decode_sample(tok, sp, ids.data(), n, &rng);
    // Tiny fixture decoder: 40-token prefill (bf16 GEMMs: hidden 64), 4 graph steps.
    const int tn = 40;
    std::vector<int> tids(tn), tpos(3 * tn);
    for (int i = 0; i < tn; ++i) {
      tids[i] = (int)(g() % text_cfg.vocab_size);
      tpos[i] = tpos[tn + i] = tpos[2 * tn + i] = i;
    }
    tiny->prefill(tids.data(), tn, tpos.data(), nullptr, nullptr, false);
    int tt = tiny->last_argmax();
    for (int i = 0; i < 4; ++i) tt = tiny->decode_greedy(tt);
    // Tower: one 64x64 image = grid (1, 4, 4), 16 patches.
    std::vector<Qwen3VisionGrid> grids{{1, 4, 4}};
    std::vector<float> px = randv((size_t)16 * vis_cfg.patch_dim(), g);
    Qwen3VisionOutput vo;
    tower->forward(px.data(), px.size(), grids, vo);
    if (vo.tokens != 4) throw std::runtime_error("tower: expected 4 merged tokens, got " + std::to_string(vo.tokens));
    (void)tok;
    (void)tt;
    r.models_bytes = device_used() - start;
    for (const CudaPool* p : {&big->pool(), &tiny->pool(), (const CudaPool*)&tower->pool()})
      r.pools_bytes += (long long)(p->bytes_in_use() + p->bytes_cached());
  }
  r.after_free = device_used();
  return r;
}

void lifecycle(const std::string& dir) {
  std::printf("load -> run -> free, 20 rounds (device bytes in use, cudaMemGetInfo)\n");
  const long long before = device_used();
  std::vector<RoundFigures> rounds;
  for (int i = 0; i < 20; ++i) {
    rounds.push_back(one_round(dir));
    const RoundFigures& r = rounds.back();
    std::printf(
        "  round %2d: models took %8.2f MiB (pools: %8.2f MiB in use + cached, outside: %+6.2f MiB); "
        "after free %+8.3f MiB vs round 1\n",
        i + 1, r.models_bytes / kMiB, r.pools_bytes / kMiB, (r.models_bytes - r.pools_bytes) / kMiB,
        (r.after_free - rounds[0].after_free) / kMiB);
  }
  char line[256];
  std::snprintf(line, sizeof line, "round 1 (warm-up: lazy module loading, driver state) left %+.2f MiB vs before",
                (rounds[0].after_free - before) / kMiB);
  std::printf("  %s\n", line);
  long long worst = 0;
  for (size_t i = 1; i < rounds.size(); ++i)
    worst = std::max(worst, std::llabs(rounds[i].after_free - rounds[0].after_free));
  std::snprintf(line, sizeof line, "rounds 2..20 end at round 1's memory: worst %.3f MiB (limit %.0f MiB)",
                worst / kMiB, kSlack / kMiB);
  check(worst <= kSlack, line);
  const long long trend = rounds.back().after_free - rounds[1].after_free;
  std::snprintf(line, sizeof line, "no growth from round 2 to round 20: %+.3f MiB", trend / kMiB);
  check(trend <= 0 || trend < (1LL << 20), line);
  // Round 1 is left out: what it takes outside the pools includes the driver's lazy module loading (printed above).
  long long outside = 0;
  for (size_t i = 1; i < rounds.size(); ++i)
    outside = std::max(outside, rounds[i].models_bytes - rounds[i].pools_bytes);
  std::snprintf(line, sizeof line,
                "device bytes of the loaded models outside their pools, rounds 2..20: at most %.2f MiB (limit 64)",
                outside / kMiB);
  check(outside <= (64LL << 20), line);
}
}  // namespace

// Part 0: the pool's count of its CUDA calls (CudaPool::cuda_calls, what the tower's phases report): a miss is one
// cudaMalloc, a cached block of the same size none, release_cached one cudaFree per cached block.
void pool_call_counts() {
  std::printf("the pool's CUDA calls\n");
  CudaPool pool;
  const CudaPool::CudaCalls c0 = pool.cuda_calls();
  void* a = pool.alloc(3 << 20);
  void* b = pool.alloc(1000);
  pool.free(a);
  void* a2 = pool.alloc(3 << 20);  // the cached block
  const CudaPool::CudaCalls c1 = pool.cuda_calls();
  check(c1.mallocs - c0.mallocs == 2 && c1.frees == c0.frees && a2 == a,
        "two sizes: 2 cudaMalloc, the freed block handed out again (" + std::to_string(c1.mallocs - c0.mallocs) + ")");
  pool.free(a2);
  pool.free(b);
  pool.release_cached();
  const CudaPool::CudaCalls c2 = pool.cuda_calls();
  check(c2.frees - c1.frees == 2 && c2.mallocs == c1.mallocs && c2.malloc_ms >= 0 && c2.free_ms >= c1.free_ms,
        "release_cached: one cudaFree a cached block (" + std::to_string(c2.frees - c1.frees) + ")");
  // Epochs (the tower's runs): a run keeps the blocks it used; those of earlier runs' other sizes go back.
  pool.free(pool.alloc(5 << 20));  // an earlier run's size
  const uint64_t run = pool.begin_epoch();
  void* c = pool.alloc(2 << 20);
  pool.free(c);
  const CudaPool::CudaCalls c3 = pool.cuda_calls();
  pool.release_cached_before(run);
  const CudaPool::CudaCalls c4 = pool.cuda_calls();
  check(c4.frees - c3.frees == 1 && pool.bytes_cached() == (2u << 20),
        "release_cached_before: the earlier run's block given back, this run's kept (" +
            std::to_string(c4.frees - c3.frees) + " cudaFree, " + std::to_string(pool.bytes_cached()) + " B cached)");
  void* c2b = pool.alloc(2 << 20);
  const CudaPool::CudaCalls c5 = pool.cuda_calls();
  check(c2b == c && c5.mallocs == c4.mallocs, "the next run of the same size: its block again, no cudaMalloc");
  pool.free(c2b);
  // Held for a graph (the tower's): the blocks cached since a run's epoch handed out again as in use, the earlier
  // ones left in the cache; freed, they are cached blocks again.
  void* old_block = pool.alloc(3 << 20);
  pool.free(old_block);
  const uint64_t graph_run = pool.begin_epoch();
  void* w1 = pool.alloc(1 << 20);
  void* w2 = pool.alloc(4096);
  pool.free(w1);
  pool.free(w2);
  const size_t in_use0 = pool.bytes_in_use();
  std::vector<void*> held = pool.hold_cached_since(graph_run);
  const bool both = held.size() == 2 && std::count(held.begin(), held.end(), w1) == 1 &&
                    std::count(held.begin(), held.end(), w2) == 1;
  check(both && pool.bytes_in_use() == in_use0 + (1 << 20) + 4096 && pool.bytes_cached() == (3u << 20) + (2u << 20),
        "hold_cached_since: this run's two cached blocks in use again, the earlier run's left cached (" +
            std::to_string(held.size()) + " held)");
  void* w1b = pool.alloc(1 << 20);
  check(w1b != w1, "a held block is not handed out again");
  pool.free(w1b);
  for (void* p : held) pool.free(p);
  check(pool.bytes_in_use() == in_use0, "the held blocks freed: none in use");
  pool.release_cached();
  // Out of memory: another pool's cache is given back before alloc gives up.
  size_t free_b = 0, total_b = 0;
  CUDA_CHECK(cudaMemGetInfo(&free_b, &total_b));
  const size_t big = free_b / 2 / (1 << 20) * (1 << 20) + (64u << 20);  // two of these do not fit at once
  CudaPool other;
  other.free(other.alloc(big));
  void* mine = pool.alloc(big);  // fits only once other's cache is back with CUDA
  check(mine && other.bytes_cached() == 0, "out of memory: another pool's cache given back and the allocation made (" +
                                               std::to_string(big >> 20) + " MiB twice)");
  pool.free(mine);
  pool.release_cached();
  // ... and another pool's reclaim hook asked first: what its owner holds for speed (a graph's blocks, in use) goes
  // back into its cache, then to CUDA.
  void* kept_for_speed = other.alloc(big);
  int hook_calls = 0;
  other.set_reclaim([&] {
    ++hook_calls;
    other.free(kept_for_speed);
    kept_for_speed = nullptr;
  });
  void* mine2 = pool.alloc(big);
  check(mine2 && hook_calls == 1 && !kept_for_speed && other.bytes_in_use() == 0 && other.bytes_cached() == 0,
        "out of memory: another pool's reclaim hook called once, what it held given back, the allocation made");
  other.set_reclaim(nullptr);
  pool.free(mine2);
  pool.release_cached();
}

// Part 0, CudaGraphSegments.
__global__ void bump_kernel(int* c) { *c += 1; }

// CudaGraphSegments: each piece launches one bump, so the counter tells how many launches ran; host_calls how many
// times a piece was called on the host.
void graph_segments() {
  CudaStream stream;
  const cudaStream_t s = stream.get();
  int* counter = nullptr;
  CUDA_CHECK(cudaMalloc(&counter, sizeof(int)));
  CUDA_CHECK(cudaMemsetAsync(counter, 0, sizeof(int), s));
  auto count = [&] {
    int h = -1;
    CUDA_CHECK(cudaMemcpyAsync(&h, counter, sizeof h, cudaMemcpyDeviceToHost, s));
    CUDA_CHECK(cudaStreamSynchronize(s));
    return h;
  };
  auto out_of_capture = [&] {
    cudaStreamCaptureStatus st = cudaStreamCaptureStatusActive;
    return cudaStreamIsCapturing(s, &st) == cudaSuccess && st == cudaStreamCaptureStatusNone &&
           cudaGetLastError() == cudaSuccess;
  };
  int host_calls = 0;
  auto bump = [&] {
    ++host_calls;
    bump_kernel<<<1, 1, 0, s>>>(counter);
    CUDA_CHECK_LAUNCH();
  };
  std::vector<cudaGraphExec_t> execs;
  {
    CudaGraphSegments g(kGraphCaptured, s, execs);
    g.add(bump);
    g.add(bump);
    g.close();
    g.add(bump);
    g.close();
    check(!g.failed() && execs.size() == 2 && host_calls == 3 && count() == 3,
          "graph segments recorded: two graphs, their three launches run once (" + std::to_string(count()) + ")");
  }
  host_calls = 0;
  {
    CudaGraphSegments g(kGraphReplayed, s, execs);
    g.add(bump);
    g.add(bump);
    g.close();
    g.add(bump);
    g.close();
    check(host_calls == 0 && count() == 6, "graph segments replayed: no piece called, the graphs' launches ran");
  }
  // A sync of the capturing stream cannot be recorded: the segment runs eagerly (bump, sync, bump), nothing thrown.
  std::vector<cudaGraphExec_t> none;
  auto sync = [&] { CUDA_CHECK(cudaStreamSynchronize(s)); };
  bool threw = false;
  {
    CudaGraphSegments g(kGraphCaptured, s, none);
    try {
      g.add(bump);
      g.add(sync);
      g.add(bump);
      g.close();
    } catch (const std::exception&) {
      threw = true;
    }
    check(!threw && g.failed() && none.empty() && count() == 8 && out_of_capture(),
          "a piece capture cannot record: the segment run eagerly, not thrown, the stream out of capture");
  }
  // A piece whose error is real throws again, eagerly (the pieces before it ran once).
  std::string what;
  {
    CudaGraphSegments g(kGraphCaptured, s, none);
    try {
      g.add(bump);
      g.add([] { throw std::runtime_error("a real error"); });
    } catch (const std::runtime_error& e) {
      what = e.what();
    }
  }
  check(what == "a real error" && count() == 9 && out_of_capture(),
        "a piece's real error while recording: thrown again eagerly, the pieces before it run once");
  for (cudaGraphExec_t e : execs) cudaGraphExecDestroy(e);
  CUDA_CHECK(cudaFree(counter));
}

int main(int argc, char** argv) {
  const std::string root = argc > 1 ? argv[1] : ".";
  if (cuda_device_count() == 0) {
    std::printf("no CUDA device\n");
    return 2;
  }
  try {
    CUDA_CHECK(cudaFree(nullptr));  // create the context before the first baseline
    pool_call_counts();
    graph_segments();
    op_workspaces();
    lifecycle(root + "/test/fixtures/qwen3vl-tiny");
  } catch (const std::exception& e) {
    std::printf("lifecycle_cuda_test: error: %s\n", e.what());
    return 1;
  }
  std::printf("lifecycle_cuda_test: %s\n", failures ? "FAIL" : "PASS");
  return failures ? 1 : 0;
}
