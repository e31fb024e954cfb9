// Vision-only position helpers of the Qwen3-VL tower (CPU reference; cheap index math that
// runs once per request, so no CUDA twin is needed: the results are uploaded as inputs).
//
// All outputs are in the processor's merged patch order (t, h/m, w/m, m, m): rows of one
// 2x2 merge block are contiguous, the order pixel_values uses.
#pragma once
#include <cstdint>
#include <vector>
#include "vision_config.h"

// Total patches (rows of pixel_values) of a batch of grids.
int64_t vision_num_patches(const std::vector<VisionGrid>& grids);

// (row, col) patch coordinate of every patch, merged order: out[2*i], out[2*i+1].
// transformers: Qwen3VLVisionModel.rot_pos_emb's pos_ids.
void vision_patch_coords(const std::vector<VisionGrid>& grids, int merge, std::vector<int32_t>& out);

// Learned position embeddings bilinearly interpolated to each grid
// (Qwen3VLVisionModel.fast_pos_embed_interpolate): out [patches, D].
// pos_embed: [num_position_embeddings, D] fp32 table (a square side x side grid).
void vision_pos_embed_interpolate_cpu(const float* pos_embed, int num_pos, int D,
                                      const std::vector<VisionGrid>& grids, int merge, float* out);

// cos / sin of the 2D rotary embedding per patch: [patches, head_dim] each
// (emb = cat(freqs, freqs), freqs = [row * inv_freq, col * inv_freq]).
void vision_rotary_cpu(const std::vector<VisionGrid>& grids, int merge, int head_dim, float theta,
                       float* cos_out, float* sin_out);

// Attention segment boundaries: one segment per frame (t) of every grid, h*w patches each
// (cu_seqlens with a leading 0).
void vision_cu_seqlens(const std::vector<VisionGrid>& grids, std::vector<int32_t>& out);

// torch.linspace(start, end, steps) in float32, bit for bit: the first half counts up from
// start, the second half down from end (ATen's linspace kernel), so floor() of the values
// agrees with PyTorch at the grid points.
void torch_linspace_f32(float start, float end, int steps, float* out);
