// One block per row: the add and the row sum in one pass over the row (x written back), then layernorm.cu's
// centred variance and the scaled write — the same two-pass statistics, so rows with a large mean keep their
// variance. Rows held in registers as float4s where the width and the pointers allow (the vector form, row_vec.cuh:
// x and h read once; the tower's 1152 = 288 threads of one float4; COSMOS_LAYERNORM_VEC=0 turns it off), else
// scalar passes through L1. The f32 and the bf16 outputs are one template of each form, so the bf16 output rounds the
// very values the f32 one writes.
#ifndef COSMOS_CUDA
#define COSMOS_CUDA 1
#endif
#include "add_layernorm.h"

#include <cstdlib>
#include <cstring>

#include "../core/cuda_common.h"
#include "../core/cuda_reduce.h"
#include "../core/env.h"
#include "row_vec.cuh"

namespace {
using cosmos::row_store;
using cosmos::row_store4;

template <class Out>
__global__ void add_layernorm_kernel(Out* out, float* x, const float* hres, const float* w, const float* b, int dim,
                                     float eps) {
  __shared__ float sh[32];
  float* xr = x + (long long)blockIdx.x * dim;
  const float* hr = hres ? hres + (long long)blockIdx.x * dim : nullptr;  // null: x holds the sum already
  Out* o = out + (long long)blockIdx.x * dim;
  float s = 0.f;
  for (int i = threadIdx.x; i < dim; i += blockDim.x) {
    const float v = hr ? xr[i] + hr[i] : xr[i];
    if (hr) xr[i] = v;
    s += v;
  }
  const float mean = cosmos::block_sum(s, sh) / (float)dim;  // its __syncthreads orders the xr writes before reads
  float v = 0.f;
  for (int i = threadIdx.x; i < dim; i += blockDim.x) {
    const float d = xr[i] - mean;
    v += d * d;
  }
  const float var = cosmos::block_sum(v, sh) / (float)dim;
  const float inv = 1.0f / sqrtf(var + eps);
  for (int i = threadIdx.x; i < dim; i += blockDim.x) {
    const float y = (xr[i] - mean) * inv;
    row_store(o + i, (w ? y * w[i] : y) + (b ? b[i] : 0.f));
  }
}

// The vector form: the same statistics (mean, then the centred variance) over the row held in registers.
template <int V, class Out>
__global__ void add_layernorm_vec_kernel(Out* out, float* x, const float* hres, const float* w, const float* b,
                                         int dim4, float eps) {
  __shared__ float sh[32];
  const long long row = (long long)blockIdx.x * dim4 * 4;
  cosmos::RowVec<V> r;
  float s = 0.f;
#pragma unroll
  for (int j = 0; j < V; ++j) {
    const int i = threadIdx.x + j * blockDim.x;
    if (i >= dim4) break;
    float4 a = reinterpret_cast<const float4*>(x + row)[i];
    if (hres) {  // (null: x holds the sum already)
      const float4 c = __ldg(reinterpret_cast<const float4*>(hres + row) + i);
      a.x += c.x, a.y += c.y, a.z += c.z, a.w += c.w;
      reinterpret_cast<float4*>(x + row)[i] = a;
    }
    r.v[j] = a;
    s += a.x + a.y + a.z + a.w;
  }
  // out may alias h: every h read is before this barrier, every out write after it
  const float mean = cosmos::block_sum(s, sh) / (float)(4 * dim4);
  float v = 0.f;
#pragma unroll
  for (int j = 0; j < V; ++j) {
    if (threadIdx.x + j * blockDim.x >= dim4) break;
    const float4 d = make_float4(r.v[j].x - mean, r.v[j].y - mean, r.v[j].z - mean, r.v[j].w - mean);
    v += d.x * d.x + d.y * d.y + d.z * d.z + d.w * d.w;
  }
  const float inv = 1.0f / sqrtf(cosmos::block_sum(v, sh) / (float)(4 * dim4) + eps);
#pragma unroll
  for (int j = 0; j < V; ++j) {
    const int i = threadIdx.x + j * blockDim.x;
    if (i >= dim4) break;
    float4 y =
        make_float4((r.v[j].x - mean) * inv, (r.v[j].y - mean) * inv, (r.v[j].z - mean) * inv, (r.v[j].w - mean) * inv);
    if (w) {
      const float4 g = __ldg(reinterpret_cast<const float4*>(w) + i);
      y = make_float4(y.x * g.x, y.y * g.y, y.z * g.z, y.w * g.w);
    }
    if (b) {
      const float4 c = __ldg(reinterpret_cast<const float4*>(b) + i);
      y = make_float4(y.x + c.x, y.y + c.y, y.z + c.z, y.w + c.w);
    }
    row_store4(out + row + 4 * i, y);
  }
}

// The vector form where it fits, unless COSMOS_LAYERNORM_VEC=0. On the H100 video tower (2026-12-06) it took the
// tower's add_layernorm from 5.5 to 3.5 ms a run (the same bits: ops_cuda_test's add_layernm and add_ln_bf16 rows
// check both forms). Read at every call (tests switch it).
bool vector_form_requested() { return cosmos::env_switch("COSMOS_LAYERNORM_VEC", true); }

template <class Out>
void launch(Out* out, float* x, const float* h, const float* w, const float* b, int rows, int dim, float eps,
            cudaStream_t stream) {
  if (rows <= 0 || dim <= 0) return;
  // w and b are optional: a null one passes the alignment check in its place (x stands in)
  cosmos::RowVecShape vs = cosmos::row_vec_shape(dim, x, h ? h : x, w ? w : x);
  if (!vector_form_requested()) vs.v = 0;
  const auto aligned = [](const void* p, int bytes) { return reinterpret_cast<uintptr_t>(p) % bytes == 0; };
  if (!aligned(b ? b : x, 16) || !aligned(out, 4 * sizeof(Out))) vs.v = 0;
  const bool vec = cosmos::with_row_vec(vs.v, [&](auto v) {
    add_layernorm_vec_kernel<decltype(v)::value><<<rows, vs.threads, 0, stream>>>(out, x, h, w, b, dim / 4, eps);
  });
  if (!vec) add_layernorm_kernel<<<rows, cosmos::row_threads(dim), 0, stream>>>(out, x, h, w, b, dim, eps);
  CUDA_CHECK_LAUNCH();
}
}  // namespace

void add_layernorm_cuda(float* out, float* x, const float* h, const float* w, const float* b, int rows, int dim,
                        float eps, const cosmos::CudaContext& ctx) {
  launch(out, x, h, w, b, rows, dim, eps, ctx.stream);
}

void add_layernorm_bf16_cuda(__nv_bfloat16* out, float* x, const float* h, const float* w, const float* b, int rows,
                             int dim, float eps, const cosmos::CudaContext& ctx) {
  launch(out, x, h, w, b, rows, dim, eps, ctx.stream);
}
