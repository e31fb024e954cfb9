// What the decode GEMV variant benches share (bench/decode_gemv_bench.cu: bf16, bench/decode_gemv_fp8_bench.cu:
// e4m3): the read-only stream that is a GEMV's ceiling, a result row as one JSON line, and the largest difference of
// a variant's output from the engine kernel's.
#pragma once
#include <cuda_runtime.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <vector>

#include "../native/src/core/cuda_common.h"

namespace gemv_bench {

// Every byte of [p, p + n16) read once, 4 loads in flight per thread; one word written so nothing is optimised out.
__global__ void read_stream(const uint4* __restrict__ p, long long n16, unsigned* sink) {
  unsigned a = 0;
  const long long stride = (long long)gridDim.x * blockDim.x;
  long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x;
  for (; i + 3 * stride < n16; i += 4 * stride) {
    uint4 v0 = __ldg(p + i), v1 = __ldg(p + i + stride), v2 = __ldg(p + i + 2 * stride), v3 = __ldg(p + i + 3 * stride);
    a ^= v0.x ^ v1.y ^ v2.z ^ v3.w;
  }
  for (; i < n16; i += stride) a ^= __ldg(p + i).x;
  if (a == 0x9e3779b9u) *sink = a;
}

inline void print_row(const char* shape, const char* variant, float us, double bytes, double diff) {
  std::printf("{\"shape\": \"%s\", \"variant\": \"%s\", \"us\": %.2f, \"tb_s\": %.3f, \"max_diff_vs_engine\": %.3g}\n",
              shape, variant, us, bytes / (us * 1e-6) / 1e12, diff);
}

// max |a - b| over n device floats.
inline double max_diff(const float* a, const float* b, int n) {
  std::vector<float> ha(n), hb(n);
  CUDA_CHECK(cudaMemcpy(ha.data(), a, n * 4, cudaMemcpyDeviceToHost));
  CUDA_CHECK(cudaMemcpy(hb.data(), b, n * 4, cudaMemcpyDeviceToHost));
  double d = 0;
  for (int i = 0; i < n; ++i) d = std::max(d, (double)std::fabs(ha[i] - hb[i]));
  return d;
}

}  // namespace gemv_bench
