// attention_fp8 on the device (see attention_fp8.h): the operands' preparation here, the attention itself in
// ops/flash_attention_wgmma.cu (Int8E4m3Tiles). Seven small launches before the kernel: the k and v absmax per head
// (block maxima, one atomicMax each), their scales, then q (a warp per row and head: its own scale) and k as int8,
// v as e4m3, in the kernel's padded head-major layouts (v transposed, keys in fp8_key_order inside every 32).
#ifndef COSMOS_CUDA
#define COSMOS_CUDA 1
#endif
#include <cuda_fp8.h>

#include <cstdint>
#include <stdexcept>
#include <string>

#include "../core/cuda_common.h"
#include "attention_fp8.h"
#include "flash_attention_wgmma.h"
#include "quantize_fp8.h"

namespace {
constexpr int kD = cosmos::kFlashWgmmaHeadDim;  // the operands' padded head dim
constexpr int kRowsPerBlock = 64;

// Row r of a [rows][heads][hd] tensor held in two parts: rows [0, n_a) of a, then rows of b (the [und | gen] keys).
struct Rows2 {
  const float* a;
  int n_a;
  const float* b;
  __device__ __forceinline__ const float* row(long long r, int heads, int hd) const {
    return r < n_a ? a + r * heads * hd : b + (r - n_a) * heads * hd;
  }
};

// amax[h] = max |x[r][h][:]| over rows (amax as f32 bits, zeroed before: non-negative floats order as their bits).
// Block (row chunk, head); hd % 4 == 0.
__global__ void amax_heads_kernel(unsigned* amax, Rows2 x, int rows, int heads, int hd) {
  const int h = blockIdx.y, r0 = blockIdx.x * kRowsPerBlock, per_row = hd / 4;
  const int r1 = min(rows, r0 + kRowsPerBlock);
  float m = 0.f;
  for (int i = threadIdx.x; i < (r1 - r0) * per_row; i += blockDim.x) {
    const int r = r0 + i / per_row, d = 4 * (i % per_row);
    const float4 v = __ldg(reinterpret_cast<const float4*>(x.row(r, heads, hd) + h * hd + d));
    m = fmaxf(m, absmax4(v));
  }
  for (int o = 16; o > 0; o >>= 1) m = fmaxf(m, __shfl_xor_sync(0xffffffffu, m, o));
  __shared__ float warp_max[8];
  if ((threadIdx.x & 31) == 0) warp_max[threadIdx.x / 32] = m;
  __syncthreads();
  if (threadIdx.x == 0) {
    for (int w = 1; w < blockDim.x / 32; ++w) m = fmaxf(m, warp_max[w]);
    m = fmaxf(m, warp_max[0]);
    atomicMax(amax + h, __float_as_uint(m));
  }
}

// scale[i] from amax[i]: the first n_int8 as int8 scales (k's), the rest as e4m3 scales (v's).
__global__ void scales_kernel(float* scale, const unsigned* amax, int n, int n_int8) {
  const int i = blockIdx.x * blockDim.x + threadIdx.x;
  if (i < n) {
    const float a = __uint_as_float(amax[i]);
    scale[i] = i < n_int8 ? int8_scale_for_absmax(a) : fp8_scale_for_absmax(a);
  }
}

// dst [heads][rows_pad][128] int8 bytes <- x [rows][heads][hd]: a warp per (row, head), 4 dims a lane; zeros past
// rows and hd. head_scale null: the row's own scale (written to row_scale [heads][rows_pad]; padding rows get the
// floor), else head_scale[h].
__global__ void to_int8_heads_kernel(uint8_t* __restrict__ dst, float* __restrict__ row_scale,
                                     const float* __restrict__ head_scale, Rows2 x, int rows, int rows_pad, int heads,
                                     int hd) {
  const long long w = ((long long)blockIdx.x * blockDim.x + threadIdx.x) / 32;
  const int lane = threadIdx.x & 31;
  if (w >= (long long)heads * rows_pad) return;
  const int h = (int)(w / rows_pad), r = (int)(w % rows_pad), d = 4 * lane;
  float4 v = make_float4(0.f, 0.f, 0.f, 0.f);
  if (r < rows && d < hd) v = __ldg(reinterpret_cast<const float4*>(x.row(r, heads, hd) + h * hd + d));
  float s;
  if (head_scale) {
    s = head_scale[h];
  } else {
    float m = absmax4(v);
    for (int o = 16; o > 0; o >>= 1) m = fmaxf(m, __shfl_xor_sync(0xffffffffu, m, o));
    s = int8_scale_for_absmax(m);
    if (lane == 0) row_scale[w] = s;
  }
  // Division, as the CPU twin (one correctly rounded f32 operation).
  const uint32_t b = int8_bits(v.x / s) | int8_bits(v.y / s) << 8 | int8_bits(v.z / s) << 16 | int8_bits(v.w / s) << 24;
  *reinterpret_cast<uint32_t*>(dst + w * kD + d) = b;
}

// dst [heads][128][rows_pad] bytes <- v [rows][heads][hd] / scale[h]: v transposed per head (keys contiguous), the
// keys of every 32 in fp8_key_order. A thread writes 16 positions of one dim (16 bytes); neighbouring threads take
// neighbouring dims, so each of the 16 reads is one coalesced row segment.
__global__ void to_e4m3_heads_t_kernel(uint8_t* __restrict__ dst, const float* __restrict__ scale, Rows2 x, int rows,
                                       int rows_pad, int heads, int hd) {
  const long long t = (long long)blockIdx.x * blockDim.x + threadIdx.x;
  const int groups = rows_pad / 16;
  if (t >= (long long)heads * groups * kD) return;
  const int d = (int)(t % kD), g = (int)(t / kD % groups), h = (int)(t / kD / groups);
  const float s = scale[h];
  uint32_t word[4] = {0, 0, 0, 0};
  if (d < hd) {
#pragma unroll
    for (int i = 0; i < 16; ++i) {
      const int pos = 16 * g + i, key = (pos & ~31) + fp8_key_order(pos & 31);
      const float v = key < rows ? __ldg(x.row(key, heads, hd) + h * hd + d) : 0.f;
      word[i / 4] |= fp8_e4m3_bits(v / s) << (8 * (i % 4));
    }
  }
  *reinterpret_cast<uint4*>(dst + ((long long)h * kD + d) * rows_pad + 16 * g) =
      make_uint4(word[0], word[1], word[2], word[3]);
}

unsigned blocks_for(long long threads, int per_block) { return (unsigned)((threads + per_block - 1) / per_block); }
}  // namespace

bool attention_fp8_cuda_supported(int n_kv, int head_dim, cudaStream_t stream) {
  return n_kv >= 1 && head_dim >= 8 && head_dim <= kD && head_dim % 8 == 0 &&
         cosmos::flash_attention_wgmma_available(stream);
}

void attention_fp8_cuda(float* out, const float* q, const float* k, const float* v, int n_q, int n_kv, int q_heads,
                        int kv_heads, int head_dim, int q_offset, bool causal, float scale,
                        const cosmos::CudaContext& ctx) {
  attention_fp8_cuda(out, q, k, v, n_kv, nullptr, nullptr, 0, n_q, q_heads, kv_heads, head_dim, q_offset, causal, scale,
                     ctx);
}

int attention_fp8_rows_pad(int n_q) {
  constexpr int T = cosmos::kFlashWgmmaTile;
  return (n_q + T - 1) / T * T;
}

namespace {
// Both forms: q as f32 rows (quantized here, q8.q null) or as the kernel's int8 operand already (q8).
void attention_fp8_run(float* out, const float* q, Int8QHeads q8, const float* k_a, const float* v_a, int n_a,
                       const float* k_b, const float* v_b, int n_b, int n_q, int q_heads, int kv_heads, int head_dim,
                       int q_offset, bool causal, float scale, const cosmos::CudaContext& ctx) {
  const int hd = head_dim, n_kv = n_a + n_b;
  if (kv_heads < 1 || q_heads % kv_heads != 0)
    throw std::invalid_argument("attention_fp8_cuda: q_heads must be a multiple of kv_heads, got " +
                                std::to_string(q_heads) + " / " + std::to_string(kv_heads));
  if (n_a < 0 || n_b < 0 || !attention_fp8_cuda_supported(n_kv, hd, ctx.stream))
    throw std::invalid_argument(
        "attention_fp8_cuda: needs head_dim 8..128 (a multiple of 8), n_kv >= 1 and an "
        "sm_90a build on an H100 / H200; got head_dim " +
        std::to_string(hd) + ", n_kv " + std::to_string(n_a) + " + " + std::to_string(n_b));
  if (n_q <= 0) return;
  constexpr int T = cosmos::kFlashWgmmaTile;
  static_assert(T == kFp8AttentionTile, "the CPU twin's softmax tile is the kernel's key tile");
  const int nq_pad = attention_fp8_rows_pad(n_q), nkv_pad = (n_kv + T - 1) / T * T;
  const cudaStream_t st = ctx.stream;
  const Rows2 qs{q, n_q, nullptr}, ks{k_a, n_a, k_b}, vs{v_a, n_a, v_b};
  cosmos::CudaPool& pool = cosmos::workspace_pool(ctx, "attention_fp8_cuda");
  cosmos::DeviceBuffer<uint8_t> qb, kb(pool, (size_t)kv_heads * nkv_pad * kD),
      vt(pool, (size_t)kv_heads * nkv_pad * kD);
  cosmos::DeviceBuffer<float> q_scale, kv_scale(pool, 2 * (size_t)kv_heads);
  cosmos::DeviceBuffer<unsigned> amax(pool, 2 * (size_t)kv_heads);
  CUDA_CHECK(cudaMemsetAsync(amax.get(), 0, amax.bytes(), st));
  const dim3 amax_grid(blocks_for(n_kv, kRowsPerBlock), kv_heads);
  amax_heads_kernel<<<amax_grid, 256, 0, st>>>(amax.get(), ks, n_kv, kv_heads, hd);
  amax_heads_kernel<<<amax_grid, 256, 0, st>>>(amax.get() + kv_heads, vs, n_kv, kv_heads, hd);
  scales_kernel<<<1, 2 * kv_heads, 0, st>>>(kv_scale.get(), amax.get(), 2 * kv_heads, kv_heads);
  if (!q8.q) {
    qb = cosmos::DeviceBuffer<uint8_t>(pool, (size_t)q_heads * nq_pad * kD);
    q_scale = cosmos::DeviceBuffer<float>(pool, (size_t)q_heads * nq_pad);
    to_int8_heads_kernel<<<blocks_for(32LL * q_heads * nq_pad, 256), 256, 0, st>>>(qb.get(), q_scale.get(), nullptr, qs,
                                                                                   n_q, nq_pad, q_heads, hd);
    q8 = Int8QHeads{qb.get(), q_scale.get()};
  }
  to_int8_heads_kernel<<<blocks_for(32LL * kv_heads * nkv_pad, 256), 256, 0, st>>>(kb.get(), nullptr, kv_scale.get(),
                                                                                   ks, n_kv, nkv_pad, kv_heads, hd);
  to_e4m3_heads_t_kernel<<<blocks_for((long long)kv_heads * (nkv_pad / 16) * kD, 256), 256, 0, st>>>(
      vt.get(), kv_scale.get() + kv_heads, vs, n_kv, nkv_pad, kv_heads, hd);
  CUDA_CHECK_LAUNCH();
  cosmos::flash_attention_wgmma_fp8(out, q8.q, kb.get(), vt.get(), q8.scale, kv_scale.get(), kv_scale.get() + kv_heads,
                                    n_q, n_kv, nq_pad, nkv_pad, q_heads, kv_heads, hd, q_offset, causal,
                                    scale * 1.4426950408889634f, st);
}
}  // namespace

void attention_fp8_cuda(float* out, const float* q, const float* k_a, const float* v_a, int n_a, const float* k_b,
                        const float* v_b, int n_b, int n_q, int q_heads, int kv_heads, int head_dim, int q_offset,
                        bool causal, float scale, const cosmos::CudaContext& ctx) {
  attention_fp8_run(out, q, Int8QHeads{}, k_a, v_a, n_a, k_b, v_b, n_b, n_q, q_heads, kv_heads, head_dim, q_offset,
                    causal, scale, ctx);
}

void attention_fp8_cuda(float* out, Int8QHeads q, const float* k_a, const float* v_a, int n_a, const float* k_b,
                        const float* v_b, int n_b, int n_q, int q_heads, int kv_heads, int head_dim, int q_offset,
                        bool causal, float scale, const cosmos::CudaContext& ctx) {
  if (!q.q || !q.scale) throw std::invalid_argument("attention_fp8_cuda: the int8 q or its scales are missing");
  attention_fp8_run(out, nullptr, q, k_a, v_a, n_a, k_b, v_b, n_b, n_q, q_heads, kv_heads, head_dim, q_offset, causal,
                    scale, ctx);
}
