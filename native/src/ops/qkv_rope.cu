// Two kernels behind one op: with q/k norm, one block per (token, head) (the norm needs a reduction over
// head_dim); without it, one thread per rotary pair over the whole tensor (the vision tower's
// 12960-patch x 48-head case would be 600k tiny blocks).
#ifndef COSMOS_CUDA
#define COSMOS_CUDA 1
#endif
#include "qkv_rope.h"

#include "../core/cuda_common.h"
#include "../core/cuda_pdl.cuh"
#include "../core/cuda_reduce.h"

namespace {
// Grid (n, heads + 2 kv_heads); block = head_dim rounded up to a warp multiple. Heads [0, heads) are q,
// then k, then v (a plain copy). All reads of a head happen before the barrier, so q_out may be q_in.
__global__ void qkv_norm_rope_kernel(float* q_out, float* k_out, float* v_out, const float* q_in, const float* k_in,
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
    if (d < D) v_out[((long long)(row0 + i) * KVH + h) * D + d] = v_in[(long long)i * kv_stride + h * D + d];
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
    k_out[((long long)(row0 + i) * KVH + h) * D + d] = out;
}

// No norm: one thread per (token, head slot, pair j / j + hd/2); head slots [0, NH) are q, then the
// kv_heads k heads, whose threads also copy v. Each thread reads its pair before writing it (in place).
__global__ void qkv_rope_kernel(float* q_out, float* k_out, float* v_out, const float* q_in, const float* k_in,
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
    float* dst = isq ? q_out + (t * NH + h) * D : k_out + ((row0 + t) * KVH + h) * D;
    const float x1 = src[j], x2 = src[j + half];
    dst[j] = x1 * c[j] - x2 * s[j];
    dst[j + half] = x2 * c[j + half] + x1 * s[j + half];
    if (!isq) {
      const float* vs = v_in + t * kv_stride + (long long)h * D;
      float* vd = v_out + ((row0 + t) * KVH + h) * D;
      vd[j] = vs[j];
      vd[j + half] = vs[j + half];
    }
  }
}
}  // namespace

void qkv_rope_cuda(float* q_out, float* k_out, float* v_out, const float* q_in, const float* k_in, const float* v_in,
                   int q_stride, int kv_stride, const float* qw, const float* kw, const float* cos, const float* sin,
                   int n, int heads, int kv_heads, int head_dim, float eps, int row0, const int* row0_dev,
                   const cosmos::CudaContext& ctx) {
  if (n <= 0) return;
  if (qw || kw) {
    const int bd = (head_dim + 31) / 32 * 32;
    cosmos::launch_pdl(qkv_norm_rope_kernel, dim3(n, heads + 2 * kv_heads), dim3(bd), sizeof(float) * bd, ctx.stream,
                       q_out, k_out, v_out, q_in, k_in, v_in, q_stride, kv_stride, qw, kw, cos, sin, row0, row0_dev,
                       heads, kv_heads, head_dim, eps);
  } else {
    const long long total = (long long)n * (heads + kv_heads) * (head_dim / 2);
    cosmos::launch_pdl(qkv_rope_kernel, dim3(cosmos::elementwise_blocks(total)), dim3(256), 0, ctx.stream, q_out, k_out,
                       v_out, q_in, k_in, v_in, q_stride, kv_stride, cos, sin, n, row0, row0_dev, heads, kv_heads,
                       head_dim);
  }
  CUDA_CHECK_LAUNCH();
}
