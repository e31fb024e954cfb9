// Wan2.2's AvgDown3D shortcut (the encoder's residual down blocks), added into the main path's output:
// the input's (ft, fs, fs) blocks are folded into channels (channel c, offset (dt, dy, dx) -> c*factor +
// (dt*fs + dy)*fs + dx, factor = ft*fs*fs), then each output channel o is the mean of the group of
// cin*factor/cout consecutive folded channels starting at o*group. When t is not a multiple of ft the
// front is zero-padded (F.pad before the view), as in diffusers' per-chunk call.
#pragma once
#ifdef COSMOS_CUDA
#include "../core/cuda_context.h"
#endif

// x [t, h, w, cin] channels-last; out [(t + pad)/ft, h/fs, w/fs, cout] += the shortcut; pad = (ft - t%ft) % ft.
// cin*factor must be a multiple of cout; h, w multiples of fs.
void avg_down_add_cpu(float* out, const float* x, int t, int h, int w, int cin, int cout, int ft, int fs);

#ifdef COSMOS_CUDA
void avg_down_add_cuda(float* out, const float* x, int t, int h, int w, int cin, int cout, int ft, int fs,
                       const cosmos::CudaContext& ctx);
#endif
