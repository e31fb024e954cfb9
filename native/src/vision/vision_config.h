// Qwen3-VL vision tower configuration (config.json "vision_config"), as transformers'
// Qwen3VLVisionConfig names it. Plain struct: the TS side validates config.json (zod) and
// fills this in.
#pragma once
#include <vector>

struct VisionConfig {
    int depth = 27;                  // transformer blocks
    int hidden_size = 1152;          // D
    int intermediate_size = 4304;    // MLP width
    int num_heads = 16;              // head_dim = D / num_heads
    int in_channels = 3;
    int patch_size = 16;
    int temporal_patch_size = 2;
    int spatial_merge_size = 2;
    int out_hidden_size = 3584;      // text hidden size the merger projects to
    int num_position_embeddings = 2304;  // a square grid (48 x 48) of learned embeddings
    std::vector<int> deepstack_visual_indexes = {8, 16, 24};
    float layer_norm_eps = 1e-6f;    // nn.LayerNorm(eps=1e-6) in blocks and mergers
    float rope_theta = 10000.0f;     // Qwen3VLVisionRotaryEmbedding default

    int head_dim() const { return hidden_size / num_heads; }
    int patch_dim() const { return in_channels * temporal_patch_size * patch_size * patch_size; }
    int merge_unit() const { return spatial_merge_size * spatial_merge_size; }
};

// One image or video in the batch: grid in patches (t, h, w), as image_grid_thw rows.
struct VisionGrid {
    int t, h, w;
};
