// Does HBM idle between the decode step's GEMVs, and can the small kernels between them fill that time by
// prefetching the next GEMV's first weight bytes into L2? Issue 14's bf16 decode is at 78% of the copy roofline;
// bench/README.md ("The decode GEMVs against a plain read") puts what is left across kernels: each GEMV alone is
// within 10-14% of a bare read of its bytes, and a layer still takes ~30 us more than its 386 MB need.
//
// A model of one Qwen3-8B decode layer's chain, 36 layers of distinct bf16 weights, captured in one CUDA graph with
// programmatic dependent launch as the engine's decode graph is:
//   norm -> q|k|v GEMV (6144 x 4096) -> rope -> attention -> o GEMV (4096 x 4096) -> norm -> gate|up + SwiGLU
//   (2 x 12288 x 4096) -> down GEMV (4096 x 12288)
// The GEMVs are the engine's own (gemv_decode_cuda, gemv_swiglu_cuda); the norm, rope and attention are stand-ins
// with the engine's launch shape (one block for the norm and the rope, 64 for the attention, which reads 1.5 MB of
// f32 K/V as the engine's does at 192 keys) and the engine's PDL use (the next kernel launches at once, every
// kernel waits before touching memory). Variants: after its wait, each small kernel prefetches P MB of the next
// GEMV's first rows (cp.async.bulk.prefetch.L2; gate|up: half from the gate rows, half from the up rows, which
// its first blocks read together), with the default L2 policy or evict_last; P = 0 is the engine today. The down
// GEMV follows a GEMV and gets none. Another variant, the staged GEMV: q|k|v, o and gate|up on staged_gemv below,
// whose resident blocks copy their whole weight rows into shared memory before the wait (a check first: its outputs
// against the engine's, bit for bit). Rows: us per step (36 layers, median of 20 graph launches), us per layer,
// the ratio to P = 0 measured in the same run (before and after the variants, to show the drift).
//
//   here:   bash bench/run.sh prepare    (.dev/benchbin/decode_chain_bench)
//   device: bash bench/run.sh chain      (one JSON line per variant; ~30 s)
#include <cuda_bf16.h>
#include <cuda_runtime.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <vector>

#include "../native/src/core/cuda_common.h"
#include "../native/src/core/cuda_pdl.cuh"
#include "../native/src/core/cuda_pool.h"
#include "../native/src/core/cuda_reduce.h"
#include "../native/src/ops/gemv_common.cuh"
#include "../native/src/ops/gemv_decode.h"
#include "../native/src/ops/gemv_swiglu.h"

namespace {
constexpr int kLayers = 36, kHidden = 4096, kQkv = 6144, kInter = 12288;
constexpr int kKvFloats = 8 * 128 * 2 * 192;  // f32 K and V of 8 KV heads x 128 dims at 192 keys: 1.5 MB
constexpr int kAttnBlocks = 64;

// Where a small kernel prefetches: up to two regions (gate|up's gate and up rows), bytes each.
struct Prefetch {
  const char* a = nullptr;
  const char* b = nullptr;
  unsigned bytes = 0;  // per region, a multiple of 16
  int evict_last = 0;
};

// Every thread of the grid issues one slice of each region (>= 4 KB a slice, multiples of 16 bytes).
__device__ void prefetch(const Prefetch& p) {
  if (!p.bytes) return;
  const unsigned threads = gridDim.x * blockDim.x, t = blockIdx.x * blockDim.x + threadIdx.x;
  const unsigned slice = std::max(4096u, ((p.bytes / threads) + 15u) & ~15u);
  const unsigned begin = t * slice;
  if (begin >= p.bytes) return;
  const unsigned n = std::min(slice, p.bytes - begin);
  unsigned long long policy = 0;
  if (p.evict_last) asm volatile("createpolicy.fractional.L2::evict_last.b64 %0, 1.0;" : "=l"(policy));
  const char* regions[2] = {p.a, p.b};
  for (const char* r : regions) {
    if (!r) continue;
    if (p.evict_last)
      asm volatile("cp.async.bulk.prefetch.L2.global.L2::cache_hint [%0], %1, %2;" ::"l"(r + begin), "r"(n), "l"(policy)
                   : "memory");
    else
      asm volatile("cp.async.bulk.prefetch.L2.global [%0], %1;" ::"l"(r + begin), "r"(n) : "memory");
  }
}

// The prefetch alone, as its own launch in front of a small kernel (the separate-kernel variant: no op's signature
// would change, at the price of one more node in the chain).
__global__ void prefetch_kernel(Prefetch pf) {
  cosmos::pdl_launch_dependents();
  cosmos::pdl_wait();
  prefetch(pf);
}

// x += res; h = x * rsqrt(mean(x^2) + eps) (one block, as the engine's add_rmsnorm at one row).
__global__ void norm_kernel(float* h, float* x, const float* res, Prefetch pf) {
  cosmos::pdl_launch_dependents();
  cosmos::pdl_wait();
  prefetch(pf);
  __shared__ float red[32];
  float ss = 0.f;
  for (int i = threadIdx.x; i < kHidden; i += blockDim.x) {
    const float v = x[i] + res[i] * 1e-3f;
    x[i] = v;
    ss += v * v;
  }
  ss = cosmos::warp_sum(ss);
  if ((threadIdx.x & 31) == 0) red[threadIdx.x >> 5] = ss;
  __syncthreads();
  if (threadIdx.x < 32) {
    float v = threadIdx.x < blockDim.x / 32 ? red[threadIdx.x] : 0.f;
    v = cosmos::warp_sum(v);
    if (threadIdx.x == 0) red[0] = rsqrtf(v / kHidden + 1e-6f);
  }
  __syncthreads();
  for (int i = threadIdx.x; i < kHidden; i += blockDim.x) h[i] = x[i] * red[0];
}

// q = the q part of q|k|v, scaled (one block, as qkv_rope at one row).
__global__ void rope_kernel(float* q, const float* qkv, Prefetch pf) {
  cosmos::pdl_launch_dependents();
  cosmos::pdl_wait();
  prefetch(pf);
  for (int i = threadIdx.x; i < kHidden; i += blockDim.x) q[i] = qkv[i] * 0.5f;
}

// Each block reads its share of the K/V and writes kHidden / kAttnBlocks outputs.
__global__ void attention_kernel(float* att, const float* q, const float* kv, Prefetch pf) {
  cosmos::pdl_launch_dependents();
  cosmos::pdl_wait();
  prefetch(pf);
  const int per = kKvFloats / kAttnBlocks;
  float s = 0.f;
  for (int i = threadIdx.x; i < per; i += blockDim.x) s += kv[blockIdx.x * per + i];
  s = cosmos::warp_sum(s);
  const int outs = kHidden / kAttnBlocks;
  if (threadIdx.x < outs) att[blockIdx.x * outs + threadIdx.x] = q[blockIdx.x * outs + threadIdx.x] + s * 1e-6f;
}

// The staged GEMV (variant): each warp's lane 0 copies the warp's whole weight row(s) into shared memory with one
// bulk copy per row (cp.async.bulk, completion counted on the warp's mbarrier) *before* the PDL wait, so the blocks
// resident while the kernel in front still runs (a norm, the RoPE, the attention) pull their rows from HBM during
// that kernel instead of after it; then the wait (x ready), then the dot products from shared memory in the engine's
// order (chunk c = lane + 32 i, increasing i; the same bits). R = 1: out[j] = w_j . x; R = 2: gate|up with SwiGLU
// (rows j and m + j), as gemv_swiglu_cuda. 4 warps a block; k * 2 bytes a row (8 KB at k = 4096).
constexpr int kStageWarps = 4;
__device__ __forceinline__ uint32_t smem_addr(const void* p) {
  return static_cast<uint32_t>(__cvta_generic_to_shared(p));
}
template <int R>
__global__ void __launch_bounds__(kStageWarps * 32) staged_gemv(float* __restrict__ out, const float* __restrict__ x,
                                                                const __nv_bfloat16* __restrict__ w, int k, int m) {
  extern __shared__ __align__(128) unsigned char stage[];
  __shared__ __align__(8) unsigned long long bars[kStageWarps];
  const int warp = threadIdx.x >> 5, lane = threadIdx.x & 31;
  const int j = blockIdx.x * kStageWarps + warp;
  const unsigned row_bytes = (unsigned)k * 2u;
  unsigned char* mine = stage + (size_t)warp * R * row_bytes;
  const uint32_t bar = smem_addr(&bars[warp]);
  if (j < m && lane == 0) {
    asm volatile("mbarrier.init.shared::cta.b64 [%0], 1;" ::"r"(bar) : "memory");
    asm volatile("fence.mbarrier_init.release.cluster;" ::: "memory");
    asm volatile("mbarrier.arrive.expect_tx.shared::cta.b64 _, [%0], %1;" ::"r"(bar), "r"(R * row_bytes) : "memory");
#pragma unroll
    for (int r = 0; r < R; ++r) {
      const __nv_bfloat16* src = w + (size_t)(j + r * m) * k;
      asm volatile("cp.async.bulk.shared::cluster.global.mbarrier::complete_tx::bytes [%0], [%1], %2, [%3];" ::"r"(
                       smem_addr(mine + r * row_bytes)),
                   "l"(src), "r"(row_bytes), "r"(bar)
                   : "memory");
    }
  }
  cosmos::pdl_wait();
  if (j >= m) return;
  __syncwarp();
  uint32_t done = 0;
  while (!done)
    asm volatile("{\n.reg .pred p;\nmbarrier.try_wait.parity.shared::cta.b64 p, [%1], 0;\nselp.u32 %0, 1, 0, p;\n}"
                 : "=r"(done)
                 : "r"(bar)
                 : "memory");
  const int chunks = k / 8;
  float acc[R];
#pragma unroll
  for (int r = 0; r < R; ++r) {
    const uint4* row = reinterpret_cast<const uint4*>(mine + r * row_bytes);
    float a = 0.f;
    for (int c = lane; c < chunks; c += 32) a = cosmos::gemv::dot8_bf(a, row[c], x, c);
    acc[r] = cosmos::warp_sum(a);
  }
  if (lane == 0) out[j] = R == 1 ? acc[0] : acc[0] / (1.0f + expf(-acc[0])) * acc[R - 1];
}

template <int R>
void staged_gemv_cuda(float* out, const float* x, const __nv_bfloat16* w, int k, int m, cudaStream_t s) {
  const size_t smem = (size_t)kStageWarps * R * k * 2;
  static bool attr = false;
  if (!attr) {
    CUDA_CHECK(cudaFuncSetAttribute(staged_gemv<R>, cudaFuncAttributeMaxDynamicSharedMemorySize, (int)smem));
    attr = true;
  }
  cosmos::launch_pdl(staged_gemv<R>, dim3(cosmos::ceil_div(m, kStageWarps)), dim3(kStageWarps * 32), smem, s, out, x, w,
                     k, m);
}

__global__ void fill_bf16(__nv_bfloat16* p, size_t n, uint32_t seed) {
  for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < n; i += (size_t)gridDim.x * blockDim.x) {
    uint32_t s = (uint32_t)i * 2654435761u ^ seed;
    s ^= s >> 13;
    s *= 0x5bd1e995u;
    p[i] = __float2bfloat16(((s >> 8) / 16777216.f - 0.5f) * 0.04f);
  }
}

struct Layer {
  __nv_bfloat16 *qkv, *o, *gate_up, *down;
  float* kv;
};

struct Acts {
  float *x, *h, *qkv, *q, *att, *o, *h2, *act, *down;
};

// separate: the prefetches in prefetch_kernel launches of their own, the small kernels' Prefetch left empty.
// staged: q|k|v, o and gate|up on staged_gemv (their rows copied into shared memory before the wait).
void record(const std::vector<Layer>& layers, const Acts& a, unsigned pf_bytes, int evict_last, bool separate,
            bool staged, const cosmos::CudaContext& ctx) {
  const cudaStream_t s = ctx.stream;
  auto pf = [&](Prefetch p) {
    if (!separate || !p.bytes) return p;
    cosmos::launch_pdl(prefetch_kernel, dim3(8), dim3(128), 0, s, p);
    return Prefetch{};
  };
  const size_t row = 2ull * kHidden;  // bytes of a k = 4096 bf16 row
  for (const Layer& l : layers) {
    const unsigned pq = (unsigned)std::min<size_t>(pf_bytes, row * kQkv);
    const unsigned po = (unsigned)std::min<size_t>(pf_bytes / 2, row * kHidden / 2);
    const unsigned pg = (unsigned)std::min<size_t>(pf_bytes / 2, row * kInter);
    const char* gu = reinterpret_cast<const char*>(l.gate_up);
    const char* o = reinterpret_cast<const char*>(l.o);
    cosmos::launch_pdl(norm_kernel, dim3(1), dim3(256), 0, s, a.h, a.x, a.down,
                       pf(Prefetch{reinterpret_cast<const char*>(l.qkv), nullptr, pq, evict_last}));
    if (staged)
      staged_gemv_cuda<1>(a.qkv, a.h, l.qkv, kHidden, kQkv, s);
    else
      gemv_decode_cuda(a.qkv, a.h, l.qkv, WType::BF16, kHidden, kQkv, ctx);
    cosmos::launch_pdl(rope_kernel, dim3(1), dim3(256), 0, s, a.q, a.qkv, pf(Prefetch{o, nullptr, 2 * po, evict_last}));
    cosmos::launch_pdl(attention_kernel, dim3(kAttnBlocks), dim3(128), 0, s, a.att, a.q, l.kv, Prefetch{});
    if (staged)
      staged_gemv_cuda<1>(a.o, a.att, l.o, kHidden, kHidden, s);
    else
      gemv_decode_cuda(a.o, a.att, l.o, WType::BF16, kHidden, kHidden, ctx);
    cosmos::launch_pdl(norm_kernel, dim3(1), dim3(256), 0, s, a.h2, a.x, a.o,
                       pf(Prefetch{gu, gu + row * kInter, pg, evict_last}));
    if (staged)
      staged_gemv_cuda<2>(a.act, a.h2, l.gate_up, kHidden, kInter, s);
    else
      gemv_swiglu_cuda(a.act, a.h2, l.gate_up, WType::BF16, kHidden, kInter, ctx);
    gemv_decode_cuda(a.down, a.act, l.down, WType::BF16, kInter, kHidden, ctx);
  }
  CUDA_CHECK(cudaGetLastError());
}

float step_us(const std::vector<Layer>& layers, const Acts& a, unsigned pf_bytes, int evict_last, bool separate,
              bool staged, const cosmos::CudaContext& ctx) {
  cudaGraph_t g;
  cudaGraphExec_t ex;
  CUDA_CHECK(cudaStreamBeginCapture(ctx.stream, cudaStreamCaptureModeThreadLocal));
  record(layers, a, pf_bytes, evict_last, separate, staged, ctx);
  CUDA_CHECK(cudaStreamEndCapture(ctx.stream, &g));
  CUDA_CHECK(cudaGraphInstantiate(&ex, g, 0));
  cudaEvent_t e0, e1;
  CUDA_CHECK(cudaEventCreate(&e0));
  CUDA_CHECK(cudaEventCreate(&e1));
  for (int i = 0; i < 3; ++i) CUDA_CHECK(cudaGraphLaunch(ex, ctx.stream));
  std::vector<float> t;
  for (int i = 0; i < 20; ++i) {
    CUDA_CHECK(cudaEventRecord(e0, ctx.stream));
    CUDA_CHECK(cudaGraphLaunch(ex, ctx.stream));
    CUDA_CHECK(cudaEventRecord(e1, ctx.stream));
    CUDA_CHECK(cudaEventSynchronize(e1));
    float ms;
    CUDA_CHECK(cudaEventElapsedTime(&ms, e0, e1));
    t.push_back(ms * 1000.f);
  }
  CUDA_CHECK(cudaEventDestroy(e0));
  CUDA_CHECK(cudaEventDestroy(e1));
  CUDA_CHECK(cudaGraphExecDestroy(ex));
  CUDA_CHECK(cudaGraphDestroy(g));
  std::sort(t.begin(), t.end());
  return t[t.size() / 2];
}
}  // namespace

int main() {
  cosmos::CudaPool pool;
  cudaStream_t stream;
  CUDA_CHECK(cudaStreamCreateWithFlags(&stream, cudaStreamNonBlocking));
  const cosmos::CudaContext ctx{stream, &pool};
  std::vector<Layer> layers(kLayers);
  uint32_t seed = 1;
  auto weights = [&](size_t n) {
    __nv_bfloat16* p;
    CUDA_CHECK(cudaMalloc(&p, n * 2));
    fill_bf16<<<1024, 256, 0, stream>>>(p, n, seed++);
    return p;
  };
  double bytes = 0;
  for (Layer& l : layers) {
    l.qkv = weights((size_t)kQkv * kHidden);
    l.o = weights((size_t)kHidden * kHidden);
    l.gate_up = weights(2ull * kInter * kHidden);
    l.down = weights((size_t)kHidden * kInter);
    CUDA_CHECK(cudaMalloc(&l.kv, kKvFloats * 4));
    CUDA_CHECK(cudaMemsetAsync(l.kv, 0, kKvFloats * 4, stream));
    bytes += 2.0 * ((double)kQkv * kHidden + (double)kHidden * kHidden + 3.0 * kInter * kHidden) + kKvFloats * 4.0;
  }
  Acts a;
  for (float** p : {&a.x, &a.h, &a.qkv, &a.q, &a.att, &a.o, &a.h2, &a.act, &a.down}) {
    CUDA_CHECK(cudaMalloc(p, kInter * 4));
    CUDA_CHECK(cudaMemsetAsync(*p, 0, kInter * 4, stream));
  }
  fill_bf16<<<16, 256, 0, stream>>>(reinterpret_cast<__nv_bfloat16*>(a.x), kHidden * 2, 99);  // x: non-zero
  CUDA_CHECK(cudaStreamSynchronize(stream));
  int dev, l2;
  CUDA_CHECK(cudaGetDevice(&dev));
  CUDA_CHECK(cudaDeviceGetAttribute(&l2, cudaDevAttrL2CacheSize, dev));
  std::printf("# %d layers, %.1f MB of weights + K/V a step, L2 %d MB, PDL %s\n", kLayers, bytes / 1e6, l2 >> 20,
              cosmos::pdl_enabled() ? "on" : "off");
  // The staged GEMVs against the engine's on layer 0's weights: the same bits (the same summation order).
  {
    std::vector<float> e(kInter), g(kInter);
    auto cmp = [&](const char* name, int n) {
      CUDA_CHECK(cudaStreamSynchronize(stream));
      CUDA_CHECK(cudaMemcpy(e.data(), a.o, n * 4, cudaMemcpyDeviceToHost));
      CUDA_CHECK(cudaMemcpy(g.data(), a.act, n * 4, cudaMemcpyDeviceToHost));
      double d = 0;
      for (int i = 0; i < n; ++i) d = std::max(d, (double)std::fabs(e[i] - g[i]));
      std::printf("{\"check\": \"%s, staged vs engine\", \"max_diff\": %.3g}\n", name, d);
    };
    gemv_decode_cuda(a.o, a.x, layers[0].qkv, WType::BF16, kHidden, kQkv, ctx);
    staged_gemv_cuda<1>(a.act, a.x, layers[0].qkv, kHidden, kQkv, stream);
    cmp("q|k|v", kQkv);
    gemv_swiglu_cuda(a.o, a.x, layers[0].gate_up, WType::BF16, kHidden, kInter, ctx);
    staged_gemv_cuda<2>(a.act, a.x, layers[0].gate_up, kHidden, kInter, stream);
    cmp("gate|up + SwiGLU", kInter);
  }
  const float base0 = step_us(layers, a, 0, 0, false, false, ctx);
  struct V {
    unsigned mb;
    int evict_last;
    bool separate;
    bool staged = false;
  };
  const V variants[] = {{4, 0, false}, {8, 0, false},  {16, 0, false},      {24, 0, false},     {32, 0, false},
                        {8, 1, false}, {16, 1, false}, {32, 1, false},      {8, 0, true},       {16, 0, true},
                        {32, 0, true}, {16, 1, true},  {0, 0, false, true}, {0, 0, false, true}};
  std::vector<std::pair<V, float>> rows;
  for (const V& v : variants)
    rows.push_back({v, step_us(layers, a, v.mb << 20, v.evict_last, v.separate, v.staged, ctx)});
  const float base1 = step_us(layers, a, 0, 0, false, false, ctx);
  const float base = 0.5f * (base0 + base1);
  auto print = [&](const V& v, float us) {
    std::printf(
        "{\"gemvs\": \"%s\", \"prefetch_mb\": %u, \"policy\": \"%s\", \"issued_by\": \"%s\", \"step_us\": %.1f, "
        "\"layer_us\": %.2f, \"tb_s\": %.3f, \"vs_none\": %.4f}\n",
        v.staged ? "staged rows" : "engine", v.mb, v.evict_last ? "evict_last" : "normal",
        v.separate ? "own kernel" : "small kernel", us, us / kLayers, bytes / (us * 1e-6) / 1e12, base / us);
  };
  print(V{0, 0, false}, base0);
  for (auto& [v, us] : rows) print(v, us);
  print(V{0, 0, false}, base1);
  return 0;
}
