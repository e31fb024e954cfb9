#include "qwen3_vision.h"

#include <algorithm>
#include <cmath>

#include "../core/config.h"
#include "../ops/add.h"
#include "../ops/gather4_add.h"

namespace cosmos {

namespace {

int pos_int(const Json& o, const char* key, int fallback) {
  return config_positive_int(o, key, "vision_config", fallback);
}

// PatchMerger.forward: x [N, D] -> out [N/unit, out]. The unit rows of one merge block are contiguous,
// so "concat the block" is just viewing [N, D] as [N/unit, unit*D]. scratch: N*D + T*unit*D floats.
void run_merger(const Qwen3VisionMerger& m, const float* x, int N, int D, int unit, std::vector<float>& out,
                float* scratch, const CpuContext& ctx) {
  const int T = N / unit;
  float* normed = scratch;
  // Post-shuffle: LayerNorm over the concatenated block; pre-shuffle: per patch. Same rows either
  // way, only the normalised span differs.
  norm_cpu(normed, x, m.norm, m.postshuffle ? T : N);
  out.resize((size_t)T * m.mlp.fc2.out);
  mlp_cpu(out.data(), normed, m.mlp, T, scratch + (size_t)N * D, ctx);
}

// Calls f(row, col) for every patch of a grid in merged order (t, bh, bw, mh, mw).
template <typename F>
void for_each_patch(const Qwen3VisionGrid& g, int m, F f) {
  for (int t = 0; t < g.t; t++)
    for (int bh = 0; bh < g.h / m; bh++)
      for (int bw = 0; bw < g.w / m; bw++)
        for (int mh = 0; mh < m; mh++)
          for (int mw = 0; mw < m; mw++) f(bh * m + mh, bw * m + mw);
}

}  // namespace

void qwen3_vision_bind(const Qwen3VisionConfig& cfg, WeightBinder& wb, Qwen3VisionWeights& w,
                       const std::string& prefix) {
  if (cfg.num_heads <= 0 || cfg.hidden_size % cfg.num_heads != 0 || cfg.head_dim() % 4 != 0)
    throw ModelError(
        "vision_config: hidden_size must split into num_heads heads whose size is a multiple of 4 (2D rotary)");
  const int D = cfg.hidden_size, I = cfg.intermediate_size, unit = cfg.merge_unit();
  const float eps = cfg.layer_norm_eps;
  auto ln = [&](const std::string& name, int d) {
    const float* g = wb.param(prefix + name + ".weight", {d});
    return LayerNorm{g, wb.param(prefix + name + ".bias", {d}), d, eps};
  };
  auto lin = [&](const std::string& name, int in, int out) {
    return wb.linear(prefix + name + ".weight", {out, in}, prefix + name + ".bias");
  };
  auto merger = [&](const std::string& name, bool post) {
    Qwen3VisionMerger m;
    m.postshuffle = post;
    m.norm = ln(name + ".norm", post ? D * unit : D);
    m.mlp.fc1 = lin(name + ".linear_fc1", D * unit, D * unit);
    m.mlp.fc2 = lin(name + ".linear_fc2", D * unit, cfg.out_hidden_size);
    m.mlp.tanh = false;  // nn.GELU(): exact erf form
    return m;
  };
  w.patch_embed = wb.linear(prefix + "patch_embed.proj.weight",
                            {D, cfg.in_channels, cfg.temporal_patch_size, cfg.patch_size, cfg.patch_size},
                            prefix + "patch_embed.proj.bias");
  w.pos_embed = wb.param(prefix + "pos_embed.weight", {cfg.num_position_embeddings, D});
  w.blocks.resize(cfg.depth);
  for (int i = 0; i < cfg.depth; i++) {
    const std::string p = "blocks." + std::to_string(i) + ".";
    Qwen3VisionBlock& b = w.blocks[i];
    b.norm1 = ln(p + "norm1", D);
    b.norm2 = ln(p + "norm2", D);
    b.attn.qkv = lin(p + "attn.qkv", D, 3 * D);
    b.attn.o = lin(p + "attn.proj", D, D);
    b.attn.heads = b.attn.kv_heads = cfg.num_heads;
    b.attn.head_dim = cfg.head_dim();
    b.attn.fused_prefill_gemm = true;  // one [N, 3D] GEMM, then q / k / v split out with the rotary
    b.mlp.fc1 = lin(p + "mlp.linear_fc1", D, I);
    b.mlp.fc2 = lin(p + "mlp.linear_fc2", I, D);
    b.mlp.tanh = true;  // hidden_act gelu_pytorch_tanh
  }
  w.merger = merger("merger", false);
  w.deepstack.resize(cfg.deepstack_visual_indexes.size());
  for (size_t k = 0; k < w.deepstack.size(); k++)
    w.deepstack[k] = merger("deepstack_merger_list." + std::to_string(k), true);
}

bool qwen3_vision_check_grids(const Qwen3VisionConfig& cfg, const std::vector<Qwen3VisionGrid>& grids,
                              std::string& error) {
  const int m = cfg.spatial_merge_size;
  int64_t n = 0;
  for (size_t i = 0; i < grids.size(); i++) {
    const Qwen3VisionGrid& g = grids[i];
    if (g.t <= 0 || g.h <= 0 || g.w <= 0 || g.h % m != 0 || g.w % m != 0) {
      error = "grid " + std::to_string(i) + " (" + std::to_string(g.t) + ", " + std::to_string(g.h) + ", " +
              std::to_string(g.w) + ") must be positive with h and w divisible by spatial_merge_size " +
              std::to_string(m);
      return false;
    }
    n += (int64_t)g.t * g.h * g.w;
  }
  if (grids.empty()) {
    error = "no grids";
    return false;
  }
  // The ops take int sizes; the widest buffer is [patches, max(3D, I)].
  const int64_t width = std::max({3 * cfg.hidden_size, cfg.intermediate_size, cfg.patch_dim()});
  if (n * width >= (int64_t)1 << 31) {
    error = "too many patches (" + std::to_string(n) + ") for one tower call";
    return false;
  }
  return true;
}

Qwen3VisionConfig Qwen3VisionConfig::from_json(const std::string& text) {
  const Json root = parse_config_object(text);
  const Json* vc = root.get("vision_config");
  if (!vc && root.get("text_config")) throw ModelError("config.json has no vision_config (a text-only checkpoint?)");
  const Json& c = (vc && vc->is_obj()) ? *vc : root;
  Qwen3VisionConfig k;
  // Every size is required: a default from another model size would bind the wrong shapes.
  auto req = [&](const char* key) {
    if (!c.get(key)) throw ModelError(std::string("vision_config.") + key + " is missing");
    return pos_int(c, key, 0);
  };
  k.depth = req("depth");
  k.hidden_size = req("hidden_size");
  k.intermediate_size = req("intermediate_size");
  k.num_heads = req("num_heads");
  k.out_hidden_size = req("out_hidden_size");
  k.num_position_embeddings = req("num_position_embeddings");
  k.in_channels = pos_int(c, "in_channels", k.in_channels);
  k.patch_size = pos_int(c, "patch_size", k.patch_size);
  k.temporal_patch_size = pos_int(c, "temporal_patch_size", k.temporal_patch_size);
  k.spatial_merge_size = pos_int(c, "spatial_merge_size", k.spatial_merge_size);
  if (const Json* a = c.get("hidden_act"); a && (!a->is_str() || a->str != "gelu_pytorch_tanh"))
    throw ModelError("vision_config.hidden_act '" + (a->is_str() ? a->str : std::string("?")) +
                     "' is not supported (only gelu_pytorch_tanh)");
  k.deepstack_visual_indexes.clear();
  if (const Json* d = c.get("deepstack_visual_indexes")) {
    if (!d->is_arr()) throw ModelError("vision_config.deepstack_visual_indexes must be an array");
    for (const Json& e : d->arr) {
      if (!e.is_num() || !e.is_integer || e.i64 < 0 || e.i64 >= k.depth)
        throw ModelError("vision_config.deepstack_visual_indexes entries must be block indexes 0..depth-1");
      k.deepstack_visual_indexes.push_back((int)e.i64);
    }
  }
  const Json* rp = c.get("rope_parameters");
  if (rp && rp->is_obj())
    if (const Json* t = rp->get("rope_theta"); t && t->is_num() && t->num > 0) k.rope_theta = (float)t->num;
  const int side = (int)std::lround(std::sqrt((double)k.num_position_embeddings));
  if (side * side != k.num_position_embeddings)
    throw ModelError("vision_config.num_position_embeddings must be a square (the learned grid is side x side)");
  if (k.hidden_size % k.num_heads != 0 || k.head_dim() % 4 != 0)
    throw ModelError("vision_config: hidden_size / num_heads must be a multiple of 4 (2D rotary)");
  return k;
}

std::unique_ptr<Qwen3Vision> Qwen3Vision::load(const Checkpoint& ck, const Qwen3VisionConfig& cfg) {
  auto m = std::unique_ptr<Qwen3Vision>(new Qwen3Vision());
  m->cfg_ = cfg;
  WeightBinder wb(ck, m->store_, "vision_config");
  qwen3_vision_bind(cfg, wb, m->w_);
  return m;
}

size_t Qwen3Vision::weight_bytes() const { return store_.bytes(); }

void Qwen3Vision::forward(const float* pixel_values, size_t n_floats, const std::vector<Qwen3VisionGrid>& grids,
                          Qwen3VisionOutput& out) const {
  std::string err;
  if (!qwen3_vision_check_grids(cfg_, grids, err)) throw ModelError(err);
  const size_t want = (size_t)qwen3_vision_num_patches(grids) * (size_t)cfg_.patch_dim();
  if (n_floats != want)
    throw ModelError("pixel_values has " + std::to_string(n_floats) + " floats; the grids need " +
                     std::to_string(want) + " (patches x " + std::to_string(cfg_.patch_dim()) + ")");
  qwen3_vision_forward_cpu(cfg_, w_, pixel_values, grids, out, cpu_, abort_);
}

void qwen3_vision_forward_cpu(const Qwen3VisionConfig& cfg, const Qwen3VisionWeights& w, const float* pixel_values,
                              const std::vector<Qwen3VisionGrid>& grids, Qwen3VisionOutput& out, const CpuContext& ctx,
                              const std::atomic<bool>* abort) {
  const int D = cfg.hidden_size, hd = cfg.head_dim();
  const int m = cfg.spatial_merge_size, unit = cfg.merge_unit();
  const int N = (int)qwen3_vision_num_patches(grids);
  const size_t ND = (size_t)N * D;

  // Patch embedding (Conv3d with kernel = stride = patch: a matmul over the flattened patch) plus the
  // interpolated position embedding.
  std::vector<float> x(ND), tmp(ND);
  linear_cpu(x.data(), pixel_values, w.patch_embed, N, ctx);
  {
    std::vector<int> pidx;
    std::vector<float> pwt;
    qwen3_vision_pos_corners(cfg.num_position_embeddings, grids, m, pidx, pwt);
    gather4_add_cpu(x.data(), w.pos_embed, pidx.data(), pwt.data(), N, D);
  }

  std::vector<float> cosv((size_t)N * hd), sinv((size_t)N * hd);
  qwen3_vision_rotary_cpu(grids, m, hd, cfg.rope_theta, cosv.data(), sinv.data());
  std::vector<int32_t> cu;
  qwen3_vision_cu_seqlens(grids, cu);
  AttentionCall call;
  call.n = N;
  call.cos = cosv.data();
  call.sin = sinv.data();
  call.causal = false;  // full attention inside each frame
  call.segments = cu.data();
  call.n_segments = (int)cu.size() - 1;

  // One scratch for the attention, the MLP and the mergers in turn.
  const Qwen3VisionBlock& b0 = w.blocks[0];
  std::vector<float> scratch(
      std::max({attention_scratch_floats(b0.attn, N, false), mlp_scratch_floats(b0.mlp, N), 2 * ND}));
  out.deepstack.assign(cfg.deepstack_visual_indexes.size(), {});
  for (int l = 0; l < cfg.depth; l++) {
    if (abort && abort->load(std::memory_order_relaxed)) throw AbortedError();
    const Qwen3VisionBlock& b = w.blocks[l];
    // tmp = norm1(x): the first block's here, the others' fused into the previous block's last residual add.
    if (l == 0) norm_cpu(tmp.data(), x.data(), b.norm1, N);
    attention_block_cpu(tmp.data(), tmp.data(), b.attn, call, scratch.data(), ctx);
    add_norm_cpu(tmp.data(), x.data(), tmp.data(), b.norm2, N);  // x += attn; tmp = norm2(x)
    mlp_cpu(tmp.data(), tmp.data(), b.mlp, N, scratch.data(), ctx);
    if (l + 1 < cfg.depth)
      add_norm_cpu(tmp.data(), x.data(), tmp.data(), w.blocks[l + 1].norm1, N);  // x += mlp; tmp = next norm1(x)
    else
      add_cpu(x.data(), x.data(), tmp.data(), (int)ND);
    const auto& idx = cfg.deepstack_visual_indexes;
    const auto it = std::find(idx.begin(), idx.end(), l);
    if (it != idx.end())
      run_merger(w.deepstack[it - idx.begin()], x.data(), N, D, unit, out.deepstack[it - idx.begin()], scratch.data(),
                 ctx);
  }
  run_merger(w.merger, x.data(), N, D, unit, out.embeds, scratch.data(), ctx);
  out.tokens = N / unit;
  out.out_dim = cfg.out_hidden_size;
}

// ---- Position helpers

int64_t qwen3_vision_num_patches(const std::vector<Qwen3VisionGrid>& grids) {
  int64_t n = 0;
  for (const auto& g : grids) n += (int64_t)g.t * g.h * g.w;
  return n;
}

void torch_linspace_f32(float start, float end, int steps, float* out) {
  if (steps <= 0) return;
  if (steps == 1) {
    out[0] = start;
    return;
  }
  // ATen (RangeFactoriesKernel.cpp): step = (end - start) / (steps - 1) in the output dtype;
  // idx < halfway -> start + step * idx, else end - step * (steps - idx - 1).
  const float step = (end - start) / (float)(steps - 1);
  const int halfway = steps / 2;
  for (int i = 0; i < steps; i++) out[i] = i < halfway ? start + step * (float)i : end - step * (float)(steps - i - 1);
}

void qwen3_vision_pos_corners(int num_pos, const std::vector<Qwen3VisionGrid>& grids, int merge, std::vector<int>& idx,
                              std::vector<float>& wt) {
  const int side = (int)std::lround(std::sqrt((double)num_pos));  // int(num_position_embeddings ** 0.5)
  std::vector<float> hs, ws;
  idx.clear();
  wt.clear();
  size_t patches = 0;
  for (const auto& g : grids) patches += (size_t)g.t * g.h * g.w;
  idx.reserve(4 * patches);
  wt.reserve(4 * patches);
  for (const auto& g : grids) {
    hs.resize(g.h);
    ws.resize(g.w);
    torch_linspace_f32(0.0f, (float)(side - 1), g.h, hs.data());
    torch_linspace_f32(0.0f, (float)(side - 1), g.w, ws.data());
    for_each_patch(g, merge, [&](int r, int c) {
      // fast_pos_embed_interpolate: floor / ceil (clipped) corners, float32 weights
      // (1-dh)(1-dw), (1-dh)dw, dh(1-dw), dh*dw.
      const int h0 = (int)hs[r], w0 = (int)ws[c];
      const int h1 = h0 + 1 < side ? h0 + 1 : side - 1;
      const int w1 = w0 + 1 < side ? w0 + 1 : side - 1;
      const float dh = hs[r] - (float)h0, dw = ws[c] - (float)w0;
      wt.insert(wt.end(), {(1.0f - dh) * (1.0f - dw), (1.0f - dh) * dw, dh * (1.0f - dw), dh * dw});
      idx.insert(idx.end(), {h0 * side + w0, h0 * side + w1, h1 * side + w0, h1 * side + w1});
    });
  }
}

void qwen3_vision_pos_embed_cpu(const float* pos_embed, int num_pos, int D, const std::vector<Qwen3VisionGrid>& grids,
                                int merge, float* out) {
  std::vector<int> idx;
  std::vector<float> wt;
  qwen3_vision_pos_corners(num_pos, grids, merge, idx, wt);
  const int64_t n = (int64_t)wt.size() / 4;
  std::fill(out, out + n * D, 0.0f);  // 0 + the weighted sum is the sum, exactly
  gather4_add_cpu(out, pos_embed, idx.data(), wt.data(), n, D);
}

void qwen3_vision_rotary_cpu(const std::vector<Qwen3VisionGrid>& grids, int merge, int head_dim, float theta,
                             float* cos_out, float* sin_out) {
  // Qwen3VLVisionRotaryEmbedding(head_dim // 2): inv_freq = 1 / theta^(arange(0, dim, 2) / dim) with
  // dim = head_dim / 2, i.e. head_dim / 4 frequencies per axis. (Not the text mRoPE table: the
  // exponent's denominator is head_dim/2 and the halves are row | col, so rope.h's tables don't fit;
  // rope_apply_cpu applies these.)
  const int dim = head_dim / 2;
  const int nf = dim / 2;
  std::vector<float> inv(nf);
  for (int i = 0; i < nf; i++) inv[i] = 1.0f / std::pow(theta, (float)(2 * i) / (float)dim);
  // A patch's values depend on its row or its column alone: cos / sin per row and per column once (h + w
  // positions instead of h * w * t patches: the 1280x720 image's 3520 patches need 124), then copied per patch.
  std::vector<float> rc, rs, cc, cs;
  auto axis = [&](int n, std::vector<float>& co, std::vector<float>& si) {
    co.resize((size_t)n * nf);
    si.resize((size_t)n * nf);
    for (int p = 0; p < n; p++)
      for (int i = 0; i < nf; i++) {
        co[(size_t)p * nf + i] = std::cos((float)p * inv[i]);
        si[(size_t)p * nf + i] = std::sin((float)p * inv[i]);
      }
  };
  int64_t o = 0;
  for (const auto& g : grids) {
    axis(g.h, rc, rs);
    axis(g.w, cc, cs);
    for_each_patch(g, merge, [&](int r, int c) {
      float* co = cos_out + o * head_dim;
      float* si = sin_out + o * head_dim;
      for (int i = 0; i < nf; i++) {
        co[i] = co[dim + i] = rc[(size_t)r * nf + i];
        si[i] = si[dim + i] = rs[(size_t)r * nf + i];
        co[nf + i] = co[dim + nf + i] = cc[(size_t)c * nf + i];
        si[nf + i] = si[dim + nf + i] = cs[(size_t)c * nf + i];
      }
      o++;
    });
  }
}

void qwen3_vision_cu_seqlens(const std::vector<Qwen3VisionGrid>& grids, std::vector<int32_t>& out) {
  out.assign(1, 0);
  for (const auto& g : grids)
    for (int t = 0; t < g.t; t++) out.push_back(out.back() + g.h * g.w);
}

}  // namespace cosmos
