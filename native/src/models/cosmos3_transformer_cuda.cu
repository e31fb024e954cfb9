// CUDA forward of the Cosmos 3 MoT transformer: Cosmos3Transformer's prefill_text / forward_gen
// (cosmos3_transformer.cc) step for step on the shared layers' CUDA paths and the ops' CUDA twins.
#include "cosmos3_transformer_cuda.h"

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <string>

#include "../core/cuda_common.h"
#include "../layers/attention_block.h"
#include "../layers/linear.h"
#include "../layers/mlp.h"
#include "../layers/norm.h"
#include "../ops/add_rmsnorm.h"
#include "../ops/add_table_rows.h"
#include "../ops/domain_linear.h"
#include "../ops/embedding.h"
#include "../ops/gemm_fp8_wgmma.h"
#include "../ops/patchify.h"
#include "../ops/rmsnorm.h"
#include "../ops/rope.h"
#include "../ops/scatter_add_rows.h"
#include "../ops/silu.h"
#include "../ops/timestep_embedding.h"
#include "../ops/transpose2d.h"

namespace cosmos {

namespace {
// residual: y += the MLP's output (SwiGLU only: gen_layer asks for it where mlp_residual_in_epilogue holds).
void mlp_run(float* y, const float* x, const Cosmos3Mlp& m, int n, float* scratch, const CudaContext& ctx,
             Fp8Rows x8 = {}, bool residual = false) {
  if (m.is_relu2)
    mlp_cuda(y, x, m.relu2, n, scratch, ctx);
  else
    mlp_cuda(y, x, m.swiglu, n, scratch, ctx, x8, nullptr, residual);
}
size_t mlp_scratch(const Cosmos3Mlp& m, int n) {
  return m.is_relu2 ? mlp_scratch_floats(m.relu2, n) : mlp_scratch_floats(m.swiglu, n);
}
}  // namespace

// One stream's device state: residual x, normed input / piece output h, rotary tables, scratch; in fp8 mode the normed
// input as e4m3 rows (x8 / x8_scale, when x8_set) where the norm wrote it that way instead of h (gen_layer).
struct Cosmos3TransformerCuda::Stream {
  int n = 0;
  DeviceBuffer<float> x, h, cos, sin, scratch;
  DeviceBuffer<uint8_t> x8;
  DeviceBuffer<float> x8_scale;
  bool x8_set = false;
  Stream(CudaPool& pool, const Cosmos3TransformerConfig& c, const Cosmos3Layer& L, int tokens, bool und)
      : n(tokens),
        x(pool, (size_t)tokens * c.hidden_size),
        h(pool, (size_t)tokens * c.hidden_size),
        cos(pool, (size_t)tokens * c.head_dim),
        sin(pool, (size_t)tokens * c.head_dim),
        scratch(pool, std::max(attention_scratch_floats(und ? L.und : L.gen, tokens, und),
                               mlp_scratch(und ? L.mlp : L.mlp_gen, tokens))) {}
};

template <typename T>
static DeviceBuffer<T> upload(CudaPool& pool, const T* host, size_t count, cudaStream_t s) {
  DeviceBuffer<T> d(pool, std::max<size_t>(count, 1));
  if (count) CUDA_CHECK(cudaMemcpyAsync(d.get(), host, sizeof(T) * count, cudaMemcpyHostToDevice, s));
  return d;
}

Cosmos3TransformerCuda::~Cosmos3TransformerCuda() { cudaStreamSynchronize(stream_.get()); }

std::unique_ptr<Cosmos3TransformerCuda> Cosmos3TransformerCuda::load(const Checkpoint& ck,
                                                                     const Cosmos3TransformerConfig& cfg, WType wt) {
  std::unique_ptr<Cosmos3TransformerCuda> m(new Cosmos3TransformerCuda(cfg, wt));
  WeightBinder wb(ck, m->store_, "transformer config"), time(ck, m->store_f32_, "transformer config");
  cosmos3_transformer_bind(cfg, wb, m->w_, &time);
  m->stream_.sync();
  return m;
}

std::unique_ptr<Cosmos3TransformerCuda> Cosmos3TransformerCuda::random(const Cosmos3TransformerConfig& cfg, WType wt,
                                                                       uint64_t seed, float std) {
  std::unique_ptr<Cosmos3TransformerCuda> m(new Cosmos3TransformerCuda(cfg, wt));
  WeightBinder wb(seed, std, m->store_), time(seed + kCosmos3TimeSeedOffset, std, m->store_f32_);
  cosmos3_transformer_bind(cfg, wb, m->w_, &time);
  m->stream_.sync();
  return m;
}

bool Cosmos3TransformerCuda::set_fp8(bool on, bool keep_source) {
  if (!on && fp8_sources_released_)
    throw ModelError("set_fp8(false): the bf16 weights of the fp8 linears were given back when fp8 was turned on");
  if (on && fp8_.empty()) {
    if (!gemm_fp8_wgmma_available(stream_.get())) return fp8_on_ = false;
    fp8_.make(cosmos3_fp8_linears(w_), pool_, ctx_);
  }
  if (fp8_.empty()) return fp8_on_ = false;
  stream_.sync();  // no forward in flight reads the Linears being switched
  fp8_.attach(on);
  fp8_on_ = on;
  if (on && !keep_source && !fp8_sources_released_) {
    // Only where linear_cuda can never fall back to w: the fp8 GEMM's shape test does not depend on the token count
    // (it reads k and the operands' alignment; the activations' e4m3 copy is a fresh pool block, 16-byte aligned).
    for (Fp8Copies::Copy& f : fp8_.copies()) {
      if (!gemm_fp8_wgmma_shape_ok(f.q.get(), f.q.get(), 1, f.l->out, f.l->in)) continue;
      store_.release(f.l->w);
      f.l->w = nullptr;
    }
    pool_.release_cached();  // the freed blocks of random weights go back to CUDA, not to the pool's cache
    fp8_sources_released_ = true;
  }
  return fp8_on_;
}

void Cosmos3TransformerCuda::release_cached_blocks() {
  stream_.sync();  // the blocks' last users on this stream are done before CUDA gets them back
  pool_.release_cached();
}

void Cosmos3TransformerCuda::check_abort() const {
  if (abort_ && abort_->load(std::memory_order_relaxed)) {
    cudaStreamSynchronize(stream_.get());
    throw AbortedError();
  }
}

// With bf16 weights the Generator's attention (both streams) runs on the tensor-core flash kernel
// (ops/flash_attention.h, bf16 q/k/v/P, ~1e-3 relative): at 480p x 189 frames its full attention is ~2e14 FLOP
// per forward. f32 weights keep attention_cuda (the fixture comparisons at 1e-4). false = attention_cuda always.
constexpr bool kTensorCoreAttention = true;

// As Cosmos3Transformer::und_layer.
void Cosmos3TransformerCuda::und_layer(Stream& s, int l, float* k, float* v, float* k_gen) {
  const Cosmos3TransformerConfig& c = cfg_;
  const Cosmos3Layer& L = w_.layers[l];
  const int n = s.n, D = c.head_dim, QH = c.num_heads * D, KH = c.num_kv_heads * D;
  if (L.k_norm_und_for_gen) {
    linear_cuda(k_gen, s.h.get(), L.und.qkv.rows(QH, KH), n, ctx_);
    rmsnorm_cuda(k_gen, k_gen, L.k_norm_und_for_gen, n * c.num_kv_heads, D, c.rms_norm_eps, ctx_);
    rope_apply_cuda(k_gen, s.cos.get(), s.sin.get(), n, c.num_kv_heads, D, ctx_);
  }
  KvCache cache{k, v, n, 0};
  AttentionCall call;
  call.n = n;
  call.cos = s.cos.get();
  call.sin = s.sin.get();
  call.causal = true;
  call.cache = &cache;
  call.tensor_core_attention = kTensorCoreAttention && wt_ == WType::BF16;
  attention_block_cuda(s.h.get(), s.h.get(), L.und, call, s.scratch.get(), ctx_);
  if (l + 1 == c.num_layers) return;
  add_norm_cuda(s.h.get(), s.x.get(), s.h.get(), L.post_ln, n, ctx_);
  mlp_run(s.h.get(), s.h.get(), L.mlp, n, s.scratch.get(), ctx_);
  add_norm_cuda(s.h.get(), s.x.get(), s.h.get(), w_.layers[l + 1].in_ln, n, ctx_);
}

// As Cosmos3Transformer::gen_layer.
void Cosmos3TransformerCuda::gen_layer(Stream& s, int l, const float* k_und, const float* v_und, int n_und) {
  const Cosmos3Layer& L = w_.layers[l];
  const int n = s.n;
  AttentionCall call;
  call.n = n;
  call.cos = s.cos.get();
  call.sin = s.sin.get();
  call.causal = false;
  call.extra = ExtraKv{k_und, v_und, n_und};
  call.tensor_core_attention = kTensorCoreAttention && wt_ == WType::BF16;
  call.fp8_attention = fp8_on_ && cosmos3_fp8_attention();
  // x += the piece's output, then the next piece's input: straight in e4m3 (add_rmsnorm_fp8_cuda: the bytes
  // quantize_fp8_rows would make from h, without writing h and reading it back) where that piece's first projection
  // runs in fp8, else h.
  const bool fuse = fp8_on_ && cosmos3_fp8_norm();
  if (fuse && !s.x8.get())
    s.x8 = DeviceBuffer<uint8_t>(pool_, (size_t)n * cfg_.hidden_size), s.x8_scale = DeviceBuffer<float>(pool_, n);
  const Fp8Rows x8{s.x8.get(), s.x8_scale.get()};
  if (s.x8_set) call.x8 = x8;
  // The residual adds in the o and down GEMMs' epilogue (residual_in_gemm_requested) where both run on the fp8 or the
  // wgmma GEMM: x += attn / mlp there, and the norms after them read x alone (the same bits; ~300 MB less a norm at
  // 480p x 189).
  const bool resid = residual_in_gemm_requested() && !L.mlp_gen.is_relu2 && linear_add_runs(L.gen.o, n, ctx_) &&
                     mlp_residual_in_epilogue(L.mlp_gen.swiglu, s.h.get(), nullptr, n, ctx_);
  call.residual = resid;
  float* y = resid ? s.x.get() : s.h.get();          // the pieces' output, or the x they add into
  const float* sum_h = resid ? nullptr : s.h.get();  // what the norms add to x: nothing where the GEMMs added it
  attention_block_cuda(y, s.h.get(), L.gen, call, s.scratch.get(), ctx_);
  auto add_norm_into = [&](const RmsNorm& norm, bool to_fp8) {
    s.x8_set = to_fp8;
    if (!to_fp8) return add_norm_cuda(s.h.get(), s.x.get(), sum_h, norm, n, ctx_);
    add_rmsnorm_fp8_cuda(s.x8.get(), s.x8_scale.get(), s.x.get(), sum_h, norm.w, n, norm.dim, norm.eps, ctx_);
  };
  const bool mlp_fp8 = fuse && !L.mlp_gen.is_relu2 && mlp_fp8_fused_runs(L.mlp_gen.swiglu, n, ctx_);
  add_norm_into(L.post_ln_gen, mlp_fp8);
  mlp_run(y, s.h.get(), L.mlp_gen, n, s.scratch.get(), ctx_, mlp_fp8 ? x8 : Fp8Rows{}, resid);
  const bool last = l + 1 == cfg_.num_layers;
  add_norm_into(last ? w_.norm_gen : w_.layers[l + 1].in_ln_gen,
                fuse && !last && attention_qkv_fp8_runs(w_.layers[l + 1].gen, n, ctx_));
}

Cosmos3UndCacheCuda Cosmos3TransformerCuda::prefill_text(const int* ids, int n, const float* pos3) {
  const Cosmos3TransformerConfig& c = cfg_;
  cosmos3_check_text(c, ids, n, pos3);
  const cudaStream_t st = stream_.get();
  const size_t kv = (size_t)n * c.num_kv_heads * c.head_dim;
  Stream s(pool_, c, w_.layers[0], n, true);
  {
    const DeviceBuffer<int> ids_d = upload(pool_, ids, (size_t)n, st);
    const DeviceBuffer<float> pos_d = upload(pool_, pos3, (size_t)3 * n, st);
    if (w_.embed_bf16)
      embedding_bf16_cuda(s.x.get(), w_.embed, ids_d.get(), n, c.hidden_size, ctx_);
    else
      embedding_cuda(s.x.get(), static_cast<const float*>(w_.embed), ids_d.get(), n, c.hidden_size, ctx_);
    mrope_tables_cuda(s.cos.get(), s.sin.get(), pos_d.get(), n, c.head_dim, c.rope_theta, c.rope_axes_dim, true, ctx_);
    norm_cuda(s.h.get(), s.x.get(), w_.layers[0].in_ln, n, ctx_);
    stream_.sync();  // the uploads' host memory and blocks are released at the end of this scope
  }
  Cosmos3UndCacheCuda cache;
  cache.n = n;
  DeviceBuffer<float> own_k;  // the und stream's own keys, when the gen stream sees differently normed ones
  for (int l = 0; l < c.num_layers; ++l) {
    check_abort();
    cache.k.emplace_back(pool_, kv);
    cache.v.emplace_back(pool_, kv);
    const bool separate = w_.layers[l].k_norm_und_for_gen != nullptr;
    if (separate && !own_k.get()) own_k = DeviceBuffer<float>(pool_, kv);
    und_layer(s, l, separate ? own_k.get() : cache.k[l].get(), cache.v[l].get(), cache.k[l].get());
  }
  stream_.sync();
  return cache;
}

void Cosmos3TransformerCuda::check_und(const Cosmos3UndCacheCuda& und) const {
  const Cosmos3TransformerConfig& c = cfg_;
  const size_t kv = (size_t)und.n * c.num_kv_heads * c.head_dim;
  if (und.n <= 0 || (int)und.k.size() != c.num_layers || (int)und.v.size() != c.num_layers)
    throw ModelError("gen: the text cache does not come from this transformer's prefill_text");
  for (int l = 0; l < c.num_layers; ++l)
    if (und.k[l].size() != kv || und.v[l].size() != kv)
      throw ModelError("gen: the text cache's layer " + std::to_string(l) + " does not hold " + std::to_string(und.n) +
                       " tokens");
}

void Cosmos3TransformerCuda::forward_gen_device(const Cosmos3UndCacheCuda& und, const Cosmos3GenInputs& in,
                                                const Cosmos3GenOutputs& out) {
  const Cosmos3TransformerConfig& c = cfg_;
  check_und(und);
  const Cosmos3GenLayout g = cosmos3_gen_layout(c, in);
  if (!in.pos3) throw ModelError("gen inputs: position ids are missing");
  if (!out.vision) throw ModelError("gen outputs: the vision buffer is missing");
  if (g.n_sound > 0 && !out.sound) throw ModelError("gen outputs: the sound buffer is missing");
  if (g.n_action > 0 && !out.action) throw ModelError("gen outputs: the action buffer is missing");
  // The shared plan reads the sound values only to transpose them into tokens (plan.sound_tokens), which this
  // path does on the GPU; it gets a host stand-in of the right size so the device pointer is never read here.
  Cosmos3GenInputs plan_in = in;
  std::vector<float> sound_shape_only;
  if (g.n_sound > 0)
    sound_shape_only.assign((size_t)c.sound_dim * in.sound_len, 0.f), plan_in.sound = sound_shape_only.data();
  const Cosmos3GenPlan plan = cosmos3_gen_plan(c, plan_in, g);
  const cudaStream_t st = stream_.get();
  const int H = c.hidden_size, PD = c.patch_dim(), C = c.latent_channel, p = c.latent_patch_size;
  const size_t latent_count = (size_t)C * in.T * in.H * in.W;
  Stream s(pool_, c, w_.layers[0], g.n_gen, false);
  float* X = s.x.get();
  // The step's inputs, as embed_gen does on the host.
  {
    DeviceBuffer<float> tokens(pool_, (size_t)g.n_vision * PD);
    patchify_cuda(tokens.get(), in.latents, C, in.T, in.H, in.W, p, ctx_);
    linear_cuda(X, tokens.get(), w_.proj_in, g.n_vision, ctx_);
    DeviceBuffer<float> st_d;
    DeviceBuffer<int> rows_d, zeros_d, dom_d, trows_d, tidx_d;
    if (g.n_sound > 0) {
      st_d = DeviceBuffer<float>(pool_, (size_t)in.sound_len * c.sound_dim);
      transpose2d_cuda(st_d.get(), in.sound, c.sound_dim, in.sound_len, ctx_);  // _pack_sound_latents
      rows_d = upload(pool_, plan.sound_rows.data(), plan.sound_rows.size(), st);
      zeros_d = upload(pool_, plan.sound_zeros.data(), plan.sound_zeros.size(), st);
      linear_cuda(X + (size_t)g.n_vision * H, st_d.get(), w_.audio_in, g.n_sound, ctx_);
      add_table_rows_cuda(X, rows_d.get(), w_.audio_embed, zeros_d.get(), g.n_sound, H, ctx_);
    }
    if (g.n_action > 0) {
      dom_d = upload(pool_, plan.action_domains.data(), plan.action_domains.size(), st);
      domain_linear_cuda(X + (size_t)(g.n_vision + g.n_sound) * H, in.action, w_.action_in_w, w_.action_in_b,
                         w_.action_embed, dom_d.get(), g.n_action, c.action_dim, H, ctx_);
    }
    const int u = (int)plan.t_values.size();
    DeviceBuffer<float> tv, sinusoid, hidden, table;
    if (u > 0) {
      const int TC = Cosmos3TransformerConfig::kTimeChannels;
      tv = upload(pool_, plan.t_values.data(), (size_t)u, st);
      trows_d = upload(pool_, plan.t_rows.data(), plan.t_rows.size(), st);
      tidx_d = upload(pool_, plan.t_idx.data(), plan.t_idx.size(), st);
      sinusoid = DeviceBuffer<float>(pool_, (size_t)u * TC);
      hidden = DeviceBuffer<float>(pool_, (size_t)u * H);
      table = DeviceBuffer<float>(pool_, (size_t)u * H);
      timestep_sinusoid_cuda(sinusoid.get(), tv.get(), u, TC, ctx_);
      linear_cuda(hidden.get(), sinusoid.get(), w_.time_1, u, ctx_);
      silu_cuda(hidden.get(), (long long)u * H, ctx_);
      linear_cuda(table.get(), hidden.get(), w_.time_2, u, ctx_);
      add_table_rows_cuda(X, trows_d.get(), table.get(), tidx_d.get(), (int)plan.t_rows.size(), H, ctx_);
    }
    const DeviceBuffer<float> pos_d = upload(pool_, in.pos3, (size_t)3 * g.n_gen, st);
    mrope_tables_cuda(s.cos.get(), s.sin.get(), pos_d.get(), g.n_gen, c.head_dim, c.rope_theta, c.rope_axes_dim, true,
                      ctx_);
    norm_cuda(s.h.get(), X, w_.layers[0].in_ln_gen, g.n_gen, ctx_);
    stream_.sync();  // the plan's host arrays are read by the uploads above before they go out of scope
  }
  for (int l = 0; l < c.num_layers; ++l) {
    check_abort();
    gen_layer(s, l, und.k[l].get(), und.v[l].get(), und.n);
  }
  // Heads, as decode_gen does on the host, written straight into the caller's device outputs.
  const float* Y = s.h.get();
  {
    CUDA_CHECK(cudaMemsetAsync(out.vision, 0, sizeof(float) * latent_count, st));
    DeviceBuffer<float> tokens(pool_, (size_t)std::max(g.n_vision_noisy_tokens, 1) * PD);
    // One projection per run of consecutive noisy frames (their rows are consecutive in Y and in tokens): a frame's
    // few hundred rows alone fill 8 of the GPU's 132 SMs (text-to-video: 48 launches a forward, 1.4 ms at 480p).
    for (int f = 0; f < in.n_vision_noisy;) {
      int run = 1;
      while (f + run < in.n_vision_noisy && in.vision_noisy_frames[f + run] == in.vision_noisy_frames[f] + run) ++run;
      linear_cuda(tokens.get() + (size_t)f * g.per_frame * PD, Y + (size_t)in.vision_noisy_frames[f] * g.per_frame * H,
                  w_.proj_out, run * g.per_frame, ctx_);
      f += run;
    }
    unpatchify_cuda(out.vision, tokens.get(), in.vision_noisy_frames, in.n_vision_noisy, C, in.T, in.H, in.W, p, ctx_);
  }
  // One modality's noisy rows gathered (embedding_cuda is a row gather), run through its head into pred
  // [n, width], then added at the noisy token indices of a zeroed [tokens, width] tensor (scatter_add_rows:
  // 0 + x == x, the host twin's plain writes).
  auto head = [&](const std::vector<int>& rows, const int* noisy, int width, float* tokens_out, auto&& run) {
    const int n = (int)rows.size();
    if (n == 0) return;
    const DeviceBuffer<int> rows_d = upload(pool_, rows.data(), rows.size(), st);
    const DeviceBuffer<int> noisy_d = upload(pool_, noisy, (size_t)n, st);
    DeviceBuffer<float> hsel(pool_, (size_t)n * H), pd(pool_, (size_t)n * width);
    embedding_cuda(hsel.get(), Y, rows_d.get(), n, H, ctx_);
    run(pd.get(), hsel.get(), n);
    scatter_add_rows_cuda(tokens_out, noisy_d.get(), pd.get(), n, width, ctx_);
  };
  if (g.n_sound > 0) {
    const int S = c.sound_dim, T = in.sound_len;
    DeviceBuffer<float> tokens(pool_, (size_t)T * S);
    CUDA_CHECK(cudaMemsetAsync(tokens.get(), 0, sizeof(float) * T * S, st));
    head(plan.sound_out_rows, in.sound_noisy, S, tokens.get(),
         [&](float* y, const float* x, int n) { linear_cuda(y, x, w_.audio_out, n, ctx_); });
    transpose2d_cuda(out.sound, tokens.get(), T, S, ctx_);  // _unpack_sound_latents
  }
  if (g.n_action > 0) {
    const int A = c.action_dim;
    CUDA_CHECK(cudaMemsetAsync(out.action, 0, sizeof(float) * in.action_len * A, st));
    const DeviceBuffer<int> dom_d = upload(pool_, plan.action_domains.data(), plan.action_domains.size(), st);
    head(plan.action_out_rows, in.action_noisy, A, out.action, [&](float* y, const float* x, int n) {
      domain_linear_cuda(y, x, w_.action_out_w, w_.action_out_b, nullptr, dom_d.get(), n, H, A, ctx_);
    });
  }
  stream_.sync();
}

void Cosmos3TransformerCuda::forward_gen(const Cosmos3UndCacheCuda& und, const Cosmos3GenInputs& in,
                                         const Cosmos3GenOutputs& out) {
  const Cosmos3TransformerConfig& c = cfg_;
  check_und(und);
  const Cosmos3GenLayout g = cosmos3_gen_layout(c, in);
  if (!out.vision) throw ModelError("gen outputs: the vision buffer is missing");
  if (g.n_sound > 0 && !out.sound) throw ModelError("gen outputs: the sound buffer is missing");
  if (g.n_action > 0 && !out.action) throw ModelError("gen outputs: the action buffer is missing");
  const cudaStream_t st = stream_.get();
  const size_t latent_count = (size_t)c.latent_channel * in.T * in.H * in.W;
  const size_t sound_count = (size_t)g.n_sound * c.sound_dim, action_count = (size_t)g.n_action * c.action_dim;
  Cosmos3GenInputs din = in;
  const DeviceBuffer<float> lat = upload(pool_, in.latents, latent_count, st);
  DeviceBuffer<float> snd, act;
  din.latents = lat.get();
  if (g.n_sound > 0) snd = upload(pool_, in.sound, sound_count, st), din.sound = snd.get();
  if (g.n_action > 0) act = upload(pool_, in.action, action_count, st), din.action = act.get();
  DeviceBuffer<float> vis_o(pool_, latent_count), snd_o(pool_, sound_count), act_o(pool_, action_count);
  forward_gen_device(und, din, Cosmos3GenOutputs{vis_o.get(), snd_o.get(), act_o.get()});
  auto download = [&](float* host, const DeviceBuffer<float>& d, size_t n) {
    if (n) CUDA_CHECK(cudaMemcpyAsync(host, d.get(), sizeof(float) * n, cudaMemcpyDeviceToHost, st));
  };
  download(out.vision, vis_o, latent_count);
  if (g.n_sound > 0) download(out.sound, snd_o, sound_count);
  if (g.n_action > 0) download(out.action, act_o, action_count);
  stream_.sync();
}

}  // namespace cosmos
