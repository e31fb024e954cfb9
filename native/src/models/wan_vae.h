// The Wan2.2 video VAE (diffusers' AutoencoderKLWan with is_residual=True, as the Cosmos 3 Generator uses it:
// z 48, 2x2 pixel patchify to 12 channels, 4x16x16 compression) on the engine's ops, CPU here and CUDA in
// wan_vae_cuda.h; the forward is written once over a backend in wan_vae_forward.h.
//
//   encode: video [3, F, H, W] in [-1, 1] --patchify 2x2--> causal conv_in --> down blocks (residual blocks,
//           spatial / time downsampling, + AvgDown3D shortcut) --> mid (res, attention per frame, res) -->
//           RMS_norm, SiLU, conv_out --> quant_conv, first z channels = the posterior's mean (its mode)
//   decode: z [48, T, h, w] --post_quant_conv, causal conv_in, mid--> up blocks (residual blocks, nearest 2x +
//           conv, time conv doubling frames, + DupUp3D shortcut) --> RMS_norm, SiLU, conv_out --> unpatchify
//
// Time is causal: every 3x3x3 conv keeps its last two input frames between chunks (diffusers' feat_cache),
// the first frame of a stream is not time-upsampled / downsampled, so F = 1 + 4 (T - 1). decode runs
// latent frame by latent frame (one chunk = 1 latent frame -> 4 video frames, the first -> 1), encode runs
// 1 frame then 4 at a time, as diffusers does: peak memory is one chunk's activations plus the caches,
// whatever the clip length; the decoder's layers after its last time upsampling run one frame at a time, and the
// caches are bf16 where the conv rounds its input so (CUDA). Other chunk sizes give the same numbers (tested),
// larger ones run fewer, larger GEMMs.
//
// Weights are bound by the diffusers key names of vae/diffusion_pytorch_model.safetensors
// (decoder.up_blocks.0.resnets.1.conv1.weight, ...) through a WeightBinder; convolutions keep PyTorch's
// weight layout and run as im2col + matmul (ops/conv3d.h). Activations are channels-last frames [t, h, w, c].
#pragma once
#include <atomic>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "../core/errors.h"    // ModelError, AbortedError
#include "../core/parallel.h"  // CpuContext
#include "../layers/linear.h"
#include "../layers/weights.h"
#include "../ops/conv3d.h"
#include "../safetensors/safetensors.h"

namespace cosmos {

// vae/config.json (diffusers' AutoencoderKLWan config). Only the Wan2.2 residual flavour is supported.
struct WanVaeConfig {
  int base_dim = 160;
  int decoder_base_dim = 256;  // config null: base_dim
  int z_dim = 48;
  std::vector<int> dim_mult = {1, 2, 4, 4};
  int num_res_blocks = 2;
  std::vector<bool> temperal_downsample = {false, true, true};  // (sic) diffusers' spelling
  int in_channels = 12, out_channels = 12;                      // after patchify: video channels * patch_size^2
  int patch_size = 2;                                           // config null: 1
  std::vector<float> latents_mean, latents_std;                 // z_dim each

  // Throws ModelError naming the field: missing / malformed sizes, is_residual false (Wan2.1), attn_scales not
  // empty, channel counts the shortcuts cannot fold, latents_mean / latents_std not z_dim numbers.
  static WanVaeConfig from_json(const std::string& json_text);

  int video_channels() const { return in_channels / (patch_size * patch_size); }
  int spatial_scale() const { return patch_size << ((int)dim_mult.size() - 1); }  // 16
  int temporal_scale() const;                                                     // 4
  int frames_for(int latent_frames) const { return 1 + (latent_frames - 1) * temporal_scale(); }
  int latent_frames_for(int frames) const { return 1 + (frames - 1) / temporal_scale(); }
};

// A convolution used as a matmul: w [cout, cin*kt*kh*kw] (the checkpoint tensor as stored) and its shape.
struct WanConv {
  Linear w;
  Conv3dDims d;
  // CUDA: the implicit-GEMM conv's tap-major weight, packed once at load (ops/conv3d_igemm.h; w.w is then null,
  // given back, unless another binding holds its block), or null (packed per call; the CPU model, f32 weights, 1x1x1
  // kernels).
  const void* packed = nullptr;
};

struct WanResBlock {  // WanResidualBlock: x + conv2(silu(norm2(conv1(silu(norm1(x)))))), 1x1x1 shortcut if in != out
  const float* norm1 = nullptr;
  const float* norm2 = nullptr;
  WanConv conv1, conv2;
  bool has_shortcut = false;
  WanConv shortcut;
};

struct WanAttnBlock {  // WanAttentionBlock: one head over a frame's pixels, x + proj(sdpa(qkv(norm(x))))
  const float* norm = nullptr;
  Linear qkv;   // [3C, C]: q | k | v
  Linear proj;  // [C, C]
};

struct WanMidBlock {
  WanResBlock res0, res1;
  WanAttnBlock attn;
};

struct WanUpBlock {  // WanResidualUpBlock
  int in = 0, out = 0;
  std::vector<WanResBlock> res;   // num_res_blocks + 1
  bool up = false, up_t = false;  // nearest 2x + conv; time conv doubling frames (upsample3d)
  WanConv resample;               // 3x3, pad 1
  WanConv time_conv;              // [2C, C, 3, 1, 1]
};

struct WanDownBlock {  // WanResidualDownBlock
  int in = 0, out = 0;
  std::vector<WanResBlock> res;  // num_res_blocks
  bool down = false, down_t = false;
  WanConv resample;   // pad right / bottom 1, 3x3 stride 2
  WanConv time_conv;  // [C, C, 3, 1, 1], time stride 2
};

struct WanVaeWeights {
  bool has_encoder = false, has_decoder = false;
  // encoder
  WanConv enc_conv_in;
  std::vector<WanDownBlock> down;
  WanMidBlock enc_mid;
  const float* enc_norm_out = nullptr;
  WanConv enc_conv_out;
  WanConv quant_mu;  // quant_conv's first z_dim output rows: the posterior mean (logvar is never needed)
  // decoder
  WanConv post_quant;
  WanConv dec_conv_in;
  WanMidBlock dec_mid;
  std::vector<WanUpBlock> up;
  const float* dec_norm_out = nullptr;
  WanConv dec_conv_out;
  // latents_mean / latents_std as parameters of the store (the CUDA backend reads them on the device)
  const float* latents_mean = nullptr;
  const float* latents_std = nullptr;
};

// Binds the encoder and / or the decoder by diffusers key name. Shapes follow from cfg.
void wan_vae_bind(const WanVaeConfig& cfg, WeightBinder& wb, WanVaeWeights& w, bool encoder = true,
                  bool decoder = true);

// Every convolution of the bound parts, in no particular order (the CUDA model packs their weights once).
void wan_vae_for_each_conv(WanVaeWeights& w, const std::function<void(WanConv&)>& f);

// Per call: chunking, progress and abort. The abort flag is read between chunks (AbortedError).
struct WanVaeRunOptions {
  int chunk_latent_frames = 1;  // latent frames per chunk (encode: the first chunk is always frame 0 alone)
  bool normalized = true;       // latents are the pipeline's normalised ones ((mu - mean) / std)
  bool clamp = true;            // decode: clamp the video to [-1, 1] as diffusers' decode does
  std::function<void(int done, int total)> on_chunk;  // after each chunk, in chunks
  const std::atomic<bool>* abort = nullptr;
};

// The CPU model: f32 host weights.
class WanVae {
 public:
  static std::unique_ptr<WanVae> load(const Checkpoint& ck, const WanVaeConfig& cfg, bool encoder = true,
                                      bool decoder = true);
  static std::unique_ptr<WanVae> random(const WanVaeConfig& cfg, uint64_t seed, float std);  // tests, benchmarks

  // latents [z, T, h, w] -> video [C, F, h*16, w*16], F = 1 + 4 (T - 1) (returned, channel-first, f32).
  std::vector<float> decode(const float* latents, int T, int h, int w, const WanVaeRunOptions& opt = {}) const;
  // video [C, F, H, W] (values in [-1, 1]; F = 1 + 4k; H, W multiples of 16) -> latents [z, T, H/16, W/16].
  std::vector<float> encode(const float* video, int F, int H, int W, const WanVaeRunOptions& opt = {}) const;

  const WanVaeConfig& config() const { return cfg_; }
  size_t weight_bytes() const { return store_.bytes(); }
  void set_threads(int n) { cpu_.threads = n; }

 private:
  WanVae() = default;
  WanVaeConfig cfg_;
  HostWeightStore store_;
  WanVaeWeights w_;
  CpuContext cpu_;
};

// Argument checks shared by both backends (ModelError naming the argument).
void wan_vae_check_decode(const WanVaeConfig& cfg, const WanVaeWeights& w, int T, int h, int w_,
                          const WanVaeRunOptions& opt);
void wan_vae_check_encode(const WanVaeConfig& cfg, const WanVaeWeights& w, int F, int H, int W,
                          const WanVaeRunOptions& opt);

}  // namespace cosmos
