// Sampling, GPU part: repetition/presence penalties and temperature; the draw reuses sample_cpu.
#ifndef COSMOS_CUDA
#define COSMOS_CUDA 1
#endif
#include "sample_cuda.h"

#include <vector>

#include "../core/cuda_common.h"
#include "argmax.h"

namespace {
// One thread per history entry. A token is penalised once however often it occurs (sample_cpu uses
// a `seen` set): the thread of its first occurrence does it, the others find an earlier copy and stop.
// O(hist_len^2 / threads) compares; 4k tokens of history is ~16M compares spread over the GPU.
__global__ void penalty_kernel(float* logits, int vocab, const int* hist, int hist_len, float rep, float presence) {
  int i = blockIdx.x * blockDim.x + threadIdx.x;
  if (i >= hist_len) return;
  int t = hist[i];
  if (t < 0 || t >= vocab) return;
  for (int j = 0; j < i; ++j)
    if (hist[j] == t) return;
  float v = logits[t];
  if (rep != 1.0f && rep > 0) v = v > 0 ? v / rep : v * rep;
  logits[t] = v - presence;
}
__global__ void scale_kernel(float* x, int n, float temperature) {
  for (int i = blockIdx.x * blockDim.x + threadIdx.x; i < n; i += gridDim.x * blockDim.x) x[i] /= temperature;
}
}  // namespace

int sample_cuda(float* d_logits, int vocab, const SamplingParams& p, const int* d_history, int hist_len,
                uint64_t* rng_state, float* host_buf, int* d_tmp_int, const cosmos::CudaContext& ctx) {
  const cudaStream_t stream = ctx.stream;
  bool rep_on = p.repetition_penalty != 1.0f && p.repetition_penalty > 0;
  if ((rep_on || p.presence_penalty != 0.0f) && hist_len > 0) {
    penalty_kernel<<<cosmos::ceil_div(hist_len, 256), 256, 0, stream>>>(d_logits, vocab, d_history, hist_len,
                                                                        rep_on ? p.repetition_penalty : 1.0f,
                                                                        p.presence_penalty);
    CUDA_CHECK_LAUNCH();
  }
  if (!(p.temperature > 0)) {
    argmax_cuda(d_tmp_int, d_logits, vocab, ctx);
    int idx = 0;
    CUDA_CHECK(cudaMemcpyAsync(&idx, d_tmp_int, sizeof(int), cudaMemcpyDeviceToHost, stream));
    CUDA_CHECK(cudaStreamSynchronize(stream));
    return idx;
  }
  scale_kernel<<<cosmos::elementwise_blocks(vocab), 256, 0, stream>>>(d_logits, vocab, p.temperature);
  CUDA_CHECK_LAUNCH();
  std::vector<float> local;
  float* h = host_buf;
  if (!h) {
    local.resize(vocab);
    h = local.data();
  }
  CUDA_CHECK(cudaMemcpyAsync(h, d_logits, sizeof(float) * vocab, cudaMemcpyDeviceToHost, stream));
  CUDA_CHECK(cudaStreamSynchronize(stream));
  // x / 1.0f is exact, so this equals sample_cpu on the original logits.
  SamplingParams rest = p;
  rest.temperature = 1.0f;
  rest.repetition_penalty = 1.0f;
  rest.presence_penalty = 0.0f;
  return sample_cpu(h, vocab, rest, nullptr, 0, rng_state);
}
