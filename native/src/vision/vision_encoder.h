// Qwen3-VL vision tower (transformers' Qwen3VLVisionModel), fp32 CPU reference.
//
//   pixel_values [N, C*tp*p*p] --patch_embed (Conv3d k=s=(tp,p,p) == matmul)--> [N, D]
//   + learned pos_embed bilinearly interpolated to each grid
//   depth x block: x += proj(attn(LN1(x))) ; x += fc2(gelu_tanh(fc1(LN2(x))))
//       attention is full within each frame (cu_seqlens), 2D rotary on (row, col)
//   deepstack_merger_list[k](x) after block deepstack_visual_indexes[k]  -> [N/4, out]
//   merger(x) -> [N/4, out]: LN(D) per patch, concat the 4 patches of a 2x2 block, fc1, GELU, fc2
//
// Weights are bound by checkpoint name exactly as transformers saves Qwen3VLForConditionalGeneration
// (`model.visual.patch_embed.proj.weight`, `model.visual.blocks.N.attn.qkv.weight`, ...), through a
// lookup callback so any loader (the engine's safetensors loader, a test reader) can serve them.
#pragma once
#include <cstdint>
#include <functional>
#include <string>
#include <vector>
#include "vision_config.h"

struct VisionLinear { const float* w = nullptr; const float* b = nullptr; int in = 0, out = 0; };
struct VisionNorm { const float* g = nullptr; const float* b = nullptr; int d = 0; };

struct VisionBlockWeights {
    VisionNorm norm1, norm2;
    VisionLinear qkv, proj;   // attn.qkv [3D, D] (q | k | v, heads contiguous), attn.proj [D, D]
    VisionLinear fc1, fc2;    // mlp.linear_fc1 [I, D], mlp.linear_fc2 [D, I]
};

struct VisionMergerWeights {
    bool postshuffle = false; // deepstack mergers normalise the concatenated 4D vector
    VisionNorm norm;
    VisionLinear fc1, fc2;    // linear_fc1 [4D, 4D], linear_fc2 [out, 4D]
};

struct VisionWeights {
    VisionLinear patch_embed;           // proj.weight [D, C, tp, p, p] viewed as [D, patch_dim]
    const float* pos_embed = nullptr;   // [num_position_embeddings, D]
    std::vector<VisionBlockWeights> blocks;
    VisionMergerWeights merger;
    std::vector<VisionMergerWeights> deepstack;
};

// Returns the fp32 data of a tensor with this exact name and shape, or nullptr if missing
// or shaped otherwise.
using VisionTensorLookup = std::function<const float*(const std::string& name, const std::vector<int64_t>& shape)>;

// Binds every weight of the tower; on failure returns false and names the first bad tensor.
bool vision_bind_weights(const VisionConfig& cfg, const VisionTensorLookup& lookup, VisionWeights& w,
                         std::string& error, const std::string& prefix = "model.visual.");

struct VisionOutput {
    int64_t tokens = 0;                       // merged tokens = patches / merge^2
    int out_dim = 0;
    std::vector<float> embeds;                // [tokens, out_hidden_size]
    std::vector<std::vector<float>> deepstack; // one [tokens, out_hidden_size] per deepstack index
};

// Runs the tower on pixel_values [patches, patch_dim] of the given grids (images and/or
// videos, in the order their rows are concatenated).
void vision_forward_cpu(const VisionConfig& cfg, const VisionWeights& w, const float* pixel_values,
                        const std::vector<VisionGrid>& grids, VisionOutput& out);
