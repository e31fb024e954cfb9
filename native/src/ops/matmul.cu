// matmul on the GPU: out[n,m] = x[n,k] · w[m,k]^T (+ bias), x and out f32, w f32 or bf16.
//
// Three paths, picked by shape:
//  * n <= 8 (decode, small batches): GEMV. Each warp owns one weight row and streams it once with
//    16-byte loads, dotting it against all n rows of x (which sit in L1/L2), f32 accumulate. Decode is
//    bound by the weight stream, so the only goal is bytes in flight; tensor cores would not help.
//  * n > 8, bf16 weights (k % 8 == 0, 16-byte aligned x and w): tensor-core GEMM. x is first rounded to
//    bf16 by a small cast kernel into a workspace from the context's pool (bf16 x bf16 -> f32 accumulate, as cuBLAS
//    GemmEx with a bf16 copy of x would give), then gemm_mma_kernel: 128x128x64 block tiles, 8 warps of
//    64x32, mma.sync m16n8k16 fed by ldmatrix from XOR-swizzled shared memory (conflict-free, no
//    padding), and a 3-stage cp.async pipeline so the copies of the next two k-tiles of both operands
//    overlap the MMAs (96 KiB of shared memory: two blocks per SM). We write our own GEMM because
//    cuBLAS is not available to this build (CI and the dev machine ship cudart only). The previous
//    WMMA kernel (64x128x32, x rounded while staged, ~120 TFLOP/s on an H100) lives in
//    bench/matmul_wmma.cu, compared by bench/gemm_bench.cu.
//    On an H200 (sm_90; ops/gemm_wgmma.cu is built for sm_90a) the multiply itself goes to gemm_wgmma (wgmma + TMA,
//    1.6-2x this kernel) for n >= 128 and k % 8 == 0; COSMOS_WGMMA=0 keeps the mma.sync kernel.
//  * n > 8, f32 weights (the tiny test checkpoint, the f32 vision tower): f32 SIMT GEMM, 64x64
//    tiles, 4x4 outputs per thread — exact f32 so the CUDA path matches the CPU reference to 1e-5.
#ifndef COSMOS_CUDA
#define COSMOS_CUDA 1
#endif
#include "matmul.h"

#include <cuda_bf16.h>

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <stdexcept>

#include "../core/cuda_common.h"
#include "../core/cuda_pdl.cuh"
#include "../core/cuda_reduce.h"
#include "gemm_wgmma.h"
#include "gemv_common.cuh"

namespace {
using bf16 = __nv_bfloat16;

using cosmos::gemv::bf_hi;
using cosmos::gemv::bf_lo;

// ---------------------------------------------------------------- GEMV (n <= 8)
constexpr int kGemvWarps = 4;

// Vector path: k % 8 == 0 and 16-byte aligned rows. One warp per weight row.
template <int N, bool BF16>
__global__ void __launch_bounds__(kGemvWarps * 32)
    gemv_vec_kernel(float* __restrict__ out, const float* __restrict__ x, const void* __restrict__ w,
                    const float* __restrict__ bias, int k, int m) {
  const int row = blockIdx.x * kGemvWarps + (threadIdx.x >> 5);
  const int lane = threadIdx.x & 31;
  if (row >= m) return;
  cosmos::pdl_wait();  // PDL (core/cuda_pdl.cuh): launched before the kernel that writes x has finished
  float acc[N];
#pragma unroll
  for (int r = 0; r < N; ++r) acc[r] = 0.f;
  const int chunks = k / 8;  // 8 weights per step
  // Four independent 16-byte weight loads are issued before any is used (2 KB in flight per warp).
  // Measured on an H100 (D2D copy 3.0 TB/s): 2.2 TB/s (k=12288) to 2.7 TB/s (lm_head) of weight reads,
  // the same as the plain strided loop — the remaining gap is for a later tuning pass.
  auto fma8 = [&](const float wv[8], int c) {
#pragma unroll
    for (int r = 0; r < N; ++r) {
      const float4* xr = reinterpret_cast<const float4*>(x + (long long)r * k) + 2 * c;
      float4 a = __ldg(xr), b = __ldg(xr + 1);
      acc[r] +=
          wv[0] * a.x + wv[1] * a.y + wv[2] * a.z + wv[3] * a.w + wv[4] * b.x + wv[5] * b.y + wv[6] * b.z + wv[7] * b.w;
    }
  };
  if (BF16) {
    const uint4* wr = reinterpret_cast<const uint4*>(static_cast<const bf16*>(w) + (long long)row * k);
    auto use = [&](uint4 u, int c) {
      float wv[8] = {bf_lo(u.x), bf_hi(u.x), bf_lo(u.y), bf_hi(u.y), bf_lo(u.z), bf_hi(u.z), bf_lo(u.w), bf_hi(u.w)};
      fma8(wv, c);
    };
    int c = lane;
    for (; c + 96 < chunks; c += 128) {
      uint4 u0 = __ldg(wr + c), u1 = __ldg(wr + c + 32), u2 = __ldg(wr + c + 64), u3 = __ldg(wr + c + 96);
      use(u0, c);
      use(u1, c + 32);
      use(u2, c + 64);
      use(u3, c + 96);
    }
    for (; c < chunks; c += 32) use(__ldg(wr + c), c);
  } else {
    const float4* wr = reinterpret_cast<const float4*>(static_cast<const float*>(w) + (long long)row * k);
    auto use = [&](float4 w0, float4 w1, int c) {
      float wv[8] = {w0.x, w0.y, w0.z, w0.w, w1.x, w1.y, w1.z, w1.w};
      fma8(wv, c);
    };
    int c = lane;
    for (; c + 32 < chunks; c += 64) {
      float4 a0 = __ldg(wr + 2 * c), a1 = __ldg(wr + 2 * c + 1), b0 = __ldg(wr + 2 * c + 64),
             b1 = __ldg(wr + 2 * c + 65);
      use(a0, a1, c);
      use(b0, b1, c + 32);
    }
    for (; c < chunks; c += 32) use(__ldg(wr + 2 * c), __ldg(wr + 2 * c + 1), c);
  }
#pragma unroll
  for (int r = 0; r < N; ++r) {
    float s = cosmos::warp_sum(acc[r]);
    if (lane == 0) out[(long long)r * m + row] = s + (bias ? bias[row] : 0.f);
  }
}

// Scalar fallback for odd k / unaligned pointers (rare: vision patch dims are multiples of 8).
template <bool BF16>
__global__ void gemv_scalar_kernel(float* out, const float* x, const void* w, const float* bias, int n, int k, int m) {
  const int row = blockIdx.x * kGemvWarps + (threadIdx.x >> 5);
  const int lane = threadIdx.x & 31;
  if (row >= m) return;
  cosmos::pdl_wait();
  for (int r = 0; r < n; ++r) {
    float acc = 0.f;
    for (int c = lane; c < k; c += 32) {
      float wv = BF16 ? __bfloat162float(static_cast<const bf16*>(w)[(long long)row * k + c])
                      : static_cast<const float*>(w)[(long long)row * k + c];
      acc += wv * x[(long long)r * k + c];
    }
    acc = cosmos::warp_sum(acc);
    if (lane == 0) out[(long long)r * m + row] = acc + (bias ? bias[row] : 0.f);
  }
}

// ---------------------------------------------------------------- bf16 tensor-core GEMM, mma.sync pipeline
// Operands in shared memory: per stage an A tile (GM rows of bf16 x, GK = 64 values = 128 bytes each)
// and a B tile (GN weight rows, same layout). Both are k-contiguous, which is what ldmatrix (no .trans)
// hands to mma.sync's row-major A and col-major B. The 16-byte chunk c of row r is stored at chunk
// c ^ (r & 7): the 8 rows one ldmatrix reads (same logical chunk, consecutive rows) land on 8 distinct
// bank groups, and the cp.async writes of a warp (4 rows x 8 chunks) do too.
constexpr int GM = 128, GN = 128, GK = 64, kStages = 3;
constexpr int kMmaThreads = 256;                    // 8 warps: 2 (x rows, 64 each) x 4 (w rows, 32 each)
constexpr int kTileBytes = GM * GK * 2;             // 16 KiB per operand tile (GM == GN)
constexpr int kMmaSmem = kStages * 2 * kTileBytes;  // 96 KiB
// Largest bf16 copy of x made at once; taller x is done in row chunks (multiples of GM).
constexpr size_t kCastCapBytes = (size_t)64 << 20;

__device__ __forceinline__ uint32_t smem_u32(const void* p) { return (uint32_t)__cvta_generic_to_shared(p); }
// 16-byte global -> shared copy that bypasses L1; with pred false it writes 16 zero bytes and reads nothing.
__device__ __forceinline__ void cp_async16(uint32_t dst, const void* src, bool pred) {
  asm volatile("cp.async.cg.shared.global [%0], [%1], 16, %2;\n" ::"r"(dst), "l"(src), "r"(pred ? 16 : 0));
}
__device__ __forceinline__ void cp_async_commit() { asm volatile("cp.async.commit_group;\n" ::); }
template <int N>
__device__ __forceinline__ void cp_async_wait() {
  asm volatile("cp.async.wait_group %0;\n" ::"n"(N));
}
__device__ __forceinline__ void ldsm_x4(uint32_t* r, uint32_t addr) {
  asm volatile("ldmatrix.sync.aligned.m8n8.x4.shared.b16 {%0,%1,%2,%3}, [%4];\n"
               : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3])
               : "r"(addr));
}
// d += a * b, 16x8x16, bf16 inputs, f32 accumulators.
__device__ __forceinline__ void mma_bf16(float* d, const uint32_t* a, uint32_t b0, uint32_t b1) {
  asm("mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, {%0,%1,%2,%3};\n"
      : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3])
      : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1));
}
__device__ __forceinline__ uint32_t swz(int row, int chunk) { return row * (GK * 2) + ((chunk ^ (row & 7)) << 4); }

// xb [n, k] bf16, w [m, k] bf16 (k % 8 == 0, rows 16-byte aligned). Block (bx, by) computes out rows
// [bx*GM, +GM) x columns [by*GN, +GN): blockIdx.x walks the rows of x, so the blocks resident at once
// share a few weight tiles (read from HBM about once) while all of x sits in L2.
__global__ void __launch_bounds__(kMmaThreads, 2)
    gemm_mma_kernel(float* __restrict__ out, const bf16* __restrict__ xb, const bf16* __restrict__ w,
                    const float* __restrict__ bias, int n, int k, int m) {
  extern __shared__ __align__(128) unsigned char smem[];
  const uint32_t sbase = smem_u32(smem);
  const int tid = threadIdx.x, warp = tid >> 5, lane = tid & 31;
  const int wm = warp >> 2, wn = warp & 3;
  const int row0 = blockIdx.x * GM, col0 = blockIdx.y * GN;
  const int ktiles = (k + GK - 1) / GK;

  // Copy assignment: 1024 chunks per operand tile, 4 per thread: rows (tid >> 3) + 32 i, chunk tid & 7.
  const int ld_r = tid >> 3, ld_c = tid & 7;
  auto load = [&](int stage, int kt) {
    const int gk = kt * GK + ld_c * 8;
    const bool kin = gk < k;
    const uint32_t sa = sbase + stage * 2 * kTileBytes, sb = sa + kTileBytes;
#pragma unroll
    for (int i = 0; i < 4; ++i) {
      const int r = ld_r + 32 * i;
      const int gr = row0 + r, gc = col0 + r;
      const bool pa = kin && gr < n, pb = kin && gc < m;
      cp_async16(sa + swz(r, ld_c), pa ? xb + (long long)gr * k + gk : xb, pa);
      cp_async16(sb + swz(r, ld_c), pb ? w + (long long)gc * k + gk : w, pb);
    }
  };

  float acc[4][4][4];
#pragma unroll
  for (int i = 0; i < 4; ++i)
#pragma unroll
    for (int j = 0; j < 4; ++j)
#pragma unroll
      for (int e = 0; e < 4; ++e) acc[i][j][e] = 0.f;

#pragma unroll
  for (int s = 0; s < kStages - 1; ++s) {
    if (s < ktiles) load(s, s);
    cp_async_commit();  // always commit (maybe empty) so the group count stays in step
  }

  // ldmatrix lane roles. A (x4 = one m16k16 fragment): lanes 0-15 rows 0-15 at k 0-7, lanes 16-31 the
  // same rows at k 8-15. B (x4 = two n8k16 fragments): lanes 0-7 / 8-15 rows 0-7 at k 0-7 / 8-15,
  // lanes 16-31 the same for rows 8-15.
  const int a_row = wm * 64 + (lane & 15), a_kc = lane >> 4;
  const int b_row = wn * 32 + (lane & 7) + ((lane >> 4) << 3), b_kc = (lane >> 3) & 1;

  for (int kt = 0; kt < ktiles; ++kt) {
    cp_async_wait<kStages - 2>();  // tile kt has landed (for this thread's copies) ...
    __syncthreads();               // ... for everyone's, and all warps are done with tile kt - 1's stage
    {
      const int nk = kt + kStages - 1;
      if (nk < ktiles) load(nk % kStages, nk);  // refill the stage consumed in iteration kt - 1
      cp_async_commit();
    }
    const uint32_t sa = sbase + (kt % kStages) * 2 * kTileBytes, sb = sa + kTileBytes;
#pragma unroll
    for (int kk = 0; kk < GK / 16; ++kk) {
      uint32_t a[4][4], b[4][2];
#pragma unroll
      for (int i = 0; i < 4; ++i) ldsm_x4(a[i], sa + swz(a_row + 16 * i, 2 * kk + a_kc));
#pragma unroll
      for (int j = 0; j < 2; ++j) {
        uint32_t r[4];
        ldsm_x4(r, sb + swz(b_row + 16 * j, 2 * kk + b_kc));
        b[2 * j][0] = r[0];
        b[2 * j][1] = r[1];
        b[2 * j + 1][0] = r[2];
        b[2 * j + 1][1] = r[3];
      }
#pragma unroll
      for (int i = 0; i < 4; ++i)
#pragma unroll
        for (int j = 0; j < 4; ++j) mma_bf16(acc[i][j], a[i], b[j][0], b[j][1]);
    }
  }
  cp_async_wait<0>();  // nothing real is left in flight (only empty groups), but leave no copy behind

  // Epilogue straight from the accumulators: c0,c1 at (lane/4, 2*(lane%4) + {0,1}) of each 16x8 tile,
  // c2,c3 eight rows below. Pairs go out as float2 when m is even (then 8-byte aligned).
  const bool pair = (m & 1) == 0;
#pragma unroll
  for (int j = 0; j < 4; ++j) {
    const int c = col0 + wn * 32 + j * 8 + (lane & 3) * 2;
    if (c >= m) continue;
    const bool c1ok = c + 1 < m;
    const float b0 = bias ? bias[c] : 0.f, b1 = (bias && c1ok) ? bias[c + 1] : 0.f;
#pragma unroll
    for (int i = 0; i < 4; ++i)
#pragma unroll
      for (int h = 0; h < 2; ++h) {
        const int r = row0 + wm * 64 + i * 16 + (lane >> 2) + h * 8;
        if (r >= n) continue;
        float* o = out + (long long)r * m + c;
        const float v0 = acc[i][j][2 * h] + b0, v1 = acc[i][j][2 * h + 1] + b1;
        if (pair) {
          *reinterpret_cast<float2*>(o) = make_float2(v0, v1);
        } else {
          o[0] = v0;
          if (c1ok) o[1] = v1;
        }
      }
  }
}

// x f32 -> bf16 (round to nearest even), 8 values per thread step; count8 = elements / 8.
__global__ void cast_bf16_kernel(bf16* __restrict__ dst, const float* __restrict__ src, long long count8) {
  for (long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x; i < count8;
       i += (long long)gridDim.x * blockDim.x) {
    const float4* s = reinterpret_cast<const float4*>(src) + 2 * i;
    const float4 a = __ldg(s), b = __ldg(s + 1);
    __nv_bfloat162 p0 = __floats2bfloat162_rn(a.x, a.y), p1 = __floats2bfloat162_rn(a.z, a.w),
                   p2 = __floats2bfloat162_rn(b.x, b.y), p3 = __floats2bfloat162_rn(b.z, b.w);
    uint4 u;
    u.x = *reinterpret_cast<uint32_t*>(&p0);
    u.y = *reinterpret_cast<uint32_t*>(&p1);
    u.z = *reinterpret_cast<uint32_t*>(&p2);
    u.w = *reinterpret_cast<uint32_t*>(&p3);
    reinterpret_cast<uint4*>(dst)[i] = u;
  }
}

// Hopper: the wgmma + TMA GEMM (ops/gemm_wgmma.cu) takes the same bf16 operands instead of the mma.sync kernel when
// this build carries its sm_90a code, the device is sm_90, the shape suits it (n >= 128 rows, k % 8 == 0,
// 16-byte aligned) and COSMOS_WGMMA is not 0. H200, 2026-11-29 (bench/wgmma_notes.md): 540-660 TFLOP/s against
// 250-350 for the mma.sync kernel on the Generator's and the 8B prefill's shapes (the version: gemm_wgmma_pick).
bool use_wgmma(const bf16* xb, const bf16* w, int n, int k, int m, cudaStream_t stream) {
  static const bool allowed = [] {
    const char* e = std::getenv("COSMOS_WGMMA");
    return !(e && e[0] == '0' && e[1] == 0);
  }();
  return allowed && cosmos::gemm_wgmma_shape_ok(xb, w, n, k, m) && cosmos::gemm_wgmma_available(stream);
}
// The bf16 copy of x is a workspace from the context's pool (at most kCastCapBytes; taller x is cast and
// multiplied in row chunks), handed back when the launches are enqueued: see core/cuda_context.h.
void gemm_mma(float* out, const float* x, const bf16* w, const float* bias, int n, int k, int m,
              const cosmos::CudaContext& ctx) {
  const cudaStream_t s = ctx.stream;
  long long chunk = (long long)(kCastCapBytes / ((size_t)k * 2)) / GM * GM;
  if (chunk < GM) chunk = GM;
  if (chunk > n) chunk = n;
  cosmos::DeviceBuffer<bf16> xbuf(cosmos::workspace_pool(ctx, "matmul_cuda (bf16 GEMM)"), (size_t)chunk * k);
  bf16* xb = xbuf.get();
  for (long long r0 = 0; r0 < n; r0 += chunk) {
    const int rows = (int)(n - r0 < chunk ? n - r0 : chunk);
    const long long count8 = (long long)rows * k / 8;
    cast_bf16_kernel<<<cosmos::elementwise_blocks(count8), 256, 0, s>>>(xb, x + r0 * k, count8);
    CUDA_CHECK_LAUNCH();
    matmul_bf16_cuda(out + r0 * m, xb, w, bias, rows, k, m, ctx);  // wgmma where it can, else mma.sync
  }
}

// ---------------------------------------------------------------- f32 SIMT GEMM (any k)
constexpr int SM_ = 64, SN = 64, SK = 16;

template <bool BF16>
__global__ void __launch_bounds__(256)
    gemm_simt_kernel(float* __restrict__ out, const float* __restrict__ x, const void* __restrict__ w,
                     const float* __restrict__ bias, int n, int k, int m) {
  __shared__ float As[SK][SM_ + 4];  // k-major so the inner loop reads 4 consecutive rows at once
  __shared__ float Bs[SK][SN + 4];
  const int tid = threadIdx.x, tx = tid & 15, ty = tid >> 4;
  const int row0 = blockIdx.y * SM_, col0 = blockIdx.x * SN;
  float acc[4][4] = {};
  for (int k0 = 0; k0 < k; k0 += SK) {
    for (int e = tid; e < SM_ * SK; e += 256) {
      int r = e / SK, c = e % SK, gr = row0 + r, gk = k0 + c;
      As[c][r] = (gr < n && gk < k) ? x[(long long)gr * k + gk] : 0.f;
      int gc = col0 + r;
      float wv = 0.f;
      if (gc < m && gk < k)
        wv = BF16 ? __bfloat162float(static_cast<const bf16*>(w)[(long long)gc * k + gk])
                  : static_cast<const float*>(w)[(long long)gc * k + gk];
      Bs[c][r] = wv;
    }
    __syncthreads();
#pragma unroll
    for (int kk = 0; kk < SK; ++kk) {
      float a[4], b[4];
#pragma unroll
      for (int i = 0; i < 4; ++i) {
        a[i] = As[kk][ty * 4 + i];
        b[i] = Bs[kk][tx * 4 + i];
      }
#pragma unroll
      for (int i = 0; i < 4; ++i)
#pragma unroll
        for (int j = 0; j < 4; ++j) acc[i][j] += a[i] * b[j];
    }
    __syncthreads();
  }
#pragma unroll
  for (int i = 0; i < 4; ++i)
#pragma unroll
    for (int j = 0; j < 4; ++j) {
      int r = row0 + ty * 4 + i, c = col0 + tx * 4 + j;
      if (r < n && c < m) out[(long long)r * m + c] = acc[i][j] + (bias ? bias[c] : 0.f);
    }
}

template <bool BF16>
void gemv(float* out, const float* x, const void* w, const float* bias, int n, int k, int m, bool vec, cudaStream_t s) {
  dim3 grid(cosmos::ceil_div(m, kGemvWarps)), block(kGemvWarps * 32);
  if (!vec) {
    cosmos::launch_pdl(gemv_scalar_kernel<BF16>, grid, block, 0, s, out, x, w, bias, n, k, m);
    return;
  }
  switch (n) {
    case 1:
      cosmos::launch_pdl(gemv_vec_kernel<1, BF16>, grid, block, 0, s, out, x, w, bias, k, m);
      break;
    case 2:
      cosmos::launch_pdl(gemv_vec_kernel<2, BF16>, grid, block, 0, s, out, x, w, bias, k, m);
      break;
    case 3:
      cosmos::launch_pdl(gemv_vec_kernel<3, BF16>, grid, block, 0, s, out, x, w, bias, k, m);
      break;
    case 4:
      cosmos::launch_pdl(gemv_vec_kernel<4, BF16>, grid, block, 0, s, out, x, w, bias, k, m);
      break;
    case 5:
      cosmos::launch_pdl(gemv_vec_kernel<5, BF16>, grid, block, 0, s, out, x, w, bias, k, m);
      break;
    case 6:
      cosmos::launch_pdl(gemv_vec_kernel<6, BF16>, grid, block, 0, s, out, x, w, bias, k, m);
      break;
    case 7:
      cosmos::launch_pdl(gemv_vec_kernel<7, BF16>, grid, block, 0, s, out, x, w, bias, k, m);
      break;
    default:
      cosmos::launch_pdl(gemv_vec_kernel<8, BF16>, grid, block, 0, s, out, x, w, bias, k, m);
      break;
  }
}

inline bool aligned16(const void* p) { return (reinterpret_cast<uintptr_t>(p) & 15) == 0; }
}  // namespace

void matmul_cuda(float* out, const float* x, const void* w, WType wt, const float* bias, int n, int k, int m,
                 const cosmos::CudaContext& ctx) {
  const cudaStream_t stream = ctx.stream;
  if (n <= 0 || m <= 0) return;
  const bool bf = wt == WType::BF16;
  const bool vec = k % 8 == 0 && aligned16(x) && aligned16(w);
  if (n <= 8) {
    if (bf)
      gemv<true>(out, x, w, bias, n, k, m, vec, stream);
    else
      gemv<false>(out, x, w, bias, n, k, m, vec, stream);
  } else if (bf && vec) {
    gemm_mma(out, x, static_cast<const bf16*>(w), bias, n, k, m, ctx);
    return;
  } else {
    dim3 grid(cosmos::ceil_div(m, SN), cosmos::ceil_div(n, SM_));
    if (bf)
      gemm_simt_kernel<true><<<grid, 256, 0, stream>>>(out, x, w, bias, n, k, m);
    else
      gemm_simt_kernel<false><<<grid, 256, 0, stream>>>(out, x, w, bias, n, k, m);
  }
  CUDA_CHECK_LAUNCH();
}

namespace {
// x [n, k] f32 cast to bf16 in equal row chunks of at most kCastCapBytes (at least 256 rows, so each is >= 128 rows,
// as gemm_wgmma needs, when n >= 128); gemm(xb, r0, rows) multiplies each chunk.
template <class Gemm>
void in_bf16_chunks(const float* x, int n, int k, const char* op, const cosmos::CudaContext& ctx, Gemm gemm) {
  const long long cap = std::max<long long>(256, (long long)(kCastCapBytes / ((size_t)k * 2)));
  const long long chunks = (n + cap - 1) / cap, per = (n + chunks - 1) / chunks;
  cosmos::DeviceBuffer<bf16> xbuf(cosmos::workspace_pool(ctx, op), (size_t)per * k);
  for (long long r0 = 0; r0 < n; r0 += per) {
    const int rows = (int)std::min<long long>(per, n - r0);
    const long long count8 = (long long)rows * k / 8;
    cast_bf16_kernel<<<cosmos::elementwise_blocks(count8), 256, 0, ctx.stream>>>(xbuf.get(), x + r0 * k, count8);
    CUDA_CHECK_LAUNCH();
    gemm(xbuf.get(), r0, rows);
  }
}
// COSMOS_FUSED_<NAME>=0: the fused epilogue off (the MLP's steps apart: the comparison baseline). Read once.
bool fused_allowed(const char* var) {
  const char* e = std::getenv(var);
  return !(e && e[0] == '0' && e[1] == 0);
}
}  // namespace

bool matmul_swiglu_supported(const void* x, const void* w, WType wt, int n, int k, int inter,
                             const cosmos::CudaContext& ctx) {
  static const bool allowed = fused_allowed("COSMOS_FUSED_SWIGLU");
  return allowed && wt == WType::BF16 && aligned16(x) && cosmos::gemm_wgmma_swiglu_shape_ok(w, w, n, k, inter) &&
         use_wgmma(static_cast<const bf16*>(w), static_cast<const bf16*>(w), n, k, 2 * inter, ctx.stream);
}

void matmul_swiglu_cuda(__nv_bfloat16* h, const float* x, const void* w, int n, int k, int inter,
                        const cosmos::CudaContext& ctx) {
  in_bf16_chunks(x, n, k, "matmul_swiglu_cuda", ctx, [&](const bf16* xb, long long r0, int rows) {
    cosmos::gemm_wgmma_swiglu(h + r0 * inter, xb, static_cast<const bf16*>(w), rows, k, inter, ctx);
  });
}

void matmul_swiglu_bf16_cuda(__nv_bfloat16* h, const __nv_bfloat16* xb, const void* w, int n, int k, int inter,
                             const cosmos::CudaContext& ctx) {
  cosmos::gemm_wgmma_swiglu(h, xb, static_cast<const bf16*>(w), n, k, inter, ctx);
}

bool matmul_gelu_supported(const void* x, const void* w, WType wt, int n, int k, int m,
                           const cosmos::CudaContext& ctx) {
  static const bool allowed = fused_allowed("COSMOS_FUSED_GELU");
  // m % 8: h's rows stay 16-byte multiples, as the bf16 GEMM that reads it (matmul_bf16_cuda) needs.
  return allowed && wt == WType::BF16 && aligned16(x) && m % 8 == 0 &&
         cosmos::gemm_wgmma_gelu_shape_ok(w, w, n, k, m) &&
         use_wgmma(static_cast<const bf16*>(w), static_cast<const bf16*>(w), n, k, m, ctx.stream);
}

void matmul_gelu_cuda(__nv_bfloat16* h, const float* x, const void* w, const float* bias, int n, int k, int m,
                      bool tanh, const cosmos::CudaContext& ctx) {
  in_bf16_chunks(x, n, k, "matmul_gelu_cuda", ctx, [&](const bf16* xb, long long r0, int rows) {
    cosmos::gemm_wgmma_gelu(h + r0 * m, xb, static_cast<const bf16*>(w), bias, rows, k, m, tanh, ctx);
  });
}

void matmul_gelu_bf16_cuda(__nv_bfloat16* h, const __nv_bfloat16* xb, const void* w, const float* bias, int n, int k,
                           int m, bool tanh, const cosmos::CudaContext& ctx) {
  // One launch: matmul_gelu_cuda's too up to its cast cap (kCastCapBytes / 2k rows: 29k at the tower's k = 1152), so
  // the same tiles and the same numbers there.
  cosmos::gemm_wgmma_gelu(h, xb, static_cast<const bf16*>(w), bias, n, k, m, tanh, ctx);
}

bool matmul_bf16_out_supported(const void* xb, const void* w, WType wt, int n, int k, int m,
                               const cosmos::CudaContext& ctx) {
  return wt == WType::BF16 && aligned16(xb) && cosmos::gemm_wgmma_gelu_shape_ok(xb, w, n, k, m) &&
         use_wgmma(static_cast<const bf16*>(xb), static_cast<const bf16*>(w), n, k, m, ctx.stream);
}

void matmul_bf16_out_cuda(__nv_bfloat16* out, const __nv_bfloat16* xb, const void* w, const float* bias, int n, int k,
                          int m, const cosmos::CudaContext& ctx) {
  if (n <= 0 || m <= 0) return;
  if (!matmul_bf16_out_supported(xb, w, WType::BF16, n, k, m, ctx))
    throw std::invalid_argument("matmul_bf16_out_cuda: only on the wgmma GEMM (matmul_bf16_out_supported)");
  cosmos::gemm_wgmma_bf16_out(out, xb, static_cast<const bf16*>(w), bias, n, k, m, ctx);
}

void matmul_add_cuda(float* out, const float* x, const void* w, const float* bias, int n, int k, int m,
                     const cosmos::CudaContext& ctx) {
  if (n <= 0 || m <= 0) return;
  if (!matmul_bf16_add_supported(w, w, WType::BF16, n, k, m, ctx))  // (x goes through the aligned workspace)
    throw std::invalid_argument("matmul_add_cuda: only on the wgmma GEMM (matmul_bf16_add_supported)");
  in_bf16_chunks(x, n, k, "matmul_add_cuda", ctx, [&](const bf16* xb, long long r0, int rows) {
    cosmos::gemm_wgmma_add(out + r0 * m, xb, static_cast<const bf16*>(w), bias, rows, k, m, ctx);
  });
}

bool matmul_bf16_add_supported(const void* xb, const void* w, WType wt, int n, int k, int m,
                               const cosmos::CudaContext& ctx) {
  return wt == WType::BF16 && use_wgmma(static_cast<const bf16*>(xb), static_cast<const bf16*>(w), n, k, m, ctx.stream);
}

void matmul_bf16_add_cuda(float* out, const __nv_bfloat16* xb, const void* w, const float* bias, int n, int k, int m,
                          const cosmos::CudaContext& ctx) {
  if (n <= 0 || m <= 0) return;
  if (!matmul_bf16_add_supported(xb, w, WType::BF16, n, k, m, ctx))
    throw std::invalid_argument("matmul_bf16_add_cuda: only on the wgmma GEMM (matmul_bf16_add_supported)");
  cosmos::gemm_wgmma_add(out, xb, static_cast<const bf16*>(w), bias, n, k, m, ctx);
}

void matmul_bf16_add_bf16_cuda(__nv_bfloat16* out, const __nv_bfloat16* xb, const void* w, const float* bias, int n,
                               int k, int m, const cosmos::CudaContext& ctx) {
  if (n <= 0 || m <= 0) return;
  if (!matmul_bf16_out_supported(xb, w, WType::BF16, n, k, m, ctx))
    throw std::invalid_argument("matmul_bf16_add_bf16_cuda: only on the wgmma GEMM (matmul_bf16_out_supported)");
  cosmos::gemm_wgmma_add_bf16(out, xb, static_cast<const bf16*>(w), bias, n, k, m, ctx);
}

void matmul_bf16_cuda(float* out, const __nv_bfloat16* xb, const void* w, const float* bias, int n, int k, int m,
                      const cosmos::CudaContext& ctx) {
  if (n <= 0 || m <= 0) return;
  const bf16* wb = static_cast<const bf16*>(w);
  if (use_wgmma(xb, wb, n, k, m, ctx.stream)) {
    cosmos::gemm_wgmma(out, xb, wb, bias, n, k, m, cosmos::gemm_wgmma_pick(n, k, m), ctx);
    return;
  }
  if (k % 8 != 0 || !aligned16(xb) || !aligned16(w))
    throw std::invalid_argument("matmul_bf16_cuda: k must be a multiple of 8 and x, w 16-byte aligned");
  static const bool attr = [] {  // opt in to more than 48 KiB of dynamic shared memory, once
    CUDA_CHECK(cudaFuncSetAttribute(gemm_mma_kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, kMmaSmem));
    return true;
  }();
  (void)attr;
  dim3 grid(cosmos::ceil_div(n, GM), cosmos::ceil_div(m, GN));
  gemm_mma_kernel<<<grid, kMmaThreads, kMmaSmem, ctx.stream>>>(out, xb, wb, bias, n, k, m);
  CUDA_CHECK_LAUNCH();
}
