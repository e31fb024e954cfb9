// The Cosmos 3 AVAE sound decoder on the GPU: the CPU model's weights listing (cosmos3_audio_bind_decoder, weight
// norm folded on the host) into a CudaWeightStore and its forward (cosmos3_audio_forward.h) over the *_cuda ops on
// the model's own stream and pool. Convolutions are im2col + matmul_cuda (bf16 tensor cores or exact f32 by the
// weight type); the transposed convolutions a matmul + a tap gather.
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
#include "cosmos3_audio.h"

namespace cosmos {

class Cosmos3AudioDecoderCuda {
 public:
  // wt: the convolutions' weight dtype on the GPU (F32 = exact f32 GEMMs; BF16 = tensor cores).
  static std::unique_ptr<Cosmos3AudioDecoderCuda> load(const Checkpoint& ck, const Cosmos3AudioConfig& cfg, WType wt);
  static std::unique_ptr<Cosmos3AudioDecoderCuda> random(const Cosmos3AudioConfig& cfg, WType wt, uint64_t seed,
                                                         float std);
  ~Cosmos3AudioDecoderCuda();
  Cosmos3AudioDecoderCuda(const Cosmos3AudioDecoderCuda&) = delete;
  Cosmos3AudioDecoderCuda& operator=(const Cosmos3AudioDecoderCuda&) = delete;

  // Device in, host out: latents_dev [latent_channels, T] in this device's memory (the denoiser's sound
  // latents; their producer's work complete: the decoder runs on its own stream) -> waveform [audio_channels,
  // samples_for(T)], clamped unless opt.clamp is false. The latents go channels-last on the GPU (ops/transpose2d);
  // the [N, channels] output crosses once and becomes the waveform on the host (it is muxed there anyway).
  std::vector<float> decode_device(const float* latents_dev, int T, const Cosmos3AudioRunOptions& opt = {});
  // Host in, host out: the Cosmos3AudioDecoder contract, decode_device after one upload.
  std::vector<float> decode(const float* latents, int T, const Cosmos3AudioRunOptions& opt = {});

  const Cosmos3AudioConfig& config() const { return cfg_; }
  size_t weight_bytes() const { return store_->bytes(); }
  CudaPool& pool() { return pool_; }
  // The last decode's high-water mark of pool bytes above the weights: its activations and workspaces.
  size_t last_run_peak_bytes() const { return last_peak_; }

 private:
  Cosmos3AudioDecoderCuda(const Cosmos3AudioConfig& cfg, WType wt);
  Cosmos3AudioConfig cfg_;
  CudaStream stream_;
  CudaPool pool_;
  std::unique_ptr<CudaWeightStore> store_;
  Cosmos3AudioDecoderWeights w_;
  size_t last_peak_ = 0;
};

}  // namespace cosmos
