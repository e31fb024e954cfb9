// conv1d: a 1D convolution (stride, dilation, zero padding) over channels-last sequences as im2col +
// our matmul, the convolutions of the Cosmos 3 AVAE audio decoder (Oobleck: kernel 7 with dilations
// 1 / 3 / 9 in the residual units, kernel 1 pointwise, kernel 7 in and out) and encoder.
//
// Layout: x [t, cin] row-major (a time step's channels contiguous), so time steps are the matmul's
// rows and out comes back [out_t, cout]. Weights stay in PyTorch's Conv1d layout [cout, cin, k]: the
// im2col column of tap (ci, j) is ci*k + j, the weight's own flattening, so a checkpoint tensor (or its
// weight-norm fold) is used as stored.
#pragma once
#include "../core/parallel.h"  // CpuContext
#include "matmul.h"            // WType
#ifdef COSMOS_CUDA
#include "../core/cuda_context.h"
#endif

struct Conv1dDims {
  int cin = 0, cout = 0;
  int k = 1, stride = 1, dilation = 1;
  int pad_left = 0, pad_right = 0;      // zero padding
  int cols() const { return cin * k; }  // im2col row length = the weight's row length
  // PyTorch's L_out = floor((L + pads - dilation (k - 1) - 1) / stride) + 1 (0 when the input is too short).
  int out_t(int t) const {
    const int span = t + pad_left + pad_right - dilation * (k - 1) - 1;
    return span < 0 ? 0 : span / stride + 1;
  }
  bool pointwise() const { return k == 1 && stride == 1 && pad_left == 0 && pad_right == 0; }
};

// out [out_t(t), cout] = conv of x [t, cin] with w [cout, cin*k] and bias [cout] (or null). Output step o
// reads x rows o*stride - pad_left + j*dilation, j < k (zeros outside). im2col rows are built in blocks of
// at most 4M floats (heap, per call), so scratch stays bounded at any length; pointwise = one matmul on x.
void conv1d_cpu(float* out, const float* x, int t, const float* w, const float* bias, const Conv1dDims& d,
                const cosmos::CpuContext& ctx);

#ifdef COSMOS_CUDA
// Device pointers. im2col into a workspace from ctx.pool (row blocks of at most 256 MiB), then matmul_cuda
// (bf16 tensor cores or exact f32 by wt); pointwise calls matmul_cuda on x directly.
void conv1d_cuda(float* out, const float* x, int t, const void* w, WType wt, const float* bias, const Conv1dDims& d,
                 const cosmos::CudaContext& ctx);
#endif
