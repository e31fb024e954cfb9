// See matmul_wmma.h. Moved here unchanged from native/src/ops/matmul.cu (where it sat behind
// COSMOS_MATMUL_WMMA=1) when the mma.sync GEMM became the only engine path.
#include "matmul_wmma.h"

#include <cuda_bf16.h>
#include <mma.h>

#include "../native/src/core/cuda_common.h"

namespace {
using bf16 = __nv_bfloat16;

constexpr int TM = 64, TN = 128, TK = 32, TPAD = 8;  // pad keeps WMMA ldm a multiple of 8 and spreads banks
constexpr int kGemmThreads = 256;                    // 8 warps: 2 (rows of x) x 4 (rows of w), 32x32 each

__global__ void __launch_bounds__(kGemmThreads)
    gemm_bf16_kernel(float* __restrict__ out, const float* __restrict__ x, const bf16* __restrict__ w,
                     const float* __restrict__ bias, int n, int k, int m) {
  using namespace nvcuda;
  __shared__ __align__(32) bf16 As[TM][TK + TPAD];
  __shared__ __align__(32) bf16 Bs[TN][TK + TPAD];
  __shared__ __align__(32) float Cs[8][16 * 16];
  const int tid = threadIdx.x, warp = tid >> 5, lane = tid & 31;
  const int wm = warp >> 2, wn = warp & 3;
  const int row0 = blockIdx.y * TM, col0 = blockIdx.x * TN;

  wmma::fragment<wmma::accumulator, 16, 16, 16, float> acc[2][2];
#pragma unroll
  for (int a = 0; a < 2; ++a)
#pragma unroll
    for (int b = 0; b < 2; ++b) wmma::fill_fragment(acc[a][b], 0.f);

  // Per k-tile each thread stages 8 x values (one row, 8 consecutive k) and 2 x 8 weights.
  const int a_r = tid >> 2, a_c = (tid & 3) * 8;  // 64 rows x 4 chunks of 8
  const int b_r = tid >> 2, b_c = (tid & 3) * 8;  // rows b_r and b_r + 64
  float4 xa0, xa1;
  uint4 wb0, wb1;
  auto load = [&](int k0) {
    int gr = row0 + a_r, gk = k0 + a_c;
    if (gr < n && gk < k) {
      const float4* p = reinterpret_cast<const float4*>(x + (long long)gr * k + gk);
      xa0 = __ldg(p);
      xa1 = __ldg(p + 1);
    } else {
      xa0 = xa1 = make_float4(0.f, 0.f, 0.f, 0.f);
    }
    int g0 = col0 + b_r, g1 = col0 + b_r + 64;
    gk = k0 + b_c;
    wb0 =
        (g0 < m && gk < k) ? __ldg(reinterpret_cast<const uint4*>(w + (long long)g0 * k + gk)) : make_uint4(0, 0, 0, 0);
    wb1 =
        (g1 < m && gk < k) ? __ldg(reinterpret_cast<const uint4*>(w + (long long)g1 * k + gk)) : make_uint4(0, 0, 0, 0);
  };
  auto store = [&]() {
    __nv_bfloat162* ap = reinterpret_cast<__nv_bfloat162*>(&As[a_r][a_c]);
    ap[0] = __floats2bfloat162_rn(xa0.x, xa0.y);
    ap[1] = __floats2bfloat162_rn(xa0.z, xa0.w);
    ap[2] = __floats2bfloat162_rn(xa1.x, xa1.y);
    ap[3] = __floats2bfloat162_rn(xa1.z, xa1.w);
    *reinterpret_cast<uint4*>(&Bs[b_r][b_c]) = wb0;
    *reinterpret_cast<uint4*>(&Bs[b_r + 64][b_c]) = wb1;
  };

  load(0);
  for (int k0 = 0; k0 < k; k0 += TK) {
    __syncthreads();  // previous tile fully consumed
    store();
    __syncthreads();
    if (k0 + TK < k) load(k0 + TK);  // global loads of the next tile overlap this tile's MMAs
#pragma unroll
    for (int kk = 0; kk < TK; kk += 16) {
      wmma::fragment<wmma::matrix_a, 16, 16, 16, bf16, wmma::row_major> fa[2];
      wmma::fragment<wmma::matrix_b, 16, 16, 16, bf16, wmma::col_major> fb[2];
#pragma unroll
      for (int a = 0; a < 2; ++a) wmma::load_matrix_sync(fa[a], &As[wm * 32 + a * 16][kk], TK + TPAD);
        // B(k, j) = w[j][k]: the weight rows are the columns of B, i.e. col-major with ld = row pitch.
#pragma unroll
      for (int b = 0; b < 2; ++b) wmma::load_matrix_sync(fb[b], &Bs[wn * 32 + b * 16][kk], TK + TPAD);
#pragma unroll
      for (int a = 0; a < 2; ++a)
#pragma unroll
        for (int b = 0; b < 2; ++b) wmma::mma_sync(acc[a][b], fa[a], fb[b], acc[a][b]);
    }
  }
  // Epilogue through a per-warp 16x16 staging tile: bounds checks and bias on plain floats.
#pragma unroll
  for (int a = 0; a < 2; ++a)
#pragma unroll
    for (int b = 0; b < 2; ++b) {
      wmma::store_matrix_sync(Cs[warp], acc[a][b], 16, wmma::mem_row_major);
      __syncwarp();
      for (int e = lane; e < 256; e += 32) {
        int r = row0 + wm * 32 + a * 16 + (e >> 4), c = col0 + wn * 32 + b * 16 + (e & 15);
        if (r < n && c < m) out[(long long)r * m + c] = Cs[warp][e] + (bias ? bias[c] : 0.f);
      }
      __syncwarp();
    }
}

}  // namespace

void matmul_wmma_cuda(float* out, const float* x, const void* w, const float* bias, int n, int k, int m,
                      cudaStream_t stream) {
  if (n <= 0 || m <= 0) return;
  dim3 grid(cosmos::ceil_div(m, TN), cosmos::ceil_div(n, TM));
  gemm_bf16_kernel<<<grid, kGemmThreads, 0, stream>>>(out, x, static_cast<const bf16*>(w), bias, n, k, m);
  CUDA_CHECK_LAUNCH();
}
