// Device helpers of the GEMM test drivers (gemm_wgmma_cuda_test, gemm_fp8_cuda_test): the relative L2 difference of
// two device f32 arrays, reduced on the device, with a count of the elements of either that are not finite (an
// unwritten, NaN-poisoned output shows up there; the outputs are too large to copy to the host for each check), and
// the median time of a launch sequence over rotated operand sets.
#pragma once
#include <cuda_runtime.h>

#include <algorithm>
#include <cmath>
#include <vector>

#include "../src/core/cuda_common.h"
#include "../src/core/cuda_context.h"
#include "../src/core/cuda_pool.h"

namespace device_diff_detail {
// sums[0] += (a - b)^2, sums[1] += b^2 over finite pairs; bad counts elements of a or b that are not finite.
__global__ void diff_kernel(const float* a, const float* b, long long count, double* sums, unsigned long long* bad) {
  __shared__ double s0[256], s1[256];
  __shared__ unsigned long long sb[256];
  double d2 = 0, r2 = 0;
  unsigned long long nb = 0;
  for (long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x; i < count;
       i += (long long)gridDim.x * blockDim.x) {
    const float x = a[i], y = b[i];
    if (!isfinite(x) || !isfinite(y)) {
      ++nb;
      continue;
    }
    const double d = (double)x - (double)y;
    d2 += d * d;
    r2 += (double)y * y;
  }
  s0[threadIdx.x] = d2;
  s1[threadIdx.x] = r2;
  sb[threadIdx.x] = nb;
  __syncthreads();
  for (int w = 128; w > 0; w >>= 1) {
    if ((int)threadIdx.x < w) {
      s0[threadIdx.x] += s0[threadIdx.x + w];
      s1[threadIdx.x] += s1[threadIdx.x + w];
      sb[threadIdx.x] += sb[threadIdx.x + w];
    }
    __syncthreads();
  }
  if (threadIdx.x == 0) {
    atomicAdd(&sums[0], s0[0]);
    atomicAdd(&sums[1], s1[0]);
    atomicAdd(bad, sb[0]);
  }
}
}  // namespace device_diff_detail

struct Diff {
  double rel;              // ||a - ref|| / ||ref|| over the finite pairs (inf when ref is all zero)
  unsigned long long bad;  // elements of a or ref that are not finite
};

// Synchronises ctx.stream; the two scratch words come from ctx.pool.
inline Diff device_diff(const float* a, const float* ref, long long count, const cosmos::CudaContext& ctx) {
  double* sums = (double*)ctx.pool->alloc(2 * sizeof(double));
  unsigned long long* bad = (unsigned long long*)ctx.pool->alloc(sizeof(unsigned long long));
  CUDA_CHECK(cudaMemsetAsync(sums, 0, 2 * sizeof(double), ctx.stream));
  CUDA_CHECK(cudaMemsetAsync(bad, 0, sizeof(unsigned long long), ctx.stream));
  device_diff_detail::diff_kernel<<<132 * 4, 256, 0, ctx.stream>>>(a, ref, count, sums, bad);
  CUDA_CHECK_LAUNCH();
  double h[2];
  unsigned long long hb;
  CUDA_CHECK(cudaMemcpyAsync(h, sums, sizeof h, cudaMemcpyDeviceToHost, ctx.stream));
  CUDA_CHECK(cudaMemcpyAsync(&hb, bad, sizeof hb, cudaMemcpyDeviceToHost, ctx.stream));
  CUDA_CHECK(cudaStreamSynchronize(ctx.stream));
  ctx.pool->free(sums);
  ctx.pool->free(bad);
  return {h[1] > 0 ? std::sqrt(h[0] / h[1]) : INFINITY, hb};
}

// Timing: kWarm untimed calls, then the median of kIters, each fn(set) with set = i % kSets (callers build kSets
// operand sets, so consecutive calls do not find their operands in L2).
constexpr int kSets = 3, kWarm = 3, kIters = 30;

template <class F>
double median_ms(const cosmos::CudaContext& ctx, F&& fn) {
  cudaEvent_t a, b;
  CUDA_CHECK(cudaEventCreate(&a));
  CUDA_CHECK(cudaEventCreate(&b));
  for (int i = 0; i < kWarm; ++i) fn(i % kSets);
  std::vector<float> ms;
  for (int i = 0; i < kIters; ++i) {
    CUDA_CHECK(cudaEventRecord(a, ctx.stream));
    fn(i % kSets);
    CUDA_CHECK(cudaEventRecord(b, ctx.stream));
    CUDA_CHECK(cudaEventSynchronize(b));
    float t;
    CUDA_CHECK(cudaEventElapsedTime(&t, a, b));
    ms.push_back(t);
  }
  CUDA_CHECK(cudaEventDestroy(a));
  CUDA_CHECK(cudaEventDestroy(b));
  std::sort(ms.begin(), ms.end());
  return ms[ms.size() / 2];
}
