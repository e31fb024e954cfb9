#include "vision_ops_cpu.h"
#include <algorithm>
#include <cmath>
#include <vector>

void vis_linear_cpu(const float* x, const float* w, const float* b, float* y, int64_t n, int in, int out) {
    // Tile over output features so a block of weight rows stays in cache while all input
    // rows stream past it; both operands are read along `in`, contiguously.
    const int TO = 64;
#pragma omp parallel for schedule(dynamic) collapse(2)
    for (int o0 = 0; o0 < out; o0 += TO) {
        for (int64_t r = 0; r < n; r++) {
            const float* xr = x + r * in;
            const int o1 = std::min(out, o0 + TO);
            for (int o = o0; o < o1; o++) {
                const float* wo = w + (int64_t)o * in;
                float acc = 0.0f;
                for (int i = 0; i < in; i++) acc += xr[i] * wo[i];
                y[r * out + o] = b ? acc + b[o] : acc;
            }
        }
    }
}

void vis_layernorm_cpu(const float* x, const float* gamma, const float* beta, float* y, int64_t n, int d, float eps) {
#pragma omp parallel for
    for (int64_t r = 0; r < n; r++) {
        const float* xr = x + r * d;
        float* yr = y + r * d;
        double mean = 0.0, var = 0.0;  // double accumulation: d is up to a few thousand
        for (int i = 0; i < d; i++) mean += xr[i];
        mean /= d;
        for (int i = 0; i < d; i++) { const double c = xr[i] - mean; var += c * c; }
        var /= d;
        const float inv = (float)(1.0 / std::sqrt(var + (double)eps));
        const float mu = (float)mean;
        for (int i = 0; i < d; i++) yr[i] = (xr[i] - mu) * inv * gamma[i] + beta[i];
    }
}

void vis_gelu_tanh_cpu(float* x, int64_t n) {
    const float k = 0.7978845608028654f;  // sqrt(2 / pi)
#pragma omp parallel for
    for (int64_t i = 0; i < n; i++) {
        const float v = x[i];
        x[i] = 0.5f * v * (1.0f + std::tanh(k * (v + 0.044715f * v * v * v)));
    }
}

void vis_gelu_erf_cpu(float* x, int64_t n) {
#pragma omp parallel for
    for (int64_t i = 0; i < n; i++) {
        const float v = x[i];
        x[i] = 0.5f * v * (1.0f + std::erf(v * 0.7071067811865476f));
    }
}

void vis_rope_half_cpu(float* x, int64_t n, int heads, int head_dim, int64_t stride, const float* cos, const float* sin) {
    const int half = head_dim / 2;
#pragma omp parallel for
    for (int64_t r = 0; r < n; r++) {
        const float* c = cos + r * head_dim;
        const float* s = sin + r * head_dim;
        for (int h = 0; h < heads; h++) {
            float* v = x + r * stride + (int64_t)h * head_dim;
            for (int i = 0; i < half; i++) {
                const float a = v[i], b = v[i + half];
                // rotate_half(x) = cat(-x2, x1)
                v[i] = a * c[i] - b * s[i];
                v[i + half] = b * c[i + half] + a * s[i + half];
            }
        }
    }
}

void vis_segment_attention_cpu(const float* q, const float* k, const float* v, int64_t stride,
                               float* out, const int32_t* cu, int n_segments,
                               int heads, int head_dim, float scale) {
    for (int sgi = 0; sgi < n_segments; sgi++) {
        const int64_t s0 = cu[sgi], s1 = cu[sgi + 1], L = s1 - s0;
#pragma omp parallel
        {
            std::vector<float> p(L);
#pragma omp for collapse(2) schedule(static)
            for (int h = 0; h < heads; h++) {
                for (int64_t i = s0; i < s1; i++) {
                    const float* qi = q + i * stride + (int64_t)h * head_dim;
                    float mx = -INFINITY;
                    for (int64_t j = 0; j < L; j++) {
                        const float* kj = k + (s0 + j) * stride + (int64_t)h * head_dim;
                        float acc = 0.0f;
                        for (int d = 0; d < head_dim; d++) acc += qi[d] * kj[d];
                        p[j] = acc * scale;
                        mx = std::max(mx, p[j]);
                    }
                    double sum = 0.0;
                    for (int64_t j = 0; j < L; j++) { p[j] = std::exp(p[j] - mx); sum += p[j]; }
                    const float inv = (float)(1.0 / sum);
                    float* o = out + i * (int64_t)heads * head_dim + (int64_t)h * head_dim;
                    for (int d = 0; d < head_dim; d++) o[d] = 0.0f;
                    for (int64_t j = 0; j < L; j++) {
                        const float pj = p[j] * inv;
                        const float* vj = v + (s0 + j) * stride + (int64_t)h * head_dim;
                        for (int d = 0; d < head_dim; d++) o[d] += pj * vj[d];
                    }
                }
            }
        }
    }
}
