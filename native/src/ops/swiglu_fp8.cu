// swiglu_quantize_fp8 on the device (see swiglu_fp8.h): one block per row; pass 1 the absmax of h, pass 2 h again
// (the row's 2 inter floats from L1 / L2) divided by the scale and converted, as quantize_fp8.cu does.
#ifndef COSMOS_CUDA
#define COSMOS_CUDA 1
#endif
#include <cuda_fp8.h>

#include <stdexcept>
#include <string>

#include "../core/cuda_common.h"
#include "quantize_fp8.h"
#include "swiglu_fp8.h"

namespace {
constexpr int kThreads = 256;

// swiglu.cu's expression (expf, divide then multiply), so h is the value swiglu_cuda writes.
__device__ __forceinline__ float swiglu1(const float* __restrict__ row, int inter, int i) {
  const float g = __ldg(row + i);
  return g / (1.0f + expf(-g)) * __ldg(row + inter + i);
}

__global__ void __launch_bounds__(kThreads) swiglu_quantize_kernel(uint8_t* __restrict__ q, float* __restrict__ scale,
                                                                   const float* __restrict__ gu, int inter) {
  const float* row = gu + (long long)blockIdx.x * 2 * inter;
  float amax = 0.f;
  for (int i = threadIdx.x; i < inter; i += kThreads) amax = fmaxf(amax, fabsf(swiglu1(row, inter, i)));
#pragma unroll
  for (int o = 16; o > 0; o >>= 1) amax = fmaxf(amax, __shfl_xor_sync(0xffffffffu, amax, o));
  __shared__ float warp_max[kThreads / 32];
  if ((threadIdx.x & 31) == 0) warp_max[threadIdx.x / 32] = amax;
  __syncthreads();
  amax = warp_max[0];
#pragma unroll
  for (int w = 1; w < kThreads / 32; ++w) amax = fmaxf(amax, warp_max[w]);
  const float s = fmaxf(amax / kFp8E4m3Max, kFp8MinScale);  // quantize_fp8.cu's scale, bit for bit
  if (threadIdx.x == 0) scale[blockIdx.x] = s;
  uint8_t* qr = q + (long long)blockIdx.x * inter;
  for (int i = threadIdx.x; i < inter; i += kThreads)
    qr[i] = (uint8_t)__nv_cvt_float_to_fp8(swiglu1(row, inter, i) / s, __NV_SATFINITE, __NV_E4M3);
}
}  // namespace

void swiglu_quantize_fp8_cuda(uint8_t* q, float* scale, const float* gu, int rows, int inter,
                              const cosmos::CudaContext& ctx) {
  if (rows < 1 || inter < 1)
    throw std::invalid_argument("swiglu_quantize_fp8_cuda: rows and inter must be >= 1, got rows " +
                                std::to_string(rows) + ", inter " + std::to_string(inter));
  swiglu_quantize_kernel<<<rows, kThreads, 0, ctx.stream>>>(q, scale, gu, inter);
  CUDA_CHECK_LAUNCH();
}
