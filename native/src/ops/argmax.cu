// argmax over one vector in a single 1024-thread block (vocab 152k = ~150 loads per thread, a few
// microseconds; a two-stage grid reduction would not pay for its extra launch at decode).
// Tie rule: the smallest index among equal maxima, like torch.argmax / argmax_cpu.
#ifndef COSMOS_CUDA
#define COSMOS_CUDA 1
#endif
#include "argmax.h"

#include "../core/cuda_common.h"

namespace {
__device__ __forceinline__ bool better(float v, int i, float bv, int bi) { return v > bv || (v == bv && i < bi); }
__global__ void argmax_kernel(int* out_idx, const float* x, int n) {
  __shared__ float sv[32];
  __shared__ int si[32];
  float bv = -INFINITY;
  int bi = n;  // sentinel larger than any index
  for (int i = threadIdx.x; i < n; i += blockDim.x) {
    float v = x[i];
    if (better(v, i, bv, bi)) {
      bv = v;
      bi = i;
    }
  }
  for (int o = 16; o > 0; o >>= 1) {
    float ov = __shfl_xor_sync(0xffffffffu, bv, o);
    int oi = __shfl_xor_sync(0xffffffffu, bi, o);
    if (better(ov, oi, bv, bi)) {
      bv = ov;
      bi = oi;
    }
  }
  int lane = threadIdx.x & 31, w = threadIdx.x >> 5;
  if (lane == 0) {
    sv[w] = bv;
    si[w] = bi;
  }
  __syncthreads();
  if (w == 0) {
    int nw = blockDim.x >> 5;
    bv = lane < nw ? sv[lane] : -INFINITY;
    bi = lane < nw ? si[lane] : n;
    for (int o = 16; o > 0; o >>= 1) {
      float ov = __shfl_xor_sync(0xffffffffu, bv, o);
      int oi = __shfl_xor_sync(0xffffffffu, bi, o);
      if (better(ov, oi, bv, bi)) {
        bv = ov;
        bi = oi;
      }
    }
    // All -inf (or NaN) input: fall back to index 0 as the CPU loop does.
    if (lane == 0) *out_idx = bi < n ? bi : 0;
  }
}
}  // namespace

void argmax_cuda(int* out_idx, const float* x, int n, const cosmos::CudaContext& ctx) {
  const cudaStream_t stream = ctx.stream;
  argmax_kernel<<<1, 1024, 0, stream>>>(out_idx, x, n);
  CUDA_CHECK_LAUNCH();
}
