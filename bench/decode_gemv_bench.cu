// The decode step's two largest GEMVs (Qwen3-8B shape, bf16 weights, batch 1) against the GPU's read bandwidth,
// and variants of their kernel, each timed alone: issue 14's decode is ~15 us a layer short of 240 tokens/s and the
// gate|up + SwiGLU (3.8 TB/s) and down (3.2-3.3 TB/s) GEMVs are where it is (bench/README.md, "Two more decode
// attempts"). What is varied, on the engine's own scheme (one warp per output, lane-strided 16-byte chunks, the
// same accumulation order, so every variant's output must equal the engine kernel's bit for bit):
//   U        16-byte loads per lane and weight row in flight (the engine: 4 for gate|up, 8 for down)
//   W        warps per block (the engine: 4)
//   L2_256   the loads as ld.global.nc.L1::no_allocate.L2::256B (a 256-byte L2 prefetch per request, L1 left
//            to x) instead of __ldg
//   PERSIST  a grid of (SMs x resident blocks) whose warps stride over the rows, instead of a warp per row
// Rows: the engine's gemv_swiglu_cuda / gemv_decode_cuda, every variant (us, TB/s, max |diff| vs the engine),
// a read-only stream over the same bytes (the ceiling for a GEMV) and cudaMemcpy D2D (the copy bandwidth
// bench/README's roofline uses). Weights rotate over 3 copies so that no run reads what L2 kept from the last.
//
//   here:   bash bench/run.sh prepare    (.dev/benchbin/decode_gemv_bench, linked with the GEMV objects only)
//   device: bash bench/run.sh gemv       (one JSON line per row in bench.log; ~20 s)
#include <cuda_bf16.h>
#include <cuda_runtime.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <vector>

#include "../native/src/core/cuda_common.h"
#include "../native/src/core/cuda_pool.h"
#include "../native/src/core/cuda_reduce.h"
#include "../native/src/ops/gemv_common.cuh"
#include "../native/src/ops/gemv_decode.h"
#include "../native/src/ops/gemv_swiglu.h"
#include "../native/test/gemm_test_util.cuh"  // median_ms: kWarm untimed calls, the median of kIters over kSets
#include "gemv_bench_util.cuh"                // read_stream, print_row, max_diff

namespace {
using namespace cosmos::gemv;

template <bool L2_256>
__device__ __forceinline__ uint4 load16(const uint4* p) {
  if constexpr (L2_256) {
    uint4 v;
    asm volatile("ld.global.nc.L1::no_allocate.L2::256B.v4.u32 {%0, %1, %2, %3}, [%4];"
                 : "=r"(v.x), "=r"(v.y), "=r"(v.z), "=r"(v.w)
                 : "l"(p));
    return v;
  } else {
    return __ldg(p);
  }
}

// R = 2: gate|up + SwiGLU (rows j and m + j); R = 1: a plain GEMV. k / 8 must be a multiple of 32 * U.
template <int R, int U, int W, bool L2_256, bool PERSIST>
__global__ void __launch_bounds__(W * 32) gemv_variant(float* __restrict__ out, const float* __restrict__ x,
                                                       const __nv_bfloat16* __restrict__ w, int k, int m) {
  const int lane = threadIdx.x & 31;
  const int first = blockIdx.x * W + (threadIdx.x >> 5);
  const int stride = PERSIST ? gridDim.x * W : m;
  const int chunks = k / 8;
  for (int j = first; j < m; j += stride) {
    const uint4* rows[R];
#pragma unroll
    for (int r = 0; r < R; ++r) rows[r] = reinterpret_cast<const uint4*>(w + ((long long)r * m + j) * k);
    float acc[R];
#pragma unroll
    for (int r = 0; r < R; ++r) acc[r] = 0.f;
    for (int c = lane; c < chunks; c += 32 * U) {
      uint4 u[R][U];
#pragma unroll
      for (int i = 0; i < U; ++i)
#pragma unroll
        for (int r = 0; r < R; ++r) u[r][i] = load16<L2_256>(rows[r] + c + 32 * i);
#pragma unroll
      for (int r = 0; r < R; ++r)
#pragma unroll
        for (int i = 0; i < U; ++i) acc[r] = dot8_bf(acc[r], u[r][i], x, c + 32 * i);
    }
#pragma unroll
    for (int r = 0; r < R; ++r) acc[r] = cosmos::warp_sum(acc[r]);
    if (lane == 0) {
      if constexpr (R == 2)
        out[j] = acc[0] / (1.0f + expf(-acc[0])) * acc[1];
      else
        out[j] = acc[0];
    }
  }
}

struct Shape {
  const char* name;
  int R, k, m;  // weight rows = R * m, each k bf16
};

// Median microseconds of run(set) (gemm_test_util.cuh's median_ms: the weight copies rotate over kSets).
template <class F>
float time_us(const cosmos::CudaContext& ctx, F&& run) {
  return (float)(1000.0 * median_ms(ctx, run));
}

struct Buffers {
  std::vector<__nv_bfloat16*> w;
  float *x, *ref, *out;
};

void row(const Shape& s, const char* variant, float us, double bytes, double diff) {
  gemv_bench::print_row(s.name, variant, us, bytes, diff);
}

template <int R, int U, int W, bool L2_256, bool PERSIST>
void variant(const Shape& s, const Buffers& b, const cosmos::CudaContext& ctx) {
  int grid = cosmos::ceil_div(s.m, W);
  if (PERSIST) {
    int dev, sms, per_sm;
    CUDA_CHECK(cudaGetDevice(&dev));
    CUDA_CHECK(cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, dev));
    CUDA_CHECK(
        cudaOccupancyMaxActiveBlocksPerMultiprocessor(&per_sm, gemv_variant<R, U, W, L2_256, PERSIST>, W * 32, 0));
    grid = std::min(grid, sms * per_sm);
  }
  auto run = [&](int i) {
    gemv_variant<R, U, W, L2_256, PERSIST><<<grid, W * 32>>>(b.out, b.x, b.w[i], s.k, s.m);
    CUDA_CHECK(cudaGetLastError());
  };
  const float us = time_us(ctx, run);
  run(0);
  CUDA_CHECK(cudaDeviceSynchronize());
  char name[96];
  std::snprintf(name, sizeof name, "U%d W%d %s %s", U, W, L2_256 ? "L2::256B" : "ldg",
                PERSIST ? "persistent" : "row-per-warp");
  row(s, name, us, 2.0 * R * s.m * s.k, gemv_bench::max_diff(b.out, b.ref, s.m));
}

template <int R>
void all_variants(const Shape& s, const Buffers& b, const cosmos::CudaContext& ctx) {
  variant<R, 2, 4, false, false>(s, b, ctx);
  variant<R, 4, 4, false, false>(s, b, ctx);
  variant<R, 8, 4, false, false>(s, b, ctx);
  variant<R, 4, 8, false, false>(s, b, ctx);
  variant<R, 8, 8, false, false>(s, b, ctx);
  variant<R, 4, 4, true, false>(s, b, ctx);
  variant<R, 8, 4, true, false>(s, b, ctx);
  variant<R, 8, 8, true, false>(s, b, ctx);
  variant<R, 4, 4, false, true>(s, b, ctx);
  variant<R, 8, 4, false, true>(s, b, ctx);
  variant<R, 8, 8, false, true>(s, b, ctx);
  variant<R, 4, 4, true, true>(s, b, ctx);
  variant<R, 8, 4, true, true>(s, b, ctx);
  variant<R, 8, 8, true, true>(s, b, ctx);
  if constexpr (R == 1) {
    variant<R, 16, 4, false, false>(s, b, ctx);
    variant<R, 16, 4, true, false>(s, b, ctx);
    variant<R, 16, 4, true, true>(s, b, ctx);
  }
}
}  // namespace

int main() {
  cosmos::CudaPool pool;
  const cosmos::CudaContext ctx{nullptr, &pool};  // the legacy stream: the variants and the events share it
  const Shape shapes[] = {{"gate|up + SwiGLU (k 4096, 2 x 12288 rows)", 2, 4096, 12288},
                          {"down (k 12288, 4096 rows)", 1, 12288, 4096}};
  unsigned* sink;
  CUDA_CHECK(cudaMalloc(&sink, 4));
  for (const Shape& s : shapes) {
    const size_t n = (size_t)s.R * s.m * s.k;
    Buffers b;
    std::vector<__nv_bfloat16> hw(n);
    uint32_t st = 12345;
    for (size_t i = 0; i < n; ++i) {
      st = st * 1664525u + 1013904223u;
      hw[i] = __float2bfloat16(((st >> 8) / 16777216.f - 0.5f) * 0.04f);
    }
    for (int c = 0; c < kSets; ++c) {
      __nv_bfloat16* p;
      CUDA_CHECK(cudaMalloc(&p, n * 2));
      CUDA_CHECK(cudaMemcpy(p, hw.data(), n * 2, cudaMemcpyHostToDevice));
      b.w.push_back(p);
    }
    std::vector<float> hx(s.k);
    for (int i = 0; i < s.k; ++i) st = st * 1664525u + 1013904223u, hx[i] = ((st >> 8) / 16777216.f - 0.5f) * 2.f;
    CUDA_CHECK(cudaMalloc(&b.x, s.k * 4));
    CUDA_CHECK(cudaMemcpy(b.x, hx.data(), s.k * 4, cudaMemcpyHostToDevice));
    CUDA_CHECK(cudaMalloc(&b.ref, s.m * 4));
    CUDA_CHECK(cudaMalloc(&b.out, s.m * 4));
    const double bytes = 2.0 * n;
    auto engine = [&](int i) {
      if (s.R == 2)
        gemv_swiglu_cuda(b.ref, b.x, b.w[i], WType::BF16, s.k, s.m, ctx);
      else
        gemv_decode_cuda(b.ref, b.x, b.w[i], WType::BF16, s.k, s.m, ctx);
    };
    row(s, "engine", time_us(ctx, engine), bytes, 0);
    engine(0);
    CUDA_CHECK(cudaDeviceSynchronize());
    int dev, sms;
    CUDA_CHECK(cudaGetDevice(&dev));
    CUDA_CHECK(cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, dev));
    row(s, "read stream (ceiling)",
        time_us(ctx,
                [&](int i) {
                  gemv_bench::read_stream<<<sms * 8, 256>>>(reinterpret_cast<const uint4*>(b.w[i]),
                                                            (long long)(bytes / 16), sink);
                }),
        bytes, 0);
    row(s, "cudaMemcpy D2D (bytes read + written)",
        time_us(
            ctx,
            [&](int i) { CUDA_CHECK(cudaMemcpyAsync(b.w[(i + 1) % kSets], b.w[i], n * 2, cudaMemcpyDeviceToDevice)); }),
        2 * bytes, 0);
    // the copies were overwritten with one another: all equal to the original still
    if (s.R == 2)
      all_variants<2>(s, b, ctx);
    else
      all_variants<1>(s, b, ctx);
    for (auto* p : b.w) CUDA_CHECK(cudaFree(p));
    CUDA_CHECK(cudaFree(b.x));
    CUDA_CHECK(cudaFree(b.ref));
    CUDA_CHECK(cudaFree(b.out));
  }
  CUDA_CHECK(cudaFree(sink));
  return 0;
}
