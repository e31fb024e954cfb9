// See qwen3_decode_persistent.h.
#ifndef COSMOS_CUDA
#define COSMOS_CUDA 1
#endif
#include "qwen3_decode_persistent.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <string>
#include <type_traits>

#include "../core/cuda_common.h"
#include "../core/cuda_grid_phases.cuh"
#include "../core/cuda_mbarrier.cuh"
#include "../core/cuda_reduce.h"
#include "../core/errors.h"
#include "../ops/gemv_common.cuh"
#include "../ops/row_vec.cuh"  // row_load4 / row_store4: the K / V cache in f32 or bf16

namespace cosmos {
namespace {

constexpr int kW = 4;         // consumer warps a block, and as many producer warps (lane 0 of each fills a ring)
constexpr int kNT = kW * 32;  // consumer threads (named barrier 1; __syncthreads is barrier 0, used once)
// A ring slot: a 4096-wide row, 8 KB in bf16 and 4 KB in e4m3 (Qwen3PersistentShape::fp8_weights), or that much of a
// wider one.
template <bool kFp8>
constexpr int kSlotBytesOf = kFp8 ? 4096 : 8192;
constexpr int kMaxSlots = 16;                         // a ring's slots at most
constexpr int kHeaderBytes = 2 * kW * kMaxSlots * 8;  // the full and empty mbarriers, then the rings
constexpr int kD = 128;                               // head_dim (a lane holds 4 of a head's dims)
constexpr int kMaxSplits = 64;       // key splits of one KV head at most (a warp each; two a lane in the combine)
constexpr int kPartFloats = kD + 4;  // a split's partial for a q head: D outputs, max, sum, pad
constexpr int kGroupSplits = 8;      // splits a group, with tuning.two_level_from_groups
constexpr int kMaxGroups = kMaxSplits / kGroupSplits;
constexpr unsigned long long kTimeoutNs = 4000000000ull;
// A layer's counters: blocks done with q|k|v, KV heads whose attention is combined into att, blocks done with o, with
// gate|up, with down; then one a KV head counting its finished splits (or groups of splits: the last one combines
// them), then kMaxGroups a KV head counting each group's finished splits (tuning.two_level_from_groups).
enum Phase { kQkvDone, kAttDone, kODone, kGateUpDone, kDownDone, kPhases };
__host__ __device__ inline int counters_per_layer(const Qwen3PersistentShape& s) {
  return kPhases + s.kv_heads * (1 + kMaxGroups);
}

struct Params {
  Qwen3PersistentShape s;
  Qwen3PersistentStep st;
  int slots;           // a ring's slots
  int stage_chunks;    // 8-value chunks of the widest GEMV input: the staging's size
  float scale;         // 1 / sqrt(head_dim)
  bool block_combine;  // tuning.block_combine, where a block's kW partials fit its staging (block_combine_fits)
};

// The workspace (floats): q|k|v, the attention's output, the SwiGLU's output, the splits' partials, the groups'.
struct Workspace {
  float *qkv, *att, *act, *part, *group_part;
};
__host__ __device__ inline int qkv_rows(const Qwen3PersistentShape& s) {
  return (s.heads + 2 * s.kv_heads) * s.head_dim;
}
__host__ __device__ inline Workspace workspace_of(const Qwen3PersistentShape& s, float* w) {
  Workspace r;
  r.qkv = w;
  r.att = r.qkv + qkv_rows(s);
  r.act = r.att + (size_t)s.heads * s.head_dim;
  r.part = r.act + s.inter;  // 16-byte aligned: every size above is a multiple of 8 floats
  r.group_part = r.part + (size_t)kMaxSplits * s.heads * kPartFloats;
  return r;
}

__device__ __forceinline__ uint32_t saddr(const void* p) { return (uint32_t)__cvta_generic_to_shared(p); }
template <class Poll = phases::NoPoll>
__device__ __forceinline__ void wait_slot(uint32_t bar, uint32_t parity, const char* what, int layer, Poll poll = {}) {
  phases::mbar_wait(bar, parity, kTimeoutNs, "qwen3_decode_persistent", what, layer, poll);
}
// Where the time goes, in the kTimed kernel alone: a warp's cycles by Qwen3PersistentTime field, added up by one of its
// threads in the warp's row of shared memory (tw), then into the block's row of the timing buffer at the end.
template <bool kTimed>
__device__ __forceinline__ long long tick() {
  if constexpr (kTimed) return clock64();
  return 0;
}
template <bool kTimed>
__device__ __forceinline__ void tock(unsigned long long* tw, int field, long long t0) {
  if constexpr (kTimed) tw[field] += (unsigned long long)(clock64() - t0);
}
template <bool kTimed>
__device__ __forceinline__ void count(unsigned long long* tw, int field) {
  if constexpr (kTimed) tw[field] += 1;
}
__device__ __forceinline__ void consumers_sync() { phases::consumers_sync<kNT>(); }
__device__ __forceinline__ void grid_signal(unsigned* ctr) { phases::signal<kNT>(ctr); }
__device__ __forceinline__ void grid_wait(const unsigned* ctr, int layer) {
  phases::wait<kNT>(ctr, kTimeoutNs, "qwen3_decode_persistent", "a phase counter", layer);
}
// Loads of a staging pass go a batch of kStageBatch float4 a thread at a time (stage_x's reason).
constexpr int kStageBatch = gemv::kStageBatch;
// The staging: a GEMV's input in shared memory as kPlanes planes of `plane` float4s, value group g (x[4g .. 4g+3]) in
// plane g % kPlanes at g / kPlanes: the GEMV's 16-byte chunk c of weights (8 bf16 values: kPlanes 2, the planes
// gemv_common's xa / xb; 16 e4m3 ones: kPlanes 4) then has its x in float4 c of each plane, so a warp's reads for 32
// consecutive chunks fall on distinct banks (with e4m3 rows in the two-plane form, 2-way conflicts: ncu, session 61).
template <int kPlanes>
__device__ __forceinline__ float4& staged(float4* xs, int plane, int g) {
  return xs[(g % kPlanes) * plane + g / kPlanes];
}
// x (k values, from L2) into the staging, as gemv::stage_x (whose two planes are kPlanes 2).
template <int kPlanes>
__device__ __forceinline__ void stage(float4* xs, int plane, const float* src, int k) {
  const float4* x4 = reinterpret_cast<const float4*>(src);
  const int n4 = k / 4;
  for (int i0 = threadIdx.x; i0 < n4; i0 += kStageBatch * kNT) {
    float4 v[kStageBatch];
    gemv::load_batch<kNT>(v, x4, i0, n4);
#pragma unroll
    for (int j = 0; j < kStageBatch; ++j)
      if (const int i = i0 + j * kNT; i < n4) staged<kPlanes>(xs, plane, i) = v[j];
  }
}
__device__ __forceinline__ void add_squares(float& ss, float4 v) {
  ss += v.x * v.x;
  ss += v.y * v.y;
  ss += v.z * v.z;
  ss += v.w * v.w;
}
// 1 / sqrt(mean(x^2) + eps) over k values from each consumer thread's sum of squares (every consumer thread gets it;
// red holds kW floats).
__device__ float inv_rms_of(float ss, int k, float eps, float* red) {
  ss = warp_sum(ss);
  if ((threadIdx.x & 31) == 0) red[threadIdx.x >> 5] = ss;
  consumers_sync();
  float total = 0.f;
#pragma unroll
  for (int w = 0; w < kW; ++w) total += red[w];
  consumers_sync();  // red is free again
  return 1.0f / sqrtf(total / (float)k + eps);
}
// 1 / sqrt(mean(x^2) + eps) over k values (a thread's values in increasing i, as the one-pass form below).
__device__ float inv_rms(const float* x, int k, float eps, float* red) {
  const float4* x4 = reinterpret_cast<const float4*>(x);
  const int n4 = k / 4;
  float ss = 0.f;
  for (int i0 = threadIdx.x; i0 < n4; i0 += kStageBatch * kNT) {
    float4 v[kStageBatch];
    gemv::load_batch<kNT>(v, x4, i0, n4);
#pragma unroll
    for (int j = 0; j < kStageBatch; ++j) add_squares(ss, v[j]);  // a zero past the end adds +0: the same sum
  }
  return inv_rms_of(ss, k, eps, red);
}
__device__ __forceinline__ float4 scaled(float4 g, float4 v, float inv) {
  return make_float4(g.x * (v.x * inv), g.y * (v.y * inv), g.z * (v.z * inv), g.w * (v.w * inv));
}
// w * (x * inv_rms(x)), rmsnorm_cuda's formula, staged. x is read from L2 once when a thread's share fits one batch
// (k <= 4 kStageBatch kNT = 4096: Qwen3-8B's hidden size), else twice.
template <int kPlanes>
__device__ void stage_rmsnorm(float4* xs, int plane, const float* x, const float* w, int k, float eps, float* red) {
  const float4* x4 = reinterpret_cast<const float4*>(x);
  const float4* w4 = reinterpret_cast<const float4*>(w);
  const int n4 = k / 4;
  const float4 zero = make_float4(0.f, 0.f, 0.f, 0.f);
  if (n4 <= kStageBatch * kNT) {
    float4 v[kStageBatch], g[kStageBatch];
    float ss = 0.f;
    gemv::load_batch<kNT>(v, x4, threadIdx.x, n4);
#pragma unroll
    for (int j = 0; j < kStageBatch; ++j) g[j] = threadIdx.x + j * kNT < n4 ? __ldg(w4 + threadIdx.x + j * kNT) : zero;
#pragma unroll
    for (int j = 0; j < kStageBatch; ++j) add_squares(ss, v[j]);
    const float inv = inv_rms_of(ss, k, eps, red);
#pragma unroll
    for (int j = 0; j < kStageBatch; ++j) {
      const int i = threadIdx.x + j * kNT;
      if (i < n4) staged<kPlanes>(xs, plane, i) = scaled(g[j], v[j], inv);
    }
    return;
  }
  const float inv = inv_rms(x, k, eps, red);
  for (int i0 = threadIdx.x; i0 < n4; i0 += kStageBatch * kNT) {
    float4 v[kStageBatch], g[kStageBatch];
    gemv::load_batch<kNT>(v, x4, i0, n4);
#pragma unroll
    for (int j = 0; j < kStageBatch; ++j) g[j] = i0 + j * kNT < n4 ? __ldg(w4 + i0 + j * kNT) : zero;
#pragma unroll
    for (int j = 0; j < kStageBatch; ++j) {
      const int i = i0 + j * kNT;
      if (i < n4) staged<kPlanes>(xs, plane, i) = scaled(g[j], v[j], inv);
    }
  }
}

// One warp's ring: S slots of kSlot bytes (kSlotBytesOf) with a full and an empty barrier each; n counts the slots used
// so far (slot n % S, its round n / S). Producer and consumer walk the same sequence of rows, so they agree on n.
struct Ring {
  unsigned char* slots;
  uint64_t* full;
  uint64_t* empty;
  int S;
  unsigned n;
};

// The producer's side: a row of `bytes` into the next slots, kSlot bytes a slot (the last one shorter).
// policy: an L2 policy for the copies (l2_policy_evict_first, never 0), 0 for the default. ask(off) runs while the
// producer waits for a free slot, the row's first off bytes already in the ring (its L2 look-ahead, with
// tuning.boundary_prefetch_kb).
template <bool kTimed, int kSlot, class Ask>
__device__ __forceinline__ void put_row(Ring& r, const void* row, unsigned bytes, int layer, uint64_t policy,
                                        unsigned long long* tw, Ask ask) {
  const char* src = reinterpret_cast<const char*>(row);
  for (unsigned off = 0; off < bytes; off += kSlot) {
    const unsigned b = min((unsigned)kSlot, bytes - off);
    const int s = (int)(r.n % r.S);
    const long long t0 = tick<kTimed>();
    wait_slot(saddr(&r.empty[s]), ((r.n / r.S) & 1) ^ 1, "a free ring slot", layer, [&] { ask(off); });
    tock<kTimed>(tw, kTimeFreeWait, t0);
    mbar_expect_tx(saddr(&r.full[s]), b);
    if (policy)
      bulk_copy_g2s_hint(saddr(r.slots + (size_t)s * kSlot), src + off, b, saddr(&r.full[s]), policy);
    else
      bulk_copy_g2s(saddr(r.slots + (size_t)s * kSlot), src + off, b, saddr(&r.full[s]));
    ++r.n;
  }
}

// The consumer's side. A 16-byte chunk holds 8 bf16 weights or 16 e4m3 ones (kE4m3), x staged in 2 or 4 planes
// (planes_of), chunk c's x in float4 c of each, in dot8_staged's / dot16_e4m3's order.
template <bool kE4m3>
constexpr int planes_of = kE4m3 ? 4 : 2;
template <bool kE4m3>
__device__ __forceinline__ float dot_chunk(float acc, uint4 u, const float4* xs, int plane, int c) {
  if constexpr (kE4m3) {
    const float4 xv[4] = {xs[c], xs[plane + c], xs[2 * plane + c], xs[3 * plane + c]};
    return gemv::dot16_e4m3(acc, u, xv);
  } else {
    return gemv::dot8_staged(acc, u, xs[c], xs[plane + c]);
  }
}
// The ring's next slot taken (take_slot: wait until it has landed, the time the consumer waits for the stream
// counted), and given back (give_slot) once every lane has read it.
template <bool kTimed>
__device__ __forceinline__ const uint4* take_slot(Ring& r, int kSlot, int lane, int layer, unsigned long long* tw) {
  const int s = (int)(r.n % r.S);
  const long long t0 = tick<kTimed>();
  wait_slot(saddr(&r.full[s]), (r.n / r.S) & 1, "a weight slot", layer);
  if (lane == 0) tock<kTimed>(tw, kTimeSlotWait, t0);
  return reinterpret_cast<const uint4*>(r.slots + (size_t)s * kSlot);
}
__device__ __forceinline__ void give_slot(Ring& r, int lane) {
  __syncwarp();
  if (lane == 0) mbar_arrive(saddr(&r.empty[(int)(r.n % r.S)]));
  ++r.n;
}
// A row of k values (bf16, or e4m3 with kE4m3) . the staged x: the lane's chunks c = lane + 32 i in increasing i, the
// warp's sum still to take (gemv_decode's and gemv_fp8's order). A full 8 KB bf16 slot goes through gemv::dot_slot,
// the graph step's bench models' form.
template <bool kTimed, bool kE4m3, int kSlot>
__device__ float dot_row(Ring& r, int k, const float4* xs, int plane, int lane, int layer, unsigned long long* tw) {
  constexpr int kChunks = kSlot / 16;  // chunks a slot
  const int chunks = k / (kE4m3 ? 16 : 8);
  float acc = 0.f;
  for (int c0 = 0; c0 < chunks; c0 += kChunks) {
    const uint4* slot = take_slot<kTimed>(r, kSlot, lane, layer, tw);
    const int n = min(kChunks, chunks - c0);
    if constexpr (!kE4m3 && kChunks == gemv::kStagedSlotChunks) {
      acc = gemv::dot_slot(acc, slot, n, xs, xs + plane, c0, lane);
    } else if (n == kChunks) {
#pragma unroll
      for (int i0 = 0; i0 < kChunks / 32; i0 += 4) {
        uint4 u[4];
#pragma unroll
        for (int i = 0; i < 4; ++i) u[i] = slot[lane + 32 * (i0 + i)];
#pragma unroll
        for (int i = 0; i < 4; ++i) acc = dot_chunk<kE4m3>(acc, u[i], xs, plane, c0 + lane + 32 * (i0 + i));
      }
    } else {
      for (int c = lane; c < n; c += 32) acc = dot_chunk<kE4m3>(acc, slot[c], xs, plane, c0 + c);
    }
    give_slot(r, lane);
  }
  return acc;
}

// A kRegValues-wide row (Qwen3-8B's q|k|v, o, gate|up and lm_head rows) against x held in registers: the lane's 128
// values, loaded once a phase from the staging in the order its chunks come (bf16: chunk lane + 32 i, i < 16, as
// its two planes' float4s; e4m3: chunk lane + 32 i, i < 8, as its four planes'). The ring's slots are then the only
// shared-memory reads (a third of the staged form's bytes for bf16), which is what the consumers spend their time on
// while they catch up with the producers after a grid-wide wait.
constexpr int kRegValues = 4096;
struct XRegs {
  float4 v[kRegValues / 32 / 4];
};
template <bool kE4m3>
__device__ __forceinline__ void load_xregs(XRegs& xr, const float4* xs, int plane, int lane) {
  constexpr int kP = planes_of<kE4m3>;
#pragma unroll
  for (int i = 0; i < kRegValues / (4 * kP) / 32; ++i)
#pragma unroll
    for (int q = 0; q < kP; ++q) xr.v[kP * i + q] = xs[q * plane + lane + 32 * i];
}
// acc of such a row (over one or more whole slots: a bf16 row takes two of fp8's 4 KB slots), as dot_row sums it.
template <bool kTimed, bool kE4m3, int kSlot>
__device__ __forceinline__ float dot_row_regs(Ring& r, const XRegs& xr, int lane, int layer, unsigned long long* tw) {
  constexpr int kLaneChunks = kRegValues / (kE4m3 ? 16 : 8) / 32;  // the lane's chunks of the row
  constexpr int kSlotLaneChunks = kSlot / 16 / 32;                 // ... in one slot
  static_assert(kLaneChunks % kSlotLaneChunks == 0 && kSlotLaneChunks % 4 == 0, "whole slots, batches of 4");
  float acc = 0.f;
#pragma unroll
  for (int j = 0; j < kLaneChunks / kSlotLaneChunks; ++j) {
    const uint4* slot = take_slot<kTimed>(r, kSlot, lane, layer, tw);
#pragma unroll
    for (int i0 = 0; i0 < kSlotLaneChunks; i0 += 4) {
      uint4 u[4];
#pragma unroll
      for (int i = 0; i < 4; ++i) u[i] = slot[lane + 32 * (i0 + i)];
#pragma unroll
      for (int i = 0; i < 4; ++i) {
        const int g = j * kSlotLaneChunks + i0 + i;  // the lane's chunk lane + 32 g of the row
        if constexpr (kE4m3) {
          const float4 xv[4] = {xr.v[4 * g], xr.v[4 * g + 1], xr.v[4 * g + 2], xr.v[4 * g + 3]};
          acc = gemv::dot16_e4m3(acc, u[i], xv);
        } else {
          acc = gemv::dot8_staged(acc, u[i], xr.v[2 * g], xr.v[2 * g + 1]);
        }
      }
    }
    give_slot(r, lane);
  }
  return acc;
}

// An e4m3 GEMV's row scales for a warp's rows gw + j T (j = 0, 1, ...), lane j % 32 holding row j's, 32 rows at a time:
// the first 32 loaded before the phase's grid-wide wait, so that their latency hides behind it instead of following
// each row's sum. of(j) is called by every lane, with the same j.
struct RowScales {
  const float* scale;
  int gw, T, rows;
  float v;
  __device__ __forceinline__ void load(int j0, int lane) {
    const int r = gw + (j0 + lane) * T;
    v = r < rows ? __ldg(scale + r) : 0.f;
  }
  __device__ __forceinline__ float of(int j, int lane) {
    if (j > 0 && j % 32 == 0) load(j, lane);
    return __shfl_sync(0xffffffffu, v, j % 32);
  }
};
__device__ __forceinline__ RowScales row_scales(const float* scale, int gw, int T, int rows, int lane) {
  RowScales rs{scale, gw, T, rows, 0.f};
  if (scale) rs.load(0, lane);
  return rs;
}

// q / k RMSNorm + RoPE of one head (qkv_norm_rope_warp_kernel's arithmetic): the lane's 4 dims d0 = 4 lane.., their
// rotary partners 64 dims on, on the lane 16 away.
__device__ __forceinline__ float4 norm_rope(float4 x, const float* w, const float* cos, const float* sin, float eps,
                                            int lane) {
  const int d0 = 4 * lane;
  float xv[4] = {x.x, x.y, x.z, x.w}, y[4], out[4];
  const float4 w4 = __ldg(reinterpret_cast<const float4*>(w + d0));
  const float4 c4 = __ldg(reinterpret_cast<const float4*>(cos + d0));
  const float4 s4 = __ldg(reinterpret_cast<const float4*>(sin + d0));
  const float wv[4] = {w4.x, w4.y, w4.z, w4.w}, c[4] = {c4.x, c4.y, c4.z, c4.w}, sn[4] = {s4.x, s4.y, s4.z, s4.w};
  float ss = 0.f;
#pragma unroll
  for (int e = 0; e < 4; ++e) ss += xv[e] * xv[e];
#pragma unroll
  for (int o = 16; o > 0; o >>= 1) ss += __shfl_xor_sync(0xffffffffu, ss, o);
  const float inv = 1.0f / sqrtf(ss / (float)kD + eps);
#pragma unroll
  for (int e = 0; e < 4; ++e) y[e] = wv[e] * (xv[e] * inv);
#pragma unroll
  for (int e = 0; e < 4; ++e) {
    const float p = __shfl_xor_sync(0xffffffffu, y[e], 16);
    out[e] = lane < 16 ? y[e] * c[e] - p * sn[e] : y[e] * c[e] + p * sn[e];
  }
  return make_float4(out[0], out[1], out[2], out[3]);
}

// The G q heads at part0 (a partial's heads kPartFloats apart, its n partials `stride` floats apart, in L2 or, with
// kShared, in this block's shared memory) combined (a lane the weights of partials lane and lane + 32, a lane's 4 dims
// for the sum): into att rows kD apart at out, or, with kToPartial, into one partial of the same form at out (heads
// kPartFloats apart; outputs not normalized, the max, the sum). Latency, not bytes, is its cost (the o GEMV waits for
// it while the ring is full): every head's maxima and sums come in one L2 round trip, then 16 partials at a time
// across the heads. Each head's sum keeps the order of its partials; up to 32 the second partial of a lane adds exact
// zeros, so the same bits as one a lane.
template <bool kShared, class T>
__device__ __forceinline__ T load_part(const T* p) {
  if constexpr (kShared)
    return *p;
  else
    return __ldcg(p);
}
template <int G, bool kToPartial, bool kShared = false>
__device__ void attention_combine(const float* part0, size_t stride, int n, float* out, int lane) {
  static_assert(kMaxSplits == 64, "two partials a lane");
  float w[G][2], sum[G][2], M[G], total[G];
  float4 acc[G];
#pragma unroll
  for (int h = 0; h < G; ++h)
#pragma unroll
    for (int i = 0; i < 2; ++i) {
      const int sp = lane + 32 * i;
      w[h][i] = sp < n ? load_part<kShared>(part0 + h * kPartFloats + sp * stride + kD) : -INFINITY;  // its max
      sum[h][i] = sp < n ? load_part<kShared>(part0 + h * kPartFloats + sp * stride + kD + 1) : 0.f;  // its sum
    }
#pragma unroll
  for (int h = 0; h < G; ++h) {
    M[h] = warp_max(fmaxf(w[h][0], w[h][1]));
#pragma unroll
    for (int i = 0; i < 2; ++i)  // an empty partial (max -inf) weighs 0, also in a group of empty ones (M = -inf)
      w[h][i] = lane + 32 * i < n && w[h][i] != -INFINITY ? expf(w[h][i] - M[h]) : 0.f;
    total[h] = warp_sum(w[h][0] * sum[h][0] + w[h][1] * sum[h][1]);
    acc[h] = make_float4(0.f, 0.f, 0.f, 0.f);
  }
  constexpr int kS = G >= 16 ? 1 : 16 / G;  // partials a batch, for every head
  for (int sp0 = 0; sp0 < n; sp0 += kS) {
    float4 a[G][kS];
#pragma unroll
    for (int h = 0; h < G; ++h)
#pragma unroll
      for (int j = 0; j < kS; ++j)
        a[h][j] = sp0 + j < n
                      ? load_part<kShared>(
                            reinterpret_cast<const float4*>(part0 + h * kPartFloats + (sp0 + j) * stride) + lane)
                      : make_float4(0.f, 0.f, 0.f, 0.f);
#pragma unroll
    for (int h = 0; h < G; ++h)
#pragma unroll
      for (int j = 0; j < kS; ++j) {
        const int sp = sp0 + j;
        if (sp >= n) break;  // warp-uniform
        const float wsp = __shfl_sync(0xffffffffu, sp < 32 ? w[h][0] : w[h][1], sp & 31);
        acc[h].x += wsp * a[h][j].x;
        acc[h].y += wsp * a[h][j].y;
        acc[h].z += wsp * a[h][j].z;
        acc[h].w += wsp * a[h][j].w;
      }
  }
#pragma unroll
  for (int h = 0; h < G; ++h) {
    if constexpr (kToPartial) {
      float* part = out + (size_t)h * kPartFloats;
      reinterpret_cast<float4*>(part)[lane] = acc[h];
      if (lane == 0) {
        part[kD] = M[h];
        part[kD + 1] = total[h];
      }
    } else {
      const float inv = 1.0f / total[h];
      reinterpret_cast<float4*>(out + (size_t)h * kD)[lane] =
          make_float4(acc[h].x * inv, acc[h].y * inv, acc[h].z * inv, acc[h].w * inv);
    }
  }
}

// Attention of one (KV head g, key split) by one warp, for the G q heads of the group at once: q normed and rotated in
// registers (a lane's 4 dims), the keys in batches of KB, each K and V row read once (coalesced, a lane's 4 dims), the
// batch's G x KB scores by one warp_sums, an online softmax per head. The split whose keys hold this token's row first
// writes the token's k (normed, rotated) and v there. Then the split's partial (D outputs, max, sum a head; heads
// kPartFloats apart) into part, in L2 or in shared memory.
template <bool kTimed, int G, int KB, class KV>
__device__ void attention_split(const Params& P, const Qwen3PersistentLayer& L, const Workspace& ws, int g, int split,
                                int per, int n_kv, int row, int lane, float* part, unsigned long long* tw) {
  long long t0 = tick<kTimed>();
  const Qwen3PersistentShape& s = P.s;
  const int KVH = s.kv_heads, QH = s.heads * kD, KH = KVH * kD;
  const int k0 = split * per, k1 = min(n_kv, k0 + per);
  constexpr int NV = G * KB, r = NV == 32 ? 0 : NV == 16 ? 1 : NV == 8 ? 2 : NV == 4 ? 3 : NV == 2 ? 4 : 5;
  static_assert((32 >> r) == NV, "G KB a power of two <= 32");
  const int h_own = (lane >> r) / KB, j_own = (lane >> r) % KB;  // this lane's score after warp_sums
  const float4* qkv4 = reinterpret_cast<const float4*>(ws.qkv);
  KV* kc = static_cast<KV*>(L.k_cache);  // a lane's 4 dims at 4 lane of a row
  KV* vc = static_cast<KV*>(L.v_cache);
  float4 q[G], acc[G];
  float m[G], l[G];
#pragma unroll
  for (int h = 0; h < G; ++h) {
    q[h] = norm_rope(__ldcg(qkv4 + (g * G + h) * (kD / 4) + lane), L.q_norm, P.st.cos, P.st.sin, s.eps, lane);
    acc[h] = make_float4(0.f, 0.f, 0.f, 0.f);
    m[h] = -INFINITY;
    l[h] = 0.f;
  }
  if (row >= k0 && row < k1) {
    row_store4(kc + ((size_t)row * KVH + g) * kD + 4 * lane,
               norm_rope(__ldcg(qkv4 + (QH + g * kD) / 4 + lane), L.k_norm, P.st.cos, P.st.sin, s.eps, lane));
    row_store4(vc + ((size_t)row * KVH + g) * kD + 4 * lane, __ldcg(qkv4 + (QH + KH + g * kD) / 4 + lane));
    __syncwarp();  // the row is in the cache before any lane reads it back
  }
  if (lane == 0) {
    tock<kTimed>(tw, kTimeAttPrologue, t0);
    count<kTimed>(tw, kTimeAttItems);
  }
  t0 = tick<kTimed>();
  for (int b = k0; b < k1; b += KB) {
    // Every row of the batch loaded unconditionally, past k1 the split's last row again (its score is -inf and its
    // weight 0 below, so it adds nothing): no branch a row, so the 2 KB loads issue back to back. Behind a branch a
    // row, the bf16 rows' widening sat in each branch with its load, and the batch's loads waited for one another
    // (the bf16 cache 2.3% slower than f32 at 1024/256 on an H100, session 62).
    float4 kr[KB], vr[KB];
#pragma unroll
    for (int j = 0; j < KB; ++j) {
      const size_t at = ((size_t)min(b + j, k1 - 1) * KVH + g) * kD + 4 * lane;
      kr[j] = row_load4(kc + at);
      vr[j] = row_load4(vc + at);
    }
    // The G x KB scores at once: each lane's partial dots, then warp_sums (lane (h KB + j) << r holds head h's score
    // of key j; r = 5 - log2(G KB)), a lane's own max within its head's lanes, and the weights p broadcast from
    // their lanes: ~70 independent shuffles a batch where a warp sum a score took 5 G KB, 5 deep each.
    float d[NV];
#pragma unroll
    for (int h = 0; h < G; ++h)
#pragma unroll
      for (int j = 0; j < KB; ++j)
        d[h * KB + j] = q[h].x * kr[j].x + q[h].y * kr[j].y + q[h].z * kr[j].z + q[h].w * kr[j].w;
    warp_sums<NV>(d, lane);
    const float sc = b + j_own < k1 ? d[0] * P.scale : -INFINITY;
    float mb = sc;  // the head's batch max, over its KB lanes (each index held by 1 << r lanes)
#pragma unroll
    for (int o = 1 << r; o < (KB << r); o <<= 1) mb = fmaxf(mb, __shfl_xor_sync(0xffffffffu, mb, o));
    float m_own = 0.f;
#pragma unroll
    for (int h = 0; h < G; ++h) {
      const float m_new = fmaxf(m[h], __shfl_sync(0xffffffffu, mb, (h * KB) << r));  // finite: key b is in the split
      const float corr = expf(m[h] - m_new);
      l[h] *= corr;
      acc[h] = make_float4(acc[h].x * corr, acc[h].y * corr, acc[h].z * corr, acc[h].w * corr);
      m[h] = m_new;
      if (h == h_own) m_own = m_new;
    }
    const float p_own = b + j_own < k1 ? expf(sc - m_own) : 0.f;
#pragma unroll
    for (int h = 0; h < G; ++h)
#pragma unroll
      for (int j = 0; j < KB; ++j) {
        const float p = __shfl_sync(0xffffffffu, p_own, (h * KB + j) << r);
        l[h] += p;
        acc[h].x += p * vr[j].x;
        acc[h].y += p * vr[j].y;
        acc[h].z += p * vr[j].z;
        acc[h].w += p * vr[j].w;
      }
  }
  if (lane == 0) tock<kTimed>(tw, kTimeAttKeys, t0);
#pragma unroll
  for (int h = 0; h < G; ++h) {
    reinterpret_cast<float4*>(part + (size_t)h * kPartFloats)[lane] = acc[h];
    if (lane == 0) {
      part[h * kPartFloats + kD] = m[h];  // -inf with l = 0 for an empty split
      part[h * kPartFloats + kD + 1] = l[h];
    }
  }
}

// A warp's item (tuning.block_combine off): its split's partial into L2; the split that finishes last for its KV head
// combines the partials into att (in one or two levels) and counts the head in att_ctr.
template <bool kTimed, int G, int KB, class KV>
__device__ void attention_item(const Params& P, const Qwen3PersistentLayer& L, const Workspace& ws, unsigned* head_ctr,
                               unsigned* att_ctr, int g, int split, int splits, int per, int n_kv, int row, int lane,
                               unsigned long long* tw) {
  const Qwen3PersistentShape& s = P.s;
  attention_split<kTimed, G, KB, KV>(P, L, ws, g, split, per, n_kv, row, lane,
                                     ws.part + ((size_t)split * s.heads + g * G) * kPartFloats, tw);
  long long t0 = tick<kTimed>();
  // The last split of this KV head to finish combines (threadFenceReduction's pattern: each lane's partials fenced
  // before the count, the counter's last reader fenced before reading the others'). From
  // tuning.two_level_from_groups groups on (and more than one), the last split of each group of kGroupSplits first
  // combines its group into a group partial, and the last group's combines the groups.
  auto last_to_count = [&](unsigned* ctr, int n) {
    __threadfence();
    __syncwarp();
    unsigned last = 0;
    if (lane == 0) last = atomicAdd(ctr, 1u) == (unsigned)n - 1;
    return __shfl_sync(0xffffffffu, last, 0) != 0;
  };
  const int groups = (splits + kGroupSplits - 1) / kGroupSplits;
  const int from_groups = P.st.tuning.two_level_from_groups;
  const bool two_level = from_groups > 0 && groups >= from_groups && groups > 1;
  if (two_level) {
    const int grp = split / kGroupSplits, first = grp * kGroupSplits, n = min(kGroupSplits, splits - first);
    const bool last = last_to_count(head_ctr + s.kv_heads + g * kMaxGroups + grp, n);
    if (lane == 0) tock<kTimed>(tw, kTimeAttPartials, t0);
    if (!last) return;
    t0 = tick<kTimed>();
    __threadfence();
    const size_t stride = (size_t)s.heads * kPartFloats;
    attention_combine<G, true>(ws.part + ((size_t)first * s.heads + g * G) * kPartFloats, stride, n,
                               ws.group_part + ((size_t)grp * s.heads + g * G) * kPartFloats, lane);
    if (lane == 0) {
      tock<kTimed>(tw, kTimeAttCombine, t0);
      count<kTimed>(tw, kTimeAttCombines);
    }
    t0 = tick<kTimed>();
  }
  const bool last = last_to_count(head_ctr + g, two_level ? groups : splits);
  if (lane == 0 && !two_level) tock<kTimed>(tw, kTimeAttPartials, t0);
  if (!last) return;
  if (!two_level) t0 = tick<kTimed>();
  __threadfence();
  attention_combine<G, false>((two_level ? ws.group_part : ws.part) + (size_t)g * G * kPartFloats,
                              (size_t)s.heads * kPartFloats, two_level ? groups : splits, ws.att + (size_t)g * G * kD,
                              lane);
  __syncwarp();
  if (lane == 0) {
    phases::release_add(att_ctr, 1);
    tock<kTimed>(tw, kTimeAttCombine, t0);
    count<kTimed>(tw, kTimeAttCombines);
  }
}

// A block's item (tuning.block_combine): splits kW blk .. kW blk + kW - 1 of KV head g, a consumer warp each, their
// partials in this block's shared memory (sp: kW partials of G heads), combined there by the block's warps (q head h
// by warp h % kW): into att where the head has one block (nb == 1), else into the block's partial in L2, and the last
// of the head's nb blocks to count combines those. So the combine's chain of L2 round trips (the partials stored,
// fenced and counted, then read back 16 at a time) becomes a barrier and shared-memory reads, plus one round of nb
// partials where nb > 1. Every consumer warp of the block calls it (barrier 1); flag is a shared word.
template <bool kTimed, int G, int KB, class KV>
__device__ void attention_block_item(const Params& P, const Qwen3PersistentLayer& L, const Workspace& ws,
                                     unsigned* head_ctr, unsigned* att_ctr, int g, int blk, int nb, int per, int n_kv,
                                     int row, int warp, int lane, float* sp, unsigned* flag, unsigned long long* tw) {
  const Qwen3PersistentShape& s = P.s;
  const size_t split_stride = (size_t)G * kPartFloats;
  attention_split<kTimed, G, KB, KV>(P, L, ws, g, blk * kW + warp, per, n_kv, row, lane, sp + warp * split_stride, tw);
  long long t0 = tick<kTimed>();
  consumers_sync();  // the block's kW partials in shared memory
  if (lane == 0) tock<kTimed>(tw, kTimeAttPartials, t0);
  t0 = tick<kTimed>();
  for (int h = warp; h < G; h += kW) {
    const int qh = g * G + h;
    if (nb == 1)
      attention_combine<1, false, true>(sp + h * kPartFloats, split_stride, kW, ws.att + (size_t)qh * kD, lane);
    else
      attention_combine<1, true, true>(sp + h * kPartFloats, split_stride, kW,
                                       ws.part + ((size_t)blk * s.heads + qh) * kPartFloats, lane);
  }
  if (nb > 1) {
    consumers_sync();  // the block's partial stored (the add's release is cumulative over the barrier)
    if (threadIdx.x == 0) *flag = phases::acq_rel_add(head_ctr + g, 1u) == (unsigned)nb - 1;
    consumers_sync();
    if (!*flag) {       // block-uniform
      if (lane == 0) {  // (the timing's combines: every warp's, the last block's and the others')
        tock<kTimed>(tw, kTimeAttCombine, t0);
        count<kTimed>(tw, kTimeAttCombines);
      }
      return;
    }
    for (int h = warp; h < G; h += kW) {  // the last block: the head's nb partials into att
      const int qh = g * G + h;
      attention_combine<1, false>(ws.part + (size_t)qh * kPartFloats, (size_t)s.heads * kPartFloats, nb,
                                  ws.att + (size_t)qh * kD, lane);
    }
  }
  consumers_sync();  // this KV head's att rows stored
  if (threadIdx.x == 0) phases::release_add(att_ctr, 1);
  if (lane == 0) {
    tock<kTimed>(tw, kTimeAttCombine, t0);
    count<kTimed>(tw, kTimeAttCombines);
  }
}

// f(G, KB) as integral constants for the q heads a KV head has (1, 2, 4 or 8; qwen3_decode_persistent_fits refuses
// others) and the keys a batch that gives a warp_sums of G KB <= 32 scores.
template <class F>
__device__ __forceinline__ void with_group(int G, F&& f) {
  using std::integral_constant;
  if (G == 4)
    f(integral_constant<int, 4>{}, integral_constant<int, 8>{});
  else if (G == 2)
    f(integral_constant<int, 2>{}, integral_constant<int, 8>{});
  else if (G == 1)
    f(integral_constant<int, 1>{}, integral_constant<int, 8>{});
  else
    f(integral_constant<int, 8>{}, integral_constant<int, 4>{});
}

// Whether the step ends with lm_head (else with the final norm into h).
__host__ __device__ inline bool lm_head_in_step(const Qwen3PersistentStep& st) {
  return st.tuning.lm_head_in_step && st.lm_head && st.logits && st.vocab > 0;
}

// The GEMVs' rows (gemv 0 q|k|v, 1 o, 2 gate|up: a row r is gate row r then up row r, its halves 0 and 1; 3 down; at
// layer = layers, lm_head): how many a GEMV has, and where one starts and how long it is.
__device__ inline int gemv_rows(const Params& P, int layer, int gemv) {
  const Qwen3PersistentShape& s = P.s;
  return layer == s.layers ? P.st.vocab : gemv == 0 ? qkv_rows(s) : gemv == 2 ? s.inter : s.hidden;
}
__device__ inline const void* gemv_row(const Params& P, int layer, int gemv, int r, int half, unsigned& bytes) {
  const Qwen3PersistentShape& s = P.s;
  if (layer == s.layers) return bytes = 2u * s.hidden, P.st.lm_head + (size_t)r * s.hidden;  // bf16 either way
  const Qwen3PersistentLayer& L = P.st.layers[layer];
  const size_t e = s.fp8_weights ? 1 : 2;  // bytes a weight
  const int k = gemv == 0 || gemv == 2 ? s.hidden : gemv == 1 ? s.heads * kD : s.inter;
  const size_t row = gemv == 2 ? (size_t)half * s.inter + r : (size_t)r;
  const void* w = s.fp8_weights ? (gemv == 0   ? (const void*)L.qkv8
                                   : gemv == 1 ? (const void*)L.o8
                                   : gemv == 2 ? (const void*)L.gate_up8
                                               : (const void*)L.down8)
                                : (gemv == 0   ? (const void*)L.qkv
                                   : gemv == 1 ? (const void*)L.o
                                   : gemv == 2 ? (const void*)L.gate_up
                                               : (const void*)L.down);
  bytes = (unsigned)(e * k);
  return reinterpret_cast<const char*>(w) + row * e * k;
}
// The step's GEMVs in the order the consumers take them: 4 a layer, then lm_head's when it is in the step.
__device__ inline int step_gemvs(const Params& P) { return 4 * P.s.layers + (lm_head_in_step(P.st) ? 1 : 0); }

// A producer's rows of one step, in the order its consumer warp takes them: layer after layer, rows gw, gw + T, ... of
// q|k|v, o, gate|up (gate row r, then up row r) and down; then, with lm_head in the step, its rows (layer = layers).
// row is null past the last one.
struct RowWalk {
  int gw, layer, gemv, r, half;
  const void* row;
  unsigned bytes;
};
__device__ void walk_fill(RowWalk& w, const Params& P) {  // the current row, or the next (layer, GEMV) that has one
  while (4 * w.layer + w.gemv < step_gemvs(P)) {
    if (w.r >= gemv_rows(P, w.layer, w.gemv)) {  // the next GEMV, from the warp's first row
      w.r = w.gw;
      w.half = 0;
      if (++w.gemv == 4) w.gemv = 0, ++w.layer;
      continue;
    }
    w.row = gemv_row(P, w.layer, w.gemv, w.r, w.half, w.bytes);
    return;
  }
  w.row = nullptr;
}
__device__ RowWalk walk_start(const Params& P, int gw) {
  RowWalk w{gw, 0, 0, gw, 0, nullptr, 0u};
  walk_fill(w, P);
  return w;
}
__device__ void walk_next(RowWalk& w, const Params& P, int T) {
  if (w.gemv == 2 && w.half == 0) {
    w.half = 1;
  } else {
    w.half = 0;
    w.r += T;
  }
  walk_fill(w, P);
}

// The producer (lane 0 of a producer warp): its ring's rows of every GEMV of every layer.
template <bool kTimed, int kSlot>
__device__ void produce(const Params& P, Ring& ring, int gw, int T, const volatile unsigned* boundary_epoch,
                        unsigned long long* tw) {
  const long long t0 = tick<kTimed>();
  const uint64_t policy = P.st.tuning.copies_evict_first ? l2_policy_evict_first() : 0;
  if (P.st.tuning.boundary_prefetch_kb > 0) {
    // The L2 look-ahead: once each time the block's consumers end a phase (boundary_epoch moves) while the producer
    // waits for a free slot, it asks L2 for its next rows beyond the ring, from the part of the row it is putting that
    // is not yet in the ring, up to that many KB.
    const unsigned bytes = 1024u * (unsigned)P.st.tuning.boundary_prefetch_kb;
    unsigned seen = 0;  // the last boundary asked for
    RowWalk put = walk_start(P, gw);
    auto ask = [&](unsigned off) {
      const unsigned epoch = *boundary_epoch;
      if (epoch == seen) return;
      seen = epoch;
      unsigned left = bytes, from = off;
      for (RowWalk w = put; w.row && left > 0; walk_next(w, P, T), from = 0) {
        const unsigned b = min(w.bytes - from, left);
        bulk_prefetch_l2(reinterpret_cast<const char*>(w.row) + from, b);
        left -= b;
      }
    };
    for (; put.row; walk_next(put, P, T)) put_row<kTimed, kSlot>(ring, put.row, put.bytes, put.layer, policy, tw, ask);
  } else {
    for (RowWalk put = walk_start(P, gw); put.row; walk_next(put, P, T))
      put_row<kTimed, kSlot>(ring, put.row, put.bytes, put.layer, policy, tw, [](unsigned) {});
  }
  tock<kTimed>(tw, kTimeProducer, t0);
}

// kFp8: the layers' matmuls in e4m3 (Qwen3PersistentShape::fp8_weights; lm_head stays bf16), 4 KB slots.
// KV: the cache's rows, float or __nv_bfloat16 (Qwen3PersistentShape::kv_bf16).
template <bool kTimed, bool kFp8, class KV>
__global__ void __launch_bounds__(2 * kNT, 1) decode_step_kernel(Params P) {
  constexpr int kSlot = kSlotBytesOf<kFp8>;
  extern __shared__ __align__(128) unsigned char smem[];
  __shared__ float red[kW];
  __shared__ unsigned block_flag;      // attention_block_item's: whether this block combines its KV head
  __shared__ unsigned boundary_epoch;  // phases this block's consumers have ended (tuning.boundary_prefetch_kb)
  __shared__ unsigned long long trow[kTimed ? 2 * kW : 1][kQwen3PersistentTimeFields];  // a warp's timing row
  const long long t_start = tick<kTimed>();
  const unsigned long long ns_start = kTimed ? phases::now_ns() : 0;
  const Qwen3PersistentShape& s = P.s;
  const int H = s.hidden, I = s.inter, QH = s.heads * kD, R = qkv_rows(s), S = P.slots;
  const Workspace ws = workspace_of(s, P.st.workspace);
  auto* full = reinterpret_cast<uint64_t*>(smem);
  auto* empty = full + kW * kMaxSlots;
  unsigned char* rings = smem + kHeaderBytes;
  // The staging (2 stage_chunks float4s): the layer GEMVs' inputs in kPlanes planes, lm_head's in 2.
  auto* xs = reinterpret_cast<float4*>(rings + (size_t)kW * S * kSlot);
  constexpr int kPlanes = planes_of<kFp8>;
  const int plane = 2 * P.stage_chunks / kPlanes, plane2 = P.stage_chunks;
  const int warp = threadIdx.x >> 5, lane = threadIdx.x & 31;
  if (threadIdx.x == 0) {
    for (int i = 0; i < kW * S; ++i) {
      mbar_init(saddr(&full[i]), 1);
      mbar_init(saddr(&empty[i]), 1);
    }
    mbar_init_fence();
    boundary_epoch = 0;
    if constexpr (kTimed)
      for (int i = 0; i < 2 * kW * kQwen3PersistentTimeFields; ++i) (&trow[0][0])[i] = 0;
  }
  __syncthreads();
  unsigned long long* tw = trow[kTimed ? warp : 0];
  // The warp's timing row into the block's (lane 0; consumer warp 0 adds the step's span first).
  auto flush_timing = [&] {
    if constexpr (kTimed) {
      if (lane != 0) return;
      if (threadIdx.x == 0) {
        tw[kTimeStep] += (unsigned long long)(clock64() - t_start);
        tw[kTimeStepNs] += phases::now_ns() - ns_start;
        tw[kTimeSteps] += 1;
      }
      unsigned long long* dst = P.st.timing + (size_t)blockIdx.x * kQwen3PersistentTimeFields;
      for (int f = 0; f < kQwen3PersistentTimeFields; ++f)
        if (tw[f]) atomicAdd(dst + f, tw[f]);
    }
  };
  const int ring_id = warp % kW;
  Ring ring{rings + (size_t)ring_id * S * kSlot, full + ring_id * S, empty + ring_id * S, S, 0u};
  const int T = gridDim.x * kW;  // consumer warps in the grid: warp g takes rows g, g + T, ... of every GEMV
  const int gw = blockIdx.x * kW + ring_id;

  if (warp >= kW) {  // a producer: its ring's rows of every GEMV, in the order the consumer takes them
    if (lane != 0) return;
    produce<kTimed, kSlot>(P, ring, gw, T, &boundary_epoch, tw);
    flush_timing();
    return;
  }

  if (P.st.tuning.stream_only) {  // the diagnostic: every slot of the warp's rows taken and given back, nothing else
    for (RowWalk w = walk_start(P, gw); w.row; walk_next(w, P, T))
      for (unsigned off = 0; off < w.bytes; off += kSlot) {
        take_slot<false>(ring, kSlot, lane, w.layer, tw);
        give_slot(ring, lane);
      }
    flush_timing();
    return;
  }
  float* x = P.st.x;
  const int n_kv = *P.st.n_kv_dev, row = *P.st.row_dev;
  const int G = s.heads / s.kv_heads;
  const int max_splits = min(kMaxSplits, max(1, P.st.tuning.max_splits));
  const int keys_per_split = max(1, P.st.tuning.keys_per_split);
  const int want_splits = (n_kv + keys_per_split - 1) / keys_per_split;
  // block_combine: kW splits a block, nb blocks a KV head (at most max_splits / kW, and one block an item each).
  const int nb =
      P.block_combine ? max(1, min((want_splits + kW - 1) / kW, min(max_splits / kW, (int)gridDim.x / s.kv_heads))) : 0;
  const int splits = P.block_combine ? kW * nb : max(1, min(min(max_splits, max(1, T / s.kv_heads)), want_splits));
  const int per = (n_kv + splits - 1) / splits;
  const int per_layer = counters_per_layer(s);
  const bool h_in_regs = H == kRegValues, att_in_regs = QH == kRegValues;
  // A layer GEMV's row (in the layers' format) . the staged x, or x in registers: the warp's sum (in every lane).
  auto row_dot = [&](int k, int layer) {
    return warp_sum(dot_row<kTimed, kFp8, kSlot>(ring, k, xs, plane, lane, layer, tw));
  };
  auto row_dot_regs = [&](const XRegs& xr, int layer) {
    return warp_sum(dot_row_regs<kTimed, kFp8, kSlot>(ring, xr, lane, layer, tw));
  };
  // The row scales of the warp's rows of a layer GEMV with e4m3 weights (none in bf16: a row's sum is its output).
  auto scales = [&](const float* scale, int rows) { return row_scales(kFp8 ? scale : nullptr, gw, T, rows, lane); };
  auto scaled_row = [&](float acc, RowScales& rs, int j) {
    if constexpr (kFp8)
      return rs.of(j, lane) * acc;  // gemv_fp8's scale[r] * acc
    else
      return acc;
  };
  // The warp's own rows of x, x[gw + j T] in lane j: only this warp writes them (the o and down rows' residual adds
  // take rows gw, gw + T, ...), so it keeps them in a register and only stores them, instead of an L2 round trip before
  // each row's add. x = x + acc either way, the same bits.
  const bool own_in_reg = H <= 32 * T;
  float x_own = own_in_reg && gw + lane * T < H ? __ldcg(x + gw + lane * T) : 0.f;
  auto add_residual = [&](int r, int j, float acc) {  // x[r] += acc, r = gw + j T
    if (own_in_reg) {
      if (lane == j) x[r] = x_own = x_own + acc;
    } else if (lane == 0) {
      x[r] = __ldcg(x + r) + acc;
    }
  };
  // A grid-wide wait, and the stagings, timed by thread 0 (the one that spins; the others wait on barrier 1 for it).
  const bool skip_waits = P.st.tuning.skip_waits, skip_attention = P.st.tuning.skip_attention;  // diagnostics
  // The timed twin, at a wait's start (kTimeLandedAtWaitStart) and end (kTimeLandedAtWaitEnd, which also counts the
  // wait): the slots of warp 0's ring that have landed ahead of its consumer.
  auto note_landed = [&](int field) {
    if constexpr (kTimed) {
      if (threadIdx.x != 0) return;
      for (int i = 0; i < ring.S; ++i) {
        const unsigned k = ring.n + i;
        tw[field] += mbar_test_wait(saddr(&ring.full[k % ring.S]), (k / ring.S) & 1);
      }
      if (field == kTimeLandedAtWaitEnd) tw[kTimeGridWaits] += 1;
    }
  };
  // A phase's rows done: the block's signal, and (thread 0, after the consumers' barrier in it) the producers told, so
  // that with tuning.boundary_prefetch_kb they ask L2 for their next rows while the consumers wait.
  auto phase_done = [&](unsigned* ctr) {
    grid_signal(ctr);
    if (threadIdx.x == 0) *reinterpret_cast<volatile unsigned*>(&boundary_epoch) = boundary_epoch + 1;
  };
  auto timed_wait = [&](const unsigned* ctr, int field, int layer) {
    if (skip_waits) return;
    const long long t0 = tick<kTimed>();
    note_landed(kTimeLandedAtWaitStart);
    grid_wait(ctr, layer);
    if (threadIdx.x == 0) tock<kTimed>(tw, field, t0);
    note_landed(kTimeLandedAtWaitEnd);
  };
  for (int l = 0; l < s.layers; ++l) {
    const Qwen3PersistentLayer L = P.st.layers[l];
    unsigned* ctr = P.st.counters + (size_t)l * per_layer;
    // q|k|v = W_qkv . in_ln(x); x is whole once every block has added the previous layer's down rows.
    RowScales qkv_sc = scales(L.qkv_scale, R);
    if (l > 0) timed_wait(ctr - per_layer + kDownDone, kTimeWaitX, l);
    long long t0 = tick<kTimed>();
    stage_rmsnorm<kPlanes>(xs, plane, x, L.in_ln, H, s.eps, red);
    consumers_sync();
    if (threadIdx.x == 0) tock<kTimed>(tw, kTimeStage, t0);
    if (h_in_regs) {
      XRegs xr;  // live in this phase alone
      load_xregs<kFp8>(xr, xs, plane, lane);
      for (int r = gw, j = 0; r < R; r += T, ++j) {
        const float acc = scaled_row(row_dot_regs(xr, l), qkv_sc, j);
        if (lane == 0) ws.qkv[r] = acc;
      }
    } else {
      for (int r = gw, j = 0; r < R; r += T, ++j) {
        const float acc = scaled_row(row_dot(H, l), qkv_sc, j);
        if (lane == 0) ws.qkv[r] = acc;
      }
    }
    phase_done(ctr + kQkvDone);
    // Attention: a warp a (KV head, key split) item, the last split of a KV head combining its heads into att (with
    // tuning.block_combine a block a KV head's kW splits, combined in shared memory first).
    timed_wait(ctr + kQkvDone, kTimeWaitQkv, l);
    t0 = tick<kTimed>();
    unsigned* heads = ctr + kPhases;
    if (skip_attention) {
      // the diagnostic: none
    } else if (P.block_combine) {
      // A block an item (the same for all its consumer warps), its partials in the staging: free from q|k|v's end
      // (every warp of the block is past the wait above) to o's staging (after the wait below).
      float* sp = reinterpret_cast<float*>(xs);
      for (int bi = blockIdx.x; bi < s.kv_heads * nb; bi += gridDim.x)
        with_group(G, [&](auto g_, auto kb_) {
          attention_block_item<kTimed, decltype(g_)::value, decltype(kb_)::value, KV>(
              P, L, ws, heads, ctr + kAttDone, bi / nb, bi % nb, nb, per, n_kv, row, warp, lane, sp, &block_flag, tw);
        });
    } else {
      for (int it = gw; it < s.kv_heads * splits; it += T)
        with_group(G, [&](auto g_, auto kb_) {
          attention_item<kTimed, decltype(g_)::value, decltype(kb_)::value, KV>(
              P, L, ws, heads, ctr + kAttDone, it / splits, it % splits, splits, per, n_kv, row, lane, tw);
        });
    }
    if (lane == 0) tock<kTimed>(tw, kTimeAttention, t0);
    RowScales o_sc = scales(L.o_scale, H);
    t0 = tick<kTimed>();
    note_landed(kTimeLandedAtWaitStart);
    if (!skip_attention && !skip_waits)
      phases::wait_for<kNT>(ctr + kAttDone, s.kv_heads, kTimeoutNs, "qwen3_decode_persistent", "the attention", l);
    if (threadIdx.x == 0) tock<kTimed>(tw, kTimeWaitAttention, t0);
    note_landed(kTimeLandedAtWaitEnd);
    // o = W_o . att, and x += o by the row's owner.
    t0 = tick<kTimed>();
    stage<kPlanes>(xs, plane, ws.att, QH);
    consumers_sync();
    if (threadIdx.x == 0) tock<kTimed>(tw, kTimeStage, t0);
    if (att_in_regs) {
      XRegs xr;
      load_xregs<kFp8>(xr, xs, plane, lane);
      for (int r = gw, j = 0; r < H; r += T, ++j) add_residual(r, j, scaled_row(row_dot_regs(xr, l), o_sc, j));
    } else {
      for (int r = gw, j = 0; r < H; r += T, ++j) add_residual(r, j, scaled_row(row_dot(QH, l), o_sc, j));
    }
    phase_done(ctr + kODone);
    // act = silu(W_gate . post_ln(x)) * (W_up . post_ln(x)), as gemv_swiglu_cuda (gemv_fp8_swiglu_cuda: the gate
    // rows' scales, then the up rows').
    RowScales gate_sc = scales(L.gate_up_scale, I), up_sc = scales(kFp8 ? L.gate_up_scale + I : nullptr, I);
    timed_wait(ctr + kODone, kTimeWaitO, l);
    t0 = tick<kTimed>();
    stage_rmsnorm<kPlanes>(xs, plane, x, L.post_ln, H, s.eps, red);
    consumers_sync();
    if (threadIdx.x == 0) tock<kTimed>(tw, kTimeStage, t0);
    if (h_in_regs) {
      XRegs xr;
      load_xregs<kFp8>(xr, xs, plane, lane);
      for (int r = gw, j = 0; r < I; r += T, ++j) {
        const float gate = scaled_row(row_dot_regs(xr, l), gate_sc, j);
        const float up = scaled_row(row_dot_regs(xr, l), up_sc, j);
        if (lane == 0) ws.act[r] = gate / (1.0f + expf(-gate)) * up;
      }
    } else {
      for (int r = gw, j = 0; r < I; r += T, ++j) {
        const float gate = scaled_row(row_dot(H, l), gate_sc, j);
        const float up = scaled_row(row_dot(H, l), up_sc, j);
        if (lane == 0) ws.act[r] = gate / (1.0f + expf(-gate)) * up;
      }
    }
    phase_done(ctr + kGateUpDone);
    // down = W_down . act, and x += down by the row's owner.
    RowScales down_sc = scales(L.down_scale, H);
    timed_wait(ctr + kGateUpDone, kTimeWaitGateUp, l);
    t0 = tick<kTimed>();
    stage<kPlanes>(xs, plane, ws.act, I);
    consumers_sync();
    if (threadIdx.x == 0) tock<kTimed>(tw, kTimeStage, t0);
    for (int r = gw, j = 0; r < H; r += T, ++j) add_residual(r, j, scaled_row(row_dot(I, l), down_sc, j));
    phase_done(ctr + kDownDone);
  }
  if (lm_head_in_step(P.st)) {
    // logits = lm_head . final_norm(x), once every block has added the last down rows.
    timed_wait(P.st.counters + (size_t)(s.layers - 1) * per_layer + kDownDone, kTimeWaitX, s.layers);
    long long t0 = tick<kTimed>();
    stage_rmsnorm<2>(xs, plane2, x, P.st.final_norm, H, s.eps, red);  // lm_head's rows are bf16
    consumers_sync();
    if (threadIdx.x == 0) tock<kTimed>(tw, kTimeStage, t0);
    // lm_head's rows are bf16 with e4m3 layers too (as vLLM's fp8 keeps it), in this kernel's slots.
    if (h_in_regs) {
      XRegs xr;
      load_xregs<false>(xr, xs, plane2, lane);
      for (int r = gw; r < P.st.vocab; r += T) {
        const float acc = warp_sum(dot_row_regs<kTimed, false, kSlot>(ring, xr, lane, s.layers, tw));
        if (lane == 0) P.st.logits[r] = acc;
      }
    } else {
      for (int r = gw; r < P.st.vocab; r += T) {
        const float acc = warp_sum(dot_row<kTimed, false, kSlot>(ring, H, xs, plane2, lane, s.layers, tw));
        if (lane == 0) P.st.logits[r] = acc;
      }
    }
  } else if (blockIdx.x == 0) {
    // h = final_norm(x), lm_head's input, by block 0 once every block has added the last down rows.
    if (!skip_waits) grid_wait(P.st.counters + (size_t)(s.layers - 1) * per_layer + kDownDone, s.layers);
    const float inv = inv_rms(x, H, s.eps, red);
    for (int i = threadIdx.x; i < H; i += kNT) P.st.h[i] = __ldg(P.st.final_norm + i) * (__ldcg(x + i) * inv);
  }
  flush_timing();
}

struct Launch {
  int slots = 0, stage_chunks = 0, sms = 0;
  size_t smem = 0;
};
// The ring size that fits beside the staging in one block an SM; slots 0 when nothing fits.
Launch plan(const Qwen3PersistentShape& s) {
  Launch p;
  int dev = 0, major = 0, optin = 0;
  if (cudaGetDevice(&dev) != cudaSuccess ||
      cudaDeviceGetAttribute(&major, cudaDevAttrComputeCapabilityMajor, dev) != cudaSuccess ||
      cudaDeviceGetAttribute(&optin, cudaDevAttrMaxSharedMemoryPerBlockOptin, dev) != cudaSuccess ||
      cudaDeviceGetAttribute(&p.sms, cudaDevAttrMultiProcessorCount, dev) != cudaSuccess || major < 9) {
    cudaGetLastError();
    return p;
  }
  p.stage_chunks = std::max({s.hidden, s.heads * s.head_dim, s.inter}) / 8;
  // + the static red[] and the timed kernel's timing rows, and slack
  const long long fixed = kHeaderBytes + 2ll * p.stage_chunks * 16 + 2048;
  const int slot = s.fp8_weights ? kSlotBytesOf<true> : kSlotBytesOf<false>;
  p.slots = (int)std::min<long long>(kMaxSlots, (optin - fixed) / (kW * slot));
  if (p.slots < 2) return Launch{};
  p.smem = (size_t)kHeaderBytes + (size_t)kW * p.slots * slot + 2ull * p.stage_chunks * 16;
  return p;
}

// The kernel for a shape's weights, untimed or timed.
template <class KV>
const void* kernel_of_kv(const Qwen3PersistentShape& s, bool timed) {
  if (s.fp8_weights)
    return timed ? (const void*)decode_step_kernel<true, true, KV> : (const void*)decode_step_kernel<false, true, KV>;
  return timed ? (const void*)decode_step_kernel<true, false, KV> : (const void*)decode_step_kernel<false, false, KV>;
}
const void* kernel_of(const Qwen3PersistentShape& s, bool timed) {
  return s.kv_bf16 ? kernel_of_kv<__nv_bfloat16>(s, timed) : kernel_of_kv<float>(s, timed);
}

// Whether a block's kW partials of a KV head's G q heads fit the staging (attention_block_item keeps them there).
bool block_combine_fits(const Qwen3PersistentShape& s, const Launch& p) {
  return (size_t)kW * (s.heads / s.kv_heads) * kPartFloats * sizeof(float) <= 2ull * p.stage_chunks * 16;
}

}  // namespace

size_t qwen3_decode_persistent_workspace_floats(const Qwen3PersistentShape& s) {
  return (size_t)qkv_rows(s) + (size_t)s.heads * s.head_dim + s.inter +
         (size_t)(kMaxSplits + kMaxGroups) * s.heads * kPartFloats;
}
size_t qwen3_decode_persistent_counters(const Qwen3PersistentShape& s) {
  return (size_t)s.layers * counters_per_layer(s);
}

bool qwen3_decode_persistent_fits(const Qwen3PersistentShape& s) {
  const int mult = s.fp8_weights ? 16 : 8;  // values a 16-byte chunk
  if (s.head_dim != kD || s.layers <= 0 || s.kv_heads <= 0 || s.heads % s.kv_heads != 0 || s.hidden % mult != 0 ||
      s.inter % mult != 0 || (s.heads * kD) % mult != 0)
    return false;
  const int G = s.heads / s.kv_heads;  // the attention's instantiations
  if (G != 1 && G != 2 && G != 4 && G != 8) return false;
  const Launch p = plan(s);
  if (p.slots < 2) return false;
  for (const void* kernel : {kernel_of(s, false), kernel_of(s, true)}) {
    int blocks = 0;
    if (cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, (int)p.smem) != cudaSuccess ||
        cudaOccupancyMaxActiveBlocksPerMultiprocessor(&blocks, kernel, 2 * kNT, p.smem) != cudaSuccess) {
      cudaGetLastError();
      return false;
    }
    if (blocks < 1) return false;
  }
  return true;
}

int qwen3_decode_persistent_blocks() {
  int dev = 0, sms = 0;
  if (cudaGetDevice(&dev) != cudaSuccess ||
      cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, dev) != cudaSuccess) {
    cudaGetLastError();
    return 0;
  }
  return sms;  // plan()'s grid at most (tuning.grid_blocks may run fewer)
}

std::string qwen3_decode_persistent_timing_report(const unsigned long long* rows, int blocks) {
  const int steps = rows && blocks > 0 ? (int)rows[kTimeSteps] : 0;
  if (steps <= 0 || rows[kTimeStepNs] == 0) return "persistent step timing: nothing recorded\n";
  const double cycles_per_us = 1e3 * (double)rows[kTimeStep] / (double)rows[kTimeStepNs];  // block 0's clock
  struct Field {
    Qwen3PersistentTime f;
    const char* name;
    int warps;  // added over this many warps a block
  };
  const Field fields[] = {
      {kTimeStep, "step (consumer warp 0)", 1},
      {kTimeWaitX, "wait: x for q|k|v (or lm_head)", 1},
      {kTimeWaitQkv, "wait: q|k|v for attention", 1},
      {kTimeWaitAttention, "wait: attention for o", 1},
      {kTimeWaitO, "wait: x for gate|up", 1},
      {kTimeWaitGateUp, "wait: SwiGLU for down", 1},
      {kTimeStage, "staging GEMV inputs", 1},
      {kTimeAttention, "attention items (a consumer warp)", kW},
      {kTimeSlotWait, "waiting for a full slot (a consumer warp)", kW},
      {kTimeFreeWait, "waiting for a free slot (a producer warp)", kW},
      {kTimeProducer, "producing, first row to last (a producer warp)", kW},
  };
  // The blocks that ran (tuning.grid_blocks may leave the last rows of the buffer empty).
  while (blocks > 1 && rows[(size_t)(blocks - 1) * kQwen3PersistentTimeFields + kTimeStep] == 0) --blocks;
  std::string out;
  char line[256];
  std::snprintf(line, sizeof line,
                "persistent step timing: %d steps, %d blocks, %.0f MHz; us a step, mean / max over blocks\n", steps,
                blocks, cycles_per_us);
  out += line;
  for (const Field& f : fields) {
    double sum = 0, mx = 0;
    for (int b = 0; b < blocks; ++b) {
      const double us = (double)rows[(size_t)b * kQwen3PersistentTimeFields + f.f] / cycles_per_us / f.warps / steps;
      sum += us;
      mx = std::max(mx, us);
    }
    std::snprintf(line, sizeof line, "  %-48s %9.1f %9.1f\n", f.name, sum / blocks, mx);
    out += line;
  }
  // The attention items' parts: us an item (the combine: us a combine), over every block's.
  double total[kQwen3PersistentTimeFields] = {};
  for (int b = 0; b < blocks; ++b)
    for (int f = kTimeAttItems; f <= kTimeAttCombine; ++f)
      total[f] += (double)rows[(size_t)b * kQwen3PersistentTimeFields + f];
  const double items = std::max(1.0, total[kTimeAttItems]), combines = std::max(1.0, total[kTimeAttCombines]);
  std::snprintf(line, sizeof line,
                "  attention, us an item (%.0f items a step): prologue %.2f, keys %.2f, partials stored + counted "
                "%.2f; combine %.2f (%.0f a step)\n",
                total[kTimeAttItems] / steps, total[kTimeAttPrologue] / cycles_per_us / items,
                total[kTimeAttKeys] / cycles_per_us / items, total[kTimeAttPartials] / cycles_per_us / items,
                total[kTimeAttCombine] / cycles_per_us / combines, total[kTimeAttCombines] / steps);
  out += line;
  // Block 0's consumer warp 0 at its grid-wide waits: its ring's landed slots.
  if (const double waits = (double)rows[kTimeGridWaits]; waits > 0) {
    std::snprintf(line, sizeof line,
                  "  ring slots landed at a grid-wide wait (block 0, consumer warp 0; %.0f waits a step): %.2f at its "
                  "start, %.2f at its end\n",
                  waits / steps, rows[kTimeLandedAtWaitStart] / waits, rows[kTimeLandedAtWaitEnd] / waits);
    out += line;
  }
  return out;
}

void qwen3_decode_persistent_cuda(const Qwen3PersistentShape& s, const Qwen3PersistentStep& step,
                                  const CudaContext& ctx) {
  // No occupancy query here (this runs inside a graph capture): the caller asked qwen3_decode_persistent_fits first.
  const Launch p = plan(s);
  if (p.slots < 2 || s.head_dim != kD)
    throw ModelError(
        "qwen3_decode_persistent_cuda: this shape or device is not served (see qwen3_decode_persistent_fits)");
  const Params P{s,
                 step,
                 step.tuning.ring_slots >= 2 ? std::min(p.slots, step.tuning.ring_slots) : p.slots,
                 p.stage_chunks,
                 1.0f / std::sqrt((float)s.head_dim),
                 step.tuning.block_combine && block_combine_fits(s, p)};
  const void* kernel = kernel_of(s, step.timing != nullptr);
  CUDA_CHECK(cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, (int)p.smem));
  CUDA_CHECK(cudaMemsetAsync(step.counters, 0, sizeof(unsigned) * qwen3_decode_persistent_counters(s), ctx.stream));
  // Every block resident at once (grid = the SM count, one block an SM by its shared memory): the grid-wide waits
  // need it. A cooperative launch has the driver guarantee it: with another kernel holding SMs (another model's, on
  // another stream) the step starts once the whole grid fits, instead of some blocks spinning for absent ones.
  cudaLaunchConfig_t cfg = {};
  cfg.gridDim = dim3(step.tuning.grid_blocks > 0 ? std::min(step.tuning.grid_blocks, p.sms) : p.sms);
  cfg.blockDim = dim3(2 * kNT);
  cfg.dynamicSmemBytes = p.smem;
  cfg.stream = ctx.stream;
  cudaLaunchAttribute cooperative[1];
  cooperative[0].id = cudaLaunchAttributeCooperative;
  cooperative[0].val.cooperative = 1;
  cfg.attrs = cooperative;
  cfg.numAttrs = 1;
  void* args[] = {const_cast<Params*>(&P)};
  CUDA_CHECK(cudaLaunchKernelExC(&cfg, kernel, args));
}

}  // namespace cosmos
