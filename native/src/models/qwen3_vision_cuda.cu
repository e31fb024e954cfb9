// CUDA forward of the Qwen3-VL vision tower; mirrors qwen3_vision_forward_cpu (qwen3_vision.cc) step
// by step. Two tower-private kernels (the position-table gather and the qkv split + 2D rotary) replace
// host loops of the CPU version; every other step is a shared op checked against its CPU twin by
// native/test/ops_cuda_test.
#include "qwen3_vision_cuda.h"

#include <cuda_bf16.h>

#include <algorithm>
#include <cmath>
#include <string>

#include "../core/cuda_common.h"
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

template <typename T>
void upload(CudaPool& pool, DeviceBuffer<T>& buf, const std::vector<T>& host, cudaStream_t s) {
  buf = DeviceBuffer<T>(pool, host.size());
  if (!host.empty()) CUDA_CHECK(cudaMemcpyAsync(buf.get(), host.data(), sizeof(T) * host.size(), cudaMemcpyHostToDevice, s));
}

// Syncs the stream and gives the pool's cached (freed) blocks back to CUDA when a run ends, however it
// ends. Declared before the run's buffers, so it runs after their destructors returned them.
struct ReleaseOnExit {
  CudaPool& pool;
  cudaStream_t s;
  ~ReleaseOnExit() {
    cudaStreamSynchronize(s);
    pool.release_cached();
  }
};

}  // namespace

Qwen3VisionCuda::~Qwen3VisionCuda() { cudaStreamSynchronize(stream_.get()); }

std::unique_ptr<Qwen3VisionCuda> Qwen3VisionCuda::load(const Checkpoint& ck, const Qwen3VisionConfig& cfg, WType wt) {
  std::unique_ptr<Qwen3VisionCuda> m(new Qwen3VisionCuda(cfg, wt));
  cudaStream_t s = m->stream_.get();
  std::vector<float> host;
  std::vector<uint16_t> hb;
  std::string bad_shape, err;
  auto lookup = [&](const std::string& name, const std::vector<int64_t>& shape) -> const float* {
    const TensorInfo& ti = ck.info(name);  // throws SafetensorsError(Missing) naming the tensor
    if (ti.shape != shape) {
      Tensor want, got;
      want.shape = shape;
      got.shape = ti.shape;
      bad_shape = "tensor '" + name + "' has shape " + got.shape_str() + ", vision_config expects " + want.shape_str();
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
  cudaStream_t s = stream_.get();
  DeviceBuffer<float> normed(pool_, (size_t)N * D), hid(pool_, (size_t)T * H);
  if (mg.postshuffle) layernorm_cuda(normed.get(), x, mg.norm.g, mg.norm.b, T, H, eps, s);
  else layernorm_cuda(normed.get(), x, mg.norm.g, mg.norm.b, N, D, eps, s);
  matmul_cuda(hid.get(), normed.get(), mg.fc1.w, wt_, mg.fc1.b, T, H, H, nullptr, s);
  gelu_erf_cuda(hid.get(), T * H, s);  // nn.GELU(): exact erf form
  matmul_cuda(out_dev, hid.get(), mg.fc2.w, wt_, mg.fc2.b, T, H, mg.fc2.out, nullptr, s);
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
  ReleaseOnExit release{pool_, s};
  check_abort();

  // Grid-only index math on the host (cheap, once per run), uploaded as inputs.
  std::vector<int> pidx;
  std::vector<float> pwt, cosv((size_t)N * hd), sinv((size_t)N * hd);
  qwen3_vision_pos_corners(c.num_position_embeddings, grids, m, pidx, pwt);
  qwen3_vision_rotary_cpu(grids, m, hd, c.rope_theta, cosv.data(), sinv.data());
  std::vector<int32_t> cu;
  qwen3_vision_cu_seqlens(grids, cu);

  DeviceBuffer<float> x(pool_, ND), tmp(pool_, ND);
  DeviceBuffer<int> d_pidx;
  DeviceBuffer<float> d_pwt, d_cos, d_sin;
  upload(pool_, d_pidx, pidx, s);
  upload(pool_, d_pwt, pwt, s);
  upload(pool_, d_cos, cosv, s);
  upload(pool_, d_sin, sinv, s);
  {
    // Patch embedding (Conv3d with kernel = stride = patch: a matmul over the flattened patch).
    DeviceBuffer<float> px(pool_, n_floats);
    CUDA_CHECK(cudaMemcpyAsync(px.get(), pixel_values, sizeof(float) * n_floats, cudaMemcpyHostToDevice, s));
    matmul_cuda(x.get(), px.get(), w_.patch_embed.w, wt_, w_.patch_embed.b, N, c.patch_dim(), D, nullptr, s);
    CUDA_CHECK(cudaStreamSynchronize(s));  // px goes back to the pool (and its host source may be freed)
  }
  pos_embed_add_kernel<<<elementwise_blocks((long long)ND), 256, 0, s>>>(x.get(), w_.pos_embed, d_pidx.get(),
                                                                          d_pwt.get(), N, D);
  CUDA_CHECK_LAUNCH();

  DeviceBuffer<float> qkv(pool_, ND * 3), q(pool_, ND), k(pool_, ND), v(pool_, ND), att(pool_, ND),
      mlp(pool_, (size_t)N * I), merged(pool_, (size_t)T * OUT);
  const float scale = 1.0f / std::sqrt((float)hd);
  const auto& idx = c.deepstack_visual_indexes;
  out.deepstack.assign(idx.size(), {});
  for (int l = 0; l < c.depth; l++) {
    check_abort();
    const Qwen3VisionBlock& b = w_.blocks[l];
    layernorm_cuda(tmp.get(), x.get(), b.norm1.g, b.norm1.b, N, D, eps, s);
    matmul_cuda(qkv.get(), tmp.get(), b.qkv.w, wt_, b.qkv.b, N, D, 3 * D, nullptr, s);
    split_rope_kernel<<<elementwise_blocks((long long)N * H * (hd / 2)), 256, 0, s>>>(
        q.get(), k.get(), v.get(), qkv.get(), d_cos.get(), d_sin.get(), N, H, hd);
    CUDA_CHECK_LAUNCH();
    // Full attention inside each frame: one non-causal attention call per segment (cu_seqlens).
    for (size_t sg = 0; sg + 1 < cu.size(); sg++) {
      const size_t o = (size_t)cu[sg] * D;
      const int L = cu[sg + 1] - cu[sg];
      attention_cuda(att.get() + o, q.get() + o, k.get() + o, v.get() + o, L, L, H, H, hd, 0, false, scale, s);
    }
    matmul_cuda(tmp.get(), att.get(), b.proj.w, wt_, b.proj.b, N, D, D, nullptr, s);
    add_cuda(x.get(), x.get(), tmp.get(), (int)ND, s);
    layernorm_cuda(tmp.get(), x.get(), b.norm2.g, b.norm2.b, N, D, eps, s);
    matmul_cuda(mlp.get(), tmp.get(), b.fc1.w, wt_, b.fc1.b, N, D, I, nullptr, s);
    gelu_tanh_cuda(mlp.get(), N * I, s);  // hidden_act gelu_pytorch_tanh
    matmul_cuda(tmp.get(), mlp.get(), b.fc2.w, wt_, b.fc2.b, N, I, D, nullptr, s);
    add_cuda(x.get(), x.get(), tmp.get(), (int)ND, s);
    const auto it = std::find(idx.begin(), idx.end(), l);
    if (it != idx.end()) {
      const size_t kk = it - idx.begin();
      merger(w_.deepstack[kk], x.get(), N, merged.get());
      out.deepstack[kk].resize((size_t)T * OUT);
      // Synchronous copy: the host result is ready and `merged` is free for the next merger.
      CUDA_CHECK(cudaMemcpyAsync(out.deepstack[kk].data(), merged.get(), sizeof(float) * T * OUT,
                                 cudaMemcpyDeviceToHost, s));
      CUDA_CHECK(cudaStreamSynchronize(s));
    }
  }
  merger(w_.merger, x.get(), N, merged.get());
  out.embeds.resize((size_t)T * OUT);
  CUDA_CHECK(cudaMemcpyAsync(out.embeds.data(), merged.get(), sizeof(float) * T * OUT, cudaMemcpyDeviceToHost, s));
  CUDA_CHECK(cudaStreamSynchronize(s));  // surfaces any kernel fault of the run here
  out.tokens = T;
  out.out_dim = OUT;
  last_peak_ = pool_.peak_bytes();
}

}  // namespace cosmos
