// conv_transpose1d: PyTorch's ConvTranspose1d (stride, padding, output_padding; no dilation, no groups)
// over channels-last sequences: the upsampling of the Cosmos 3 AVAE audio decoder (kernel 2s, stride s,
// padding ceil(s/2), output_padding s % 2, so every block multiplies the length by s exactly).
//
// How: Y = x · W as one matmul (each input step's contribution to all k taps of all output channels),
// then each output step gathers its taps: output o gets Y[i, tap] for every input i with
// o = i*stride - pad + tap. A gather instead of PyTorch's scatter (col2im) so every output is written
// by one thread, without atomics; with k = 2s each output sums exactly two taps.
//
// Layout: x [t, cin], out [out_t(t), cout] (time steps as rows). The weight is PyTorch's [cin, cout, k]
// packed once at load by conv_transpose1d_pack_weight into [k*cout, cin] (row tap*cout + co), the
// matmul layout (nn.Linear's [out, in]) whose output row groups one tap's channels together.
#pragma once
#include <algorithm>
#include "../core/parallel.h"  // CpuContext
#include "matmul.h"            // WType
#ifdef COSMOS_CUDA
#include "../core/cuda_context.h"
#endif

struct ConvTranspose1dDims {
  int cin = 0, cout = 0;
  int k = 1, stride = 1, pad = 0, output_pad = 0;
  // PyTorch's L_out = (L - 1) * stride - 2 * pad + k + output_pad (dilation 1).
  int out_t(int t) const { return t <= 0 ? 0 : std::max(0, (t - 1) * stride - 2 * pad + k + output_pad); }
};

// packed [k*cout, cin] from w [cin, cout, k] (PyTorch's ConvTranspose1d weight as stored).
void conv_transpose1d_pack_weight(float* packed, const float* w, int cin, int cout, int k);

// out [out_t(t), cout] = ConvTranspose1d of x [t, cin] with the packed weight [k*cout, cin] and bias [cout]
// (or null). Output steps in blocks whose Y (their input steps' [k*cout] rows) is at most ~4M floats (heap,
// per call); an input step shared by two blocks is multiplied twice (one row in s).
void conv_transpose1d_cpu(float* out, const float* x, int t, const float* packed_w, const float* bias,
                          const ConvTranspose1dDims& d, const cosmos::CpuContext& ctx);

#ifdef COSMOS_CUDA
// Device pointers; the packed weight in wt (F32 / BF16). Y per output block from ctx.pool (<= 256 MiB),
// matmul_cuda, then one gather kernel (bias + taps).
void conv_transpose1d_cuda(float* out, const float* x, int t, const void* packed_w, WType wt, const float* bias,
                           const ConvTranspose1dDims& d, const cosmos::CudaContext& ctx);
#endif

// The input steps [first, last] an output block [o0, o1) reads, clipped to [0, t) (shared by both twins).
struct ConvTranspose1dSpan {
  int first = 0, last = -1;
  int count() const { return last - first + 1; }
};
inline ConvTranspose1dSpan conv_transpose1d_span(const ConvTranspose1dDims& d, int t, int o0, int o1) {
  // Output o reads inputs i with 0 <= o + pad - i*stride < k, i.e. ceil((o + pad - k + 1) / s) <= i <= (o + pad) / s.
  const int lo_num = o0 + d.pad - d.k + 1;
  ConvTranspose1dSpan s;
  s.first = lo_num <= 0 ? 0 : (lo_num + d.stride - 1) / d.stride;
  s.last = std::min(t - 1, (o1 - 1 + d.pad) / d.stride);
  return s;
}
// Output steps per block so that the block's Y stays within max_floats.
inline int conv_transpose1d_block(const ConvTranspose1dDims& d, int out_t, long long max_floats) {
  const long long row = (long long)d.k * d.cout;
  const long long in_rows = std::max<long long>(1, max_floats / row);
  const long long taps_span = (d.k + d.stride - 1) / d.stride + 1;  // input steps beyond ob / stride
  const long long ob = std::max<long long>(1, (in_rows - taps_span) * d.stride);
  return (int)std::min<long long>(ob, std::max(out_t, 1));
}
