// conv3d_igemm_wgmma: conv3d_igemm's implicit-GEMM kernel (ops/conv3d_igemm.h: the same tiles, tap gather, window
// and bf16 rounding) with its products on Hopper's wgmma instead of mma.sync. Reached through conv3d_igemm_cuda,
// which packs the weight and fills the bf16 window as for the mma.sync kernel and launches this one on an H100 /
// H200 (COSMOS_VAE_CONV=mma keeps mma.sync). CPU twin: conv3d_cpu (and conv3d_igemm_emulate_cpu for the tiling).
//
// Needs sm_90a machine code (wgmma): built as its own -gencode arch=compute_90a,code=sm_90a object like the other
// ops/*_wgmma.cu (native/CMakeLists.txt). Built for anything else the kernel is empty and
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

// One launch of conv3d_igemm_cuda: out [M, g.cout] (f32, or bf16 when out_bf16; pairs stored together when `pair`)
// = gather(win) · wp^T + bias over the M output pixels of the window, with win the bf16 window [frames, h, w, cin]
// and wp the tap-major packed weight [cout, taps, cin]. Enqueued on `stream`.
void conv3d_igemm_wgmma_launch(void* out, bool out_bf16, const __nv_bfloat16* win, const __nv_bfloat16* wp,
                               const float* bias, const IgemmGeometry& g, int M, bool pair, cudaStream_t stream);

// Whether a launch uses 128 x 256 tiles (cout >= 256; COSMOS_VAE_CONV_WIDE=N moves the threshold, 0 turns them off)
// rather than 128 x 128.
bool conv3d_igemm_wgmma_wide(int cout);

}  // namespace cosmos
#endif
