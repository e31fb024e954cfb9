// CUDA forward of the Qwen3-VL vision tower; mirrors qwen3_vision_forward_cpu (qwen3_vision.cc) step
// by step on the shared layers' CUDA paths. Every op (the position-table gather gather4_add, the qkv
// split + 2D rotary qkv_rope included) has a CPU twin, checked by native/test/ops_cuda_test.
#include "qwen3_vision_cuda.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <functional>
#include <future>
#include <string>
#include <type_traits>
#include <vector>

#include "../core/cuda_common.h"
#include "../core/env.h"
#include "../core/parallel.h"
#include "../core/tensor.h"
#include "../layers/attention_block.h"
#include "../layers/linear.h"
#include "../layers/mlp.h"
#include "../layers/norm.h"
#include "../ops/add.h"
#include "../ops/cast_bf16.h"
#include "../ops/gather4_add.h"

extern char** environ;  // (POSIX) the COSMOS_* switches in a graph's key

namespace cosmos {

namespace {

double ms_since(std::chrono::steady_clock::time_point a) {
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - a).count();
}

// memcpy over the host's threads, in 1 MB chunks: one thread copies ~6 GB/s, short of what the copy engines take.
void copy_host(void* dst, const void* src, size_t bytes) {
  const size_t chunk = (size_t)1 << 20;
  parallel_for(CpuContext{}, (int)((bytes + chunk - 1) / chunk), 4, [&](int b, int e) {
    const size_t o = (size_t)b * chunk, end = std::min((size_t)e * chunk, bytes);
    std::memcpy(static_cast<char*>(dst) + o, static_cast<const char*>(src) + o, end - o);
  });
}
// Stages n values of the caller's pixels in page-locked memory (fill(dst, offset, count): a copy, or the cast to bf16)
// and sends them up, in chunks over the host's threads: each thread enqueues a chunk's copy as soon as it has staged
// it, so the copy engine streams while the rest is staged. The staging sets the pace, not the link: on the H100
// machines (2026-12-06, bench/h2d_stage_probe.cu) a thread casts ~2.3-2.9 GB/s of f32 and the copy runs ~55 GB/s. One
// contiguous part per thread (equal parts, ending together) measured no faster there (bench/README, session 52). A
// failed enqueue is thrown here, after every thread is back.
template <class T, class Fill>
void stage_and_upload(T* dev, T* pin, size_t n, cudaStream_t s, Fill&& fill) {
  const size_t chunk = (size_t)1 << 20;  // values
  int device = 0;
  CUDA_CHECK(cudaGetDevice(&device));
  std::atomic<int> first_error{(int)cudaSuccess};
  auto fail = [&](cudaError_t r) {
    int none = (int)cudaSuccess;
    if (r != cudaSuccess) first_error.compare_exchange_strong(none, (int)r);
  };
  parallel_for(CpuContext{}, (int)((n + chunk - 1) / chunk), 1, [&](int b, int e) {
    fail(cudaSetDevice(device));  // a new thread's current device is device 0; s belongs to this one
    for (int i = b; i < e; ++i) {
      const size_t o = (size_t)i * chunk, len = std::min(chunk, n - o);
      fill(pin + o, o, len);
      fail(cudaMemcpyAsync(dev + o, pin + o, sizeof(T) * len, cudaMemcpyHostToDevice, s));
    }
  });
  CUDA_CHECK((cudaError_t)first_error.load());
}

// The tower's GEMM inputs written in bf16 by their producers (Qwen3VisionCuda::run) unless COSMOS_TOWER_BF16_INPUTS=0
// (the f32 rows and a cast before each GEMM: the same numbers, ops_cuda_test's bf16_inputs rows). On the H100 video
// tower (2026-12-06, with add_layernorm's vector form) it took 2 ms of casts a run. Read at every run (tests switch
// it).
bool tower_bf16_inputs_requested() { return env_switch("COSMOS_TOWER_BF16_INPUTS", true); }

// The head of a run: where it has several frames (a video's, or several images), the first quarter of them (at least
// one) runs the first `layers` blocks alone while the host stages the other frames' pixels, then those frames run the
// same blocks and the rest of the tower runs on every row. The host's cast sets the staging's pace (~2.8 ms of a
// 16-frame 480p video's tower on the H100 machines, bench/README), and the GPU had nothing to do meanwhile. Frames are
// independent until the mergers (attention within a frame, everything else a row at a time), so the outputs are the
// same bit for bit (a GEMM's value for a row does not depend on the other rows: every tile sums k in the same order),
// where both parts take the whole run's GEMM paths (Qwen3VisionCuda::run checks; else no head).
// layers: twice the rest's rows over the head's (a row's staging took about two blocks' time of a row there), at most
// the depth and the first deepstack index (its merger reads every row). COSMOS_TOWER_HEAD=0 turns it off; read at
// every run.
struct TowerHead {
  std::vector<Qwen3VisionGrid> grids, rest;  // the head's frames and the others', in order
  int layers = 0;                            // 0: no head
};
TowerHead tower_head_plan(const Qwen3VisionConfig& c, const std::vector<Qwen3VisionGrid>& grids) {
  TowerHead h;
  int frames = 0;
  for (const auto& g : grids) frames += g.t;
  if (frames < 2 || !env_switch("COSMOS_TOWER_HEAD", true)) return h;
  int left = std::max(1, frames / 4);
  for (const auto& g : grids) {
    const int take = std::min(left, g.t);
    if (take > 0) h.grids.push_back({take, g.h, g.w});
    if (g.t > take) h.rest.push_back({g.t - take, g.h, g.w});
    left -= take;
  }
  const int64_t n1 = qwen3_vision_num_patches(h.grids), n2 = qwen3_vision_num_patches(h.rest);
  int64_t layers = std::min<int64_t>(c.depth, (2 * n2 + n1 - 1) / n1);
  for (int d : c.deepstack_visual_indexes) layers = std::min<int64_t>(layers, d);
  h.layers = (int)std::max<int64_t>(layers, 0);
  return h;
}

// Synchronises a stream when it goes out of scope (a run that throws leaves no copy in flight into pool memory).
struct SyncOnExit {
  cudaStream_t s;
  ~SyncOnExit() { cudaStreamSynchronize(s); }
};

// Events of one run (timing disabled: they only order the host against the stream).
struct RunEvents {
  std::vector<cudaEvent_t> ev;
  explicit RunEvents(int n) : ev(n, nullptr) {
    for (auto& e : ev) CUDA_CHECK(cudaEventCreateWithFlags(&e, cudaEventDisableTiming));
  }
  ~RunEvents() {
    for (auto e : ev)
      if (e) cudaEventDestroy(e);
  }
};

// A run that finished keeps the pool blocks it used for the next run of the same grids, giving back only those it did
// not use (CudaPool's epochs), unless COSMOS_TOWER_KEEP_BLOCKS=0; a pool elsewhere short of memory takes them too
// (CudaPool::alloc). On an H100 (2026-12-06) the video tower's next run then made no cudaMalloc (13 calls, ~1.3 ms
// before) and no cudaFree at its end (~0.8 ms). Read at every run.
bool keep_blocks_requested() { return env_switch("COSMOS_TOWER_KEEP_BLOCKS", true); }

// Syncs the stream when a run ends, however it ends, and gives the pool's cached blocks back to CUDA: after a run that
// finished (keep_blocks_requested), all but the ones the run used; after a run that threw, all of them. Declared before
// the run's buffers, so it runs after their destructors returned them.
struct ReleaseOnExit {
  CudaPool& pool;
  cudaStream_t s;
  Qwen3VisionCuda::Phases& phases;
  const CudaPool::CudaCalls before = pool.cuda_calls();
  const uint64_t epoch = pool.begin_epoch();
  const int exceptions = std::uncaught_exceptions();
  ~ReleaseOnExit() {
    const CudaPool::CudaCalls run = pool.cuda_calls();
    phases.mallocs = run.mallocs - before.mallocs;
    phases.malloc_ms = run.malloc_ms - before.malloc_ms;
    auto a = std::chrono::steady_clock::now();
    cudaStreamSynchronize(s);
    if (std::uncaught_exceptions() > exceptions || !keep_blocks_requested())
      pool.release_cached();
    else
      pool.release_cached_before(epoch);
    phases.release = ms_since(a);
  }
};

// The blocks as CUDA graphs per shape with COSMOS_TOWER_GRAPH=1 (not with COSMOS_TOWER_KEEP_BLOCKS=0: a graph holds
// its run's blocks). Off by default: the same bits as the eager blocks, but no faster on an H100 (the GPU never waited
// on the launches: bench/README, session 64), and the graphs hold their run's workspaces. Read at every run.
bool tower_graph_requested() { return env_switch("COSMOS_TOWER_GRAPH", false) && keep_blocks_requested(); }

// What a shape's graphs were recorded under: the grids, and every COSMOS_* variable (the ops read their switches at
// call time, so a graph recorded under other values would replay other kernels than an eager run would take).
std::string tower_graph_key(const std::vector<Qwen3VisionGrid>& grids) {
  std::string k;
  for (const Qwen3VisionGrid& g : grids)
    k += std::to_string(g.t) + "x" + std::to_string(g.h) + "x" + std::to_string(g.w) + " ";
  std::vector<std::string> vars;
  for (char** e = environ; e && *e; ++e)
    if (std::strncmp(*e, "COSMOS_", 7) == 0) vars.emplace_back(*e);
  std::sort(vars.begin(), vars.end());
  for (const std::string& v : vars) k += "|" + v;
  return k;
}

}  // namespace

// A run's device buffers. An eager run owns its own; a shape's graphs own the ones they were recorded on (their
// addresses are baked into the graphs), which later runs of the shape reuse as they are.
struct Qwen3VisionCuda::RunBuffers {
  DeviceBuffer<float> x, tmp, scratch, merged;
  DeviceBuffer<__nv_bfloat16> xn, px16;
  DeviceBuffer<float> px32, pwt, cos, sin;
  DeviceBuffer<int> pidx;
};

// One shape's graphs, the buffers they were recorded on and the pool blocks their ops took as workspaces (held).
struct Qwen3VisionCuda::TowerGraph {
  std::string key;
  RunBuffers bufs;
  std::vector<cudaGraphExec_t> segments;
  std::vector<void*> held;
  CudaPool* pool = nullptr;
  cudaStream_t stream = nullptr;  // the graphs' (a run that threw may have left one in flight)
  ~TowerGraph() {
    cudaStreamSynchronize(stream);
    for (cudaGraphExec_t e : segments) cudaGraphExecDestroy(e);
    for (void* p : held) pool->free(p);
  }
};

Qwen3VisionCuda::Qwen3VisionCuda(const Qwen3VisionConfig& cfg, WType wt) : cfg_(cfg), wt_(wt) {
  // Another pool out of memory takes the graphs' blocks unless a run is on (it is using them).
  pool_.set_reclaim([this] {
    std::unique_lock<std::mutex> l(run_mu_, std::try_to_lock);
    if (l.owns_lock()) graph_.reset();
  });
}

Qwen3VisionCuda::~Qwen3VisionCuda() {
  pool_.set_reclaim(nullptr);
  cudaStreamSynchronize(stream_.get());
  graph_.reset();
}

bool Qwen3VisionCuda::graph_held() const {
  std::lock_guard<std::mutex> l(run_mu_);
  return graph_ != nullptr;
}

void Qwen3VisionCuda::drop_graph() {
  std::lock_guard<std::mutex> l(run_mu_);
  graph_.reset();  // (~TowerGraph syncs the stream before it lets go)
  last_key_.clear();
}

void* Qwen3VisionCuda::Pinned::get(size_t want) {
  if (want <= bytes) return p;
  if (p) CUDA_CHECK(cudaFreeHost(p));
  p = nullptr;
  bytes = 0;
  CUDA_CHECK(cudaHostAlloc(&p, want, cudaHostAllocDefault));
  bytes = want;
  return p;
}

Qwen3VisionCuda::Pinned::~Pinned() {
  if (p) cudaFreeHost(p);
}

std::unique_ptr<Qwen3VisionCuda> Qwen3VisionCuda::load(const Checkpoint& ck, const Qwen3VisionConfig& cfg, WType wt) {
  std::unique_ptr<Qwen3VisionCuda> m(new Qwen3VisionCuda(cfg, wt));
  WeightBinder wb(ck, m->store_, "vision_config");
  qwen3_vision_bind(cfg, wb, m->w_);
  m->pad_mlp_widths();
  return m;
}

std::unique_ptr<Qwen3VisionCuda> Qwen3VisionCuda::random(const Qwen3VisionConfig& cfg, WType wt, uint64_t seed,
                                                         float std) {
  std::unique_ptr<Qwen3VisionCuda> m(new Qwen3VisionCuda(cfg, wt));
  WeightBinder wb(seed, std, m->store_);  // LayerNorm gains 1, their biases 0, the rest uniform
  qwen3_vision_bind(cfg, wb, m->w_);
  m->pad_mlp_widths();
  CUDA_CHECK(cudaStreamSynchronize(m->stream_.get()));
  return m;
}

// The blocks' MLP width to a multiple of 64 (gelu_mlp_pad_width_cuda: the same outputs bit for bit): the tower's
// 4304 gives fc1's bf16 output and fc2's operand rows of 8608 bytes, off the 128-byte lines the GEMMs' TMA boxes
// read; 4352 puts every row on them. COSMOS_TOWER_MLP_PAD=0 keeps the checkpoint's width. Read at load.
void Qwen3VisionCuda::pad_mlp_widths() {
  if (!env_switch("COSMOS_TOWER_MLP_PAD", true)) return;
  for (Qwen3VisionBlock& b : w_.blocks) gelu_mlp_pad_width_cuda(b.mlp, store_, 64, stream_.get());
}

// PatchMerger.forward on the GPU: x [N, D] -> out_dev [N/unit, out] (see run_merger in qwen3_vision.cc).
void Qwen3VisionCuda::merger(const Qwen3VisionMerger& mg, const float* x, int N, float* out_dev, float* scratch) {
  const int unit = cfg_.merge_unit(), T = N / unit;
  float* normed = scratch;
  norm_cuda(normed, x, mg.norm, mg.postshuffle ? T : N, ctx_);
  mlp_cuda(out_dev, normed, mg.mlp, T, scratch + (size_t)N * cfg_.hidden_size, ctx_);
}

void Qwen3VisionCuda::forward(const float* pixel_values, size_t n_floats, const std::vector<Qwen3VisionGrid>& grids,
                              Qwen3VisionOutput& out) {
  run(pixel_values, n_floats, grids, &out, nullptr, nullptr);
}

void Qwen3VisionCuda::forward_device(const float* pixel_values, size_t n_floats,
                                     const std::vector<Qwen3VisionGrid>& grids, float* embeds_dev,
                                     const std::vector<float*>& deepstack_dev) {
  if (!embeds_dev || deepstack_dev.size() != cfg_.deepstack_visual_indexes.size())
    throw ModelError("forward_device needs the embeddings buffer and one buffer per deepstack index (" +
                     std::to_string(cfg_.deepstack_visual_indexes.size()) + ")");
  for (float* p : deepstack_dev)
    if (!p) throw ModelError("forward_device: a deepstack buffer is null");
  run(pixel_values, n_floats, grids, nullptr, embeds_dev, &deepstack_dev);
}

void Qwen3VisionCuda::run(const float* pixel_values, size_t n_floats, const std::vector<Qwen3VisionGrid>& grids,
                          Qwen3VisionOutput* out_host, float* embeds_dev, const std::vector<float*>* deepstack_dev) {
  const bool to_device = embeds_dev != nullptr;
  std::string err;
  if (!qwen3_vision_check_grids(cfg_, grids, err)) throw ModelError(err);
  const size_t want = (size_t)qwen3_vision_num_patches(grids) * (size_t)cfg_.patch_dim();
  if (n_floats != want)
    throw ModelError("pixel_values has " + std::to_string(n_floats) + " floats; the grids need " +
                     std::to_string(want) + " (patches x " + std::to_string(cfg_.patch_dim()) + ")");
  const Qwen3VisionConfig& c = cfg_;
  const int D = c.hidden_size, hd = c.head_dim();
  const int m = c.spatial_merge_size, unit = c.merge_unit(), OUT = c.out_hidden_size;
  const int N = (int)qwen3_vision_num_patches(grids), T = N / unit;
  const size_t ND = (size_t)N * D;
  cudaStream_t s = stream_.get();
  auto check_abort = [&]() {
    if (abort_ && abort_->load(std::memory_order_relaxed)) throw AbortedError();  // ReleaseOnExit syncs
  };
  std::lock_guard<std::mutex> one_run(run_mu_);

  pool_.reset_peak();
  phases_ = Phases{};
  ReleaseOnExit release{pool_, s, phases_};
  check_abort();

  // The graphs (tower_graph_requested): the shape's held ones replayed; a second run of the same key records them; any
  // other run is eager and lets go of another shape's graphs (their blocks back to the cache, for this run to take).
  const std::string key = tower_graph_requested() && !graph_broken_ ? tower_graph_key(grids) : std::string();
  GraphUse use = kGraphEager;
  if (!key.empty() && graph_ && graph_->key == key)
    use = kGraphReplayed;
  else if (!key.empty() && key == last_key_)
    use = kGraphCaptured;
  if (use != kGraphReplayed) {
    graph_.reset();
    last_key_ = use == kGraphEager ? key : std::string();
  }
  std::unique_ptr<TowerGraph> recording;
  if (use == kGraphCaptured) {
    recording = std::make_unique<TowerGraph>();
    recording->key = key;
    recording->pool = &pool_;
    recording->stream = s;
  }
  RunBuffers eager_bufs;
  RunBuffers& rb = use == kGraphReplayed ? graph_->bufs : use == kGraphCaptured ? recording->bufs : eager_bufs;
  // A buffer of n elements: allocated unless it already is (a replay's, recorded at the same sizes).
  auto ensure = [&](auto& b, size_t n) {
    if (b.size() != n) b = std::remove_reference_t<decltype(b)>(pool_, n);
  };

  // Host staging, page-locked and kept between runs (the previous run ended with a stream sync):
  // [pixels | position corners idx | weights | rotary cos | sin], all 4-byte elements. Copies from
  // pageable memory would go through the driver's small bounce buffers and block the host.
  const size_t n_corner = (size_t)4 * N, n_rot = (size_t)N * hd;
  float* pin = static_cast<float*>(in_pin_.get(sizeof(float) * (n_floats + 2 * n_corner + 2 * n_rot)));
  float* pin_px = pin;
  int* pin_idx = reinterpret_cast<int*>(pin + n_floats);
  float* pin_wt = pin + n_floats + n_corner;
  float* pin_cos = pin_wt + n_corner;
  float* pin_sin = pin_cos + n_rot;

  ensure(rb.x, ND);
  ensure(rb.tmp, ND);
  // bf16 GEMM inputs from their producers (tower_bf16_inputs_requested): the host stages the pixels in bf16, and the
  // norms write bf16 rows (xn) for q|k|v and fc1, where each of those GEMMs would round its f32 input to bf16 first:
  // the same numbers without the f32 rows and the cast passes.
  DeviceBuffer<__nv_bfloat16>& xn = rb.xn;
  // Whether every GEMM of a run of `rows` rows takes bf16 rows (xn set), and adds its residual in the epilogue.
  auto bf16_runs = [&](int rows) {
    bool ok = linear_bf16_runs(w_.patch_embed, rows, ctx_);
    for (const Qwen3VisionBlock& b : w_.blocks)
      ok = ok && attention_qkv_bf16_runs(b.attn, rows, ctx_) && mlp_bf16_input_runs(b.mlp, xn.get(), rows, ctx_);
    return ok;
  };
  auto resid_runs = [&](int rows) {
    bool ok = true;
    for (const Qwen3VisionBlock& b : w_.blocks)
      ok = ok && linear_bf16_add_runs(b.attn.o, rows, ctx_) &&
           mlp_residual_in_epilogue(b.mlp, nullptr, xn.get(), rows, ctx_);
    return ok;
  };
  if (tower_bf16_inputs_requested() && linear_bf16_runs(w_.patch_embed, N, ctx_)) {
    ensure(xn, ND);
    if (!bf16_runs(N)) xn.reset();
  } else {
    xn.reset();
  }
  const bool bf16_inputs = xn.get() != nullptr;
  phases_.bf16_inputs = bf16_inputs;
  // With them, the residual adds ride in the o and fc2 GEMMs' epilogue (residual_in_gemm_requested) where every block
  // runs those on the wgmma GEMM: x += attn / mlp there, the norms after them read x alone (the same bits).
  const bool resid = bf16_inputs && residual_in_gemm_requested() && resid_runs(N);
  phases_.residual_in_gemm = resid;
  // The head (tower_head_plan): the first frames run the first blocks while the host stages the other frames' pixels.
  // Its two parts must take the GEMMs the whole run takes (the wgmma GEMM and the fused bf16 ones need 128 rows or
  // more), or no head.
  TowerHead head = tower_head_plan(c, grids);
  auto same_paths = [&](int rows) {
    return rows >= 128 && (!bf16_inputs || bf16_runs(rows)) && (!resid || resid_runs(rows));
  };
  int N1 = head.layers > 0 ? (int)qwen3_vision_num_patches(head.grids) : N;
  if (head.layers > 0 && (!same_paths(N1) || !same_paths(N - N1))) head = TowerHead{}, N1 = N;
  phases_.head_rows = head.layers > 0 ? N1 : 0;
  phases_.head_layers = head.layers;
  // The grids' tables (position corners and weights, rotary cos / sin) on a host thread of their own, while the pixels
  // are staged: the head's rows first (head_tables), then the rest's; joined (and any error of theirs thrown) before
  // they go up. A frame's tables do not depend on the frames before it, so the two lists give the rows' tables.
  auto tables_of = [&](const std::vector<Qwen3VisionGrid>& gs, size_t row0) {
    std::vector<int> pidx;
    std::vector<float> pwt;
    qwen3_vision_pos_corners(c.num_position_embeddings, gs, m, pidx, pwt);
    const size_t rows = (size_t)qwen3_vision_num_patches(gs);
    if (pidx.size() != 4 * rows || pwt.size() != 4 * rows) throw ModelError("qwen3 vision: position corner count");
    std::memcpy(pin_idx + 4 * row0, pidx.data(), sizeof(int) * 4 * rows);
    std::memcpy(pin_wt + 4 * row0, pwt.data(), sizeof(float) * 4 * rows);
    qwen3_vision_rotary_cpu(gs, m, hd, c.rope_theta, pin_cos + row0 * hd, pin_sin + row0 * hd);
  };
  std::promise<void> head_tables_done;
  std::future<void> head_tables = head_tables_done.get_future();
  auto tables = std::async(std::launch::async, [&] {
    try {
      tables_of(head.layers > 0 ? head.grids : grids, 0);
    } catch (...) {
      head_tables_done.set_exception(std::current_exception());
      return;
    }
    head_tables_done.set_value();
    if (head.layers > 0) tables_of(head.rest, (size_t)N1);
  });
  ensure(rb.pidx, n_corner);
  ensure(rb.pwt, n_corner);
  ensure(rb.cos, n_rot);
  ensure(rb.sin, n_rot);
  // Rows [row0, row0 + rows): their pixels staged and sent up (on `up`, which s then waits for), the patch embedding
  // (Conv3d with kernel = stride = patch: a matmul over the flattened patch), their tables up and their position
  // embeddings added. The pixels' buffer lives for the whole run: the rest's are staged while the head's blocks run.
  const int P = c.patch_dim();
  ensure(rb.px16, bf16_inputs ? n_floats : 0);
  ensure(rb.px32, bf16_inputs ? 0 : n_floats);
  RunEvents up_ev(1);
  SyncOnExit up_done{up_stream_.get()};
  auto embed_rows = [&](size_t row0, int rows, std::future<void>& tables_ready, cudaStream_t up) {
    auto t0 = std::chrono::steady_clock::now();
    const size_t o = row0 * P, len = (size_t)rows * P;
    if (bf16_inputs) {
      auto* pin_bf16 = reinterpret_cast<uint16_t*>(pin_px);  // the first half of the pixels' staging
      stage_and_upload(reinterpret_cast<uint16_t*>(rb.px16.get()) + o, pin_bf16 + o, len, up,
                       [&](uint16_t* dst, size_t i, size_t n) { cast_bf16_cpu(dst, pixel_values + o + i, n); });
    } else {
      stage_and_upload(rb.px32.get() + o, pin_px + o, len, up, [&](float* dst, size_t i, size_t n) {
        std::memcpy(dst, pixel_values + o + i, sizeof(float) * n);
      });
    }
    if (up != s) {
      CUDA_CHECK(cudaEventRecord(up_ev.ev[0], up));
      CUDA_CHECK(cudaStreamWaitEvent(s, up_ev.ev[0], 0));
    }
    if (bf16_inputs)
      linear_bf16_cuda(rb.x.get() + row0 * D, rb.px16.get() + o, w_.patch_embed, rows, ctx_);
    else
      linear_cuda(rb.x.get() + row0 * D, rb.px32.get() + o, w_.patch_embed, rows, ctx_);
    phases_.pixels += ms_since(t0);
    t0 = std::chrono::steady_clock::now();
    tables_ready.get();
    const size_t nc = (size_t)4 * rows, nr = (size_t)rows * hd;
    CUDA_CHECK(
        cudaMemcpyAsync(rb.pidx.get() + 4 * row0, pin_idx + 4 * row0, sizeof(int) * nc, cudaMemcpyHostToDevice, s));
    CUDA_CHECK(
        cudaMemcpyAsync(rb.pwt.get() + 4 * row0, pin_wt + 4 * row0, sizeof(float) * nc, cudaMemcpyHostToDevice, s));
    CUDA_CHECK(
        cudaMemcpyAsync(rb.cos.get() + row0 * hd, pin_cos + row0 * hd, sizeof(float) * nr, cudaMemcpyHostToDevice, s));
    CUDA_CHECK(
        cudaMemcpyAsync(rb.sin.get() + row0 * hd, pin_sin + row0 * hd, sizeof(float) * nr, cudaMemcpyHostToDevice, s));
    gather4_add_cuda(rb.x.get() + row0 * D, w_.pos_embed, rb.pidx.get() + 4 * row0, rb.pwt.get() + 4 * row0, rows, D,
                     ctx_);
    phases_.tables += ms_since(t0);
  };
  embed_rows(0, N1, head_tables, s);

  // One scratch for the attention block, the MLP and the mergers in turn (stream order keeps them apart).
  const Qwen3VisionBlock& b0 = w_.blocks[0];
  ensure(rb.scratch, std::max({attention_scratch_floats(b0.attn, N, false), mlp_scratch_floats(b0.mlp, N), 2 * ND}));
  ensure(rb.merged, to_device ? 0 : (size_t)T * OUT);
  float *x = rb.x.get(), *tmp = rb.tmp.get(), *scratch = rb.scratch.get();
  AttentionCall call;
  call.causal = false;  // full attention inside each frame (cu_seqlens)
  // bf16 checkpoints on flash_attention_cuda (the wgmma kernel on Hopper, head_dim 72 padded to 128); head dims below
  // 64 (the tiny fixtures) keep attention_cuda's exact f32 kernel.
  call.tensor_core_attention = wt_ == WType::BF16 && c.head_dim() >= 64;
  call.residual = resid;
  const auto& idx = c.deepstack_visual_indexes;
  const size_t n_out = (size_t)T * OUT;
  Qwen3VisionOutput unused;
  Qwen3VisionOutput& out = out_host ? *out_host : unused;
  if (!to_device) out.deepstack.resize(idx.size());  // keeps the caller's capacity when `out` is reused

  // Outputs leave through two page-locked slabs used in turn: merger -> slab (async, on the stream)
  // -> the host vector, copied by the host once the slab's event fired. The host enqueues the blocks
  // without waiting; it first waits when it needs a slab back (two outputs later), by which time it
  // has queued most of the run, so its copies and the sizing of the output vectors (page faults)
  // overlap GPU work. Abort is checked while enqueueing and after every wait.
  RunEvents ev(2);
  float* slabs = to_device ? nullptr : static_cast<float*>(out_pin_.get(2 * sizeof(float) * n_out));
  std::vector<float>* pending[2] = {nullptr, nullptr};  // the vector each slab's contents belong to
  int n_sent = 0;
  std::vector<std::vector<float>*> to_size;
  for (auto& d : out.deepstack) to_size.push_back(&d);
  to_size.push_back(&out.embeds);
  auto drain = [&](int j) {
    if (!pending[j]) return;
    if (cudaEventQuery(ev.ev[j]) == cudaErrorNotReady)
      for (auto* v : to_size) v->resize(n_out);  // host work while the GPU catches up (no-op once sized)
    CUDA_CHECK(cudaEventSynchronize(ev.ev[j]));
    check_abort();
    pending[j]->resize(n_out);
    copy_host(pending[j]->data(), slabs + (size_t)j * n_out, sizeof(float) * n_out);
    pending[j] = nullptr;
  };
  auto send = [&](std::vector<float>& dst) {
    const int j = n_sent++ & 1;
    drain(j);  // the slab is free again
    CUDA_CHECK(
        cudaMemcpyAsync(slabs + (size_t)j * n_out, rb.merged.get(), sizeof(float) * n_out, cudaMemcpyDeviceToHost, s));
    CUDA_CHECK(cudaEventRecord(ev.ev[j], s));
    pending[j] = &dst;
  };

  // Block l on rows [row0, row0 + rows), whose frames' segments (cu_seqlens from their first row) are `seg`. It reads
  // only the run's buffers (rb) and the pool's workspaces, so a graph of it replays on a later run of the shape.
  auto block = [&](int l, size_t row0, int rows, const std::vector<int32_t>& seg) {
    if (use == kGraphEager) check_abort();  // (while recording, a throw would only drop the capture: between segments)
    const Qwen3VisionBlock& b = w_.blocks[l];
    const size_t o = row0 * D, len = (size_t)rows * D;
    float *xr = x + o, *tr = tmp + o;
    __nv_bfloat16* xnr = bf16_inputs ? xn.get() + o : nullptr;
    // As Qwen3Vision::forward: norm1 fused into the previous block's last residual add (the mergers read x, complete
    // by then, and leave tmp alone). With bf16_inputs the norms write xn, which the q|k|v and fc1 GEMMs read in place
    // of tmp.
    if (l == 0) {  // the first norm has no add: add_norm with h null (the vector kernel, one pass into xn)
      if (bf16_inputs)
        add_norm_bf16_cuda(xnr, xr, nullptr, b.norm1, rows, ctx_);
      else
        add_norm_cuda(tr, xr, nullptr, b.norm1, rows, ctx_);
    }
    AttentionCall ca = call;
    ca.n = rows;
    ca.cos = rb.cos.get() + row0 * hd;
    ca.sin = rb.sin.get() + row0 * hd;
    ca.segments = seg.data();
    ca.n_segments = (int)seg.size() - 1;
    ca.xb = reinterpret_cast<const uint16_t*>(xnr);
    float* y = resid ? xr : tr;                 // the attention's and the MLP's output, or the x they add into
    const float* sum_h = resid ? nullptr : tr;  // what the norms add to x: nothing where the GEMM added it
    attention_block_cuda(y, tr, b.attn, ca, scratch, ctx_);
    if (bf16_inputs)
      add_norm_bf16_cuda(xnr, xr, sum_h, b.norm2, rows, ctx_);  // x += attn; xn = norm2(x)
    else
      add_norm_cuda(tr, xr, tr, b.norm2, rows, ctx_);  // x += attn; tmp = norm2(x)
    mlp_cuda(y, tr, b.mlp, rows, scratch, ctx_, xnr, resid);
    if (l + 1 < c.depth) {
      const LayerNorm& next = w_.blocks[l + 1].norm1;  // x += mlp; tmp (or xn) = next norm1(x)
      if (bf16_inputs)
        add_norm_bf16_cuda(xnr, xr, sum_h, next, rows, ctx_);
      else
        add_norm_cuda(tr, xr, tr, next, rows, ctx_);
    } else if (!resid) {
      add_cuda(xr, xr, tr, (int)len, ctx_);
    }
  };

  auto t = std::chrono::steady_clock::now();
  const double staged_before = phases_.pixels + phases_.tables;  // (the rest's staging is counted there, not here)
  // The blocks go through `segments`: one graph from here to the rest's pixels (with a head), and from there to each
  // merger and between them; the host steps (the rest's pixels, the mergers and their outputs) stay eager between.
  std::vector<cudaGraphExec_t> no_execs;
  std::vector<cudaGraphExec_t>& execs = use == kGraphReplayed   ? graph_->segments
                                        : use == kGraphCaptured ? recording->segments
                                                                : no_execs;
  // (the blocks of a segment: core/cuda_graph_segments.h)
  CudaGraphSegments segments(use, s, execs);
  auto end_segment = [&] {
    check_abort();
    segments.close();
  };
  std::vector<int32_t> cu;
  qwen3_vision_cu_seqlens(grids, cu);
  std::vector<int32_t> cu_head, cu_rest;
  if (head.layers > 0) {
    qwen3_vision_cu_seqlens(head.grids, cu_head);
    qwen3_vision_cu_seqlens(head.rest, cu_rest);
    for (int l = 0; l < head.layers; l++) segments.add([&, l] { block(l, 0, N1, cu_head); });
    end_segment();
    // While those run: the rest's pixels staged and sent up on a stream of their own, so that the copies overlap the
    // head's blocks too; then the rest's first blocks.
    std::future<void> rest_tables = std::move(tables);
    embed_rows((size_t)N1, N - N1, rest_tables, up_stream_.get());
    for (int l = 0; l < head.layers; l++) segments.add([&, l] { block(l, (size_t)N1, N - N1, cu_rest); });
  } else {
    tables.get();
  }
  for (int l = head.layers; l < c.depth; l++) {
    segments.add([&, l] { block(l, 0, N, cu); });
    const auto it = std::find(idx.begin(), idx.end(), l);
    if (it != idx.end()) {
      end_segment();
      const size_t kk = it - idx.begin();
      if (to_device) {
        merger(w_.deepstack[kk], x, N, (*deepstack_dev)[kk], scratch);
      } else {
        merger(w_.deepstack[kk], x, N, rb.merged.get(), scratch);
        send(out.deepstack[kk]);
      }
    }
  }
  end_segment();
  if (to_device) {
    merger(w_.merger, x, N, embeds_dev, scratch);
  } else {
    merger(w_.merger, x, N, rb.merged.get(), scratch);
    send(out.embeds);
  }
  phases_.blocks = ms_since(t) - (phases_.pixels + phases_.tables - staged_before);
  t = std::chrono::steady_clock::now();
  drain(n_sent & 1);  // the older of the two outputs in flight, then the last
  drain((n_sent - 1) & 1);
  CUDA_CHECK(cudaStreamSynchronize(s));  // surfaces any kernel fault of the run here
  phases_.outputs = ms_since(t);
  if (!to_device) {
    out.tokens = T;
    out.out_dim = OUT;
  }
  phases_.graph = use;
  phases_.graph_segments = (int)execs.size();
  if (use == kGraphCaptured) {
    if (segments.failed()) {
      graph_broken_ = true;  // eager from now on; this run's buffers go back with `recording`
      phases_.graph = kGraphEager;
      phases_.graph_segments = 0;
    } else {
      // The workspaces the recorded ops took and gave back this run, held for the graphs' replays.
      recording->held = pool_.hold_cached_since(release.epoch);
      graph_ = std::move(recording);
    }
  }
  last_peak_ = pool_.peak_bytes();
}

}  // namespace cosmos
