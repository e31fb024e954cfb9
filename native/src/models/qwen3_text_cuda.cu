// CUDA forward of the Qwen3 text decoder; mirrors Qwen3Text::forward in qwen3_text.cc step by step.
#include "qwen3_text_cuda.h"

#include <cuda_bf16.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <string>

#include "../core/cuda_common.h"
#include "../core/cuda_reduce.h"
#include "../core/tensor.h"
#include "../ops/add.h"
#include "../ops/argmax.h"
#include "../ops/attention.h"
#include "../ops/embedding.h"
#include "../ops/gemv_decode.h"
#include "../ops/gemv_swiglu.h"
#include "../ops/rmsnorm.h"
#include "../ops/rope.h"
#include "../ops/sample_cuda.h"
#include "../ops/swiglu.h"

namespace cosmos {

namespace {
// Per (token, head): RMSNorm over head_dim (q_norm / k_norm), then rotate_half rotary, written to
// its destination: q heads in place, k heads into the KV cache row; v heads are copied to the cache.
// Fusing these saves 5 launches per layer (2 norms, 2 ropes, the cache copies) — at decode each would
// be a ~3 us kernel on a few KB. Same arithmetic as rmsnorm_cpu + rope_apply_cpu.
// Grid (n, NH + 2 KVH); block = head_dim rounded up to a warp multiple.
__global__ void qk_norm_rope_cache_kernel(float* q, const float* k, const float* v, int q_stride, int kv_stride,
                                          const float* qw, const float* kw, const float* cos, const float* sin,
                                          float* kc, float* vc, int row0, const int* row0_dev, int NH, int KVH, int D,
                                          float eps) {
  extern __shared__ float y[];
  __shared__ float red[32];
  const int i = blockIdx.x, hh = blockIdx.y, d = threadIdx.x;
  if (row0_dev) row0 = *row0_dev;  // decode graph: the cache row is read when the kernel runs
  if (hh >= NH + KVH) {  // v head: plain copy into the cache
    int h = hh - NH - KVH;
    if (d < D) vc[((long long)(row0 + i) * KVH + h) * D + d] = v[(long long)i * kv_stride + h * D + d];
    return;
  }
  const bool isq = hh < NH;
  const int h = isq ? hh : hh - NH;
  const float* src = isq ? q + (long long)i * q_stride + h * D : k + (long long)i * kv_stride + h * D;
  float xv = d < D ? src[d] : 0.f;
  float ss = block_sum(xv * xv, red);
  float inv = 1.0f / sqrtf(ss / (float)D + eps);
  const float* w = isq ? qw : kw;
  if (d < D) y[d] = w[d] * (xv * inv);
  __syncthreads();
  if (d >= D) return;
  const int half = D / 2;
  const float* c = cos + (long long)i * D;
  const float* s = sin + (long long)i * D;
  float out = d < half ? y[d] * c[d] - y[d + half] * s[d] : y[d] * c[d] + y[d - half] * s[d];
  if (isq) q[(long long)i * q_stride + h * D + d] = out;
  else kc[((long long)(row0 + i) * KVH + h) * D + d] = out;
}

// x += h, then out = rmsnorm(x) * w: the residual add of one half-layer fused with the next norm.
__global__ void add_rmsnorm_kernel(float* out, float* x, const float* hres, const float* w, int dim, float eps) {
  __shared__ float sh[32];
  float* xr = x + (long long)blockIdx.x * dim;
  const float* hr = hres + (long long)blockIdx.x * dim;
  float* o = out + (long long)blockIdx.x * dim;
  float ss = 0.f;
  for (int i = threadIdx.x; i < dim; i += blockDim.x) {
    float v = xr[i] + hr[i];
    xr[i] = v;
    ss += v * v;
  }
  ss = block_sum(ss, sh);  // its __syncthreads also orders the xr writes before the reads below
  float inv = 1.0f / sqrtf(ss / (float)dim + eps);
  for (int i = threadIdx.x; i < dim; i += blockDim.x) o[i] = w[i] * (xr[i] * inv);
}

// Deepstack: x[rows[r], :] += add[r, :].
__global__ void scatter_add_rows_kernel(float* x, const int* rows, const float* add, int dim) {
  float* xr = x + (long long)rows[blockIdx.x] * dim;
  const float* ar = add + (long long)blockIdx.x * dim;
  for (int i = threadIdx.x; i < dim; i += blockDim.x) xr[i] += ar[i];
}

// Random weights for benchmarks: a counter-based hash (splitmix64) so any element is reproducible
// without a generator state, uniform in [-a, a].
__device__ __forceinline__ float hash_uniform(uint64_t i, uint64_t seed) {
  uint64_t z = i + seed * 0x9E3779B97F4A7C15ull;
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  z ^= z >> 31;
  return (float)(z >> 40) * (2.0f / 16777216.0f) - 1.0f;
}
__global__ void fill_random_kernel(void* p, long long n, bool bf16, uint64_t seed, float a) {
  for (long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x; i < n; i += (long long)gridDim.x * blockDim.x) {
    float v = a * hash_uniform((uint64_t)i, seed);
    if (bf16) static_cast<__nv_bfloat16*>(p)[i] = __float2bfloat16_rn(v);
    else static_cast<float*>(p)[i] = v;
  }
}
__global__ void fill_const_kernel(float* p, long long n, float v) {
  for (long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x; i < n; i += (long long)gridDim.x * blockDim.x)
    p[i] = v;
}

int warp_round(int d) { return (d + 31) / 32 * 32; }
}  // namespace

Qwen3TextCuda::Qwen3TextCuda(const Qwen3TextConfig& cfg, WType wt) : cfg_(cfg), wt_(wt) {}

Qwen3TextCuda::~Qwen3TextCuda() {
  cudaStreamSynchronize(stream_.get());  // kernels may still read the pool's memory
  if (graph_) cudaGraphExecDestroy(graph_);
}

void Qwen3TextCuda::alloc_weights(bool embed_bf16, bool share_lm_head) {
  const Qwen3TextConfig& c = cfg_;
  const size_t H = c.hidden_size, I = c.intermediate_size, V = c.vocab_size, D = c.head_dim;
  const size_t QH = c.num_heads * D, KH = c.num_kv_heads * D, ws = wsize();
  if (D > 1024) throw ModelError("head_dim > 1024 is not supported by the CUDA backend");
  auto take = [&](size_t bytes) {
    weight_bytes_ += bytes;
    return pool_.alloc(bytes);
  };
  embed_bf16_ = embed_bf16;
  embed_ = take(V * H * (embed_bf16 ? 2 : 4));
  norm_ = (float*)take(H * 4);
  lm_head_ = share_lm_head ? embed_ : take(V * H * ws);
  layers_.resize(c.num_layers);
  for (auto& L : layers_) {
    L.in_ln = (float*)take(H * 4);
    L.post_ln = (float*)take(H * 4);
    L.q_norm = (float*)take(D * 4);
    L.k_norm = (float*)take(D * 4);
    L.qkv = take((QH + 2 * KH) * H * ws);
    L.o = take(H * QH * ws);
    L.gateup = take(2 * I * H * ws);
    L.down = take(H * I * ws);
  }
  tmp_int_ = (int*)pool_.alloc(sizeof(int));
  step_ = (int*)pool_.alloc(sizeof(int) * 8);
  if (const char* e = std::getenv("COSMOS_CUDA_GRAPH")) graph_on_ = !(*e == '0' && e[1] == 0);
}

std::unique_ptr<Qwen3TextCuda> Qwen3TextCuda::load(const Checkpoint& ck, const Qwen3TextConfig& cfg, WType wt) {
  std::string pre;
  if (ck.has("model.language_model.embed_tokens.weight")) pre = "model.language_model.";
  else if (ck.has("model.embed_tokens.weight")) pre = "model.";
  else throw ModelError("checkpoint has neither model.language_model.embed_tokens.weight (Qwen3-VL) nor model.embed_tokens.weight (Qwen3)");
  std::unique_ptr<Qwen3TextCuda> m(new Qwen3TextCuda(cfg, wt));
  // A bf16 embedding table stays bf16 on the GPU (bf16 -> f32 is exact, so nothing changes but the
  // memory); f32 / f16 tables are kept in f32. Tied lm_head: the same bf16 matrix serves both.
  const std::string ename = pre + "embed_tokens.weight";
  const bool ebf = ck.info(ename).dtype == StDType::BF16;
  const bool share = ebf && wt == WType::BF16 && !ck.has("lm_head.weight") && cfg.tie_word_embeddings;
  m->alloc_weights(ebf, share);
  const int64_t H = cfg.hidden_size, I = cfg.intermediate_size, V = cfg.vocab_size, D = cfg.head_dim;
  const int64_t QH = cfg.num_heads * D, KH = cfg.num_kv_heads * D;
  std::vector<float> host;
  std::vector<uint16_t> hb;
  cudaStream_t s = m->stream_.get();
  // Reads one tensor (shape-checked) and copies it to dst + offset rows, in `as` dtype. Synchronous per
  // tensor so one host staging buffer serves all (loading is I/O bound anyway).
  auto put = [&](const std::string& name, std::vector<int64_t> shape, void* dst, bool as_bf16) {
    const TensorInfo& ti = ck.info(name);
    if (ti.shape != shape) {
      Tensor want, got;
      want.shape = shape;
      got.shape = ti.shape;
      throw ModelError("tensor '" + name + "' has shape " + got.shape_str() + ", config expects " + want.shape_str());
    }
    size_t n = 1;
    for (auto d : shape) n *= (size_t)d;
    host.resize(n);
    ck.read_f32(name, host.data(), n);
    if (as_bf16) {
      hb.resize(n);
      for (size_t i = 0; i < n; ++i) hb[i] = f32_to_bf16(host[i]);
      CUDA_CHECK(cudaMemcpyAsync(dst, hb.data(), n * 2, cudaMemcpyHostToDevice, s));
    } else {
      CUDA_CHECK(cudaMemcpyAsync(dst, host.data(), n * 4, cudaMemcpyHostToDevice, s));
    }
    CUDA_CHECK(cudaStreamSynchronize(s));
  };
  auto at = [&](void* base, int64_t rows, int64_t cols) {  // row offset inside a fused weight
    return (void*)((char*)base + (size_t)rows * cols * m->wsize());
  };
  const bool wb = wt == WType::BF16;  // matmul weights in bf16
  put(ename, {V, H}, m->embed_, ebf);
  put(pre + "norm.weight", {H}, m->norm_, false);
  if (ck.has("lm_head.weight")) put("lm_head.weight", {V, H}, m->lm_head_, wb);
  else if (!cfg.tie_word_embeddings) throw ModelError("checkpoint has no lm_head.weight and tie_word_embeddings is false");
  else if (!share) put(ename, {V, H}, m->lm_head_, wb);  // (shared: lm_head_ is embed_, already filled)
  for (int l = 0; l < cfg.num_layers; ++l) {
    std::string p = pre + "layers." + std::to_string(l) + ".";
    Layer& L = m->layers_[l];
    put(p + "input_layernorm.weight", {H}, L.in_ln, false);
    put(p + "post_attention_layernorm.weight", {H}, L.post_ln, false);
    put(p + "self_attn.q_norm.weight", {D}, L.q_norm, false);
    put(p + "self_attn.k_norm.weight", {D}, L.k_norm, false);
    put(p + "self_attn.q_proj.weight", {QH, H}, L.qkv, wb);
    put(p + "self_attn.k_proj.weight", {KH, H}, at(L.qkv, QH, H), wb);
    put(p + "self_attn.v_proj.weight", {KH, H}, at(L.qkv, QH + KH, H), wb);
    put(p + "self_attn.o_proj.weight", {H, QH}, L.o, wb);
    put(p + "mlp.gate_proj.weight", {I, H}, L.gateup, wb);
    put(p + "mlp.up_proj.weight", {I, H}, at(L.gateup, I, H), wb);
    put(p + "mlp.down_proj.weight", {H, I}, L.down, wb);
  }
  return m;
}

std::unique_ptr<Qwen3TextCuda> Qwen3TextCuda::random(const Qwen3TextConfig& cfg, WType wt, uint64_t seed, float std) {
  std::unique_ptr<Qwen3TextCuda> m(new Qwen3TextCuda(cfg, wt));
  const bool bf = wt == WType::BF16;
  m->alloc_weights(bf, false);  // bf16 weights stand for a bf16 checkpoint: embedding table in bf16 too
  const long long H = cfg.hidden_size, I = cfg.intermediate_size, V = cfg.vocab_size, D = cfg.head_dim;
  const long long QH = cfg.num_heads * D, KH = cfg.num_kv_heads * D;
  cudaStream_t s = m->stream_.get();
  const float a = std * std::sqrt(3.0f);  // uniform [-a, a] has this std
  uint64_t k = seed;
  auto rnd = [&](void* p, long long n, bool w) {
    fill_random_kernel<<<elementwise_blocks(n), 256, 0, s>>>(p, n, w && bf, ++k, a);
    CUDA_CHECK_LAUNCH();
  };
  auto one = [&](float* p, long long n) {
    fill_const_kernel<<<elementwise_blocks(n), 256, 0, s>>>(p, n, 1.0f);
    CUDA_CHECK_LAUNCH();
  };
  rnd(m->embed_, V * H, true);
  one(m->norm_, H);
  rnd(m->lm_head_, V * H, true);
  for (auto& L : m->layers_) {
    one(L.in_ln, H);
    one(L.post_ln, H);
    one(L.q_norm, D);
    one(L.k_norm, D);
    rnd(L.qkv, (QH + 2 * KH) * H, true);
    rnd(L.o, H * QH, true);
    rnd(L.gateup, 2 * I * H, true);
    rnd(L.down, H * I, true);
  }
  m->sync();
  return m;
}

void Qwen3TextCuda::reset() {
  n_past_ = 0;
  next_pos_ = 0;
}

void Qwen3TextCuda::reserve(int tokens) { ensure_capacity(tokens); }

void Qwen3TextCuda::ensure_capacity(int tokens) {
  if (tokens <= capacity_) return;
  int cap = std::max(tokens, std::max(256, capacity_ * 2));
  size_t row = (size_t)cfg_.num_kv_heads * cfg_.head_dim * sizeof(float);
  cudaStream_t s = stream_.get();
  for (auto& L : layers_) {
    float* k = (float*)pool_.alloc(row * cap);
    float* v = (float*)pool_.alloc(row * cap);
    if (n_past_ > 0) {
      CUDA_CHECK(cudaMemcpyAsync(k, L.kc, row * n_past_, cudaMemcpyDeviceToDevice, s));
      CUDA_CHECK(cudaMemcpyAsync(v, L.vc, row * n_past_, cudaMemcpyDeviceToDevice, s));
    }
    CUDA_CHECK(cudaStreamSynchronize(s));  // the old blocks go back to the pool: no kernel may still use them
    pool_.free(L.kc);
    pool_.free(L.vc);
    L.kc = k;
    L.vc = v;
  }
  capacity_ = cap;
}

void Qwen3TextCuda::forward(const int* ids, int n, const int* pos3, const VisualInputs* vis, bool all_logits) {
  const Qwen3TextConfig& c = cfg_;
  const int H = c.hidden_size, I = c.intermediate_size, V = c.vocab_size, D = c.head_dim;
  const int NH = c.num_heads, KVH = c.num_kv_heads, QH = NH * D, KH = KVH * D;
  for (int i = 0; i < n; ++i)
    if (ids[i] < 0 || ids[i] >= V)
      throw ModelError("token id " + std::to_string(ids[i]) + " at row " + std::to_string(i) +
                       " is outside the vocabulary [0, " + std::to_string(V) + ")");
  if (vis) {
    if (vis->n_rows < 0 || (vis->n_rows > 0 && !vis->rows)) throw ModelError("visual rows missing");
    for (int r = 0; r < vis->n_rows; ++r)
      if (vis->rows[r] < 0 || vis->rows[r] >= n)
        throw ModelError("visual row " + std::to_string(vis->rows[r]) + " is outside the prompt (" + std::to_string(n) + " tokens)");
    if ((int)vis->deepstack.size() > c.num_layers) throw ModelError("more deepstack features than decoder layers");
  }
  if (abort_ && abort_->load(std::memory_order_relaxed)) throw AbortedError();
  ensure_capacity(n_past_ + n);
  cudaStream_t s = stream_.get();
  const bool dec = n == 1;  // decode: fused q|k|v and gate|up GEMVs

  // Activations (pool blocks are reused across steps; freed when these go out of scope, after the
  // final sync below, so no kernel still reads them).
  DeviceBuffer<int> io(pool_, (size_t)4 * n);  // ids, then pos3
  DeviceBuffer<float> x(pool_, (size_t)n * H), hb(pool_, (size_t)n * H), qkv(pool_, (size_t)n * (QH + 2 * KH)),
      att(pool_, (size_t)n * QH), gu(pool_, (size_t)n * 2 * I), cs(pool_, (size_t)n * D), sn(pool_, (size_t)n * D);
  std::vector<int> hio(4 * (size_t)n);
  std::memcpy(hio.data(), ids, sizeof(int) * n);
  std::memcpy(hio.data() + n, pos3, sizeof(int) * 3 * n);
  CUDA_CHECK(cudaMemcpyAsync(io.get(), hio.data(), sizeof(int) * 4 * n, cudaMemcpyHostToDevice, s));
  float *X = x.get(), *Hh = hb.get(), *A = att.get(), *G = gu.get();
  // Row layout of the q/k/v buffer: decode [q | k | v] (one GEMV row); prefill [n,QH] [n,KH] [n,KH].
  float* Q = qkv.get();
  float* K = dec ? Q + QH : Q + (size_t)n * QH;
  float* Vv = dec ? Q + QH + KH : K + (size_t)n * KH;
  const int q_stride = dec ? QH + 2 * KH : QH, kv_stride = dec ? QH + 2 * KH : KH;

  if (embed_bf16_) embedding_bf16_cuda(X, embed_, io.get(), n, H, ctx_);
  else embedding_cuda(X, (const float*)embed_, io.get(), n, H, ctx_);
  DeviceBuffer<int> vrows;
  DeviceBuffer<float> vtmp;
  if (vis && vis->n_rows > 0) {
    vrows = DeviceBuffer<int>(pool_, vis->n_rows);
    vtmp = DeviceBuffer<float>(pool_, (size_t)vis->n_rows * H);
    CUDA_CHECK(cudaMemcpyAsync(vrows.get(), vis->rows, sizeof(int) * vis->n_rows, cudaMemcpyHostToDevice, s));
    if (vis->embeds)
      for (int r = 0; r < vis->n_rows; ++r)
        CUDA_CHECK(cudaMemcpyAsync(X + (size_t)vis->rows[r] * H, vis->embeds + (size_t)r * H, sizeof(float) * H,
                                   cudaMemcpyHostToDevice, s));
  }
  mrope_tables_cuda(cs.get(), sn.get(), io.get() + n, n, D, c.rope_theta, c.mrope_section, c.mrope_interleaved, ctx_);
  const float scale = 1.0f / std::sqrt((float)D);
  const int nthr = row_threads(H);

  rmsnorm_cuda(Hh, X, layers_[0].in_ln, n, H, c.rms_norm_eps, ctx_);
  for (int l = 0; l < c.num_layers; ++l) {
    if (abort_ && abort_->load(std::memory_order_relaxed)) {
      cudaStreamSynchronize(s);
      throw AbortedError();
    }
    Layer& L = layers_[l];
    // Hh = input_layernorm(X) here (fused into the previous layer's last residual add).
    if (dec) {
      matmul_cuda(Q, Hh, L.qkv, wt_, nullptr, 1, H, QH + 2 * KH, ctx_);
    } else {
      matmul_cuda(Q, Hh, L.qkv, wt_, nullptr, n, H, QH, ctx_);
      matmul_cuda(K, Hh, (char*)L.qkv + (size_t)QH * H * wsize(), wt_, nullptr, n, H, KH, ctx_);
      matmul_cuda(Vv, Hh, (char*)L.qkv + (size_t)(QH + KH) * H * wsize(), wt_, nullptr, n, H, KH, ctx_);
    }
    int bd = warp_round(D);
    qk_norm_rope_cache_kernel<<<dim3(n, NH + 2 * KVH), bd, sizeof(float) * bd, s>>>(
        Q, K, Vv, q_stride, kv_stride, L.q_norm, L.k_norm, cs.get(), sn.get(), L.kc, L.vc, n_past_, nullptr, NH, KVH,
        D, c.rms_norm_eps);
    CUDA_CHECK_LAUNCH();
    // Q rows are strided in decode only when n = 1, where the stride does not matter (one row).
    attention_cuda(A, Q, L.kc, L.vc, n, n_past_ + n, NH, KVH, D, n_past_, true, scale, ctx_);
    matmul_cuda(Hh, A, L.o, wt_, nullptr, n, QH, H, ctx_);
    add_rmsnorm_kernel<<<n, nthr, 0, s>>>(Hh, X, Hh, L.post_ln, H, c.rms_norm_eps);  // X += o; Hh = post_ln(X)
    CUDA_CHECK_LAUNCH();
    if (dec) {
      gemv_swiglu_cuda(G, Hh, L.gateup, wt_, H, I, ctx_);  // G[:I] = silu(gate) * up, one launch
    } else {
      float* U = G + (size_t)n * I;
      matmul_cuda(G, Hh, L.gateup, wt_, nullptr, n, H, I, ctx_);
      matmul_cuda(U, Hh, (char*)L.gateup + (size_t)I * H * wsize(), wt_, nullptr, n, H, I, ctx_);
      swiglu_cuda(G, G, U, n * I, ctx_);
    }
    matmul_cuda(Hh, G, L.down, wt_, nullptr, n, I, H, ctx_);
    bool ds = vis && l < (int)vis->deepstack.size() && vis->deepstack[l] && vis->n_rows > 0;
    const float* next_w = l + 1 < c.num_layers ? layers_[l + 1].in_ln : norm_;
    if (ds) {
      add_cuda(X, X, Hh, n * H, ctx_);
      CUDA_CHECK(cudaMemcpyAsync(vtmp.get(), vis->deepstack[l], sizeof(float) * vis->n_rows * H,
                                 cudaMemcpyHostToDevice, s));
      scatter_add_rows_kernel<<<vis->n_rows, 256, 0, s>>>(X, vrows.get(), vtmp.get(), H);
      CUDA_CHECK_LAUNCH();
      rmsnorm_cuda(Hh, X, next_w, n, H, c.rms_norm_eps, ctx_);
    } else {
      // X += mlp; Hh = next layer's input_layernorm(X) (or the final norm after the last layer).
      add_rmsnorm_kernel<<<n, nthr, 0, s>>>(Hh, X, Hh, next_w, H, c.rms_norm_eps);
      CUDA_CHECK_LAUNCH();
    }
  }
  // Hh = norm(X) for every row now.
  int rows = all_logits ? n : 1;
  if (rows > logits_rows_) {
    pool_.free(logits_);
    logits_ = (float*)pool_.alloc(sizeof(float) * rows * (size_t)V);
    logits_rows_ = rows;
  }
  // One logits row: the lm_head GEMV with 8 loads in flight per lane (gemv_decode.h; 3.1 vs 2.8 TB/s on an
  // H100, the same numbers as matmul_cuda's GEMV). It is slower on the layers' 4096..6144-row GEMVs.
  if (rows == 1) gemv_decode_cuda(logits_, Hh + (size_t)(n - 1) * H, lm_head_, wt_, H, V, ctx_);
  else matmul_cuda(logits_, Hh, lm_head_, wt_, nullptr, rows, H, V, ctx_);
  last_rows_ = rows;
  CUDA_CHECK(cudaStreamSynchronize(s));  // surfaces any kernel fault here, before the state moves on
  int mx = next_pos_ - 1;
  for (int i = 0; i < 3 * n; ++i) mx = std::max(mx, pos3[i]);
  n_past_ += n;
  next_pos_ = mx + 1;
}

void Qwen3TextCuda::prefill(const int* ids, int n, const int* pos3, const VisualInputs* vis, float* logits,
                            bool all_logits) {
  if (n <= 0) throw ModelError("prefill needs at least one token");
  forward(ids, n, pos3, vis, all_logits);
  if (logits)
    CUDA_CHECK(cudaMemcpy(logits, logits_, sizeof(float) * (size_t)last_rows_ * cfg_.vocab_size,
                          cudaMemcpyDeviceToHost));
}

void Qwen3TextCuda::drop_graph() {
  if (graph_) cudaGraphExecDestroy(graph_);
  graph_ = nullptr;
  graph_cap_ = -1;
  graph_logits_ = nullptr;
}

// The decode step of forward() (n = 1, no visual rows) with every per-step number read from step_.
// Any change here must keep forward()'s decode path in step (the test compares the two exactly).
void Qwen3TextCuda::record_decode_step(cudaStream_t s) {
  const Qwen3TextConfig& c = cfg_;
  const int H = c.hidden_size, I = c.intermediate_size, V = c.vocab_size, D = c.head_dim;
  const int NH = c.num_heads, KVH = c.num_kv_heads, QH = NH * D, KH = KVH * D;
  float* X = dec_;
  float* Hh = X + H;
  float* Q = Hh + H;  // [q | k | v]
  float* A = Q + QH + 2 * KH;
  float* G = A + QH;
  float* cs = G + I;
  float* sn = cs + D;
  if (embed_bf16_) embedding_bf16_cuda(X, embed_, step_, 1, H, ctx_);
  else embedding_cuda(X, (const float*)embed_, step_, 1, H, ctx_);
  mrope_tables_cuda(cs, sn, step_ + 1, 1, D, c.rope_theta, c.mrope_section, c.mrope_interleaved, ctx_);
  const float scale = 1.0f / std::sqrt((float)D);
  const int nthr = row_threads(H), bd = warp_round(D);
  rmsnorm_cuda(Hh, X, layers_[0].in_ln, 1, H, c.rms_norm_eps, ctx_);
  for (int l = 0; l < c.num_layers; ++l) {
    Layer& L = layers_[l];
    matmul_cuda(Q, Hh, L.qkv, wt_, nullptr, 1, H, QH + 2 * KH, ctx_);
    qk_norm_rope_cache_kernel<<<dim3(1, NH + 2 * KVH), bd, sizeof(float) * bd, s>>>(
        Q, Q + QH, Q + QH + KH, QH + 2 * KH, QH + 2 * KH, L.q_norm, L.k_norm, cs, sn, L.kc, L.vc, 0, step_ + 4, NH,
        KVH, D, c.rms_norm_eps);
    CUDA_CHECK_LAUNCH();
    attention_decode_cuda(A, Q, L.kc, L.vc, step_ + 5, capacity_, NH, KVH, D, scale, att_part_, ctx_);
    matmul_cuda(Hh, A, L.o, wt_, nullptr, 1, QH, H, ctx_);
    add_rmsnorm_kernel<<<1, nthr, 0, s>>>(Hh, X, Hh, L.post_ln, H, c.rms_norm_eps);
    CUDA_CHECK_LAUNCH();
    gemv_swiglu_cuda(G, Hh, L.gateup, wt_, H, I, ctx_);
    matmul_cuda(Hh, G, L.down, wt_, nullptr, 1, I, H, ctx_);
    const float* next_w = l + 1 < c.num_layers ? layers_[l + 1].in_ln : norm_;
    add_rmsnorm_kernel<<<1, nthr, 0, s>>>(Hh, X, Hh, next_w, H, c.rms_norm_eps);
    CUDA_CHECK_LAUNCH();
  }
  gemv_decode_cuda(logits_, Hh, lm_head_, wt_, H, V, ctx_);  // as forward() for one logits row
}

bool Qwen3TextCuda::capture_decode_graph() {
  drop_graph();
  cudaStream_t s = stream_.get();
  // Thread-local mode: other threads' CUDA calls (a vision tower on its own stream) are not affected.
  if (cudaStreamBeginCapture(s, cudaStreamCaptureModeThreadLocal) != cudaSuccess) {
    cudaGetLastError();
    return false;
  }
  bool ok = true;
  try {
    record_decode_step(s);
  } catch (...) {
    ok = false;
  }
  cudaGraph_t g = nullptr;
  cudaError_t e = cudaStreamEndCapture(s, &g);
  ok = ok && e == cudaSuccess && g;
  cudaGraphExec_t ex = nullptr;
  if (ok) ok = cudaGraphInstantiate(&ex, g, 0) == cudaSuccess;
  if (g) cudaGraphDestroy(g);
  cudaGetLastError();  // clear a capture/instantiate error: the eager path takes over
  if (!ok) return false;
  graph_ = ex;
  graph_cap_ = capacity_;
  graph_logits_ = logits_;
  ++graph_captures_;
  return true;
}

bool Qwen3TextCuda::decode_graph_step(int id, bool sync) {
  if (!graph_on_ || graph_broken_) return false;
  const Qwen3TextConfig& c = cfg_;
  if (id < 0 || id >= c.vocab_size)
    throw ModelError("token id " + std::to_string(id) + " at row 0 is outside the vocabulary [0, " +
                     std::to_string(c.vocab_size) + ")");
  if (abort_ && abort_->load(std::memory_order_relaxed)) throw AbortedError();
  ensure_capacity(n_past_ + 1);
  cudaStream_t s = stream_.get();
  if (!logits_) {
    logits_ = (float*)pool_.alloc(sizeof(float) * (size_t)c.vocab_size);
    logits_rows_ = 1;
  }
  if (!dec_) {
    const size_t H = c.hidden_size, D = c.head_dim, QH = (size_t)c.num_heads * D, KH = (size_t)c.num_kv_heads * D;
    dec_ = (float*)pool_.alloc(sizeof(float) * (2 * H + QH + 2 * KH + QH + c.intermediate_size + 2 * D));
  }
  if (att_part_cap_ != capacity_) {
    CUDA_CHECK(cudaStreamSynchronize(s));  // the old workspace may still be read by the last step
    pool_.free(att_part_);
    size_t fl = attention_decode_workspace(capacity_, c.num_heads, c.num_kv_heads, c.head_dim);
    att_part_ = (float*)pool_.alloc(sizeof(float) * std::max<size_t>(fl, 1));
    att_part_cap_ = capacity_;
  }
  if (!graph_ || graph_cap_ != capacity_ || graph_logits_ != logits_) {
    if (!capture_decode_graph()) {
      graph_broken_ = true;  // stay eager from now on (capture is not retried every token)
      return false;
    }
  }
  const int pos = next_pos_;
  host_step_[0] = id;
  host_step_[1] = host_step_[2] = host_step_[3] = pos;
  host_step_[4] = n_past_;
  host_step_[5] = n_past_ + 1;
  // Pageable source: the call returns once the 24 bytes are staged, so host_step_ may change after it.
  CUDA_CHECK(cudaMemcpyAsync(step_, host_step_, sizeof(host_step_), cudaMemcpyHostToDevice, s));
  CUDA_CHECK(cudaGraphLaunch(graph_, s));
  if (sync) CUDA_CHECK(cudaStreamSynchronize(s));
  last_rows_ = 1;
  n_past_ += 1;
  next_pos_ = pos + 1;
  return true;
}

void Qwen3TextCuda::decode(int id, float* logits) {
  if (!decode_graph_step(id, true)) {
    int p3[3] = {next_pos_, next_pos_, next_pos_};
    forward(&id, 1, p3, nullptr, false);
  }
  if (logits) CUDA_CHECK(cudaMemcpy(logits, logits_, sizeof(float) * cfg_.vocab_size, cudaMemcpyDeviceToHost));
}

int Qwen3TextCuda::last_argmax() {
  argmax_cuda(tmp_int_, logits_ + (size_t)(last_rows_ - 1) * cfg_.vocab_size, cfg_.vocab_size, ctx_);
  int idx = 0;
  CUDA_CHECK(cudaMemcpyAsync(&idx, tmp_int_, sizeof(int), cudaMemcpyDeviceToHost, stream_.get()));
  CUDA_CHECK(cudaStreamSynchronize(stream_.get()));
  return idx;
}

int Qwen3TextCuda::decode_greedy(int id) {
  // The argmax runs on the same stream after the step; its sync covers both.
  if (!decode_graph_step(id, false)) decode(id, nullptr);
  return last_argmax();
}

int Qwen3TextCuda::decode_sample(int id, const SamplingParams& p, const int* history, int hist_len,
                                 uint64_t* rng_state) {
  if (!decode_graph_step(id, false)) decode(id, nullptr);
  if (hist_len > hist_cap_) {
    CUDA_CHECK(cudaStreamSynchronize(stream_.get()));  // a pending copy may still read the old history block
    pool_.free(hist_);
    hist_cap_ = std::max(hist_len, 2 * hist_cap_);
    hist_ = (int*)pool_.alloc(sizeof(int) * hist_cap_);
  }
  if (hist_len > 0)
    CUDA_CHECK(cudaMemcpyAsync(hist_, history, sizeof(int) * hist_len, cudaMemcpyHostToDevice, stream_.get()));
  return sample_cuda(logits_, cfg_.vocab_size, p, hist_, hist_len, rng_state, nullptr, tmp_int_, ctx_);
}

}  // namespace cosmos
