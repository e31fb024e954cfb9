// CPU reference kernels the vision tower needs. These are the plain fp32 forms of ops the
// engine's shared op set provides (GEMM, LayerNorm, GELU, attention); the tower calls them
// through this header so it can switch to the shared ops (and their CUDA twins) without
// touching the model code. Row-major, contiguous, batch-free.
#pragma once
#include <cstdint>

// y[n, out] = x[n, in] @ w[out, in]^T (+ b[out] when b != nullptr): nn.Linear.
void vis_linear_cpu(const float* x, const float* w, const float* b, float* y, int64_t n, int in, int out);

// nn.LayerNorm over the last dim (biased variance, eps inside the sqrt), in place allowed.
void vis_layernorm_cpu(const float* x, const float* gamma, const float* beta, float* y, int64_t n, int d, float eps);

// GELU, tanh approximation (ACT2FN["gelu_pytorch_tanh"]), in place.
void vis_gelu_tanh_cpu(float* x, int64_t n);

// GELU, exact erf form (nn.GELU()), in place.
void vis_gelu_erf_cpu(float* x, int64_t n);

// q, k rotated in place with rotate_half: x * cos + rotate_half(x) * sin per head.
// x: [n, heads, head_dim] with row stride `stride` floats; cos/sin: [n, head_dim].
void vis_rope_half_cpu(float* x, int64_t n, int heads, int head_dim, int64_t stride, const float* cos, const float* sin);

// Full (non-causal) attention inside each segment [cu[i], cu[i+1]).
// q, k, v: [n, heads, head_dim] with row stride `stride`; out: [n, heads * head_dim].
void vis_segment_attention_cpu(const float* q, const float* k, const float* v, int64_t stride,
                               float* out, const int32_t* cu_seqlens, int n_segments,
                               int heads, int head_dim, float scale);
