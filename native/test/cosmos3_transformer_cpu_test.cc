// The Cosmos 3 MoT transformer (native/src/models/cosmos3_transformer) on the CPU:
//  - its new ops against direct double-precision formulas: patchify / unpatchify (pad, crop, chosen frames),
//    the sinusoidal timestep features, DomainAwareLinear, relu2, silu, add_table_rows;
//  - a random-weight model (the tiny fixture's shape: hidden 64, heads 4/2, head_dim 16, 2 layers, latent 48,
//    sound 4, action 16): forward_gen over a prefilled text cache equals the joint forward, the cache is
//    reused across steps unchanged, clean frames / tokens come back 0, the Edge switches (relu2,
//    qk_norm_for_text false, use_und_k_norm_for_gen) construct and run, bad inputs are typed errors;
//  - when the fixtures are present (argv[1] = repository root): test/fixtures/cosmos3-tiny/transformer
//    against the outputs of diffusers' Cosmos3OmniTransformer in test/fixtures/cosmos3-tiny-reference.
// Prints a JSON summary; exit 1 on any failure.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <map>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "../src/core/errors.h"
#include "../src/models/cosmos3_transformer.h"
#include "../src/ops/add_table_rows.h"
#include "../src/ops/domain_linear.h"
#include "../src/ops/patchify.h"
#include "../src/ops/relu2.h"
#include "../src/ops/silu.h"
#include "../src/ops/timestep_embedding.h"

using namespace cosmos;

static int checks = 0, failures = 0;
static std::map<std::string, double> worst;
static std::mt19937 rng(7);

static std::vector<float> randv(size_t n, float s = 1.f) {
  std::normal_distribution<float> d(0.f, s);
  std::vector<float> v(n);
  for (auto& x : v) x = d(rng);
  return v;
}
// Max abs difference, recorded under `what`; fails above tol.
static void close(const std::string& what, const float* got, const double* ref, size_t n, double tol) {
  double m = 0;
  for (size_t i = 0; i < n; ++i) m = std::max(m, std::fabs((double)got[i] - ref[i]));
  if (std::isnan(m)) m = INFINITY;
  worst[what] = std::max(worst[what], m);
  ++checks;
  if (!(m <= tol)) {
    ++failures;
    std::fprintf(stderr, "%s: max abs diff %g > %g\n", what.c_str(), m, tol);
  }
}
static void close(const std::string& what, const std::vector<float>& got, const std::vector<float>& ref, double tol) {
  std::vector<double> r(ref.begin(), ref.end());
  if (got.size() != ref.size()) {
    ++checks, ++failures;
    std::fprintf(stderr, "%s: %zu values, expected %zu\n", what.c_str(), got.size(), ref.size());
    return;
  }
  close(what, got.data(), r.data(), r.size(), tol);
}
static void truth(const std::string& what, bool ok) {
  ++checks;
  if (!ok) {
    ++failures;
    std::fprintf(stderr, "%s failed\n", what.c_str());
  }
}
template <typename F>
static void throws_model_error(const std::string& what, const std::string& needle, F&& f) {
  ++checks;
  try {
    f();
  } catch (const ModelError& e) {
    if (std::string(e.what()).find(needle) != std::string::npos) return;
    ++failures;
    std::fprintf(stderr, "%s: message '%s' does not name '%s'\n", what.c_str(), e.what(), needle.c_str());
    return;
  } catch (const std::exception& e) {
    ++failures;
    std::fprintf(stderr, "%s: %s instead of a ModelError\n", what.c_str(), e.what());
    return;
  }
  ++failures;
  std::fprintf(stderr, "%s: no error\n", what.c_str());
}

// ---- ops against direct formulas -----------------------------------------------------------------------

static void test_patchify() {
  const int C = 3, T = 2, H = 5, W = 3, p = 2, hp = 3, wp = 2, F = p * p * C;
  const std::vector<float> lat = randv((size_t)C * T * H * W);
  std::vector<float> tok((size_t)T * hp * wp * F, -7.f);
  patchify_cpu(tok.data(), lat.data(), C, T, H, W, p);
  // Direct: zero-pad to [C, T, 6, 4], then token (t, i, j) lists (py, px, c) with c fastest.
  std::vector<double> ref(tok.size());
  size_t r = 0;
  for (int t = 0; t < T; ++t)
    for (int i = 0; i < hp; ++i)
      for (int j = 0; j < wp; ++j)
        for (int py = 0; py < p; ++py)
          for (int px = 0; px < p; ++px)
            for (int c = 0; c < C; ++c) {
              const int y = i * p + py, x = j * p + px;
              ref[r++] = (y < H && x < W) ? lat[((size_t)(c * T + t) * H + y) * W + x] : 0.0;
            }
  close("patchify", tok.data(), ref.data(), ref.size(), 0);
  // Unpatchify of frame 1 only, from its tokens: crop back to H x W, frame 0 untouched.
  std::vector<float> back(lat.size(), 5.f);
  const int frame1[1] = {1};
  unpatchify_cpu(back.data(), tok.data() + (size_t)hp * wp * F, frame1, 1, C, T, H, W, p);
  bool ok = true;
  for (int c = 0; c < C; ++c)
    for (int t = 0; t < T; ++t)
      for (int y = 0; y < H; ++y)
        for (int x = 0; x < W; ++x) {
          const size_t e = ((size_t)(c * T + t) * H + y) * W + x;
          ok = ok && back[e] == (t == 1 ? lat[e] : 5.f);
        }
  truth("unpatchify: chosen frame cropped back, other frame untouched", ok);
}

static void test_timestep_sinusoid() {
  const int n = 5, dim = 256, half = 128;
  const std::vector<float> t = {0.f, 0.001f, 0.25f, 0.999f, 1.f};
  std::vector<float> out((size_t)n * dim);
  timestep_sinusoid_cpu(out.data(), t.data(), n, dim);
  std::vector<double> ref(out.size());
  for (int i = 0; i < n; ++i)
    for (int j = 0; j < half; ++j) {
      const double f = std::exp(-std::log(10000.0) * j / half), a = (double)t[i] * f;
      ref[(size_t)i * dim + j] = std::cos(a);  // flip_sin_to_cos: cos first
      ref[(size_t)i * dim + half + j] = std::sin(a);
    }
  close("timestep_sinusoid", out.data(), ref.data(), ref.size(), 1e-6);
}

static void test_domain_linear() {
  const int domains = 3, in = 5, out = 4, n = 6;
  const std::vector<float> w = randv((size_t)domains * in * out), b = randv((size_t)domains * out), e = randv(out),
                           x = randv((size_t)n * in);
  const std::vector<int> d = {2, 0, 1, 2, 2, 0};
  std::vector<float> y((size_t)n * out);
  std::vector<double> ref(y.size());
  for (int extra = 0; extra < 2; ++extra) {
    domain_linear_cpu(y.data(), x.data(), w.data(), b.data(), extra ? e.data() : nullptr, d.data(), n, in, out);
    for (int i = 0; i < n; ++i)
      for (int o = 0; o < out; ++o) {
        // torch: fc(d).view(in, out): element (k, o) of domain d at d*in*out + k*out + o; bmm(x, W) + b.
        double a = b[(size_t)d[i] * out + o] + (extra ? e[o] : 0.0);
        for (int k = 0; k < in; ++k) a += (double)x[(size_t)i * in + k] * w[(size_t)d[i] * in * out + (size_t)k * out + o];
        ref[(size_t)i * out + o] = a;
      }
    close("domain_linear", y.data(), ref.data(), ref.size(), 1e-5);
  }
}

static void test_small_ops() {
  std::vector<float> x = {-2.f, -0.5f, 0.f, 0.5f, 3.f};
  std::vector<float> r2 = x, sl = x;
  relu2_cpu(r2.data(), (long long)r2.size());
  silu_cpu(sl.data(), (long long)sl.size());
  std::vector<double> ref2(x.size()), refs(x.size());
  for (size_t i = 0; i < x.size(); ++i) {
    ref2[i] = x[i] > 0 ? (double)x[i] * x[i] : 0.0;
    refs[i] = x[i] / (1.0 + std::exp(-(double)x[i]));
  }
  close("relu2", r2.data(), ref2.data(), x.size(), 0);
  close("silu", sl.data(), refs.data(), x.size(), 1e-6);
  // add_table_rows: rows 3 and 0 get table rows 1 and 0; rows 1, 2 untouched.
  const int dim = 3;
  std::vector<float> m = randv(4 * dim), table = randv(2 * dim);
  const std::vector<float> m0 = m;
  const int rows[2] = {3, 0}, idx[2] = {1, 0};
  add_table_rows_cpu(m.data(), rows, table.data(), idx, 2, dim);
  std::vector<double> refm(m0.begin(), m0.end());
  for (int k = 0; k < dim; ++k) refm[3 * dim + k] += table[dim + k], refm[k] += table[k];
  close("add_table_rows", m.data(), refm.data(), refm.size(), 1e-6);
}

// ---- the model on random weights -----------------------------------------------------------------------

static Cosmos3TransformerConfig tiny_config() {
  Cosmos3TransformerConfig c;
  c.vocab_size = 97;
  c.hidden_size = 64;
  c.intermediate_size = 96;
  c.num_layers = 2;
  c.num_heads = 4;
  c.num_kv_heads = 2;
  c.head_dim = 16;
  c.rope_axes_dim[0] = 4, c.rope_axes_dim[1] = 2, c.rope_axes_dim[2] = 2;
  c.rope_theta = 10000.f;
  c.latent_channel = 48;
  c.latent_patch_size = 2;
  c.sound_gen = true;
  c.sound_dim = 4;
  c.action_gen = true;
  c.action_dim = 16;
  c.num_embodiment_domains = 3;
  return c;
}

// One request's inputs: a text, a vision latent (odd H to exercise the pad / crop), sound and action.
struct Request {
  std::vector<int> ids;
  std::vector<float> text_pos, latents, sound, action, vision_t, sound_t, action_t, gen_pos, joint_pos;
  std::vector<int> vision_noisy, sound_noisy, action_noisy;
  Cosmos3GenInputs in;
  Cosmos3GenLayout lay;

  Request(const Cosmos3TransformerConfig& c, int n_text, int T, int H, int W, bool with_sound, bool with_action,
          float timestep) {
    std::uniform_int_distribution<int> tok(0, c.vocab_size - 1);
    for (int i = 0; i < n_text; ++i) ids.push_back(tok(rng));
    latents = randv((size_t)c.latent_channel * T * H * W);
    for (int f = 1; f < T; ++f) vision_noisy.push_back(f);  // frame 0 clean (image-to-video)
    in.latents = latents.data();
    in.T = T, in.H = H, in.W = W;
    in.vision_noisy_frames = vision_noisy.data();
    in.n_vision_noisy = (int)vision_noisy.size();
    if (with_sound) {
      const int len = 5;
      sound = randv((size_t)c.sound_dim * len);
      for (int i = 0; i < len; ++i) sound_noisy.push_back(i);
      in.sound = sound.data(), in.sound_len = len;
      in.sound_noisy = sound_noisy.data(), in.n_sound_noisy = len;
    }
    if (with_action) {
      const int len = 4;
      action = randv((size_t)len * c.action_dim);
      action_noisy = {1, 3};  // tokens 0 and 2 clean
      in.action = action.data(), in.action_len = len;
      in.action_noisy = action_noisy.data(), in.n_action_noisy = 2;
      in.domain_id = 2;
    }
    const int p = c.latent_patch_size;
    vision_t.assign(vision_noisy.size() * ((H + p - 1) / p) * ((W + p - 1) / p), timestep);
    // Two distinct timesteps on the sound (per-token timesteps are allowed; the embedding is per value).
    for (int i = 0; i < in.n_sound_noisy; ++i) sound_t.push_back(i < 2 ? timestep : timestep * 0.5f);
    action_t.assign(in.n_action_noisy, timestep);
    bind();
    lay = cosmos3_gen_layout(c, in);
    // Positions: text arange on all axes; gen after a margin, vision (t, h, w) with fps-modulated fractional t,
    // sound / action on t only.
    text_pos.resize(3 * (size_t)n_text);
    for (int a = 0; a < 3; ++a)
      for (int i = 0; i < n_text; ++i) text_pos[(size_t)a * n_text + i] = (float)i;
    const int G = lay.n_gen;
    gen_pos.assign(3 * (size_t)G, 0.f);
    const float off = n_text + 150.f;
    int r = 0;
    for (int t = 0; t < T; ++t)
      for (int i = 0; i < lay.hp; ++i)
        for (int j = 0; j < lay.wp; ++j, ++r)
          gen_pos[r] = off + t * 1.5f, gen_pos[G + r] = (float)i, gen_pos[2 * G + r] = (float)j;
    for (int s = 0; s < lay.n_sound; ++s, ++r) gen_pos[r] = off + s * 0.96f;
    for (int s = 0; s < lay.n_action; ++s, ++r) gen_pos[r] = off + (s + 1) * 0.25f;
    joint_pos.resize(3 * (size_t)(n_text + G));
    for (int a = 0; a < 3; ++a) {
      std::copy_n(text_pos.data() + (size_t)a * n_text, n_text, joint_pos.data() + (size_t)a * (n_text + G));
      std::copy_n(gen_pos.data() + (size_t)a * G, G, joint_pos.data() + (size_t)a * (n_text + G) + n_text);
    }
    bind();
  }
  // Points the inputs at this request's own vectors (after a copy or a change).
  void bind() {
    in.latents = latents.data();
    in.vision_noisy_frames = vision_noisy.data();
    in.vision_timesteps = vision_t.data();
    in.sound = sound.empty() ? nullptr : sound.data();
    in.sound_noisy = sound_noisy.data();
    in.sound_timesteps = sound_t.empty() ? nullptr : sound_t.data();
    in.action = action.empty() ? nullptr : action.data();
    in.action_noisy = action_noisy.data();
    in.action_timesteps = action_t.empty() ? nullptr : action_t.data();
    in.pos3 = gen_pos.data();
  }
};

struct Outputs {
  std::vector<float> vision, sound, action;
  Cosmos3GenOutputs o;
  Outputs(const Cosmos3TransformerConfig& c, const Request& r)
      : vision((size_t)c.latent_channel * r.in.T * r.in.H * r.in.W, NAN),
        sound((size_t)c.sound_dim * r.in.sound_len, NAN),
        action((size_t)r.in.action_len * c.action_dim, NAN) {
    o.vision = vision.data();
    o.sound = sound.empty() ? nullptr : sound.data();
    o.action = action.empty() ? nullptr : action.data();
  }
};

static double max_abs(const std::vector<float>& v) {
  double m = 0;
  for (float x : v) m = std::max(m, (double)std::fabs(x));
  return m;
}

static void test_cache_equals_joint(const std::string& name, const Cosmos3TransformerConfig& c, uint64_t seed) {
  auto m = Cosmos3Transformer::random(c, seed, 0.15f);
  m->set_threads(2);
  Request r1(c, 7, 3, 5, 4, c.sound_gen, c.action_gen, 937.f);
  const Cosmos3UndCache cache = m->prefill_text(r1.ids.data(), (int)r1.ids.size(), r1.text_pos.data());
  const Cosmos3UndCache copy = cache;
  // Step 1 and a second step with other latents / timesteps, both over the same cache.
  Outputs full1(c, r1), gen1(c, r1);
  m->forward(r1.ids.data(), (int)r1.ids.size(), r1.joint_pos.data(), r1.in, full1.o);
  m->forward_gen(cache, r1.in, gen1.o);
  close(name + ".cache_vs_joint.vision", gen1.vision, full1.vision, 1e-5);
  if (c.sound_gen) close(name + ".cache_vs_joint.sound", gen1.sound, full1.sound, 1e-5);
  if (c.action_gen) close(name + ".cache_vs_joint.action", gen1.action, full1.action, 1e-5);
  truth(name + ": outputs are not all zero", max_abs(gen1.vision) > 1e-3);

  Request r2 = r1;  // same text, a new step
  r2.latents = randv(r1.latents.size());
  std::fill(r2.vision_t.begin(), r2.vision_t.end(), 500.f);
  r2.bind();
  Outputs full2(c, r2), gen2(c, r2);
  m->forward(r2.ids.data(), (int)r2.ids.size(), r2.joint_pos.data(), r2.in, full2.o);
  m->forward_gen(cache, r2.in, gen2.o);
  close(name + ".cache_reused.vision", gen2.vision, full2.vision, 1e-5);
  truth(name + ": a new step changes the prediction", std::fabs(gen2.vision[gen2.vision.size() - 1] - gen1.vision[gen1.vision.size() - 1]) > 0);
  bool same = true;
  for (int l = 0; l < c.num_layers; ++l) same = same && cache.k[l] == copy.k[l] && cache.v[l] == copy.v[l];
  truth(name + ": forward_gen leaves the text cache unchanged", same);

  // Clean frame 0 / clean action tokens 0 and 2 are 0; noisy ones are not.
  const size_t frame = (size_t)r1.in.H * r1.in.W;
  bool clean0 = true, noisy_nonzero = false;
  for (int ch = 0; ch < c.latent_channel; ++ch)
    for (size_t e = 0; e < frame; ++e) {
      clean0 = clean0 && gen1.vision[(size_t)ch * r1.in.T * frame + e] == 0.f;
      noisy_nonzero = noisy_nonzero || gen1.vision[(size_t)ch * r1.in.T * frame + frame + e] != 0.f;
    }
  truth(name + ": clean vision frame is 0, noisy frame is not", clean0 && noisy_nonzero);
  if (c.action_gen) {
    bool a_ok = true;
    for (int t = 0; t < r1.in.action_len; ++t) {
      double s = 0;
      for (int j = 0; j < c.action_dim; ++j) s += std::fabs(gen1.action[(size_t)t * c.action_dim + j]);
      a_ok = a_ok && ((t == 1 || t == 3) ? s > 0 : s == 0);
    }
    truth(name + ": clean action tokens are 0, noisy ones are not", a_ok);
  }
  // The text matters to the gen stream (the extra K/V is used): another text changes the prediction.
  Request r3 = r1;
  r3.ids[0] = (r3.ids[0] + 1) % c.vocab_size;
  r3.bind();
  const Cosmos3UndCache cache3 = m->prefill_text(r3.ids.data(), (int)r3.ids.size(), r3.text_pos.data());
  Outputs gen3(c, r3);
  m->forward_gen(cache3, r1.in, gen3.o);
  double d = 0;
  for (size_t i = 0; i < gen3.vision.size(); ++i) d = std::max(d, (double)std::fabs(gen3.vision[i] - gen1.vision[i]));
  truth(name + ": the text changes the prediction", d > 1e-6);
}

static void test_errors() {
  const Cosmos3TransformerConfig c = tiny_config();
  auto m = Cosmos3Transformer::random(c, 3, 0.1f);
  m->set_threads(2);
  Request r(c, 4, 2, 4, 4, true, true, 900.f);
  const Cosmos3UndCache cache = m->prefill_text(r.ids.data(), 4, r.text_pos.data());
  Outputs o(c, r);
  std::vector<int> bad_ids = r.ids;
  bad_ids[2] = c.vocab_size;
  throws_model_error("token id out of vocabulary", "token id", [&] { m->prefill_text(bad_ids.data(), 4, r.text_pos.data()); });
  Cosmos3GenInputs in = r.in;
  in.domain_id = 3;
  throws_model_error("domain id out of range", "domain_id", [&] { m->forward_gen(cache, in, o.o); });
  in = r.in;
  const int frames[2] = {1, 1};
  in.vision_noisy_frames = frames;
  in.n_vision_noisy = 2;
  throws_model_error("noisy frames not ascending", "vision_noisy_frames", [&] { m->forward_gen(cache, in, o.o); });
  in = r.in;
  in.vision_timesteps = nullptr;
  throws_model_error("missing timesteps", "vision_timesteps", [&] { m->forward_gen(cache, in, o.o); });
  Cosmos3TransformerConfig no_sound = c;
  no_sound.sound_gen = false;
  throws_model_error("sound without sound_gen", "sound_gen", [&] { cosmos3_gen_layout(no_sound, r.in); });
  Cosmos3UndCache wrong = cache;
  wrong.k.pop_back();
  throws_model_error("cache of another model", "text cache", [&] { m->forward_gen(wrong, r.in, o.o); });
}

static void test_config() {
  const std::string base =
      R"({"hidden_size": 64, "head_dim": 16, "num_attention_heads": 4, "num_key_value_heads": 2, "num_hidden_layers": 2,
          "intermediate_size": 96, "vocab_size": 1426, "rope_axes_dim": [4, 2, 2], "rope_theta": 5000000.0,
          "latent_channel": 48, "latent_patch_size": 2, "patch_latent_dim": 192, "action_gen": true, "action_dim": 16,
          "sound_gen": true, "sound_dim": 4, "timestep_scale": 0.001, "hidden_act": "silu")";
  const Cosmos3TransformerConfig c = Cosmos3TransformerConfig::from_json(base + "}");
  truth("config: fields read", c.hidden_size == 64 && c.num_kv_heads == 2 && c.rope_axes_dim[0] == 4 &&
                                   c.rope_axes_dim[2] == 2 && c.action_dim == 16 && c.sound_dim == 4 && !c.relu2 &&
                                   c.qk_norm_for_text && c.num_embodiment_domains == 32 && c.vocab_size == 1426);
  const Cosmos3TransformerConfig e =
      Cosmos3TransformerConfig::from_json(base + R"(, "qk_norm_for_text": false, "use_und_k_norm_for_gen": true})");
  truth("config: edge switches read", !e.qk_norm_for_text && e.use_und_k_norm_for_gen);
  std::string relu = base;
  relu.replace(relu.find("\"silu\""), 6, "\"relu2\"");
  truth("config: relu2", Cosmos3TransformerConfig::from_json(relu + "}").relu2);
  std::string gelu = base;
  gelu.replace(gelu.find("\"silu\""), 6, "\"gelu\"");
  throws_model_error("config: hidden_act gelu", "hidden_act", [&] { Cosmos3TransformerConfig::from_json(gelu + "}"); });
  std::string axes = base;
  axes.replace(axes.find("[4, 2, 2]"), 9, "[4, 2, 3]");
  throws_model_error("config: rope_axes_dim sum", "rope_axes_dim", [&] { Cosmos3TransformerConfig::from_json(axes + "}"); });
  std::string pd = base;
  pd.replace(pd.find("192"), 3, "191");
  throws_model_error("config: patch_latent_dim", "patch_latent_dim", [&] { Cosmos3TransformerConfig::from_json(pd + "}"); });
  std::string no_ad = base;
  no_ad.replace(no_ad.find("\"action_dim\": 16,"), 17, "");
  throws_model_error("config: action_gen without action_dim", "action_dim",
                     [&] { Cosmos3TransformerConfig::from_json(no_ad + "}"); });
}

int main(int argc, char** argv) {
  test_patchify();
  test_timestep_sinusoid();
  test_domain_linear();
  test_small_ops();
  test_config();
  test_cache_equals_joint("qwen3", tiny_config(), 21);
  Cosmos3TransformerConfig edge = tiny_config();
  edge.relu2 = true;
  edge.qk_norm_for_text = false;
  edge.use_und_k_norm_for_gen = true;
  edge.attention_bias = true;
  test_cache_equals_joint("edge", edge, 22);
  Cosmos3TransformerConfig vision_only = tiny_config();
  vision_only.sound_gen = vision_only.action_gen = false;
  test_cache_equals_joint("vision_only", vision_only, 23);
  test_errors();
  (void)argc, (void)argv;
  std::printf("{\"checks\": %d, \"failures\": %d, \"worst\": {", checks, failures);
  bool first = true;
  for (auto& [k, v] : worst) std::printf("%s\"%s\": %.3g", first ? "" : ", ", k.c_str(), v), first = false;
  std::printf("}}\n");
  return failures ? 1 : 0;
}
