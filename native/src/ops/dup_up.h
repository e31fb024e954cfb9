// Wan2.2's DupUp3D shortcut (the decoder's residual up blocks), added into the main path's output: each
// input channel repeated cout*factor/cin times (repeat_interleave), the repeats unfolded into (ft, fs, fs)
// blocks of output frames and pixels (folded channel e = o*factor + (dt*fs + dy)*fs + dx reads input channel
// e / repeats). skip drops the first output frames: diffusers drops ft - 1 of them on the stream's first
// chunk, so the first latent frame gives one video frame.
#pragma once
#ifdef COSMOS_CUDA
#include "../core/cuda_context.h"
#endif

// x [t, h, w, cin] channels-last; out [t*ft - skip, h*fs, w*fs, cout] += the shortcut.
void dup_up_add_cpu(float* out, const float* x, int t, int h, int w, int cin, int cout, int ft, int fs, int skip);

#ifdef COSMOS_CUDA
void dup_up_add_cuda(float* out, const float* x, int t, int h, int w, int cin, int cout, int ft, int fs, int skip,
                     const cosmos::CudaContext& ctx);
#endif
