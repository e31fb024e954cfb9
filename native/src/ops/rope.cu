// mRoPE tables and rotary application.
//
// The per-frequency constants (inv_freq and which pos3 row drives frequency j) are computed on the
// host with the very same float std::pow as mrope_tables_cpu and passed by value in the launch: the
// GPU's powf may differ by an ulp, and an ulp of inv_freq times a position in the thousands is a
// visible angle error. The angle is then the same f32 product, and cos/sin are taken in double and
// rounded, as the CPU does, so the tables agree to the last bit or one ulp.
#ifndef COSMOS_CUDA
#define COSMOS_CUDA 1
#endif
#include "rope.h"

#include <cmath>
#include <stdexcept>

#include "../core/cuda_common.h"

namespace {
constexpr int kMaxHalf = 256;  // head_dim <= 512
struct RopeConsts {
  float inv[kMaxHalf];
  unsigned char axis[kMaxHalf];
};

template <typename Pos>
__global__ void mrope_tables_kernel(float* cos, float* sin, const Pos* pos3, int tokens, int head_dim, RopeConsts c) {
  int half = head_dim / 2;
  long long total = (long long)tokens * half;
  for (long long e = blockIdx.x * (long long)blockDim.x + threadIdx.x; e < total;
       e += (long long)gridDim.x * blockDim.x) {
    int t = (int)(e / half), j = (int)(e % half);
    float ang = (float)pos3[(long long)c.axis[j] * tokens + t] * c.inv[j];
    float cv = (float)::cos((double)ang), sv = (float)::sin((double)ang);
    long long base = (long long)t * head_dim;
    cos[base + j] = cv;
    cos[base + j + half] = cv;
    sin[base + j] = sv;
    sin[base + j + half] = sv;
  }
}

// One thread per (token, head, j < half): rotates the pair (x[j], x[j+half]).
__global__ void rope_apply_kernel(float* x, const float* cos, const float* sin, int tokens, int heads, int head_dim) {
  int half = head_dim / 2;
  long long total = (long long)tokens * heads * half;
  for (long long e = blockIdx.x * (long long)blockDim.x + threadIdx.x; e < total;
       e += (long long)gridDim.x * blockDim.x) {
    int j = (int)(e % half);
    long long th = e / half;  // token * heads + head
    int t = (int)(th / heads);
    float* v = x + th * head_dim;
    const float* c = cos + (long long)t * head_dim;
    const float* s = sin + (long long)t * head_dim;
    float x1 = v[j], x2 = v[j + half];
    v[j] = x1 * c[j] - x2 * s[j];
    v[j + half] = x2 * c[j + half] + x1 * s[j + half];
  }
}
}  // namespace

template <typename Pos>
void mrope_tables_launch(float* cos, float* sin, const Pos* pos3, int tokens, int head_dim, float theta,
                         const int* section, bool interleaved, const cosmos::CudaContext& ctx) {
  const cudaStream_t stream = ctx.stream;
  int half = head_dim / 2;
  if (tokens <= 0 || half <= 0) return;
  if (half > kMaxHalf) throw std::runtime_error("mrope_tables_cuda: head_dim > 512 is not supported");
  RopeConsts c;
  for (int j = 0; j < half; ++j) {
    float p = std::pow((float)theta, (float)(2 * j) / (float)head_dim);
    c.inv[j] = 1.0f / p;
    int a = 0;
    if (interleaved) {
      if (j % 3 == 1 && j < 3 * section[1])
        a = 1;
      else if (j % 3 == 2 && j < 3 * section[2])
        a = 2;
    } else {
      a = j < section[0] ? 0 : (j < section[0] + section[1] ? 1 : 2);
    }
    c.axis[j] = (unsigned char)a;
  }
  mrope_tables_kernel<<<cosmos::elementwise_blocks((long long)tokens * half), 256, 0, stream>>>(cos, sin, pos3, tokens,
                                                                                                head_dim, c);
  CUDA_CHECK_LAUNCH();
}

void mrope_tables_cuda(float* cos, float* sin, const int* pos3, int tokens, int head_dim, float theta,
                       const int* section, bool interleaved, const cosmos::CudaContext& ctx) {
  mrope_tables_launch(cos, sin, pos3, tokens, head_dim, theta, section, interleaved, ctx);
}

void mrope_tables_cuda(float* cos, float* sin, const float* pos3, int tokens, int head_dim, float theta,
                       const int* section, bool interleaved, const cosmos::CudaContext& ctx) {
  mrope_tables_launch(cos, sin, pos3, tokens, head_dim, theta, section, interleaved, ctx);
}

void rope_apply_cuda(float* x, const float* cos, const float* sin, int tokens, int heads, int head_dim,
                     const cosmos::CudaContext& ctx) {
  const cudaStream_t stream = ctx.stream;
  long long total = (long long)tokens * heads * (head_dim / 2);
  if (total <= 0) return;
  rope_apply_kernel<<<cosmos::elementwise_blocks(total), 256, 0, stream>>>(x, cos, sin, tokens, heads, head_dim);
  CUDA_CHECK_LAUNCH();
}
