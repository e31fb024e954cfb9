// Qwen3-VL vision tower (transformers' Qwen3VLVisionModel) on the engine's shared ops.
//
//   pixel_values [N, C*tp*p*p] --patch_embed (Conv3d k=s=(tp,p,p) == matmul)--> [N, D]
//   + learned pos_embed bilinearly interpolated to each grid
//   depth x block: x += proj(attn(LN1(x))) ; x += fc2(gelu_tanh(fc1(LN2(x))))
//       attention is full (non-causal) within each frame (cu_seqlens), 2D rotary on (row, col)
//   deepstack_merger_list[k](x) after block deepstack_visual_indexes[k]  -> [N/4, out]
//   merger(x) -> [N/4, out]: LN(D) per patch, concat the 4 patches of a 2x2 block, fc1, GELU, fc2
//
// Weights are bound by checkpoint name exactly as transformers saves Qwen3VLForConditionalGeneration
// (`model.visual.patch_embed.proj.weight`, `model.visual.blocks.N.attn.qkv.weight`, ...) through
// qwen3_vision_bind and a WeightBinder (layers/weights.h): the same listing serves the CPU tower (f32
// host copies), the CUDA tower and its random benchmark weights.
// Rows of pixel_values and of every output are in the processor's merged patch order
// (t, h/m, w/m, m, m): the 4 rows of one 2x2 merge block are contiguous.
#pragma once
#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "../core/errors.h"    // ModelError, AbortedError
#include "../core/parallel.h"  // CpuContext
#include "../core/tensor.h"
#include "../layers/attention_block.h"
#include "../layers/mlp.h"
#include "../layers/norm.h"
#include "../layers/weights.h"
#include "../safetensors/safetensors.h"

namespace cosmos {

// config.json "vision_config", as transformers' Qwen3VLVisionConfig names it. The TS side validates
// config.json (zod) and fills this in; defaults are Qwen3-VL-8B's.
struct Qwen3VisionConfig {
  int depth = 27;                // transformer blocks
  int hidden_size = 1152;        // D
  int intermediate_size = 4304;  // MLP width
  int num_heads = 16;            // head_dim = D / num_heads
  int in_channels = 3;
  int patch_size = 16;
  int temporal_patch_size = 2;
  int spatial_merge_size = 2;
  int out_hidden_size = 4096;          // text hidden size the mergers project to
  int num_position_embeddings = 2304;  // a square grid (48 x 48) of learned embeddings
  std::vector<int> deepstack_visual_indexes = {8, 16, 24};
  float layer_norm_eps = 1e-6f;  // nn.LayerNorm(eps=1e-6) in blocks and mergers
  float rope_theta = 10000.0f;   // Qwen3VLVisionRotaryEmbedding default

  // Accepts a full Qwen3-VL config.json (uses vision_config) or a bare vision config. Throws
  // ModelError naming the field; only hidden_act gelu_pytorch_tanh (every Qwen3-VL) is supported.
  static Qwen3VisionConfig from_json(const std::string& json_text);

  int head_dim() const { return hidden_size / num_heads; }
  int patch_dim() const { return in_channels * temporal_patch_size * patch_size * patch_size; }
  int merge_unit() const { return spatial_merge_size * spatial_merge_size; }
};

// One image or video in the batch: grid in patches (t, h, w), as image_grid_thw rows.
struct Qwen3VisionGrid {
  int t, h, w;
};

// One ViT block on the shared layers: x += attn(norm1(x)); x += mlp(norm2(x)). The attention is the
// shared block with no q/k norm, full (non-causal) within each frame, MHA, biased projections and the
// 2D rotary's tables; attn.qkv [3D, D] (q | k | v, heads contiguous), attn.proj [D, D].
struct Qwen3VisionBlock {
  LayerNorm norm1, norm2;
  AttentionBlock attn;
  GeluMlp mlp;  // mlp.linear_fc1 [I, D], mlp.linear_fc2 [D, I], gelu_pytorch_tanh
};

// PatchMerger: LayerNorm (per patch, or over the concatenated 2x2 block for the deepstack mergers),
// then linear_fc1 [4D, 4D], exact GELU, linear_fc2 [out, 4D] on each 2x2 block of patches.
struct Qwen3VisionMerger {
  bool postshuffle = false;  // deepstack mergers normalise the concatenated 4D vector
  LayerNorm norm;
  GeluMlp mlp;
};

struct Qwen3VisionWeights {
  Linear patch_embed;                // proj.weight [D, C, tp, p, p] used as [D, patch_dim], with its bias
  const float* pos_embed = nullptr;  // [num_position_embeddings, D]
  std::vector<Qwen3VisionBlock> blocks;
  Qwen3VisionMerger merger;
  std::vector<Qwen3VisionMerger> deepstack;
};

// Binds every weight of the tower by name (prefix + "blocks.N.attn.qkv.weight", ...) into the binder's
// store; throws ModelError naming the first bad tensor (or the config), SafetensorsError for a missing one.
void qwen3_vision_bind(const Qwen3VisionConfig& cfg, WeightBinder& wb, Qwen3VisionWeights& w,
                       const std::string& prefix = "model.visual.");

// Checks grids against the config (positive, h and w divisible by the merge size); on failure
// returns false with a sentence in `error`.
bool qwen3_vision_check_grids(const Qwen3VisionConfig& cfg, const std::vector<Qwen3VisionGrid>& grids,
                              std::string& error);

struct Qwen3VisionOutput {
  int64_t tokens = 0;  // merged tokens = patches / merge^2
  int out_dim = 0;
  std::vector<float> embeds;                  // [tokens, out_hidden_size]
  std::vector<std::vector<float>> deepstack;  // one [tokens, out_hidden_size] per deepstack index
};

// Runs the tower on pixel_values [patches, patch_dim] of the given grids (images and/or videos,
// in the order their rows are concatenated). Grids must pass qwen3_vision_check_grids.
// The matmuls and attention run on ctx's threads. `abort` (nullable) is checked between blocks; when set
// the call throws AbortedError.
void qwen3_vision_forward_cpu(const Qwen3VisionConfig& cfg, const Qwen3VisionWeights& w, const float* pixel_values,
                              const std::vector<Qwen3VisionGrid>& grids, Qwen3VisionOutput& out, const CpuContext& ctx,
                              const std::atomic<bool>* abort = nullptr);

// The tower with its weights (f32 copies, converted from BF16/F16 checkpoints when needed).
class Qwen3Vision {
 public:
  // Reads every model.visual.* tensor the config names; throws ModelError (bad shape) or
  // SafetensorsError (missing tensor, unreadable dtype).
  static std::unique_ptr<Qwen3Vision> load(const Checkpoint& ck, const Qwen3VisionConfig& cfg);

  const Qwen3VisionConfig& config() const { return cfg_; }
  // Bytes of weights held.
  size_t weight_bytes() const;

  // Checks grids and the pixel_values length (patches x patch_dim floats), then runs the tower.
  // Throws ModelError on bad input, AbortedError when the abort flag is set between blocks.
  void forward(const float* pixel_values, size_t n_floats, const std::vector<Qwen3VisionGrid>& grids,
               Qwen3VisionOutput& out) const;

  // Checked between transformer blocks.
  void set_abort_flag(const std::atomic<bool>* f) { abort_ = f; }

 private:
  Qwen3VisionConfig cfg_;
  HostWeightStore store_;  // owns the weights' memory
  Qwen3VisionWeights w_;
  const std::atomic<bool>* abort_ = nullptr;
  CpuContext cpu_;  // passed to every op: the default thread count (COSMOS_THREADS or all cores)
};

// ---- Position helpers (cheap index math that runs once per request; a CUDA path uploads the
// results as inputs, so they have no device twin). All in merged patch order.

// Total patches (rows of pixel_values) of a batch of grids.
int64_t qwen3_vision_num_patches(const std::vector<Qwen3VisionGrid>& grids);

// Corner indexes (4 per patch, into the side x side table) and float32 weights of
// Qwen3VLVisionModel.fast_pos_embed_interpolate, patches in the processor's merged order. Shared by
// the CPU tower and the CUDA tower (which does only the D-wide weighted sum on the GPU).
void qwen3_vision_pos_corners(int num_pos, const std::vector<Qwen3VisionGrid>& grids, int merge, std::vector<int>& idx,
                              std::vector<float>& wt);

// Learned position embeddings bilinearly interpolated to each grid
// (Qwen3VLVisionModel.fast_pos_embed_interpolate): out [patches, D].
void qwen3_vision_pos_embed_cpu(const float* pos_embed, int num_pos, int D, const std::vector<Qwen3VisionGrid>& grids,
                                int merge, float* out);

// cos / sin of the 2D rotary embedding per patch: [patches, head_dim] each
// (emb = cat(freqs, freqs), freqs = [row * inv_freq, col * inv_freq]).
void qwen3_vision_rotary_cpu(const std::vector<Qwen3VisionGrid>& grids, int merge, int head_dim, float theta,
                             float* cos_out, float* sin_out);

// Attention segment boundaries: one segment per frame (t) of every grid, h*w patches each
// (cu_seqlens with a leading 0).
void qwen3_vision_cu_seqlens(const std::vector<Qwen3VisionGrid>& grids, std::vector<int32_t>& out);

// torch.linspace(start, end, steps) in float32, bit for bit (ATen's two-sided kernel), so floor()
// of the values agrees with PyTorch at the grid points.
void torch_linspace_f32(float start, float end, int steps, float* out);

}  // namespace cosmos
