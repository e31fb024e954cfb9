// The Wan2.2 VAE on the GPU: the CPU model's weights listing (wan_vae_bind) into a CudaWeightStore and its
// forward (wan_vae_forward.h) over the *_cuda ops, on the model's own stream and pool. Convolutions are
// im2col + matmul_cuda (bf16 tensor cores or exact f32 by the weight type), the mid attention two f32 GEMMs.
// The device entry points take and give the denoiser's latents in place; the host ones wrap them.
#pragma once
#ifndef COSMOS_CUDA
#define COSMOS_CUDA 1
#endif
#include <cuda_runtime.h>

#include <memory>
#include <vector>

#include "../core/cuda_context.h"
#include "../core/cuda_pool.h"
#include "../layers/weights.h"
#include "wan_vae.h"

namespace cosmos {

class WanVaeCuda {
 public:
  // wt: the convolutions' weight dtype on the GPU (F32 = exact f32 GEMMs; BF16 = tensor cores, ~1e-2 relative).
  static std::unique_ptr<WanVaeCuda> load(const Checkpoint& ck, const WanVaeConfig& cfg, WType wt, bool encoder = true,
                                          bool decoder = true);
  static std::unique_ptr<WanVaeCuda> random(const WanVaeConfig& cfg, WType wt, uint64_t seed, float std);
  ~WanVaeCuda();
  WanVaeCuda(const WanVaeCuda&) = delete;
  WanVaeCuda& operator=(const WanVaeCuda&) = delete;

  // Device in: latents_dev [z_dim, T, h, w] in this device's memory (the denoiser's latents; their producer's
  // work complete: the VAE runs on its own stream). The video [video_channels, frames_for(T), h*s, w*s] goes to
  // the caller's device buffer video_dev, or with decode_device_to_host to host memory one chunk at a time (the
  // whole video never sits in the pool: the activations are one chunk's plus the causal caches either way).
  void decode_device(const float* latents_dev, int T, int h, int w, float* video_dev, const WanVaeRunOptions& opt = {});
  void decode_device_to_host(const float* latents_dev, int T, int h, int w, float* video_host,
                             const WanVaeRunOptions& opt = {});
  // Device in, device out: video_dev [video_channels, F, H, W] -> latents_dev [z_dim, latent_frames_for(F), H/s, W/s].
  void encode_device(const float* video_dev, int F, int H, int W, float* latents_dev, const WanVaeRunOptions& opt = {});
  // Host in, host out (the WanVae contract): the device entry points through one upload (and, for encode, one
  // download).
  std::vector<float> decode(const float* latents, int T, int h, int w, const WanVaeRunOptions& opt = {});
  std::vector<float> encode(const float* video, int F, int H, int W, const WanVaeRunOptions& opt = {});

  const WanVaeConfig& config() const { return cfg_; }
  size_t weight_bytes() const { return store_->bytes(); }
  CudaPool& pool() { return pool_; }
  // The last run's high-water mark of pool bytes above what was in use when it started (weights, input, output):
  // its activations, caches and workspaces. Bounded by one chunk, whatever the number of frames.
  size_t last_run_peak_bytes() const { return last_peak_; }

 private:
  WanVaeCuda(const WanVaeConfig& cfg, WType wt);
  void pack_conv_weights();
  template <class Body>
  void run(float* video_host, Body&& body);
  WanVaeConfig cfg_;
  CudaStream stream_;
  CudaPool pool_;
  std::unique_ptr<CudaWeightStore> store_;
  WanVaeWeights w_;
  size_t last_peak_ = 0;
};

}  // namespace cosmos
