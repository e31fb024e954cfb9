#include "vision_encoder.h"
#include <algorithm>
#include <cmath>
#include "vision_ops_cpu.h"
#include "vision_pos.h"

namespace {

struct Binder {
    const VisionTensorLookup& lookup;
    std::string& error;
    const std::string& prefix;
    bool ok = true;
    const float* get(const std::string& name, const std::vector<int64_t>& shape) {
        if (!ok) return nullptr;
        const float* p = lookup(prefix + name, shape);
        if (!p) {
            ok = false;
            std::string s = "[";
            for (size_t i = 0; i < shape.size(); i++) s += (i ? ", " : "") + std::to_string(shape[i]);
            error = "missing or mis-shaped vision tensor " + prefix + name + " (expected " + s + "])";
        }
        return p;
    }
    VisionLinear linear(const std::string& name, int in, int out) {
        VisionLinear l;
        l.in = in;
        l.out = out;
        l.w = get(name + ".weight", {out, in});
        l.b = get(name + ".bias", {out});
        return l;
    }
    VisionNorm norm(const std::string& name, int d) {
        VisionNorm n;
        n.d = d;
        n.g = get(name + ".weight", {d});
        n.b = get(name + ".bias", {d});
        return n;
    }
    VisionMergerWeights merger(const std::string& name, int D, int unit, int out, bool post) {
        VisionMergerWeights m;
        m.postshuffle = post;
        m.norm = norm(name + ".norm", post ? D * unit : D);
        m.fc1 = linear(name + ".linear_fc1", D * unit, D * unit);
        m.fc2 = linear(name + ".linear_fc2", D * unit, out);
        return m;
    }
};

// PatchMerger.forward: x [N, D] -> [N/unit, out].
void run_merger(const VisionMergerWeights& m, const float* x, int64_t N, int D, int unit, float eps,
                std::vector<float>& out) {
    const int64_t T = N / unit;
    const int H = D * unit;
    std::vector<float> normed((size_t)N * D), hid((size_t)T * H);
    // Post-shuffle: LayerNorm over the 4 concatenated patches; pre-shuffle: per patch. The
    // data are the same rows either way, only the normalised span differs.
    if (m.postshuffle) vis_layernorm_cpu(x, m.norm.g, m.norm.b, normed.data(), T, H, eps);
    else vis_layernorm_cpu(x, m.norm.g, m.norm.b, normed.data(), N, D, eps);
    vis_linear_cpu(normed.data(), m.fc1.w, m.fc1.b, hid.data(), T, H, H);
    vis_gelu_erf_cpu(hid.data(), (int64_t)T * H);  // nn.GELU(): exact erf form
    out.resize((size_t)T * m.fc2.out);
    vis_linear_cpu(hid.data(), m.fc2.w, m.fc2.b, out.data(), T, H, m.fc2.out);
}

}  // namespace

bool vision_bind_weights(const VisionConfig& cfg, const VisionTensorLookup& lookup, VisionWeights& w,
                         std::string& error, const std::string& prefix) {
    Binder b{lookup, error, prefix};
    const int D = cfg.hidden_size, I = cfg.intermediate_size, unit = cfg.merge_unit();
    w.patch_embed.in = cfg.patch_dim();
    w.patch_embed.out = D;
    w.patch_embed.w = b.get("patch_embed.proj.weight",
                            {D, cfg.in_channels, cfg.temporal_patch_size, cfg.patch_size, cfg.patch_size});
    w.patch_embed.b = b.get("patch_embed.proj.bias", {D});
    w.pos_embed = b.get("pos_embed.weight", {cfg.num_position_embeddings, D});
    w.blocks.resize(cfg.depth);
    for (int i = 0; i < cfg.depth && b.ok; i++) {
        const std::string p = "blocks." + std::to_string(i) + ".";
        VisionBlockWeights& bw = w.blocks[i];
        bw.norm1 = b.norm(p + "norm1", D);
        bw.norm2 = b.norm(p + "norm2", D);
        bw.qkv = b.linear(p + "attn.qkv", D, 3 * D);
        bw.proj = b.linear(p + "attn.proj", D, D);
        bw.fc1 = b.linear(p + "mlp.linear_fc1", D, I);
        bw.fc2 = b.linear(p + "mlp.linear_fc2", I, D);
    }
    w.merger = b.merger("merger", D, unit, cfg.out_hidden_size, false);
    w.deepstack.resize(cfg.deepstack_visual_indexes.size());
    for (size_t k = 0; k < w.deepstack.size() && b.ok; k++)
        w.deepstack[k] = b.merger("deepstack_merger_list." + std::to_string(k), D, unit, cfg.out_hidden_size, true);
    return b.ok;
}

void vision_forward_cpu(const VisionConfig& cfg, const VisionWeights& w, const float* pixel_values,
                        const std::vector<VisionGrid>& grids, VisionOutput& out) {
    const int D = cfg.hidden_size, I = cfg.intermediate_size, H = cfg.num_heads, hd = cfg.head_dim();
    const int m = cfg.spatial_merge_size, unit = cfg.merge_unit();
    const float eps = cfg.layer_norm_eps;
    const int64_t N = vision_num_patches(grids);

    // Patch embedding + interpolated position embedding.
    std::vector<float> x((size_t)N * D), pos((size_t)N * D);
    vis_linear_cpu(pixel_values, w.patch_embed.w, w.patch_embed.b, x.data(), N, cfg.patch_dim(), D);
    vision_pos_embed_interpolate_cpu(w.pos_embed, cfg.num_position_embeddings, D, grids, m, pos.data());
    for (size_t i = 0; i < x.size(); i++) x[i] += pos[i];
    pos.clear();
    pos.shrink_to_fit();

    std::vector<float> cosv((size_t)N * hd), sinv((size_t)N * hd);
    vision_rotary_cpu(grids, m, hd, cfg.rope_theta, cosv.data(), sinv.data());
    std::vector<int32_t> cu;
    vision_cu_seqlens(grids, cu);
    const int nseg = (int)cu.size() - 1;

    std::vector<float> h((size_t)N * D), qkv((size_t)N * 3 * D), att((size_t)N * D), mlp((size_t)N * I);
    const float scale = 1.0f / std::sqrt((float)hd);
    out.deepstack.assign(cfg.deepstack_visual_indexes.size(), {});
    for (int l = 0; l < cfg.depth; l++) {
        const VisionBlockWeights& b = w.blocks[l];
        vis_layernorm_cpu(x.data(), b.norm1.g, b.norm1.b, h.data(), N, D, eps);
        vis_linear_cpu(h.data(), b.qkv.w, b.qkv.b, qkv.data(), N, D, 3 * D);
        // qkv row = [q (H x hd) | k | v]: reshape(seq, 3, heads, hd)
        vis_rope_half_cpu(qkv.data(), N, H, hd, 3 * D, cosv.data(), sinv.data());
        vis_rope_half_cpu(qkv.data() + D, N, H, hd, 3 * D, cosv.data(), sinv.data());
        vis_segment_attention_cpu(qkv.data(), qkv.data() + D, qkv.data() + 2 * D, 3 * D, att.data(),
                                  cu.data(), nseg, H, hd, scale);
        vis_linear_cpu(att.data(), b.proj.w, b.proj.b, h.data(), N, D, D);
        for (size_t i = 0; i < x.size(); i++) x[i] += h[i];
        vis_layernorm_cpu(x.data(), b.norm2.g, b.norm2.b, h.data(), N, D, eps);
        vis_linear_cpu(h.data(), b.fc1.w, b.fc1.b, mlp.data(), N, D, I);
        vis_gelu_tanh_cpu(mlp.data(), (int64_t)N * I);  // hidden_act gelu_pytorch_tanh
        vis_linear_cpu(mlp.data(), b.fc2.w, b.fc2.b, h.data(), N, I, D);
        for (size_t i = 0; i < x.size(); i++) x[i] += h[i];
        const auto& idx = cfg.deepstack_visual_indexes;
        const auto it = std::find(idx.begin(), idx.end(), l);
        if (it != idx.end()) {
            const size_t k = (size_t)(it - idx.begin());
            run_merger(w.deepstack[k], x.data(), N, D, unit, eps, out.deepstack[k]);
        }
    }
    run_merger(w.merger, x.data(), N, D, unit, eps, out.embeds);
    out.tokens = N / unit;
    out.out_dim = cfg.out_hidden_size;
}
