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
// against the engine's, bit for bit). Those rows are `decode_chain_bench prefetch` (all measured slower: README).
// The default rows: the step as one persistent kernel (namespace persistent below: producer warps stream every
// layer's weights through shared memory while the consumers wait on each other), each variant checked first
// against one step of the chain from the same state (every output, bit for bit), then timed twice.
// Rows: us per step (36 layers, median of 20 graph launches), us per layer, the ratio to the chain with P = 0
// measured in the same run (before and after the variants, to show the drift).
//
//   here:   bash bench/run.sh prepare    (.dev/benchbin/decode_chain_bench)
//   device: bash bench/run.sh chain      (one JSON line per variant; ~30 s)
#include <cuda_bf16.h>
#include <cuda_runtime.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <string>
#include <vector>

#include "../native/src/core/cuda_common.h"
#include "../native/src/core/cuda_grid_phases.cuh"
#include "../native/src/core/cuda_mbarrier.cuh"
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

// The mbarrier and bulk-copy instructions of the two shared-memory variants: the engine's (core/cuda_mbarrier.cuh).
using cosmos::bulk_copy_g2s;
using cosmos::mbar_arrive;
using cosmos::mbar_expect_tx;
using cosmos::mbar_init;
using cosmos::mbar_init_fence;
using cosmos::mbar_try_wait;
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
    mbar_init(bar, 1);
    mbar_init_fence();
    mbar_expect_tx(bar, R * row_bytes);
#pragma unroll
    for (int r = 0; r < R; ++r)
      bulk_copy_g2s(smem_addr(mine + r * row_bytes), w + (size_t)(j + r * m) * k, row_bytes, bar);
  }
  cosmos::pdl_wait();
  if (j >= m) return;
  __syncwarp();
  while (!mbar_try_wait(bar, 0)) {
  }
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

struct Layer {
  __nv_bfloat16 *qkv, *o, *gate_up, *down;
  float* kv;
};

struct Acts {
  float *x, *h, *qkv, *q, *att, *o, *h2, *act, *down;
};

// The persistent step (variant): the 36 layers as one kernel, one block an SM, that never drains. Why: each GEMV
// alone reads at 86-90% of a bare read of its bytes, and what separates the engine's layer (~120 us) from its
// bytes (~90 us) is each kernel's ramp and drain and the norm / RoPE / attention gaps in which HBM idles
// (bench/README.md: "The decode GEMVs against a plain read", "The small kernels prefetching"). Weights depend on
// nothing, so W producer warps a block stream the block's share of every GEMV's rows, layer after layer, into one
// ring a consumer warp in shared memory (8 KB slots filled by cp.async.bulk, full / empty mbarriers), never waiting
// for activations: only the ring's size bounds how far ahead they run, so HBM stays busy through the waits below.
// W consumer warps wait for a phase's input (a counter a phase in global memory that every block increments once
// its share is written: a grid-wide barrier that only the consumers pay), stage it in shared memory, and take their
// rows from the ring in the engine's order (chunk c = lane + 32 i in increasing i, the same 8-term expression, the
// same warp sum), so every output equals the chain's bit for bit. Each block computes the norm itself from x in the
// chain's 256-thread summation order; the residual adds are the o / down rows' epilogues; the RoPE stand-in is the
// attention's prologue; the attention stand-in runs on blocks 0..63 as the chain's 64 blocks do. A layer has five
// phases: q|k|v (after the previous layer's down), attention (after q|k|v), o (after attention), gate|up (after o),
// down (after gate|up). Every block must be resident at once: grid = the SM count, and the shared memory holds it to
// one block an SM. A wait that lasts 2 s prints where it was and traps, so a schedule bug ends the run, not hangs it.
// models/qwen3_decode_persistent.cu is the engine's form of this step (the real layer: norms with weights, q / k norm
// + RoPE, the KV cache, split attention); both take their phase and staged-GEMV helpers from the engine's headers.
namespace persistent {
constexpr int kSlotBytes = 8192;  // one k = 4096 bf16 row; a down row (k = 12288) takes 3 slots
constexpr int kSlotChunks = kSlotBytes / 16;
enum Phase { kQkvDone, kAttDone, kODone, kGateUpDone, kDownDone, kPhases };
// What a variant runs, to split its time: everything; the math without the grid-wide waits (its outputs are wrong:
// the cost of the waits); the producers' stream alone, every slot given back unread (the scheme's ceiling).
enum Mode { kFull, kNoWaits, kStreamOnly };
constexpr unsigned long long kTimeoutNs = 2000000000ull;

struct Args {
  const Layer* layers;  // kLayers, in device memory
  float *x, *qkv, *att, *o, *act, *down;
  unsigned* ctr;  // kLayers * kPhases, zero at launch
};

// The x staging: chunk c's 8 values as xa[c] (the first 4) and xb[c] (the last 4), so a warp's float4 reads of 32
// consecutive chunks fall on distinct banks (as one float4 pair per chunk they would conflict two-way).
constexpr size_t kStageBytes = 2ull * (kInter / 8) * sizeof(float4);  // 48 KB: the down GEMV's input
template <int W, int S>
constexpr size_t smem_bytes() {
  return (size_t)W * S * kSlotBytes + kStageBytes;
}

// The engine's phase helpers (core/cuda_grid_phases.cuh); a variant without the grid-wide waits keeps their barriers.
__device__ __forceinline__ void mbar_wait(uint32_t bar, uint32_t parity, const char* what, int layer) {
  cosmos::phases::mbar_wait(bar, parity, kTimeoutNs, "persistent step", what, layer);
}
template <int NT>
__device__ __forceinline__ void consumers_sync() {
  cosmos::phases::consumers_sync<NT>();
}
template <int NT, bool kWaits>
__device__ __forceinline__ void grid_signal(unsigned* ctr) {
  if (kWaits)
    cosmos::phases::signal<NT>(ctr);
  else
    consumers_sync<NT>();
}
template <int NT, bool kWaits>
__device__ __forceinline__ void grid_wait(const unsigned* ctr, int layer) {
  if (kWaits)
    cosmos::phases::wait<NT>(ctr, kTimeoutNs, "persistent step", "a phase counter", layer);
  else
    consumers_sync<NT>();
}
template <int NT>
__device__ void stage(float4* xa, float4* xb, const float* src, int k) {
  cosmos::gemv::stage_x<NT>(xa, xb, src, k);
}
// h = x * rsqrt(mean(x^2) + eps) staged, summed as norm_kernel's 256 threads do: its thread ct adds x[ct + 256 j]
// for j = 0..15, its warps' sums go to red[ct / 32], and its warp 0 sums the 8 of them. Thread t here plays the
// chain's threads t + NT q.
template <int NT>
__device__ void stage_norm(float4* xa, float4* xb, const float* x, float* red) {
  constexpr int kChainThreads = 256, kPer = kHidden / kChainThreads, Q = kChainThreads / NT;
  const int t = threadIdx.x;
  float v[Q][kPer], ss[Q];
#pragma unroll
  for (int q = 0; q < Q; ++q)
#pragma unroll
    for (int j = 0; j < kPer; ++j) v[q][j] = __ldcg(x + t + NT * q + kChainThreads * j);
#pragma unroll
  for (int q = 0; q < Q; ++q) {
    ss[q] = 0.f;
#pragma unroll
    for (int j = 0; j < kPer; ++j) ss[q] += v[q][j] * v[q][j];
    const float w = cosmos::warp_sum(ss[q]);
    if ((t & 31) == 0) red[(t >> 5) + (NT / 32) * q] = w;
  }
  consumers_sync<NT>();
  if (t < 32) {
    float a = t < kChainThreads / 32 ? red[t] : 0.f;
    a = cosmos::warp_sum(a);
    if (t == 0) red[kChainThreads / 32] = rsqrtf(a / kHidden + 1e-6f);
  }
  consumers_sync<NT>();
  const float inv = red[kChainThreads / 32];
#pragma unroll
  for (int q = 0; q < Q; ++q)
#pragma unroll
    for (int j = 0; j < kPer; ++j) {
      const int i = t + NT * q + kChainThreads * j;
      reinterpret_cast<float*>(((i & 7) < 4 ? xa : xb) + (i >> 3))[i & 3] = v[q][j] * inv;
    }
}

template <bool kMath>
__device__ __forceinline__ float dot(float acc, const uint4* slot, const float4* xa, const float4* xb, int c0,
                                     int lane) {
  return kMath ? cosmos::gemv::dot_slot(acc, slot, kSlotChunks, xa, xb, c0, lane) : acc;
}

// W consumer warps (0..W-1) and W producer warps (W..2W-1, lane 0 of producer w fills consumer w's ring of S slots).
template <int W, int S, int M>
__global__ void __launch_bounds__(2 * W * 32, 1) step_kernel(Args p) {
  constexpr int NT = W * 32;
  constexpr bool waits = M == kFull, math = M != kStreamOnly;
  extern __shared__ __align__(128) unsigned char smem[];
  __shared__ __align__(8) unsigned long long full[W * S], empty[W * S];
  __shared__ float red[9];
  float4* xa = reinterpret_cast<float4*>(smem + (size_t)W * S * kSlotBytes);
  float4* xb = xa + kInter / 8;
  const int warp = threadIdx.x >> 5, lane = threadIdx.x & 31;
  if (threadIdx.x == 0) {
    for (int i = 0; i < W * S; ++i) {
      mbar_init(smem_addr(&full[i]), 1);
      mbar_init(smem_addr(&empty[i]), 1);
    }
    mbar_init_fence();
  }
  __syncthreads();
  const int T = gridDim.x * W;  // consumer warps in the grid; warp g takes rows g, g + T, ... of every GEMV
  const int ring = warp % W;
  const int g = blockIdx.x * W + ring;
  unsigned n = 0;  // slots used so far on this ring: slot n % S, its round n / S
  auto slot_ptr = [&](unsigned i) { return smem + (size_t)(ring * S + i % S) * kSlotBytes; };

  if (warp >= W) {  // a producer: this ring's rows of every GEMV, in the order its consumer takes them
    if (lane != 0) return;
    auto put = [&](const __nv_bfloat16* src, int layer) {
      const uint32_t full_bar = smem_addr(&full[ring * S + n % S]);
      mbar_wait(smem_addr(&empty[ring * S + n % S]), ((n / S) & 1) ^ 1, "a free slot", layer);
      mbar_expect_tx(full_bar, kSlotBytes);
      bulk_copy_g2s(smem_addr(slot_ptr(n)), src, kSlotBytes, full_bar);
      ++n;
    };
    for (int l = 0; l < kLayers; ++l) {
      const Layer L = p.layers[l];
      for (int r = g; r < kQkv; r += T) put(L.qkv + (size_t)r * kHidden, l);
      for (int r = g; r < kHidden; r += T) put(L.o + (size_t)r * kHidden, l);
      for (int r = g; r < kInter; r += T) {
        put(L.gate_up + (size_t)r * kHidden, l);
        put(L.gate_up + (size_t)(kInter + r) * kHidden, l);
      }
      for (int r = g; r < kHidden; r += T)
        for (int q = 0; q < kInter / kHidden; ++q) put(L.down + (size_t)r * kInter + (size_t)q * kHidden, l);
    }
    return;
  }

  // A consumer: slot n's weights, then the slot back to the producer once every lane has read it.
  auto take = [&](int layer) {
    mbar_wait(smem_addr(&full[ring * S + n % S]), (n / S) & 1, "a weight slot", layer);
    return reinterpret_cast<const uint4*>(slot_ptr(n));
  };
  auto give = [&] {
    __syncwarp();
    if (lane == 0) mbar_arrive(smem_addr(&empty[ring * S + n % S]));
    ++n;
  };
  for (int l = 0; l < kLayers; ++l) {
    const Layer L = p.layers[l];
    unsigned* ctr = p.ctr + l * kPhases;
    // q|k|v = W_qkv . norm(x); x is whole once every block has added the previous layer's down rows.
    if (l > 0) grid_wait<NT, waits>(ctr - kPhases + kDownDone, l);
    if (math) stage_norm<NT>(xa, xb, p.x, red);
    consumers_sync<NT>();
    for (int r = g; r < kQkv; r += T) {
      float acc = dot<math>(0.f, take(l), xa, xb, 0, lane);
      give();
      acc = cosmos::warp_sum(acc);
      if (lane == 0) p.qkv[r] = acc;
    }
    grid_signal<NT, waits>(ctr + kQkvDone);
    // The RoPE and attention stand-ins: attention_kernel's 64 blocks of 128 threads, the same sums (thread t plays
    // its threads t + NT q; with NT = 256, threads 128.. have no part).
    if (math && blockIdx.x < kAttnBlocks) {
      grid_wait<NT, waits>(ctr + kQkvDone, l);
      constexpr int kChainThreads = 128, QA = NT >= kChainThreads ? 1 : kChainThreads / NT;
      constexpr int per = kKvFloats / kAttnBlocks, outs = kHidden / kAttnBlocks;
      if (threadIdx.x < kChainThreads) {
#pragma unroll
        for (int q = 0; q < QA; ++q) {
          const int ct = threadIdx.x + NT * q;
          float s = 0.f;
          for (int i = ct; i < per; i += kChainThreads) s += L.kv[blockIdx.x * per + i];
          s = cosmos::warp_sum(s);
          if (ct < outs) {
            const int i = blockIdx.x * outs + ct;
            const float q = __ldcg(p.qkv + i) * 0.5f;  // rope_kernel's q
            p.att[i] = q + s * 1e-6f;
          }
        }
      }
    }
    grid_signal<NT, waits>(ctr + kAttDone);
    // o = W_o . att; x += o * 1e-3 by the row's owner (norm_kernel's residual add).
    grid_wait<NT, waits>(ctr + kAttDone, l);
    if (math) stage<NT>(xa, xb, p.att, kHidden);
    consumers_sync<NT>();
    for (int r = g; r < kHidden; r += T) {
      float acc = dot<math>(0.f, take(l), xa, xb, 0, lane);
      give();
      acc = cosmos::warp_sum(acc);
      if (lane == 0) {
        p.o[r] = acc;
        p.x[r] = __ldcg(p.x + r) + acc * 1e-3f;
      }
    }
    grid_signal<NT, waits>(ctr + kODone);
    // act = silu(W_gate . norm(x)) * (W_up . norm(x)), as gemv_swiglu_cuda.
    grid_wait<NT, waits>(ctr + kODone, l);
    if (math) stage_norm<NT>(xa, xb, p.x, red);
    consumers_sync<NT>();
    for (int r = g; r < kInter; r += T) {
      float gate = dot<math>(0.f, take(l), xa, xb, 0, lane);
      give();
      float up = dot<math>(0.f, take(l), xa, xb, 0, lane);
      give();
      gate = cosmos::warp_sum(gate);
      up = cosmos::warp_sum(up);
      if (lane == 0) p.act[r] = gate / (1.0f + expf(-gate)) * up;
    }
    grid_signal<NT, waits>(ctr + kGateUpDone);
    // down = W_down . act, a row in 3 slots; x += down * 1e-3 by the row's owner.
    grid_wait<NT, waits>(ctr + kGateUpDone, l);
    if (math) stage<NT>(xa, xb, p.act, kInter);
    consumers_sync<NT>();
    for (int r = g; r < kHidden; r += T) {
      float acc = 0.f;
      for (int q = 0; q < kInter / kHidden; ++q) {
        acc = dot<math>(acc, take(l), xa, xb, q * kSlotChunks, lane);
        give();
      }
      acc = cosmos::warp_sum(acc);
      if (lane == 0) {
        p.down[r] = acc;
        p.x[r] = __ldcg(p.x + r) + acc * 1e-3f;
      }
    }
    grid_signal<NT, waits>(ctr + kDownDone);
  }
}

// The counters zeroed, then the step. Returns false (and says why) when a block an SM does not fit.
template <int W, int S, int M>
bool launch(const Args& args, int sms, cudaStream_t s) {
  constexpr size_t smem = smem_bytes<W, S>();
  static int fits = -1;
  if (fits < 0) {
    CUDA_CHECK(cudaFuncSetAttribute(step_kernel<W, S, M>, cudaFuncAttributeMaxDynamicSharedMemorySize, (int)smem));
    int blocks = 0;
    CUDA_CHECK(cudaOccupancyMaxActiveBlocksPerMultiprocessor(&blocks, step_kernel<W, S, M>, 2 * W * 32, smem));
    fits = blocks >= 1;
    if (!fits)
      std::printf("# persistent W%d S%d mode %d: %zu bytes of shared memory do not fit one block an SM\n", W, S, M,
                  smem);
  }
  if (!fits) return false;
  CUDA_CHECK(cudaMemsetAsync(args.ctr, 0, sizeof(unsigned) * kLayers * kPhases, s));
  step_kernel<W, S, M><<<sms, 2 * W * 32, smem, s>>>(args);
  CUDA_CHECK(cudaGetLastError());
  return true;
}
}  // namespace persistent

__global__ void fill_bf16(__nv_bfloat16* p, size_t n, uint32_t seed) {
  for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < n; i += (size_t)gridDim.x * blockDim.x) {
    uint32_t s = (uint32_t)i * 2654435761u ^ seed;
    s ^= s >> 13;
    s *= 0x5bd1e995u;
    p[i] = __float2bfloat16(((s >> 8) / 16777216.f - 0.5f) * 0.04f);
  }
}

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

// The median of 20 launches of one CUDA graph holding what `rec` records (after 3 warm-up launches), in us.
template <typename Rec>
float graph_us(Rec&& rec, cudaStream_t stream) {
  cudaGraph_t g;
  cudaGraphExec_t ex;
  CUDA_CHECK(cudaStreamBeginCapture(stream, cudaStreamCaptureModeThreadLocal));
  rec();
  CUDA_CHECK(cudaStreamEndCapture(stream, &g));
  CUDA_CHECK(cudaGraphInstantiate(&ex, g, 0));
  cudaEvent_t e0, e1;
  CUDA_CHECK(cudaEventCreate(&e0));
  CUDA_CHECK(cudaEventCreate(&e1));
  for (int i = 0; i < 3; ++i) CUDA_CHECK(cudaGraphLaunch(ex, stream));
  std::vector<float> t;
  for (int i = 0; i < 20; ++i) {
    CUDA_CHECK(cudaEventRecord(e0, stream));
    CUDA_CHECK(cudaGraphLaunch(ex, stream));
    CUDA_CHECK(cudaEventRecord(e1, stream));
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

float step_us(const std::vector<Layer>& layers, const Acts& a, unsigned pf_bytes, int evict_last, bool separate,
              bool staged, const cosmos::CudaContext& ctx) {
  return graph_us([&] { record(layers, a, pf_bytes, evict_last, separate, staged, ctx); }, ctx.stream);
}
}  // namespace

int main(int argc, char** argv) {
  // No argument: every persistent variant; "prefetch": the L2-prefetch and staged rows; else one persistent variant
  // by name ("W4 S5", "W4 S5, no grid waits", ...), so bench/run.sh runs each in its own process and a variant
  // that traps takes no other row with it.
  const std::string only = argc > 1 ? argv[1] : "";
  const bool prefetch_rows = only == "prefetch";
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
  const float base0 = step_us(layers, a, 0, 0, false, false, ctx);
  struct V {
    unsigned mb;
    int evict_last;
    bool separate;
    bool staged = false;
    const char* persistent = nullptr;  // "W4 S5": the persistent step with W consumer warps, S slots a ring
  };
  std::vector<std::pair<V, float>> rows;
  if (prefetch_rows) {
    // The staged GEMVs against the engine's on layer 0's weights: the same bits (the same summation order).
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
    const V variants[] = {{4, 0, false}, {8, 0, false},  {16, 0, false},      {24, 0, false},     {32, 0, false},
                          {8, 1, false}, {16, 1, false}, {32, 1, false},      {8, 0, true},       {16, 0, true},
                          {32, 0, true}, {16, 1, true},  {0, 0, false, true}, {0, 0, false, true}};
    for (const V& v : variants)
      rows.push_back({v, step_us(layers, a, v.mb << 20, v.evict_last, v.separate, v.staged, ctx)});
  } else {
    // The persistent step against the chain: one step each from the same state, every output compared (the
    // persistent x has the last down's residual added, which the chain leaves to the next step's first norm).
    int sms = 0;
    CUDA_CHECK(cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, dev));
    Layer* dev_layers;
    CUDA_CHECK(cudaMalloc(&dev_layers, sizeof(Layer) * kLayers));
    CUDA_CHECK(cudaMemcpy(dev_layers, layers.data(), sizeof(Layer) * kLayers, cudaMemcpyHostToDevice));
    persistent::Args pa{dev_layers, a.x, a.qkv, a.att, a.o, a.act, a.down, nullptr};
    CUDA_CHECK(cudaMalloc(&pa.ctr, sizeof(unsigned) * kLayers * persistent::kPhases));
    auto reset = [&] {
      for (float* p : {a.x, a.h, a.qkv, a.q, a.att, a.o, a.h2, a.act, a.down})
        CUDA_CHECK(cudaMemsetAsync(p, 0, kInter * 4, stream));
      fill_bf16<<<16, 256, 0, stream>>>(reinterpret_cast<__nv_bfloat16*>(a.x), kHidden * 2, 99);
    };
    struct Out {
      const char* name;
      float* p;
      int n;
      std::vector<float> chain, mine;
    };
    std::vector<Out> outs = {{"x", a.x, kHidden}, {"q|k|v", a.qkv, kQkv}, {"att", a.att, kHidden},
                             {"o", a.o, kHidden}, {"act", a.act, kInter}, {"down", a.down, kHidden}};
    auto take = [&](bool chain) {
      CUDA_CHECK(cudaStreamSynchronize(stream));
      for (Out& o : outs) {
        std::vector<float>& v = chain ? o.chain : o.mine;
        v.resize(o.n);
        CUDA_CHECK(cudaMemcpy(v.data(), o.p, o.n * 4, cudaMemcpyDeviceToHost));
      }
    };
    auto check = [&](const char* name, bool (*run)(const persistent::Args&, int, cudaStream_t)) {
      reset();
      record(layers, a, 0, 0, false, false, ctx);
      take(true);
      reset();
      if (!run(pa, sms, stream)) return false;
      take(false);
      Out& down = outs.back();
      for (int i = 0; i < kHidden; ++i)
        outs[0].chain[i] = std::fma(down.chain[i], 1e-3f, outs[0].chain[i]);  // as nvcc contracts it
      double worst = 0, scale = 0;
      std::string per;
      for (const Out& o : outs) {
        double d = 0;
        for (int i = 0; i < o.n; ++i) {
          d = std::max(d, (double)std::fabs(o.chain[i] - o.mine[i]));
          scale = std::max(scale, (double)std::fabs(o.chain[i]));
        }
        worst = std::max(worst, d);
        per += std::string(per.empty() ? "" : ", ") + "\"" + o.name + "\": " + std::to_string(d);
      }
      std::printf("{\"check\": \"persistent %s vs the chain, one step\", \"max_diff\": %.3g, \"largest\": %.3g, %s}\n",
                  name, worst, scale, per.c_str());
      return true;
    };
    struct P {
      const char* name;
      bool (*run)(const persistent::Args&, int, cudaStream_t);
      bool checked;  // the full step: its outputs against the chain's before it is timed
    };
    const P persistents[] = {{"W4 S5", persistent::launch<4, 5, persistent::kFull>, true},
                             {"W4 S3", persistent::launch<4, 3, persistent::kFull>, true},
                             {"W8 S2", persistent::launch<8, 2, persistent::kFull>, true},
                             {"W2 S10", persistent::launch<2, 10, persistent::kFull>, true},
                             {"W4 S5, no grid waits", persistent::launch<4, 5, persistent::kNoWaits>, false},
                             {"W4 S5, the stream alone", persistent::launch<4, 5, persistent::kStreamOnly>, false}};
    for (const P& v : persistents) {
      if (!only.empty() && only != v.name) continue;
      if (v.checked ? !check(v.name, v.run) : !v.run(pa, sms, stream)) continue;
      for (int rep = 0; rep < 2; ++rep)
        rows.push_back({V{0, 0, false, false, v.name}, graph_us([&] { v.run(pa, sms, stream); }, stream)});
    }
    CUDA_CHECK(cudaFree(pa.ctr));
    CUDA_CHECK(cudaFree(dev_layers));
  }
  const float base1 = step_us(layers, a, 0, 0, false, false, ctx);
  const float base = 0.5f * (base0 + base1);
  auto print = [&](const V& v, float us) {
    const std::string gemvs =
        v.persistent ? std::string("persistent ") + v.persistent : std::string(v.staged ? "staged rows" : "engine");
    std::printf(
        "{\"gemvs\": \"%s\", \"prefetch_mb\": %u, \"policy\": \"%s\", \"issued_by\": \"%s\", \"step_us\": %.1f, "
        "\"layer_us\": %.2f, \"tb_s\": %.3f, \"vs_none\": %.4f}\n",
        gemvs.c_str(), v.mb, v.evict_last ? "evict_last" : "normal", v.separate ? "own kernel" : "small kernel", us,
        us / kLayers, bytes / (us * 1e-6) / 1e12, base / us);
  };
  print(V{0, 0, false}, base0);
  for (auto& [v, us] : rows) print(v, us);
  print(V{0, 0, false}, base1);
  return 0;
}
