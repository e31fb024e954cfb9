// Three kernels behind one op: with q/k norm at head_dim 64 / 128, one warp per (token, head) (the norm's reduction
// in shuffles); with q/k norm at other head dims, one block per (token, head); without norm, one thread per rotary
// pair over the whole tensor (the vision tower's 12960-patch x 48-head case would be 600k tiny blocks).
#ifndef COSMOS_CUDA
#define COSMOS_CUDA 1
#endif
#include "qkv_rope.h"

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <stdexcept>
#include <string>
#include <type_traits>

#include "../core/cuda_common.h"
#include "../core/cuda_pdl.cuh"
#include "../core/cuda_reduce.h"
#include "attention_fp8.h"          // int8_scale_for_absmax, int8_bits, attention_fp8_rows_pad: the 8-bit attention's q
#include "flash_attention_wgmma.h"  // flash_wgmma_dims_read
#include "mma_bf16.cuh"             // pack_bf16x4: the flash operands' rounding
#include "row_vec.cuh"              // row_store / row_store2 / row_store4: k and v in f32 or bf16

namespace {
// Every kernel writes k and v as KV: f32 rows, or bf16 (a bf16 KV cache: row_store's rounding of the very values the
// f32 form writes).
//
// Grid (n, heads + 2 kv_heads); block = head_dim rounded up to a warp multiple. Heads [0, heads) are q,
// then k, then v (a plain copy). All reads of a head happen before the barrier, so q_out may be q_in.
template <class KV>
__global__ void qkv_norm_rope_kernel(float* q_out, KV* k_out, KV* v_out, const float* q_in, const float* k_in,
                                     const float* v_in, int q_stride, int kv_stride, const float* qw, const float* kw,
                                     const float* cos, const float* sin, int row0, const int* row0_dev, int NH, int KVH,
                                     int D, float eps) {
  extern __shared__ float y[];
  __shared__ float red[32];
  const int i = blockIdx.x, hh = blockIdx.y, d = threadIdx.x;
  // PDL (core/cuda_pdl.cuh): let the attention launch behind this kernel; nothing is touched before the wait.
  cosmos::pdl_launch_dependents();
  cosmos::pdl_wait();
  if (row0_dev) row0 = *row0_dev;
  if (hh >= NH + KVH) {
    const int h = hh - NH - KVH;
    if (d < D)
      cosmos::row_store(v_out + ((long long)(row0 + i) * KVH + h) * D + d, v_in[(long long)i * kv_stride + h * D + d]);
    return;
  }
  const bool isq = hh < NH;
  const int h = isq ? hh : hh - NH;
  const float* src = isq ? q_in + (long long)i * q_stride + h * D : k_in + (long long)i * kv_stride + h * D;
  const float xv = d < D ? src[d] : 0.f;
  const float ss = cosmos::block_sum(xv * xv, red);
  const float inv = 1.0f / sqrtf(ss / (float)D + eps);
  const float* w = isq ? qw : kw;
  if (d < D) y[d] = w[d] * (xv * inv);
  __syncthreads();
  if (d >= D) return;
  const int half = D / 2;
  const float* c = cos + (long long)i * D;
  const float* s = sin + (long long)i * D;
  const float out = d < half ? y[d] * c[d] - y[d + half] * s[d] : y[d] * c[d] + y[d - half] * s[d];
  if (isq)
    q_out[((long long)i * NH + h) * D + d] = out;
  else
    cosmos::row_store(k_out + ((long long)(row0 + i) * KVH + h) * D + d, out);
}

// With q/k norm at head_dim 64 or 128 (Qwen3, Cosmos 3): one warp per (token, head), VEC = hd / 32 values a lane in
// one vector load. The rotary partner of dim d < hd/2 is d + hd/2, VEC * 16 dims on: the lane 16 away, one shuffle;
// the norm's sum is a warp reduction. The block-per-head kernel above spent two barriers and a shared-memory pass on
// 128 values: 1.1 ms a layer at the Generator's 480p (18720 tokens x 48 heads), 0.84 TB/s (ncu, H200).
//
// The form q is written in: f32 rows [n, heads, hd] (q_out); kQInt8 (head_dim 128): the 8-bit attention's int8 operand
// (q8, ops/attention_fp8.h's Int8QHeads layout: the lane's 4 values, the row's scale from the warp's absmax), the bytes
// and scales attention_fp8_cuda would make from the f32 rows, the padding rows [n, q_rows) zeros and the floor scale;
// kQBf16 (head_dim 128): flash_attention_wgmma's bf16 q operand (qb [heads][q_rows][128]), the values
// flash_attention_cuda's conversion would make from the f32 rows (round to nearest even), the padding rows zeros.
enum QForm : int { kQF32 = 0, kQInt8 = 1, kQBf16 = 2 };
template <class KV>
__device__ __forceinline__ void store_vec(KV* o, float4 v) {
  cosmos::row_store4(o, v);
}
template <class KV>
__device__ __forceinline__ void store_vec(KV* o, float2 v) {
  cosmos::row_store2(o, v);
}
template <int VEC, int QF, class KV>
__global__ void qkv_norm_rope_warp_kernel(float* q_out, Int8QHeads q8, __nv_bfloat16* qb, int q_rows, KV* k_out,
                                          KV* v_out, const float* q_in, const float* k_in, const float* v_in,
                                          int q_stride, int kv_stride, const float* qw, const float* kw,
                                          const float* cos, const float* sin, int row0, const int* row0_dev,
                                          long long n, int NH, int KVH, float eps) {
  using V = typename std::conditional<VEC == 4, float4, float2>::type;
  constexpr int D = VEC * 32;
  constexpr bool Q8 = QF == kQInt8, QB = QF == kQBf16;
  static_assert(QF == kQF32 || D == 128, "the int8 and bf16 q operands hold 128 dims a row: 4 a lane");
  cosmos::pdl_launch_dependents();
  cosmos::pdl_wait();
  if (row0_dev) row0 = *row0_dev;
  const int lane = threadIdx.x & 31, d0 = lane * VEC, slots = NH + 2 * KVH;
  const long long items = n * slots, warps = (long long)gridDim.x * (blockDim.x / 32);
  const long long pad_items = QF != kQF32 ? (q_rows - n) * NH : 0;
  for (long long it = blockIdx.x * (long long)(blockDim.x / 32) + threadIdx.x / 32; it < items + pad_items;
       it += warps) {
    if (QF != kQF32 && it >= items) {  // a padding row of q: zeros (int8: and the floor scale)
      const long long r = n + (it - items) / NH;
      const int h = (int)((it - items) % NH);
      if constexpr (Q8) {
        *reinterpret_cast<uint32_t*>(q8.q + ((long long)h * q_rows + r) * D + d0) = 0;
        if (lane == 0) q8.scale[(long long)h * q_rows + r] = int8_scale_for_absmax(0.f);
      } else {
        *reinterpret_cast<uint2*>(qb + ((long long)h * q_rows + r) * D + d0) = make_uint2(0, 0);
      }
      continue;
    }
    const long long i = it / slots;
    const int hh = (int)(it - i * slots);
    if (hh >= NH + KVH) {  // v: a copy
      const int h = hh - NH - KVH;
      store_vec(v_out + ((row0 + i) * KVH + h) * D + d0,
                *reinterpret_cast<const V*>(v_in + i * kv_stride + h * D + d0));
      continue;
    }
    const bool isq = hh < NH;
    const int h = isq ? hh : hh - NH;
    const float* src = isq ? q_in + i * q_stride + h * D : k_in + i * kv_stride + h * D;
    float x[VEC], w[VEC], c[VEC], sn[VEC], y[VEC], p[VEC], out[VEC];
    *reinterpret_cast<V*>(x) = *reinterpret_cast<const V*>(src + d0);
    *reinterpret_cast<V*>(w) = *reinterpret_cast<const V*>((isq ? qw : kw) + d0);
    *reinterpret_cast<V*>(c) = *reinterpret_cast<const V*>(cos + i * D + d0);
    *reinterpret_cast<V*>(sn) = *reinterpret_cast<const V*>(sin + i * D + d0);
    float ss = 0.f;
#pragma unroll
    for (int e = 0; e < VEC; ++e) ss += x[e] * x[e];
#pragma unroll
    for (int o = 16; o > 0; o >>= 1) ss += __shfl_xor_sync(0xffffffffu, ss, o);
    const float inv = 1.0f / sqrtf(ss / (float)D + eps);
#pragma unroll
    for (int e = 0; e < VEC; ++e) y[e] = w[e] * (x[e] * inv);
#pragma unroll
    for (int e = 0; e < VEC; ++e) p[e] = __shfl_xor_sync(0xffffffffu, y[e], 16);  // dims d +- hd/2
#pragma unroll
    for (int e = 0; e < VEC; ++e) out[e] = lane < 16 ? y[e] * c[e] - p[e] * sn[e] : y[e] * c[e] + p[e] * sn[e];
    if (Q8 && isq) {  // as attention_fp8.cu's to_int8_heads_kernel: the row's absmax, its scale, a division each
      float m = 0.f;
#pragma unroll
      for (int e = 0; e < VEC; ++e) m = fmaxf(m, fabsf(out[e]));
#pragma unroll
      for (int o = 16; o > 0; o >>= 1) m = fmaxf(m, __shfl_xor_sync(0xffffffffu, m, o));
      const float s = int8_scale_for_absmax(m);
      const long long row = (long long)h * q_rows + i;
      if (lane == 0) q8.scale[row] = s;
      uint32_t b = 0;
#pragma unroll
      for (int e = 0; e < VEC; ++e) b |= int8_bits(out[e] / s) << (8 * e);
      *reinterpret_cast<uint32_t*>(q8.q + row * D + d0) = b;
      continue;
    }
    if (QB && isq) {
      *reinterpret_cast<uint2*>(qb + ((long long)h * q_rows + i) * D + d0) =
          cosmos::pack_bf16x4(make_float4(out[0], out[1], out[2], out[3]));
      continue;
    }
    const V o = *reinterpret_cast<const V*>(out);
    if (isq)
      *reinterpret_cast<V*>(q_out + (i * NH + h) * D + d0) = o;
    else
      store_vec(k_out + ((row0 + i) * KVH + h) * D + d0, o);
  }
}

// The warp kernel's conditions: head_dim 64 or 128 and every row, table and weight 16- (8-) byte aligned.
// (k_out / v_out of bf16 rows need half the f32 alignment; asking the f32 one of them costs nothing: the cache's rows
// are 256 or 128 bytes.)
bool warp_kernel_fits(const float* q_out, const void* k_out, const void* v_out, const float* q_in, const float* k_in,
                      const float* v_in, int q_stride, int kv_stride, const float* qw, const float* kw, int D) {
  if (D != 64 && D != 128) return false;
  const uintptr_t a = (uintptr_t)q_out | (uintptr_t)k_out | (uintptr_t)v_out | (uintptr_t)q_in | (uintptr_t)k_in |
                      (uintptr_t)v_in | (uintptr_t)qw | (uintptr_t)kw;
  const int bytes = D / 32 * 4;
  return a % bytes == 0 && q_stride % (D / 32) == 0 && kv_stride % (D / 32) == 0;
}

// COSMOS_QKV_ROPE=block keeps the block-per-head kernel for every shape (the comparison the H200 check runs).
bool block_kernel_forced() {
  static const bool forced = [] {
    const char* e = std::getenv("COSMOS_QKV_ROPE");
    return e && std::strcmp(e, "block") == 0;
  }();
  return forced;
}

// No norm: one thread per (token, head slot, pair j / j + hd/2); head slots [0, NH) are q, then the
// kv_heads k heads, whose threads also copy v. Each thread reads its pair before writing it (in place).
template <class KV>
__global__ void qkv_rope_kernel(float* q_out, KV* k_out, KV* v_out, const float* q_in, const float* k_in,
                                const float* v_in, int q_stride, int kv_stride, const float* cos, const float* sin,
                                long long n, int row0, const int* row0_dev, int NH, int KVH, int D) {
  cosmos::pdl_launch_dependents();
  cosmos::pdl_wait();
  if (row0_dev) row0 = *row0_dev;
  const int half = D / 2, slots = NH + KVH;
  const long long total = n * slots * half;
  for (long long e = blockIdx.x * (long long)blockDim.x + threadIdx.x; e < total;
       e += (long long)gridDim.x * blockDim.x) {
    const int j = (int)(e % half);
    const long long th = e / half;
    const int hs = (int)(th % slots);
    const long long t = th / slots;
    const float* c = cos + t * D;
    const float* s = sin + t * D;
    const bool isq = hs < NH;
    const int h = isq ? hs : hs - NH;
    const float* src = isq ? q_in + t * q_stride + (long long)h * D : k_in + t * kv_stride + (long long)h * D;
    const float x1 = src[j], x2 = src[j + half];
    const float o1 = x1 * c[j] - x2 * s[j], o2 = x2 * c[j + half] + x1 * s[j + half];
    if (isq) {
      float* dst = q_out + (t * NH + h) * D;
      dst[j] = o1;
      dst[j + half] = o2;
      continue;
    }
    KV* dst = k_out + ((row0 + t) * KVH + h) * D;
    cosmos::row_store(dst + j, o1);
    cosmos::row_store(dst + j + half, o2);
    const float* vs = v_in + t * kv_stride + (long long)h * D;
    KV* vd = v_out + ((row0 + t) * KVH + h) * D;
    cosmos::row_store(vd + j, vs[j]);
    cosmos::row_store(vd + j + half, vs[j + half]);
  }
}

// qkv_rope_flash_segments_cuda: a block is 64 rows of one segment and a few head slots: GQ q heads, or GKV kv heads (k
// with the rotary, v transposed). The rotary tables are the same for every head, so a row's are read once for the
// block's heads (one head a block read them once per head: twice the bytes of the f32 inputs, from L2). A warp writes
// the dims of a padded q or k row that the flash kernel reads (flash_wgmma_dims_read: 80 of 128 at the tower's head
// dim 72, dims [head_dim, 80) zero; the other 48 were ~60 MB of zeros a tower layer at the video), a lane two dims at a
// time (D % 8 == 0: a pair never straddles the rotary's halves, and its inputs are 8-byte (f32) or 4-byte (bf16)
// aligned); v goes through shared memory, rounded to bf16 there as it would be on the way out, so that its
// transposed rows (a dim's 64 keys, 128 bytes) are written whole too, a key pair a thread. In: f32, or bf16 (the
// tower's q|k|v straight from its GEMM), widened to f32 for the same arithmetic.
constexpr int kFlashPrepRows = 64;
constexpr int kVPitch = 129;  // odd: a thread's two transposed reads (rows 2i, 2i + 1 of one dim) hit distinct banks
__device__ __forceinline__ float2 load_pair(const float* p) { return *reinterpret_cast<const float2*>(p); }
__device__ __forceinline__ float2 load_pair(const __nv_bfloat16* p) {
  return __bfloat1622float2(*reinterpret_cast<const __nv_bfloat162*>(p));
}
__device__ __forceinline__ float load_one(const float* p) { return *p; }
__device__ __forceinline__ float load_one(const __nv_bfloat16* p) { return __bfloat162float(*p); }

// One row of a block's tile for its G heads (q heads; or kv heads, whose v rows go to the block's shared memory vs):
// every load first, then the arithmetic and the stores. A store between loads would hold the later loads behind it
// (the pointers may alias), and a warp would wait for one round trip per head: measured 177 us a tower layer at the
// video on the H200 with the loads and stores interleaved, ~1.6 TB/s.
template <int G, bool kKv, class In>
__device__ __forceinline__ void flash_prep_row(__nv_bfloat16* out, const In* in, int stride, const In* v_in,
                                               int kv_stride, __nv_bfloat16 (*vs)[kFlashPrepRows][kVPitch],
                                               const float* cos, const float* sin, int z, int r0, int r, int seg_len,
                                               int rows_pad, int heads, int h0, int D, int dims, int lane) {
  const int row = r0 + r, half = D / 2;
  const bool valid = row < seg_len;
  const long long t = (long long)z * seg_len + row;
  float2 c[2], s[2], x1[G][2], x2[G][2];  // the lane's dims d = 2 lane + 64 i, i = 0, 1
  float v[G][4];                          // kKv: v at dims lane + 32 jj
#pragma unroll
  for (int i = 0; i < 2; ++i) {
    const int d = 2 * lane + 64 * i, j = d < half ? d : d - half;
    const bool live = valid && d < D;
    const float2 zero = make_float2(0.f, 0.f);
    c[i] = live ? *reinterpret_cast<const float2*>(cos + t * D + d) : zero;
    s[i] = live ? *reinterpret_cast<const float2*>(sin + t * D + d) : zero;
#pragma unroll
    for (int g = 0; g < G; ++g) {
      const In* src = in + t * stride + (long long)(h0 + g) * D;
      x1[g][i] = live ? load_pair(src + j) : zero;
      x2[g][i] = live ? load_pair(src + j + half) : zero;
    }
  }
  if constexpr (kKv) {
#pragma unroll
    for (int g = 0; g < G; ++g)
#pragma unroll
      for (int jj = 0; jj < 4; ++jj) {
        const int d = lane + 32 * jj;
        v[g][jj] = valid && d < D ? load_one(v_in + t * kv_stride + (long long)(h0 + g) * D + d) : 0.f;
      }
  }
#pragma unroll
  for (int g = 0; g < G; ++g) {
    __nv_bfloat16* dst = out + ((long long)(z * heads + h0 + g) * rows_pad + row) * 128;
#pragma unroll
    for (int i = 0; i < 2; ++i) {
      const int d = 2 * lane + 64 * i;
      if (d >= dims) continue;
      // qkv_rope_kernel's arithmetic, two dims (zeros past D and past the segment: their inputs were loaded as 0)
      const float2 a = x1[g][i], b = x2[g][i], cc = c[i], ss = s[i];
      const float2 val = d < half ? make_float2(a.x * cc.x - b.x * ss.x, a.y * cc.y - b.y * ss.y)
                                  : make_float2(b.x * cc.x + a.x * ss.x, b.y * cc.y + a.y * ss.y);
      *reinterpret_cast<__nv_bfloat162*>(dst + d) = __float22bfloat162_rn(val);
    }
    if constexpr (kKv) {
#pragma unroll
      for (int jj = 0; jj < 4; ++jj) {
        const int d = lane + 32 * jj;
        if (d < dims) vs[g][r][d] = __float2bfloat16_rn(v[g][jj]);
      }
    }
  }
}

// blockIdx.y < NH / GQ: q heads GQ * y ..; the rest: kv heads GKV * (y - NH / GQ) ...
template <class In, int GQ, int GKV>
__global__ void __launch_bounds__(256)
    qkv_rope_flash_kernel(__nv_bfloat16* qb, __nv_bfloat16* kb, __nv_bfloat16* vt, const In* q_in, const In* k_in,
                          const In* v_in, int q_stride, int kv_stride, const float* cos, const float* sin, int seg_len,
                          int rows_pad, int NH, int KVH, int D, int dims) {
  __shared__ __nv_bfloat16 vs[GKV][kFlashPrepRows][kVPitch];  // this block's v rows, one [64][dims] per kv head
  cosmos::pdl_launch_dependents();
  cosmos::pdl_wait();
  const int tiles = rows_pad / kFlashPrepRows, z = blockIdx.x / tiles, r0 = blockIdx.x % tiles * kFlashPrepRows;
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  if ((int)blockIdx.y < NH / GQ) {  // block-uniform
    for (int r = warp; r < kFlashPrepRows; r += 8)
      flash_prep_row<GQ, false>(qb, q_in, q_stride, v_in, kv_stride, vs, cos, sin, z, r0, r, seg_len, rows_pad, NH,
                                blockIdx.y * GQ, D, dims, lane);
    return;
  }
  const int h0 = (blockIdx.y - NH / GQ) * GKV;
  for (int r = warp; r < kFlashPrepRows; r += 8)
    flash_prep_row<GKV, true>(kb, k_in, kv_stride, v_in, kv_stride, vs, cos, sin, z, r0, r, seg_len, rows_pad, KVH, h0,
                              D, dims, lane);
  __syncthreads();
  for (int g = 0; g < GKV; ++g) {
    __nv_bfloat16* v0 = vt + (long long)(z * KVH + h0 + g) * 128 * rows_pad + r0;
    for (int i = threadIdx.x; i < dims * kFlashPrepRows / 2; i += blockDim.x) {
      const int d = i / (kFlashPrepRows / 2), r = 2 * (i % (kFlashPrepRows / 2));
      __nv_bfloat162 pair;
      pair.x = vs[g][r][d];
      pair.y = vs[g][r + 1][d];
      *reinterpret_cast<__nv_bfloat162*>(v0 + (long long)d * rows_pad + r) = pair;
    }
  }
}

template <class In>
void qkv_rope_flash_launch(__nv_bfloat16* qb, __nv_bfloat16* kb, __nv_bfloat16* vt, const In* q_in, const In* k_in,
                           const In* v_in, int q_stride, int kv_stride, const float* cos, const float* sin, int seg_len,
                           int segments, int rows_pad, int heads, int kv_heads, int head_dim,
                           const cosmos::CudaContext& ctx) {
  if (seg_len <= 0 || segments <= 0) return;
  const uintptr_t pair = 2 * sizeof(In);  // a lane's two input dims
  if (head_dim > 128 || head_dim % 8 != 0 || rows_pad < seg_len || rows_pad % kFlashPrepRows != 0 ||
      q_stride % 2 != 0 || kv_stride % 2 != 0 || reinterpret_cast<uintptr_t>(q_in) % pair != 0 ||
      reinterpret_cast<uintptr_t>(k_in) % pair != 0 || reinterpret_cast<uintptr_t>(cos) % 8 != 0 ||
      reinterpret_cast<uintptr_t>(sin) % 8 != 0)
    throw std::runtime_error(
        "qkv_rope_flash_segments_cuda: head_dim must be a multiple of 8 and <= 128, q / k rows aligned to a pair of "
        "their elements (even strides), the rotary tables 8-byte aligned, rows_pad a multiple of " +
        std::to_string(kFlashPrepRows) + " and >= seg_len");
  const int dims = cosmos::flash_wgmma_dims_read(head_dim);
  const unsigned x = (unsigned)(segments * (rows_pad / kFlashPrepRows));
  // 4 q heads and 2 kv heads a block where they divide the counts (the tower: 16 and 16), else one each.
  if (heads % 4 == 0 && kv_heads % 2 == 0)
    cosmos::launch_pdl(qkv_rope_flash_kernel<In, 4, 2>, dim3(x, (unsigned)(heads / 4 + kv_heads / 2)), dim3(256), 0,
                       ctx.stream, qb, kb, vt, q_in, k_in, v_in, q_stride, kv_stride, cos, sin, seg_len, rows_pad,
                       heads, kv_heads, head_dim, dims);
  else
    cosmos::launch_pdl(qkv_rope_flash_kernel<In, 1, 1>, dim3(x, (unsigned)(heads + kv_heads)), dim3(256), 0, ctx.stream,
                       qb, kb, vt, q_in, k_in, v_in, q_stride, kv_stride, cos, sin, seg_len, rows_pad, heads, kv_heads,
                       head_dim, dims);
  CUDA_CHECK_LAUNCH();
}
}  // namespace

void qkv_rope_flash_segments_cuda(__nv_bfloat16* qb, __nv_bfloat16* kb, __nv_bfloat16* vt, const float* q_in,
                                  const float* k_in, const float* v_in, int q_stride, int kv_stride, const float* cos,
                                  const float* sin, int seg_len, int segments, int rows_pad, int heads, int kv_heads,
                                  int head_dim, const cosmos::CudaContext& ctx) {
  qkv_rope_flash_launch(qb, kb, vt, q_in, k_in, v_in, q_stride, kv_stride, cos, sin, seg_len, segments, rows_pad, heads,
                        kv_heads, head_dim, ctx);
}

void qkv_rope_flash_segments_cuda(__nv_bfloat16* qb, __nv_bfloat16* kb, __nv_bfloat16* vt, const __nv_bfloat16* q_in,
                                  const __nv_bfloat16* k_in, const __nv_bfloat16* v_in, int q_stride, int kv_stride,
                                  const float* cos, const float* sin, int seg_len, int segments, int rows_pad,
                                  int heads, int kv_heads, int head_dim, const cosmos::CudaContext& ctx) {
  qkv_rope_flash_launch(qb, kb, vt, q_in, k_in, v_in, q_stride, kv_stride, cos, sin, seg_len, segments, rows_pad, heads,
                        kv_heads, head_dim, ctx);
}

namespace {
template <class KV>
void qkv_rope_launch(float* q_out, KV* k_out, KV* v_out, const float* q_in, const float* k_in, const float* v_in,
                     int q_stride, int kv_stride, const float* qw, const float* kw, const float* cos, const float* sin,
                     int n, int heads, int kv_heads, int head_dim, float eps, int row0, const int* row0_dev,
                     const cosmos::CudaContext& ctx) {
  if (n <= 0) return;
  if (qw && kw && !block_kernel_forced() &&
      warp_kernel_fits(q_out, k_out, v_out, q_in, k_in, v_in, q_stride, kv_stride, qw, kw, head_dim)) {
    const long long items = (long long)n * (heads + 2 * kv_heads);
    const unsigned blocks = (unsigned)std::min<long long>((items + 7) / 8, 132LL * 64);  // 8 warps a block
    if (head_dim == 128)
      cosmos::launch_pdl(qkv_norm_rope_warp_kernel<4, kQF32, KV>, dim3(blocks), dim3(256), 0, ctx.stream, q_out,
                         Int8QHeads{}, nullptr, 0, k_out, v_out, q_in, k_in, v_in, q_stride, kv_stride, qw, kw, cos,
                         sin, row0, row0_dev, (long long)n, heads, kv_heads, eps);
    else
      cosmos::launch_pdl(qkv_norm_rope_warp_kernel<2, kQF32, KV>, dim3(blocks), dim3(256), 0, ctx.stream, q_out,
                         Int8QHeads{}, nullptr, 0, k_out, v_out, q_in, k_in, v_in, q_stride, kv_stride, qw, kw, cos,
                         sin, row0, row0_dev, (long long)n, heads, kv_heads, eps);
  } else if (qw || kw) {
    const int bd = (head_dim + 31) / 32 * 32;
    cosmos::launch_pdl(qkv_norm_rope_kernel<KV>, dim3(n, heads + 2 * kv_heads), dim3(bd), sizeof(float) * bd,
                       ctx.stream, q_out, k_out, v_out, q_in, k_in, v_in, q_stride, kv_stride, qw, kw, cos, sin, row0,
                       row0_dev, heads, kv_heads, head_dim, eps);
  } else {
    const long long total = (long long)n * (heads + kv_heads) * (head_dim / 2);
    cosmos::launch_pdl(qkv_rope_kernel<KV>, dim3(cosmos::elementwise_blocks(total)), dim3(256), 0, ctx.stream, q_out,
                       k_out, v_out, q_in, k_in, v_in, q_stride, kv_stride, cos, sin, n, row0, row0_dev, heads,
                       kv_heads, head_dim);
  }
  CUDA_CHECK_LAUNCH();
}

template <class KV>
bool qkv_rope_bf16q_launch(__nv_bfloat16* qb, int q_rows, KV* k_out, KV* v_out, const float* q_in, const float* k_in,
                           const float* v_in, int q_stride, int kv_stride, const float* qw, const float* kw,
                           const float* cos, const float* sin, int n, int heads, int kv_heads, int head_dim, float eps,
                           int row0, const cosmos::CudaContext& ctx) {
  if (head_dim != 128 || !qw || !kw || block_kernel_forced() || !qb || q_rows < n ||
      reinterpret_cast<uintptr_t>(qb) % 8 != 0 ||
      !warp_kernel_fits(q_in, k_out, v_out, q_in, k_in, v_in, q_stride, kv_stride, qw, kw, head_dim))
    return false;
  if (n <= 0) return true;
  const long long items = (long long)n * (heads + 2 * kv_heads) + (long long)(q_rows - n) * heads;
  const unsigned blocks = (unsigned)std::min<long long>((items + 7) / 8, 132LL * 64);  // 8 warps a block
  cosmos::launch_pdl(qkv_norm_rope_warp_kernel<4, kQBf16, KV>, dim3(blocks), dim3(256), 0, ctx.stream, nullptr,
                     Int8QHeads{}, qb, q_rows, k_out, v_out, q_in, k_in, v_in, q_stride, kv_stride, qw, kw, cos, sin,
                     row0, nullptr, (long long)n, heads, kv_heads, eps);
  CUDA_CHECK_LAUNCH();
  return true;
}
}  // namespace

void qkv_rope_cuda(float* q_out, float* k_out, float* v_out, const float* q_in, const float* k_in, const float* v_in,
                   int q_stride, int kv_stride, const float* qw, const float* kw, const float* cos, const float* sin,
                   int n, int heads, int kv_heads, int head_dim, float eps, int row0, const int* row0_dev,
                   const cosmos::CudaContext& ctx) {
  qkv_rope_launch(q_out, k_out, v_out, q_in, k_in, v_in, q_stride, kv_stride, qw, kw, cos, sin, n, heads, kv_heads,
                  head_dim, eps, row0, row0_dev, ctx);
}

void qkv_rope_cuda(float* q_out, __nv_bfloat16* k_out, __nv_bfloat16* v_out, const float* q_in, const float* k_in,
                   const float* v_in, int q_stride, int kv_stride, const float* qw, const float* kw, const float* cos,
                   const float* sin, int n, int heads, int kv_heads, int head_dim, float eps, int row0,
                   const int* row0_dev, const cosmos::CudaContext& ctx) {
  qkv_rope_launch(q_out, k_out, v_out, q_in, k_in, v_in, q_stride, kv_stride, qw, kw, cos, sin, n, heads, kv_heads,
                  head_dim, eps, row0, row0_dev, ctx);
}

bool qkv_rope_int8q_cuda(const Int8QHeads& q8, float* k_out, float* v_out, const float* q_in, const float* k_in,
                         const float* v_in, int q_stride, int kv_stride, const float* qw, const float* kw,
                         const float* cos, const float* sin, int n, int heads, int kv_heads, int head_dim, float eps,
                         int row0, const cosmos::CudaContext& ctx) {
  if (head_dim != 128 || !qw || !kw || block_kernel_forced() || !q8.q || !q8.scale ||
      reinterpret_cast<uintptr_t>(q8.q) % 4 != 0 ||
      !warp_kernel_fits(k_out, k_out, v_out, q_in, k_in, v_in, q_stride, kv_stride, qw, kw, head_dim))
    return false;
  if (n <= 0) return true;
  const int rows_pad = attention_fp8_rows_pad(n);
  const long long items = (long long)n * (heads + 2 * kv_heads) + (long long)(rows_pad - n) * heads;
  const unsigned blocks = (unsigned)std::min<long long>((items + 7) / 8, 132LL * 64);  // 8 warps a block
  cosmos::launch_pdl(qkv_norm_rope_warp_kernel<4, kQInt8, float>, dim3(blocks), dim3(256), 0, ctx.stream, nullptr, q8,
                     nullptr, rows_pad, k_out, v_out, q_in, k_in, v_in, q_stride, kv_stride, qw, kw, cos, sin, row0,
                     nullptr, (long long)n, heads, kv_heads, eps);
  CUDA_CHECK_LAUNCH();
  return true;
}

bool qkv_rope_bf16q_cuda(__nv_bfloat16* qb, int q_rows, float* k_out, float* v_out, const float* q_in,
                         const float* k_in, const float* v_in, int q_stride, int kv_stride, const float* qw,
                         const float* kw, const float* cos, const float* sin, int n, int heads, int kv_heads,
                         int head_dim, float eps, int row0, const cosmos::CudaContext& ctx) {
  return qkv_rope_bf16q_launch(qb, q_rows, k_out, v_out, q_in, k_in, v_in, q_stride, kv_stride, qw, kw, cos, sin, n,
                               heads, kv_heads, head_dim, eps, row0, ctx);
}

bool qkv_rope_bf16q_cuda(__nv_bfloat16* qb, int q_rows, __nv_bfloat16* k_out, __nv_bfloat16* v_out, const float* q_in,
                         const float* k_in, const float* v_in, int q_stride, int kv_stride, const float* qw,
                         const float* kw, const float* cos, const float* sin, int n, int heads, int kv_heads,
                         int head_dim, float eps, int row0, const cosmos::CudaContext& ctx) {
  return qkv_rope_bf16q_launch(qb, q_rows, k_out, v_out, q_in, k_in, v_in, q_stride, kv_stride, qw, kw, cos, sin, n,
                               heads, kv_heads, head_dim, eps, row0, ctx);
}
