// CUDA forward of the Qwen3-VL vision tower; mirrors qwen3_vision_forward_cpu (qwen3_vision.cc) step
// by step. Two tower-private kernels (the position-table gather and the qkv split + 2D rotary) replace
// host loops of the CPU version; every other step is a shared op checked against its CPU twin by
// native/test/ops_cuda_test.
#include "qwen3_vision_cuda.h"

#include <cuda_bf16.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstring>
#include <string>

#include "../core/cuda_common.h"
#include "../core/parallel.h"
#include "../core/tensor.h"
#include "../ops/add.h"
#include "../ops/attention.h"
#include "../ops/gelu.h"
#include "../ops/layernorm.h"

namespace cosmos {

namespace {

// x[p, :] += interpolated learned position embedding of patch p: the four bilinear corners (idx) and
// weights (wt) come from the host (same float32 math as qwen3_vision_pos_embed_cpu), summed in the
// CPU order so the two backends agree to rounding.
__global__ void pos_embed_add_kernel(float* x, const float* table, const int* idx, const float* wt, long long N,
                                     int D) {
  for (long long e = blockIdx.x * (long long)blockDim.x + threadIdx.x; e < N * D; e += (long long)gridDim.x * blockDim.x) {
    const long long p = e / D;
    const int d = (int)(e - p * D);
    const int* ix = idx + 4 * p;
    const float* w = wt + 4 * p;
    float acc = __fmul_rn(table[(long long)ix[0] * D + d], w[0]);
    acc = __fadd_rn(acc, __fmul_rn(table[(long long)ix[1] * D + d], w[1]));
    acc = __fadd_rn(acc, __fmul_rn(table[(long long)ix[2] * D + d], w[2]));
    acc = __fadd_rn(acc, __fmul_rn(table[(long long)ix[3] * D + d], w[3]));
    x[e] = __fadd_rn(x[e], acc);
  }
}

// qkv [N, 3D] (rows q | k | v, heads contiguous) -> q, k, v [N, D] each, with the 2D rotary applied
// to q and k (rotate_half: x*cos + cat(-x2, x1)*sin, as rope_apply_cpu). One thread per (patch, head,
// pair j / j + hd/2). The CPU version copies the three slices first and then rotates in place; here
// that is one pass.
__global__ void split_rope_kernel(float* q, float* k, float* v, const float* qkv, const float* cos, const float* sin,
                                  long long N, int H, int hd) {
  const int half = hd / 2, D = H * hd;
  const long long total = N * H * half;
  for (long long e = blockIdx.x * (long long)blockDim.x + threadIdx.x; e < total; e += (long long)gridDim.x * blockDim.x) {
    const int j = (int)(e % half);
    const long long th = e / half;
    const int h = (int)(th % H);
    const long long t = th / H;
    const float* src = qkv + t * 3 * D + (long long)h * hd;
    const float* c = cos + t * hd;
    const float* s = sin + t * hd;
    const long long o = t * D + (long long)h * hd;
    float x1 = src[j], x2 = src[j + half];
    q[o + j] = x1 * c[j] - x2 * s[j];
    q[o + j + half] = x2 * c[j + half] + x1 * s[j + half];
    x1 = src[D + j];
    x2 = src[D + j + half];
    k[o + j] = x1 * c[j] - x2 * s[j];
    k[o + j + half] = x2 * c[j + half] + x1 * s[j + half];
    v[o + j] = src[2 * D + j];
    v[o + j + half] = src[2 * D + j + half];
  }
}

// Random weights for benchmarks (splitmix64 of the element index: reproducible, no generator state).
__device__ __forceinline__ float hash_uniform(uint64_t i, uint64_t seed) {
  uint64_t z = i + seed * 0x9E3779B97F4A7C15ull;
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  z ^= z >> 31;
  return (float)(z >> 40) * (2.0f / 16777216.0f) - 1.0f;
}
__global__ void fill_kernel(void* p, long long n, bool bf16, uint64_t seed, float a, float c) {
  for (long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x; i < n; i += (long long)gridDim.x * blockDim.x) {
    float v = a != 0.f ? a * hash_uniform((uint64_t)i, seed) : c;
    if (bf16) static_cast<__nv_bfloat16*>(p)[i] = __float2bfloat16_rn(v);
    else static_cast<float*>(p)[i] = v;
  }
}

// Matmul weights are the 2-D+ ".weight" tensors other than the learned position table.
bool is_matmul_weight(const std::string& name, const std::vector<int64_t>& shape) {
  const std::string suffix = "pos_embed.weight";
  bool pos = name.size() >= suffix.size() && name.compare(name.size() - suffix.size(), suffix.size(), suffix) == 0;
  return shape.size() >= 2 && !pos;
}

size_t numel(const std::vector<int64_t>& shape) {
  size_t n = 1;
  for (auto d : shape) n *= (size_t)d;
  return n;
}

double ms_since(std::chrono::steady_clock::time_point a) {
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - a).count();
}

// memcpy over the host's threads: one thread copies ~6 GB/s, short of what the copy engines take, and
// these are tens of MB per run.
void copy_host(void* dst, const void* src, size_t bytes) {
  const size_t chunk = (size_t)1 << 20;
  parallel_for(CpuContext{}, (int)((bytes + chunk - 1) / chunk), 4, [&](int b, int e) {  // default thread count
    const size_t o = (size_t)b * chunk, len = std::min((size_t)e * chunk, bytes) - o;
    std::memcpy(static_cast<char*>(dst) + o, static_cast<const char*>(src) + o, len);
  });
}

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

// Syncs the stream and gives the pool's cached (freed) blocks back to CUDA when a run ends, however it
// ends. Declared before the run's buffers, so it runs after their destructors returned them.
struct ReleaseOnExit {
  CudaPool& pool;
  cudaStream_t s;
  double* ms;
  ~ReleaseOnExit() {
    auto a = std::chrono::steady_clock::now();
    cudaStreamSynchronize(s);
    pool.release_cached();
    *ms = ms_since(a);
  }
};

}  // namespace

Qwen3VisionCuda::~Qwen3VisionCuda() { cudaStreamSynchronize(stream_.get()); }

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
  cudaStream_t s = m->stream_.get();
  std::vector<float> host;
  std::vector<uint16_t> hb;
  std::string bad_shape, err;
  auto lookup = [&](const std::string& name, const std::vector<int64_t>& shape) -> const float* {
    const TensorInfo& ti = ck.info(name);  // throws SafetensorsError(Missing) naming the tensor
    if (ti.shape != shape) {
      bad_shape = qwen3_vision_shape_error(name, ti.shape, shape);
      return nullptr;
    }
    const size_t n = numel(shape);
    host.resize(n);
    ck.read_f32(name, host.data(), n);
    const bool bf = wt == WType::BF16 && is_matmul_weight(name, shape);
    const size_t bytes = n * (bf ? 2 : 4);
    void* d = m->pool_.alloc(bytes);
    m->weight_bytes_ += bytes;
    if (bf) {
      hb.resize(n);
      for (size_t i = 0; i < n; ++i) hb[i] = f32_to_bf16(host[i]);
      CUDA_CHECK(cudaMemcpyAsync(d, hb.data(), bytes, cudaMemcpyHostToDevice, s));
    } else {
      CUDA_CHECK(cudaMemcpyAsync(d, host.data(), bytes, cudaMemcpyHostToDevice, s));
    }
    CUDA_CHECK(cudaStreamSynchronize(s));  // one staging buffer serves every tensor
    return static_cast<const float*>(d);
  };
  if (!qwen3_vision_bind(cfg, lookup, m->w_, err)) throw ModelError(bad_shape.empty() ? err : bad_shape);
  return m;
}

std::unique_ptr<Qwen3VisionCuda> Qwen3VisionCuda::random(const Qwen3VisionConfig& cfg, WType wt, uint64_t seed,
                                                         float std) {
  std::unique_ptr<Qwen3VisionCuda> m(new Qwen3VisionCuda(cfg, wt));
  cudaStream_t s = m->stream_.get();
  const float a = std * std::sqrt(3.0f);  // uniform [-a, a] has this std
  uint64_t k = seed;
  std::string err;
  auto lookup = [&](const std::string& name, const std::vector<int64_t>& shape) -> const float* {
    const size_t n = numel(shape);
    const bool mm = is_matmul_weight(name, shape);
    const bool bf = wt == WType::BF16 && mm;
    const size_t bytes = n * (bf ? 2 : 4);
    void* d = m->pool_.alloc(bytes);
    m->weight_bytes_ += bytes;
    const bool bias = name.size() >= 5 && name.compare(name.size() - 5, 5, ".bias") == 0;
    const bool norm_gain = shape.size() == 1 && !bias;  // LayerNorm weight
    float amp = norm_gain ? 0.f : (bias && name.find("norm") != std::string::npos ? 0.f : a);
    fill_kernel<<<elementwise_blocks((long long)n), 256, 0, s>>>(d, (long long)n, bf, ++k, amp, norm_gain ? 1.f : 0.f);
    CUDA_CHECK_LAUNCH();
    return static_cast<const float*>(d);
  };
  if (!qwen3_vision_bind(cfg, lookup, m->w_, err)) throw ModelError(err);
  CUDA_CHECK(cudaStreamSynchronize(s));
  return m;
}

// PatchMerger.forward on the GPU: x [N, D] -> out_dev [N/unit, out] (see run_merger in qwen3_vision.cc).
void Qwen3VisionCuda::merger(const Qwen3VisionMerger& mg, const float* x, int N, float* out_dev) {
  const int D = cfg_.hidden_size, unit = cfg_.merge_unit(), T = N / unit, H = D * unit;
  const float eps = cfg_.layer_norm_eps;
  DeviceBuffer<float> normed(pool_, (size_t)N * D), hid(pool_, (size_t)T * H);
  if (mg.postshuffle) layernorm_cuda(normed.get(), x, mg.norm.g, mg.norm.b, T, H, eps, ctx_);
  else layernorm_cuda(normed.get(), x, mg.norm.g, mg.norm.b, N, D, eps, ctx_);
  matmul_cuda(hid.get(), normed.get(), mg.fc1.w, wt_, mg.fc1.b, T, H, H, ctx_);
  gelu_erf_cuda(hid.get(), T * H, ctx_);  // nn.GELU(): exact erf form
  matmul_cuda(out_dev, hid.get(), mg.fc2.w, wt_, mg.fc2.b, T, H, mg.fc2.out, ctx_);
}

void Qwen3VisionCuda::forward(const float* pixel_values, size_t n_floats, const std::vector<Qwen3VisionGrid>& grids,
                              Qwen3VisionOutput& out) {
  std::string err;
  if (!qwen3_vision_check_grids(cfg_, grids, err)) throw ModelError(err);
  const size_t want = (size_t)qwen3_vision_num_patches(grids) * (size_t)cfg_.patch_dim();
  if (n_floats != want)
    throw ModelError("pixel_values has " + std::to_string(n_floats) + " floats; the grids need " + std::to_string(want) +
                     " (patches x " + std::to_string(cfg_.patch_dim()) + ")");
  const Qwen3VisionConfig& c = cfg_;
  const int D = c.hidden_size, I = c.intermediate_size, H = c.num_heads, hd = c.head_dim();
  const int m = c.spatial_merge_size, unit = c.merge_unit(), OUT = c.out_hidden_size;
  const float eps = c.layer_norm_eps;
  const int N = (int)qwen3_vision_num_patches(grids), T = N / unit;
  const size_t ND = (size_t)N * D;
  cudaStream_t s = stream_.get();
  auto check_abort = [&]() {
    if (abort_ && abort_->load(std::memory_order_relaxed)) throw AbortedError();  // ReleaseOnExit syncs
  };

  pool_.reset_peak();
  phases_ = Phases{};
  ReleaseOnExit release{pool_, s, &phases_.release};
  check_abort();
  auto t = std::chrono::steady_clock::now();

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

  DeviceBuffer<float> x(pool_, ND), tmp(pool_, ND);
  {
    // Patch embedding (Conv3d with kernel = stride = patch: a matmul over the flattened patch). The
    // pixels go up in slices, each copied into the staging buffer while the previous one is in flight.
    DeviceBuffer<float> px(pool_, n_floats);
    const size_t slice = (size_t)4 << 20;  // floats (16 MB)
    for (size_t o = 0; o < n_floats; o += slice) {
      const size_t len = std::min(slice, n_floats - o);
      copy_host(pin_px + o, pixel_values + o, sizeof(float) * len);
      CUDA_CHECK(cudaMemcpyAsync(px.get() + o, pin_px + o, sizeof(float) * len, cudaMemcpyHostToDevice, s));
    }
    matmul_cuda(x.get(), px.get(), w_.patch_embed.w, wt_, w_.patch_embed.b, N, c.patch_dim(), D, ctx_);
    // px goes back to the pool here: the pool only reuses it for work later on this stream.
  }
  phases_.pixels = ms_since(t);
  t = std::chrono::steady_clock::now();

  // Grid-only index math on the host (cheap, once per run) while the GPU embeds the patches.
  {
    std::vector<int> pidx;
    std::vector<float> pwt;
    qwen3_vision_pos_corners(c.num_position_embeddings, grids, m, pidx, pwt);
    if (pidx.size() != n_corner || pwt.size() != n_corner) throw ModelError("qwen3 vision: position corner count");
    std::memcpy(pin_idx, pidx.data(), sizeof(int) * n_corner);
    std::memcpy(pin_wt, pwt.data(), sizeof(float) * n_corner);
    qwen3_vision_rotary_cpu(grids, m, hd, c.rope_theta, pin_cos, pin_sin);
  }
  std::vector<int32_t> cu;
  qwen3_vision_cu_seqlens(grids, cu);
  DeviceBuffer<int> d_pidx(pool_, n_corner);
  DeviceBuffer<float> d_pwt(pool_, n_corner), d_cos(pool_, n_rot), d_sin(pool_, n_rot);
  CUDA_CHECK(cudaMemcpyAsync(d_pidx.get(), pin_idx, sizeof(int) * n_corner, cudaMemcpyHostToDevice, s));
  CUDA_CHECK(cudaMemcpyAsync(d_pwt.get(), pin_wt, sizeof(float) * n_corner, cudaMemcpyHostToDevice, s));
  CUDA_CHECK(cudaMemcpyAsync(d_cos.get(), pin_cos, sizeof(float) * n_rot, cudaMemcpyHostToDevice, s));
  CUDA_CHECK(cudaMemcpyAsync(d_sin.get(), pin_sin, sizeof(float) * n_rot, cudaMemcpyHostToDevice, s));
  pos_embed_add_kernel<<<elementwise_blocks((long long)ND), 256, 0, s>>>(x.get(), w_.pos_embed, d_pidx.get(),
                                                                          d_pwt.get(), N, D);
  CUDA_CHECK_LAUNCH();
  phases_.tables = ms_since(t);
  t = std::chrono::steady_clock::now();

  DeviceBuffer<float> qkv(pool_, ND * 3), q(pool_, ND), k(pool_, ND), v(pool_, ND), att(pool_, ND),
      mlp(pool_, (size_t)N * I), merged(pool_, (size_t)T * OUT);
  const float scale = 1.0f / std::sqrt((float)hd);
  const auto& idx = c.deepstack_visual_indexes;
  const size_t n_out = (size_t)T * OUT;
  out.deepstack.resize(idx.size());  // keeps the caller's capacity when `out` is reused

  // Outputs leave through two page-locked slabs used in turn: merger -> slab (async, on the stream)
  // -> the host vector, copied by the host once the slab's event fired. The host enqueues the blocks
  // without waiting; it first waits when it needs a slab back (two outputs later), by which time it
  // has queued most of the run, so its copies and the sizing of the output vectors (page faults)
  // overlap GPU work. Abort is checked while enqueueing and after every wait.
  RunEvents ev(2);
  float* slabs = static_cast<float*>(out_pin_.get(2 * sizeof(float) * n_out));
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
    CUDA_CHECK(cudaMemcpyAsync(slabs + (size_t)j * n_out, merged.get(), sizeof(float) * n_out, cudaMemcpyDeviceToHost, s));
    CUDA_CHECK(cudaEventRecord(ev.ev[j], s));
    pending[j] = &dst;
  };

  for (int l = 0; l < c.depth; l++) {
    check_abort();
    const Qwen3VisionBlock& b = w_.blocks[l];
    layernorm_cuda(tmp.get(), x.get(), b.norm1.g, b.norm1.b, N, D, eps, ctx_);
    matmul_cuda(qkv.get(), tmp.get(), b.qkv.w, wt_, b.qkv.b, N, D, 3 * D, ctx_);
    split_rope_kernel<<<elementwise_blocks((long long)N * H * (hd / 2)), 256, 0, s>>>(
        q.get(), k.get(), v.get(), qkv.get(), d_cos.get(), d_sin.get(), N, H, hd);
    CUDA_CHECK_LAUNCH();
    // Full attention inside each frame: one non-causal attention call per segment (cu_seqlens).
    for (size_t sg = 0; sg + 1 < cu.size(); sg++) {
      const size_t o = (size_t)cu[sg] * D;
      const int L = cu[sg + 1] - cu[sg];
      attention_cuda(att.get() + o, q.get() + o, k.get() + o, v.get() + o, L, L, H, H, hd, 0, false, scale, ctx_);
    }
    matmul_cuda(tmp.get(), att.get(), b.proj.w, wt_, b.proj.b, N, D, D, ctx_);
    add_cuda(x.get(), x.get(), tmp.get(), (int)ND, ctx_);
    layernorm_cuda(tmp.get(), x.get(), b.norm2.g, b.norm2.b, N, D, eps, ctx_);
    matmul_cuda(mlp.get(), tmp.get(), b.fc1.w, wt_, b.fc1.b, N, D, I, ctx_);
    gelu_tanh_cuda(mlp.get(), N * I, ctx_);  // hidden_act gelu_pytorch_tanh
    matmul_cuda(tmp.get(), mlp.get(), b.fc2.w, wt_, b.fc2.b, N, I, D, ctx_);
    add_cuda(x.get(), x.get(), tmp.get(), (int)ND, ctx_);
    const auto it = std::find(idx.begin(), idx.end(), l);
    if (it != idx.end()) {
      const size_t kk = it - idx.begin();
      merger(w_.deepstack[kk], x.get(), N, merged.get());
      send(out.deepstack[kk]);
    }
  }
  merger(w_.merger, x.get(), N, merged.get());
  send(out.embeds);
  phases_.blocks = ms_since(t);
  t = std::chrono::steady_clock::now();
  drain(n_sent & 1);  // the older of the two outputs in flight, then the last
  drain((n_sent - 1) & 1);
  CUDA_CHECK(cudaStreamSynchronize(s));  // surfaces any kernel fault of the run here
  phases_.outputs = ms_since(t);
  out.tokens = T;
  out.out_dim = OUT;
  last_peak_ = pool_.peak_bytes();
}

}  // namespace cosmos
