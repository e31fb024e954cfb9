// conv3d_igemm_wgmma: conv3d_igemm's implicit GEMM (ops/conv3d_igemm.h: the same k-tiles, window and bf16 rounding)
// with its products on Hopper's wgmma instead of mma.sync. Reached through conv3d_igemm_cuda, which packs the weight
// and fills the bf16 window as for the mma.sync kernel and launches one of these on an H100 / H200 (COSMOS_VAE_CONV=mma
// keeps mma.sync): stride-1 convs on the TMA kernel (box copies of whole tap windows, a producer warpgroup and a
// multi-stage pipeline), other strides on the gather kernel (every thread copies its tile rows with cp.async, as the
// mma.sync kernel; COSMOS_VAE_CONV=gather takes it for every conv). CPU twin: conv3d_cpu (and
// conv3d_igemm_emulate_cpu for the tiling).
//
// Needs sm_90a machine code (wgmma, setmaxnreg): built as its own -gencode arch=compute_90a,code=sm_90a object like
// the other ops/*_wgmma.cu (native/CMakeLists.txt). Built for anything else the kernels are empty and
// conv3d_igemm_wgmma_available() says false.
#pragma once
#ifdef COSMOS_CUDA
#include <cuda_bf16.h>
#include <cuda_runtime.h>

#include "conv3d_igemm.h"

namespace cosmos {

// True when this build carries the sm_90a kernel and the device is compute capability 9.0 (probed once per
// process; during a graph capture an unprobed call answers false).
bool conv3d_igemm_wgmma_available(cudaStream_t stream);

// One launch of conv3d_igemm_cuda (whole output frames): out [M, g.cout] (f32, or bf16 when out_bf16; pairs stored
// together when `pair`) = gather(win) · wp^T + bias over the M output pixels of the window, with win the bf16 window
// [frames, h, w, cin] and wp the tap-major packed weight [cout, taps, cin]. Enqueued on `stream`.
void conv3d_igemm_wgmma_launch(void* out, bool out_bf16, const __nv_bfloat16* win, const __nv_bfloat16* wp,
                               const float* bias, const IgemmGeometry& g, int M, bool pair, cudaStream_t stream);

// Whether conv3d_igemm_wgmma_launch takes the TMA kernel for this geometry (stride 1, COSMOS_VAE_CONV not "gather").
bool conv3d_igemm_wgmma_tma(const IgemmGeometry& g);

// Whether a launch may use 128 x 256 tiles rather than 128 x 128: cout >= 256 (the TMA kernel also keeps 128 where
// the wider tiles would leave SMs idle); COSMOS_VAE_CONV_WIDE=N: exactly for cout >= N in both kernels (0: never).
bool conv3d_igemm_wgmma_wide(int cout);

}  // namespace cosmos
#endif
