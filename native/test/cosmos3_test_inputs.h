// Shared by cosmos3_transformer_cpu_test.cc and cosmos3_transformer_cuda_test.cu: the tiny fixture's transformer
// shape as a config, one request's inputs (text, vision latents with an odd H, sound, action; frame 0 and two
// action tokens clean; fractional fps-modulated positions) and output buffers.
#pragma once
#include <algorithm>
#include <cmath>
#include <random>
#include <vector>

#include <cstring>
#include <fstream>
#include <map>
#include <sstream>
#include <string>

#include "../src/core/json.h"
#include "../src/models/cosmos3_transformer.h"
#include "../src/safetensors/safetensors.h"
#include "test_util.h"

namespace cosmos3_test {
using namespace cosmos;

inline std::mt19937& test_rng() {
  static std::mt19937 r(7);
  return r;
}
inline std::vector<float> randn(size_t n, float s = 1.f) {
  std::normal_distribution<float> d(0.f, s);
  std::vector<float> v(n);
  for (auto& x : v) x = d(test_rng());
  return v;
}

inline Cosmos3TransformerConfig tiny_config() {
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
    for (int i = 0; i < n_text; ++i) ids.push_back(tok(test_rng()));
    latents = randn((size_t)c.latent_channel * T * H * W);
    for (int f = 1; f < T; ++f) vision_noisy.push_back(f);  // frame 0 clean (image-to-video)
    in.latents = latents.data();
    in.T = T, in.H = H, in.W = W;
    in.vision_noisy_frames = vision_noisy.data();
    in.n_vision_noisy = (int)vision_noisy.size();
    if (with_sound) {
      const int len = 5;
      sound = randn((size_t)c.sound_dim * len);
      for (int i = 0; i < len; ++i) sound_noisy.push_back(i);
      in.sound = sound.data(), in.sound_len = len;
      in.sound_noisy = sound_noisy.data(), in.n_sound_noisy = len;
    }
    if (with_action) {
      const int len = 4;
      action = randn((size_t)len * c.action_dim);
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

// ---- the diffusers fixture (test/fixtures/cosmos3-tiny-reference/transformer.safetensors) ---------------

using test_util::read_text;

// One Cosmos3OmniTransformer.forward call recorded by tools/fixtures/make_cosmos3_tiny.py: its kwargs mapped onto
// prefill_text / forward_gen inputs, and diffusers' outputs.
struct FixtureCase {
  std::string name;
  std::vector<int> ids, vision_noisy, sound_noisy, action_noisy;
  std::vector<float> joint_pos, text_pos, gen_pos, latents, sound, action, vision_t, sound_t, action_t;
  std::vector<float> want_vision, want_sound, want_action;
  Cosmos3GenInputs in;
  std::string problem;  // why the kwargs do not fit this port's layout ("" when they do)

  // Reads <name>.<kwarg> from the file; false when absent (empty tensors are not stored).
  template <typename T>
  static bool read(const SafetensorsFile& f, const std::string& key, std::vector<T>& out, std::vector<int64_t>* shape) {
    const TensorInfo* t = f.find(key);
    if (!t) return false;
    const bool want_int = std::is_same<T, int>::value;
    out.resize((size_t)t->numel());
    if (!want_int && t->dtype == StDType::I32) {  // integer timesteps (the scheduler's int64, stored int32)
      std::vector<int32_t> v(out.size());
      std::memcpy(v.data(), f.data_of(*t), sizeof(int32_t) * v.size());
      for (size_t i = 0; i < v.size(); ++i) out[i] = (T)v[i];
    } else if ((want_int && t->dtype == StDType::I32) || (!want_int && t->dtype == StDType::F32)) {
      std::memcpy(out.data(), f.data_of(*t), sizeof(T) * out.size());
    } else {
      throw std::runtime_error(key + ": unexpected dtype");
    }
    if (shape) *shape = t->shape;
    return true;
  }

  FixtureCase(const SafetensorsFile& f, const std::string& c) : name(c) {
    auto need = [&](bool ok, const std::string& key) {
      if (!ok) throw std::runtime_error("fixture case " + c + ": no " + key);
    };
    std::vector<int> und, seq, text_idx, vis_seq, snd_seq, act_seq, dom;
    std::vector<int64_t> shape;
    need(read(f, c + ".input_ids", ids, nullptr), "input_ids");
    need(read(f, c + ".und_len", und, nullptr), "und_len");
    need(read(f, c + ".sequence_length", seq, nullptr), "sequence_length");
    need(read(f, c + ".position_ids", joint_pos, &shape), "position_ids");
    const int nt = und[0], N = seq[0];
    if (shape.size() != 2 || shape[0] != 3 || shape[1] != N) problem = "position_ids are not [3, sequence_length]";
    read(f, c + ".text_indexes", text_idx, nullptr);
    for (size_t i = 0; i < text_idx.size(); ++i)
      if (text_idx[i] != (int)i) problem = "text_indexes are not 0..und_len-1";
    if ((int)ids.size() != nt) problem = "input_ids are not und_len long";
    need(read(f, c + ".vision_tokens", latents, &shape), "vision_tokens");
    const size_t r = shape.size();
    in.T = (int)shape[r - 3], in.H = (int)shape[r - 2], in.W = (int)shape[r - 1];
    read(f, c + ".vision_noisy_frame_indexes", vision_noisy, nullptr);
    read(f, c + ".vision_timesteps", vision_t, nullptr);
    read(f, c + ".vision_sequence_indexes", vis_seq, nullptr);
    if (read(f, c + ".sound_tokens", sound, &shape)) {
      in.sound_len = (int)shape.back();
      read(f, c + ".sound_noisy_frame_indexes", sound_noisy, nullptr);
      read(f, c + ".sound_timesteps", sound_t, nullptr);
      read(f, c + ".sound_sequence_indexes", snd_seq, nullptr);
    }
    if (read(f, c + ".action_tokens", action, &shape)) {
      in.action_len = (int)shape[0];
      read(f, c + ".action_noisy_frame_indexes", action_noisy, nullptr);
      read(f, c + ".action_timesteps", action_t, nullptr);
      read(f, c + ".action_sequence_indexes", act_seq, nullptr);
      need(read(f, c + ".action_domain_ids", dom, nullptr), "action_domain_ids");
      in.domain_id = dom[0];
    }
    // This port packs [text | vision | sound | action] contiguously, as the pipeline does.
    int row = nt;
    for (const std::vector<int>* seg : {&vis_seq, &snd_seq, &act_seq})
      for (int v : *seg)
        if (v != row++) problem = "the sequence indexes are not [text | vision | sound | action] in order";
    if (row != N) problem = "the segments do not cover sequence_length";
    read(f, c + ".out.vision", want_vision, nullptr);
    read(f, c + ".out.sound", want_sound, nullptr);
    read(f, c + ".out.action", want_action, nullptr);
    text_pos.resize((size_t)3 * nt);
    gen_pos.resize((size_t)3 * (N - nt));
    if (problem.empty())
      for (int a = 0; a < 3; ++a) {
        std::copy_n(joint_pos.data() + (size_t)a * N, nt, text_pos.data() + (size_t)a * nt);
        std::copy_n(joint_pos.data() + (size_t)a * N + nt, N - nt, gen_pos.data() + (size_t)a * (N - nt));
      }
    in.latents = latents.data();
    in.vision_noisy_frames = vision_noisy.data();
    in.n_vision_noisy = (int)vision_noisy.size();
    in.vision_timesteps = vision_t.data();
    in.sound = sound.empty() ? nullptr : sound.data();
    in.sound_noisy = sound_noisy.data();
    in.n_sound_noisy = (int)sound_noisy.size();
    in.sound_timesteps = sound_t.data();
    in.action = action.empty() ? nullptr : action.data();
    in.action_noisy = action_noisy.data();
    in.n_action_noisy = (int)action_noisy.size();
    in.action_timesteps = action_t.data();
    in.pos3 = gen_pos.data();
  }
};

// The case names listed in reference.json's transformer_cases (empty when the fixture is absent).
inline std::vector<std::string> fixture_case_names(const std::string& reference_json) {
  std::vector<std::string> names;
  const std::string text = read_text(reference_json);
  if (text.empty()) return names;
  const Json root = json_parse(text.data(), text.size(), 64);
  const Json* cases = root.get("transformer_cases");
  if (cases && cases->is_obj())
    for (const auto& kv : cases->obj) names.push_back(kv.first);
  return names;
}

}  // namespace cosmos3_test
