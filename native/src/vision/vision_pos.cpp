#include "vision_pos.h"
#include <cmath>

int64_t vision_num_patches(const std::vector<VisionGrid>& grids) {
    int64_t n = 0;
    for (const auto& g : grids) n += (int64_t)g.t * g.h * g.w;
    return n;
}

void torch_linspace_f32(float start, float end, int steps, float* out) {
    if (steps <= 0) return;
    if (steps == 1) { out[0] = start; return; }
    // ATen (RangeFactoriesKernel.cpp): step = (end - start) / (steps - 1) in the output
    // dtype; idx < halfway -> start + step * idx, else end - step * (steps - idx - 1).
    const float step = (end - start) / (float)(steps - 1);
    const int halfway = steps / 2;
    for (int i = 0; i < steps; i++) {
        out[i] = i < halfway ? start + step * (float)i : end - step * (float)(steps - i - 1);
    }
}

// Calls f(row, col) for every patch of a grid in merged order (t, bh, bw, mh, mw).
template <typename F>
static void for_each_patch(const VisionGrid& g, int m, F f) {
    for (int t = 0; t < g.t; t++)
        for (int bh = 0; bh < g.h / m; bh++)
            for (int bw = 0; bw < g.w / m; bw++)
                for (int mh = 0; mh < m; mh++)
                    for (int mw = 0; mw < m; mw++) f(bh * m + mh, bw * m + mw);
}

void vision_patch_coords(const std::vector<VisionGrid>& grids, int merge, std::vector<int32_t>& out) {
    out.clear();
    out.reserve(2 * vision_num_patches(grids));
    for (const auto& g : grids) for_each_patch(g, merge, [&](int r, int c) { out.push_back(r); out.push_back(c); });
}

void vision_pos_embed_interpolate_cpu(const float* pos_embed, int num_pos, int D,
                                      const std::vector<VisionGrid>& grids, int merge, float* out) {
    const int side = (int)std::lround(std::sqrt((double)num_pos));  // int(num_position_embeddings ** 0.5)
    std::vector<float> hs, ws, row(D);
    int64_t o = 0;
    for (const auto& g : grids) {
        hs.resize(g.h);
        ws.resize(g.w);
        torch_linspace_f32(0.0f, (float)(side - 1), g.h, hs.data());
        torch_linspace_f32(0.0f, (float)(side - 1), g.w, ws.data());
        for_each_patch(g, merge, [&](int r, int c) {
            // fast_pos_embed_interpolate: floor / ceil (clipped) corners, float32 weights
            // (1-dh)(1-dw), (1-dh)dw, dh(1-dw), dh*dw, summed in that order.
            const int h0 = (int)hs[r], w0 = (int)ws[c];
            const int h1 = h0 + 1 < side ? h0 + 1 : side - 1;
            const int w1 = w0 + 1 < side ? w0 + 1 : side - 1;
            const float dh = hs[r] - (float)h0, dw = ws[c] - (float)w0;
            const float wt[4] = {(1.0f - dh) * (1.0f - dw), (1.0f - dh) * dw, dh * (1.0f - dw), dh * dw};
            const int idx[4] = {h0 * side + w0, h0 * side + w1, h1 * side + w0, h1 * side + w1};
            float* y = out + o * D;
            for (int d = 0; d < D; d++) {
                float acc = pos_embed[(int64_t)idx[0] * D + d] * wt[0];
                acc = acc + pos_embed[(int64_t)idx[1] * D + d] * wt[1];
                acc = acc + pos_embed[(int64_t)idx[2] * D + d] * wt[2];
                acc = acc + pos_embed[(int64_t)idx[3] * D + d] * wt[3];
                y[d] = acc;
            }
            o++;
        });
    }
}

void vision_rotary_cpu(const std::vector<VisionGrid>& grids, int merge, int head_dim, float theta,
                       float* cos_out, float* sin_out) {
    // Qwen3VLVisionRotaryEmbedding(head_dim // 2): inv_freq = 1 / theta^(arange(0, dim, 2) / dim)
    // with dim = head_dim / 2, i.e. head_dim / 4 frequencies per axis.
    const int dim = head_dim / 2;
    const int nf = dim / 2;
    std::vector<float> inv(nf);
    for (int i = 0; i < nf; i++) inv[i] = 1.0f / std::pow(theta, (float)(2 * i) / (float)dim);
    int64_t o = 0;
    for (const auto& g : grids) {
        for_each_patch(g, merge, [&](int r, int c) {
            float* co = cos_out + o * head_dim;
            float* si = sin_out + o * head_dim;
            for (int i = 0; i < nf; i++) {
                const float fr = (float)r * inv[i], fc = (float)c * inv[i];
                // freqs = [row freqs (nf), col freqs (nf)]; emb = cat(freqs, freqs)
                co[i] = co[dim + i] = std::cos(fr);
                si[i] = si[dim + i] = std::sin(fr);
                co[nf + i] = co[dim + nf + i] = std::cos(fc);
                si[nf + i] = si[dim + nf + i] = std::sin(fc);
            }
            o++;
        });
    }
}

void vision_cu_seqlens(const std::vector<VisionGrid>& grids, std::vector<int32_t>& out) {
    out.assign(1, 0);
    for (const auto& g : grids)
        for (int t = 0; t < g.t; t++) out.push_back(out.back() + g.h * g.w);
}
