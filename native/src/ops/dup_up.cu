// DupUp3D shortcut added into out: four output channels a thread where cout % 4 == 0 and out is 16-byte aligned (one
// float4 read-modify-write and the index arithmetic once for four; ~5% of a decode's kernel time as one 64-bit
// div/mod chain per element), else one thread per output element.
#ifndef COSMOS_CUDA
#define COSMOS_CUDA 1
#endif
#include <cstdint>

#include "../core/cuda_common.h"
#include "dup_up.h"

namespace {
__global__ void dup_up_add_kernel(float* out, const float* x, int h, int w, int cin, int cout, int ft, int fs, int skip,
                                  long long n) {
  const int factor = ft * fs * fs, repeats = cout * factor / cin, oh = h * fs, ow = w * fs;
  for (long long e = blockIdx.x * (long long)blockDim.x + threadIdx.x; e < n; e += (long long)gridDim.x * blockDim.x) {
    const int oc = (int)(e % cout);
    const long long p = e / cout;
    const int xo = (int)(p % ow), y = (int)(p / ow % oh);
    const int full = (int)(p / ((long long)oh * ow)) + skip, ti = full / ft, dt = full % ft;
    const int sub = (dt * fs + y % fs) * fs + xo % fs;
    out[e] += x[(((long long)ti * h + y / fs) * w + xo / fs) * cin + (oc * factor + sub) / repeats];
  }
}
// q4 = output element / 4 (cout % 4 == 0, so the four share a pixel).
__global__ void dup_up_add4_kernel(float4* out, const float* x, int h, int w, int cin, int cout, int ft, int fs,
                                   int skip, long long n4) {
  const int factor = ft * fs * fs, repeats = cout * factor / cin, oh = h * fs, ow = w * fs, cout4 = cout / 4;
  for (long long q = blockIdx.x * (long long)blockDim.x + threadIdx.x; q < n4; q += (long long)gridDim.x * blockDim.x) {
    const int oc = (int)(q % cout4) * 4;
    const long long p = q / cout4;
    const int xo = (int)(p % ow), y = (int)(p / ow % oh);
    const int full = (int)(p / ((long long)oh * ow)) + skip, ti = full / ft, dt = full % ft;
    const int sub = (dt * fs + y % fs) * fs + xo % fs;
    const float* xp = x + (((long long)ti * h + y / fs) * w + xo / fs) * cin;
    float4 o = out[q];
    o.x += xp[(oc * factor + sub) / repeats];
    o.y += xp[((oc + 1) * factor + sub) / repeats];
    o.z += xp[((oc + 2) * factor + sub) / repeats];
    o.w += xp[((oc + 3) * factor + sub) / repeats];
    out[q] = o;
  }
}
}  // namespace

void dup_up_add_cuda(float* out, const float* x, int t, int h, int w, int cin, int cout, int ft, int fs, int skip,
                     const cosmos::CudaContext& ctx) {
  const long long n = (long long)(t * ft - skip) * h * fs * w * fs * cout;
  if (n <= 0) return;
  if (cout % 4 == 0 && reinterpret_cast<uintptr_t>(out) % 16 == 0)
    dup_up_add4_kernel<<<cosmos::elementwise_blocks(n / 4), 256, 0, ctx.stream>>>(reinterpret_cast<float4*>(out), x, h,
                                                                                  w, cin, cout, ft, fs, skip, n / 4);
  else
    dup_up_add_kernel<<<cosmos::elementwise_blocks(n), 256, 0, ctx.stream>>>(out, x, h, w, cin, cout, ft, fs, skip, n);
  CUDA_CHECK_LAUNCH();
}
