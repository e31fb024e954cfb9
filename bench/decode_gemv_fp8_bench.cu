// The fp8-weight decode GEMVs (ops/gemv_fp8: COSMOS_FP8_WEIGHTS=1, Qwen3-8B shapes, batch 1) against a read of the
// same bytes, and variants of their kernel, each timed alone. The engine's fp8 decode streams its layers at ~2.1 TB/s
// where the bf16 GEMVs reach 3.2-3.8 (bench/README.md, "FP8 weights for decode"): an e4m3 row is half a bf16 row's
// bytes, so a warp has half as many bytes in flight, and each 16-byte weight load brings 64 bytes of f32 x with it
// (read from L1 per row pair). What is varied, on the engine's scheme (lane-strided 16-value chunks, each row's chunks
// summed in the same order, so every variant's output must equal the engine kernel's bit for bit):
//   P        rows a warp (the SwiGLU form: gate / up row pairs), sharing each x load (the engine: 2 rows, 1 pair)
//   U        16-byte chunks per row and lane in flight (the engine: 4)
//   W        warps per block (the engine: 4)
//   XS       persistent blocks (SMs x resident) that stage x in shared memory once, then stride over the rows
// Rows: gemv_fp8_cuda / gemv_fp8_swiglu_cuda, every variant (us, TB/s, max |diff| vs the engine), and a read-only
// stream over the same bytes. Weights rotate over 3 copies so that no run reads what L2 kept from the last.
//
//   here:   bash bench/run.sh prepare    (.dev/benchbin/decode_gemv_fp8_bench, linked with the GEMV objects only)
//   device: bash bench/run.sh gemv       (one JSON line per row in bench.log, after decode_gemv_bench's)
#include <cuda_runtime.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <vector>

#include "../native/src/core/cuda_common.h"
#include "../native/src/core/cuda_pool.h"
#include "../native/src/core/cuda_reduce.h"
#include "../native/src/ops/gemv_common.cuh"  // dot16_e4m3: the engine's 16-value dot
#include "../native/src/ops/gemv_fp8.h"
#include "../native/test/gemm_test_util.cuh"  // median_ms: kWarm untimed calls, the median of kIters over kSets
#include "gemv_bench_util.cuh"                // read_stream, print_row, max_diff

namespace {

// Row r (< R) of a warp's group g: plain, rows P g + r; SwiGLU (R = 2P), gate rows P g + r and up rows m + P g + r - P.
template <int P, bool SWIGLU>
__device__ __forceinline__ long long row_of(int g, int r, int m) {
  if constexpr (SWIGLU) return r < P ? (long long)P * g + r : (long long)m + P * g + (r - P);
  return (long long)P * g + r;
}

// m: outputs (plain: rows; SwiGLU: inter). Requires m % P == 0 and (k / 16) % (32 U) == 0 (the shapes here).
template <int P, int U, int W, bool SWIGLU, bool XS>
__global__ void __launch_bounds__(W * 32)
    gemv8_variant(float* __restrict__ out, const float* __restrict__ x, const uint8_t* __restrict__ w8,
                  const float* __restrict__ scale, int k, int m) {
  constexpr int R = SWIGLU ? 2 * P : P;
  extern __shared__ float4 xs_smem[];
  const int lane = threadIdx.x & 31, chunks = k / 16, groups = m / P;
  const float4* x4 = reinterpret_cast<const float4*>(x);
  if constexpr (XS) {
    for (int i = threadIdx.x; i < k / 4; i += W * 32) xs_smem[i] = __ldg(x4 + i);
    __syncthreads();
    x4 = xs_smem;
  }
  const int first = blockIdx.x * W + (threadIdx.x >> 5);
  const int stride = XS ? gridDim.x * W : groups;
  for (int g = first; g < groups; g += stride) {
    const uint4* rows[R];
#pragma unroll
    for (int r = 0; r < R; ++r) rows[r] = reinterpret_cast<const uint4*>(w8 + row_of<P, SWIGLU>(g, r, m) * k);
    float acc[R];
#pragma unroll
    for (int r = 0; r < R; ++r) acc[r] = 0.f;
    for (int c = lane; c < chunks; c += 32 * U) {
      uint4 u[U][R];
#pragma unroll
      for (int i = 0; i < U; ++i)
#pragma unroll
        for (int r = 0; r < R; ++r) u[i][r] = __ldg(rows[r] + c + 32 * i);
#pragma unroll
      for (int i = 0; i < U; ++i) {
        float4 xv[4];
#pragma unroll
        for (int q = 0; q < 4; ++q) xv[q] = XS ? x4[4 * (c + 32 * i) + q] : __ldg(x4 + 4 * (c + 32 * i) + q);
#pragma unroll
        for (int r = 0; r < R; ++r) acc[r] = cosmos::gemv::dot16_e4m3(acc[r], u[i][r], xv);
      }
    }
#pragma unroll
    for (int r = 0; r < R; ++r) acc[r] = cosmos::warp_sum(acc[r]);
    if (lane == 0) {
#pragma unroll
      for (int r = 0; r < P; ++r) {
        const long long row = row_of<P, SWIGLU>(g, r, m);
        if constexpr (SWIGLU) {
          const long long up = row_of<P, SWIGLU>(g, r + P, m);
          const float gv = scale[row] * acc[r], uv = scale[up] * acc[r + P];
          out[row] = gv / (1.0f + expf(-gv)) * uv;
        } else {
          out[row] = scale[row] * acc[r];
        }
      }
    }
  }
}

struct Shape {
  const char* name;
  bool swiglu;
  int k, m;  // weight rows: m (plain) or 2 m (SwiGLU), each k bytes
};

struct Buffers {
  std::vector<uint8_t*> w;
  float *x, *scale, *ref, *out;
};

void row(const Shape& s, const char* variant, float us, double bytes, double diff) {
  gemv_bench::print_row(s.name, variant, us, bytes, diff);
}

template <int P, int U, int W, bool SWIGLU, bool XS>
void variant(const Shape& s, const Buffers& b, const cosmos::CudaContext& ctx) {
  if ((s.k / 16) % (32 * U) != 0 || s.m % P != 0) return;
  auto kern = gemv8_variant<P, U, W, SWIGLU, XS>;
  const size_t smem = XS ? (size_t)s.k * 4 : 0;
  if (smem > 48 * 1024) CUDA_CHECK(cudaFuncSetAttribute(kern, cudaFuncAttributeMaxDynamicSharedMemorySize, (int)smem));
  int grid = cosmos::ceil_div(s.m / P, W);
  if (XS) {
    int dev, sms, per_sm;
    CUDA_CHECK(cudaGetDevice(&dev));
    CUDA_CHECK(cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, dev));
    CUDA_CHECK(cudaOccupancyMaxActiveBlocksPerMultiprocessor(&per_sm, kern, W * 32, smem));
    grid = std::min(grid, sms * std::max(per_sm, 1));
  }
  auto run = [&](int i) {
    kern<<<grid, W * 32, smem>>>(b.out, b.x, b.w[i], b.scale, s.k, s.m);
    CUDA_CHECK(cudaGetLastError());
  };
  const float us = (float)(1000.0 * median_ms(ctx, run));
  run(0);
  CUDA_CHECK(cudaDeviceSynchronize());
  char name[96];
  std::snprintf(name, sizeof name, "P%d U%d W%d %s", P, U, W, XS ? "x-in-smem persistent" : "row-group-per-warp");
  row(s, name, us, (SWIGLU ? 2.0 : 1.0) * s.m * s.k, gemv_bench::max_diff(b.out, b.ref, s.m));
}

template <bool SWIGLU>
void all_variants(const Shape& s, const Buffers& b, const cosmos::CudaContext& ctx) {
  constexpr int E = SWIGLU ? 1 : 2;            // the engine's rows a warp: 2 (one gate / up pair)
  variant<E, 4, 4, SWIGLU, false>(s, b, ctx);  // the engine's scheme
  variant<E, 2, 4, SWIGLU, false>(s, b, ctx);
  variant<E, 8, 4, SWIGLU, false>(s, b, ctx);
  variant<E, 4, 8, SWIGLU, false>(s, b, ctx);
  variant<2 * E, 2, 4, SWIGLU, false>(s, b, ctx);
  variant<2 * E, 4, 4, SWIGLU, false>(s, b, ctx);
  variant<2 * E, 4, 8, SWIGLU, false>(s, b, ctx);
  variant<4 * E, 1, 4, SWIGLU, false>(s, b, ctx);
  variant<4 * E, 2, 4, SWIGLU, false>(s, b, ctx);
  variant<E, 4, 8, SWIGLU, true>(s, b, ctx);
  variant<E, 4, 16, SWIGLU, true>(s, b, ctx);
  variant<2 * E, 2, 8, SWIGLU, true>(s, b, ctx);
  variant<2 * E, 4, 8, SWIGLU, true>(s, b, ctx);
  variant<2 * E, 2, 16, SWIGLU, true>(s, b, ctx);
  variant<4 * E, 2, 8, SWIGLU, true>(s, b, ctx);
}
}  // namespace

int main() {
  cosmos::CudaPool pool;
  const cosmos::CudaContext ctx{nullptr, &pool};  // the legacy stream: the variants and the events share it
  const Shape shapes[] = {{"fp8 gate|up + SwiGLU (k 4096, 2 x 12288 rows)", true, 4096, 12288},
                          {"fp8 down (k 12288, 4096 rows)", false, 12288, 4096},
                          {"fp8 q|k|v (k 4096, 6144 rows)", false, 4096, 6144},
                          {"fp8 o (k 4096, 4096 rows)", false, 4096, 4096}};
  unsigned* sink;
  CUDA_CHECK(cudaMalloc(&sink, 4));
  int dev, sms;
  CUDA_CHECK(cudaGetDevice(&dev));
  CUDA_CHECK(cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, dev));
  for (const Shape& s : shapes) {
    const int rows = s.swiglu ? 2 * s.m : s.m;
    const size_t n = (size_t)rows * s.k;
    Buffers b;
    std::vector<uint8_t> hw(n);
    uint32_t st = 12345;
    for (size_t i = 0; i < n; ++i) {
      st = st * 1664525u + 1013904223u;
      uint8_t v = (uint8_t)(st >> 24);
      if ((v & 0x7f) == 0x7f) v ^= 1;  // no NaN codes (e4m3's 0x7f / 0xff)
      hw[i] = v;
    }
    for (int c = 0; c < kSets; ++c) {
      uint8_t* p;
      CUDA_CHECK(cudaMalloc(&p, n));
      CUDA_CHECK(cudaMemcpy(p, hw.data(), n, cudaMemcpyHostToDevice));
      b.w.push_back(p);
    }
    std::vector<float> hx(s.k), hs(rows);
    for (int i = 0; i < s.k; ++i) st = st * 1664525u + 1013904223u, hx[i] = ((st >> 8) / 16777216.f - 0.5f) * 2.f;
    for (int i = 0; i < rows; ++i) st = st * 1664525u + 1013904223u, hs[i] = 1e-4f * (1.f + (st >> 8) / 16777216.f);
    CUDA_CHECK(cudaMalloc(&b.x, s.k * 4));
    CUDA_CHECK(cudaMemcpy(b.x, hx.data(), s.k * 4, cudaMemcpyHostToDevice));
    CUDA_CHECK(cudaMalloc(&b.scale, rows * 4));
    CUDA_CHECK(cudaMemcpy(b.scale, hs.data(), rows * 4, cudaMemcpyHostToDevice));
    CUDA_CHECK(cudaMalloc(&b.ref, s.m * 4));
    CUDA_CHECK(cudaMalloc(&b.out, s.m * 4));
    const double bytes = (double)n;
    auto engine = [&](int i) {
      if (s.swiglu)
        gemv_fp8_swiglu_cuda(b.ref, b.x, b.w[i], b.scale, s.k, s.m, ctx);
      else
        gemv_fp8_cuda(b.ref, b.x, b.w[i], b.scale, nullptr, s.k, s.m, ctx);
    };
    row(s, "engine", (float)(1000.0 * median_ms(ctx, engine)), bytes, 0);
    engine(0);
    CUDA_CHECK(cudaDeviceSynchronize());
    row(s, "read stream (ceiling)",
        (float)(1000.0 * median_ms(ctx,
                                   [&](int i) {
                                     gemv_bench::read_stream<<<sms * 8, 256>>>(reinterpret_cast<const uint4*>(b.w[i]),
                                                                               (long long)(bytes / 16), sink);
                                   })),
        bytes, 0);
    if (s.swiglu)
      all_variants<true>(s, b, ctx);
    else
      all_variants<false>(s, b, ctx);
    for (auto* p : b.w) CUDA_CHECK(cudaFree(p));
    CUDA_CHECK(cudaFree(b.x));
    CUDA_CHECK(cudaFree(b.scale));
    CUDA_CHECK(cudaFree(b.ref));
    CUDA_CHECK(cudaFree(b.out));
  }
  CUDA_CHECK(cudaFree(sink));
  return 0;
}
