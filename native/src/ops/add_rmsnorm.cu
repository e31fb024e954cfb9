// One block per row: the add and the sum of squares in one pass over the row, then the scaled write; rows of float4s
// held in registers where the width and the pointers allow (the vector form), else scalar passes through L1. The f32
// and the bf16 outputs are one template of each form, so the bf16 output rounds the very values the f32 one writes.
#ifndef COSMOS_CUDA
#define COSMOS_CUDA 1
#endif
#include "add_rmsnorm.h"

#include <cuda_fp8.h>

#include <type_traits>

#include "../core/cuda_common.h"
#include "../core/cuda_pdl.cuh"
#include "../core/cuda_reduce.h"
#include "quantize_fp8.h"
#include "row_vec.cuh"

namespace {
// One row's x += h, then 1 / rms(x): the part both kernels share (one loop, so the same bits in both). hr null: x
// already holds the sum (a GEMM's epilogue added it), so the same values are summed and x is not written.
// In: float, or const __nv_bfloat16 (a stream held in bf16: hr null, x only read).
template <class In>
__device__ __forceinline__ float add_row_inv_rms(In* xr, const float* hr, int dim, float eps, float* sh) {
  float ss = 0.f;
  for (int i = threadIdx.x; i < dim; i += blockDim.x) {
    const float v = hr ? cosmos::row_load(xr + i) + hr[i] : cosmos::row_load(xr + i);
    if constexpr (std::is_same_v<In, float>)
      if (hr) xr[i] = v;
    ss += v * v;
  }
  ss = cosmos::block_sum(ss, sh);  // its __syncthreads also orders the xr writes before the caller's reads
  return 1.0f / sqrtf(ss / (float)dim + eps);
}

// The vector form (dim % 4 == 0, 16-byte aligned rows; row_vec.cuh): each thread holds its V float4s of x + h in
// registers, so x is read once and written once and the norm needs no second read. At the Generator's width (4096,
// 18720 rows) the scalar form reached ~2.5 TB/s (three passes over the row through L1, scalar loads). Both kernels'
// vector forms sum in this order, so they stay bit for bit one another's.
using cosmos::RowVec;
template <int V, class In>
__device__ __forceinline__ float add_row_inv_rms_vec(RowVec<V>& r, In* xr, const float* hr, int dim4, float eps,
                                                     float* sh) {
  float ss = 0.f;
#pragma unroll
  for (int j = 0; j < V; ++j) {
    const int i = threadIdx.x + j * blockDim.x;
    if (i >= dim4) break;
    float4 a = cosmos::row_load4(xr + 4 * i);
    if constexpr (std::is_same_v<In, float>) {
      if (hr) {  // (null: x holds the sum already, as add_row_inv_rms)
        const float4 b = __ldg(reinterpret_cast<const float4*>(hr) + i);
        a.x += b.x, a.y += b.y, a.z += b.z, a.w += b.w;
        reinterpret_cast<float4*>(xr)[i] = a;
      }
    }
    r.v[j] = a;
    ss += a.x * a.x;
    ss += a.y * a.y;
    ss += a.z * a.z;
    ss += a.w * a.w;
  }
  ss = cosmos::block_sum(ss, sh);
  return 1.0f / sqrtf(ss / (float)(4 * dim4) + eps);
}
__device__ __forceinline__ float4 scale_row4(float4 a, float4 w, float inv) {
  return make_float4(w.x * (a.x * inv), w.y * (a.y * inv), w.z * (a.z * inv), w.w * (a.w * inv));
}

template <class In, class Out>
__global__ void add_rmsnorm_kernel(Out* out, In* x, const float* hres, const float* w, int dim, float eps) {
  __shared__ float sh[32];
  // PDL (core/cuda_pdl.cuh): the next kernel (a GEMV) may launch now and prefetch its weights while this
  // latency-bound row runs; nothing is read or written before the wait.
  cosmos::pdl_launch_dependents();
  cosmos::pdl_wait();
  In* xr = x + (long long)blockIdx.x * dim;
  const float* hr = hres ? hres + (long long)blockIdx.x * dim : nullptr;
  Out* o = out + (long long)blockIdx.x * dim;
  const float inv = add_row_inv_rms(xr, hr, dim, eps, sh);
  for (int i = threadIdx.x; i < dim; i += blockDim.x) cosmos::row_store(o + i, w[i] * (cosmos::row_load(xr + i) * inv));
}

template <int V, class In, class Out>
__global__ void add_rmsnorm_vec_kernel(Out* out, In* x, const float* hres, const float* w, int dim4, float eps) {
  __shared__ float sh[32];
  cosmos::pdl_launch_dependents();  // as add_rmsnorm_kernel
  cosmos::pdl_wait();
  const long long row = (long long)blockIdx.x * dim4 * 4;
  RowVec<V> r;
  // out may alias h: every h read is before the block_sum's barrier, every out write after it
  const float inv = add_row_inv_rms_vec<V>(r, x + row, hres ? hres + row : nullptr, dim4, eps, sh);
#pragma unroll
  for (int j = 0; j < V; ++j) {
    const int i = threadIdx.x + j * blockDim.x;
    if (i >= dim4) break;
    cosmos::row_store4(out + row + 4 * i, scale_row4(r.v[j], __ldg(reinterpret_cast<const float4*>(w) + i), inv));
  }
}

// add_rmsnorm_kernel's add, sum and normed values (the same code, so the same bits), then quantize_fp8_rows'
// absmax, scale and division; the normed row is recomputed from x (in L1) instead of stored.
__global__ void add_rmsnorm_fp8_kernel(uint8_t* q, float* scale, float* x, const float* hres, const float* w, int dim,
                                       float eps) {
  __shared__ float sh[32];
  float* xr = x + (long long)blockIdx.x * dim;
  const float* hr = hres ? hres + (long long)blockIdx.x * dim : nullptr;
  uint8_t* qr = q + (long long)blockIdx.x * dim;
  const float inv = add_row_inv_rms(xr, hr, dim, eps, sh);
  float amax = 0.f;
  for (int i = threadIdx.x; i < dim; i += blockDim.x) amax = fmaxf(amax, fabsf(w[i] * (xr[i] * inv)));
  const float s = fp8_scale_for_absmax(cosmos::block_max(amax, sh));  // max is exact in any order
  if (threadIdx.x == 0) scale[blockIdx.x] = s;
  for (int i = threadIdx.x; i < dim; i += blockDim.x) qr[i] = (uint8_t)fp8_e4m3_bits(w[i] * (xr[i] * inv) / s);
}

// add_rmsnorm_vec_kernel's values, then add_rmsnorm_fp8_kernel's absmax, scale and division; the normed values stay
// in registers between the two.
template <int V>
__global__ void add_rmsnorm_fp8_vec_kernel(uint8_t* q, float* scale, float* x, const float* hres, const float* w,
                                           int dim4, float eps) {
  __shared__ float sh[32];
  const long long row = (long long)blockIdx.x * dim4 * 4;
  RowVec<V> r;
  const float inv = add_row_inv_rms_vec<V>(r, x + row, hres ? hres + row : nullptr, dim4, eps, sh);
  float amax = 0.f;
#pragma unroll
  for (int j = 0; j < V; ++j) {
    const int i = threadIdx.x + j * blockDim.x;
    if (i >= dim4) break;
    r.v[j] = scale_row4(r.v[j], __ldg(reinterpret_cast<const float4*>(w) + i), inv);
    amax = fmaxf(amax, absmax4(r.v[j]));
  }
  const float s = fp8_scale_for_absmax(cosmos::block_max(amax, sh));
  if (threadIdx.x == 0) scale[blockIdx.x] = s;
#pragma unroll
  for (int j = 0; j < V; ++j) {
    const int i = threadIdx.x + j * blockDim.x;
    if (i >= dim4) break;
    reinterpret_cast<uint32_t*>(q + row)[i] = fp8_e4m3x4(r.v[j], s);
  }
}

}  // namespace

void add_rmsnorm_fp8_cuda(uint8_t* q, float* scale, float* x, const float* h, const float* w, int rows, int dim,
                          float eps, const cosmos::CudaContext& ctx) {
  if (rows <= 0 || dim <= 0) return;
  const cosmos::RowVecShape vs = cosmos::row_vec_shape(dim, x, h ? h : x, w);
  const bool vec = cosmos::with_row_vec(reinterpret_cast<uintptr_t>(q) % 4 == 0 ? vs.v : 0, [&](auto v) {
    add_rmsnorm_fp8_vec_kernel<decltype(v)::value>
        <<<rows, vs.threads, 0, ctx.stream>>>(q, scale, x, h, w, dim / 4, eps);
  });
  if (!vec) add_rmsnorm_fp8_kernel<<<rows, cosmos::row_threads(dim), 0, ctx.stream>>>(q, scale, x, h, w, dim, eps);
  CUDA_CHECK_LAUNCH();
}

namespace {
template <class In, class Out>
void launch(Out* out, In* x, const float* h, const float* w, int rows, int dim, float eps, cudaStream_t stream) {
  if (rows <= 0 || dim <= 0) return;
  const void* xv = x;
  const cosmos::RowVecShape vs = cosmos::row_vec_shape(dim, xv, h ? h : xv, w);
  const bool vec =
      cosmos::with_row_vec(reinterpret_cast<uintptr_t>(out) % (4 * sizeof(Out)) == 0 ? vs.v : 0, [&](auto v) {
        cosmos::launch_pdl(add_rmsnorm_vec_kernel<decltype(v)::value, In, Out>, dim3(rows), dim3(vs.threads), 0, stream,
                           out, x, h, w, dim / 4, eps);
      });
  if (!vec)
    cosmos::launch_pdl(add_rmsnorm_kernel<In, Out>, dim3(rows), dim3(cosmos::row_threads(dim)), 0, stream, out, x, h, w,
                       dim, eps);
  CUDA_CHECK_LAUNCH();
}
}  // namespace

void add_rmsnorm_cuda(float* out, float* x, const float* h, const float* w, int rows, int dim, float eps,
                      const cosmos::CudaContext& ctx) {
  launch(out, x, h, w, rows, dim, eps, ctx.stream);
}

void add_rmsnorm_bf16_cuda(__nv_bfloat16* out, float* x, const float* h, const float* w, int rows, int dim, float eps,
                           const cosmos::CudaContext& ctx) {
  launch(out, x, h, w, rows, dim, eps, ctx.stream);
}

void rmsnorm_bf16_rows_cuda(__nv_bfloat16* out, const __nv_bfloat16* x, const float* w, int rows, int dim, float eps,
                            const cosmos::CudaContext& ctx) {
  launch(out, x, static_cast<const float*>(nullptr), w, rows, dim, eps, ctx.stream);
}
