// The shared weight cache (layers/weights.h) on the GPU: the Cosmos 3 Generator's transformer
// (Cosmos3TransformerCuda) and the Reasoner's text decoder (Qwen3TextCuda) loaded from one checkpoint
// (test/fixtures/cosmos3-reasoner-tiny/transformer, which cosmos3-shared-tiny links: qwen3vl-tiny's und tower
// under the diffusers names next to a random bf16 generation tower, the Reasoner
// reading it through the rename map as src/checkpoint/cosmos3.ts builds it) hold the und tower once, in
// shared_weight_pool(), for f32 and for bf16 matmul weights:
//   - the second load adds exactly the Reasoner's own blocks (the final norm in f32, lm_head in the matmul
//     dtype) to the shared bytes;
//   - the Reasoner's logits (bound to the Generator's blocks) vs the CPU decoder, and the Generator's und K/V
//     vs the CPU transformer's prefill_text (f32: 1e-4; bf16: 1e-1, a sanity bound);
//   - freeing either keeps the other's outputs bit for bit; a reload binds the other's blocks and gives the
//     same outputs; both freed: no shared bytes left and the pool holds nothing.
// Run: build_shared_weights_cuda_test.sh, then shared_weights_cuda_test <repo root>. Prints a markdown table.
#include <chrono>
#include <cstdio>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "../src/core/cuda_common.h"
#include "../src/layers/weights.h"
#include "../src/models/cosmos3_transformer.h"
#include "../src/models/cosmos3_transformer_cuda.h"
#include "../src/models/qwen3_text.h"
#include "../src/models/qwen3_text_cuda.h"
#include "test_util.h"

using namespace cosmos;
using test_util::max_abs_diff;

namespace {

void row(const std::string& what, double value, double tol, bool ok) {
  test_util::truth(what, ok);
  std::printf("| %s | %.3g | %.3g | %s |\n", what.c_str(), value, tol, ok ? "ok" : "FAIL");
}

// The Reasoner's names for the und tower's diffusers names (src/checkpoint/cosmos3.ts; the converter's renames).
std::map<std::string, std::string> und_renames(const Checkpoint& ck) {
  static const std::vector<std::pair<std::string, std::string>> attn = {
      {".self_attn.to_q.", ".self_attn.q_proj."},   {".self_attn.to_k.", ".self_attn.k_proj."},
      {".self_attn.to_v.", ".self_attn.v_proj."},   {".self_attn.to_out.", ".self_attn.o_proj."},
      {".self_attn.norm_q.", ".self_attn.q_norm."}, {".self_attn.norm_k.", ".self_attn.k_norm."}};
  static const std::vector<std::string> und_parts = {".input_layernorm.", ".post_attention_layernorm.",
                                                     ".mlp.gate_proj.", ".mlp.up_proj.", ".mlp.down_proj."};
  std::map<std::string, std::string> r;
  for (const auto& n : ck.names()) {
    if (n == "lm_head.weight") {
      r[n] = n;
    } else if (n == "embed_tokens.weight" || n == "norm.weight") {
      r[n] = "model.language_model." + n;
    } else if (n.rfind("layers.", 0) == 0) {
      std::string m = n;
      bool und = false;
      for (const auto& [from, to] : attn)
        if (auto p = m.find(from); p != std::string::npos) m.replace(p, from.size(), to), und = true;
      for (const auto& part : und_parts) und = und || n.find(part) != std::string::npos;
      if (und) r[n] = "model.language_model." + m;
    }
  }
  return r;
}

std::vector<float> download(const DeviceBuffer<float>& b, size_t n) {
  std::vector<float> h(n);
  CUDA_CHECK(cudaMemcpy(h.data(), b.get(), n * 4, cudaMemcpyDeviceToHost));
  return h;
}

// Every layer's und keys then values, on the host.
std::vector<float> und_kv(Cosmos3TransformerCuda& m, const std::vector<int>& ids, const std::vector<float>& pos3,
                          size_t per_layer) {
  Cosmos3UndCacheCuda c = m.prefill_text(ids.data(), (int)ids.size(), pos3.data());
  std::vector<float> out;
  for (size_t l = 0; l < c.k.size(); ++l) {
    auto k = download(c.k[l], per_layer), v = download(c.v[l], per_layer);
    out.insert(out.end(), k.begin(), k.end());
    out.insert(out.end(), v.begin(), v.end());
  }
  return out;
}

std::vector<float> logits(Qwen3TextCuda& m, const std::vector<int>& ids, const std::vector<int>& pos3, int vocab) {
  std::vector<float> out(ids.size() * (size_t)vocab);
  m.reset();
  m.prefill(ids.data(), (int)ids.size(), pos3.data(), nullptr, out.data(), true);
  m.reset();
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  const std::string root = argc > 1 ? argv[1] : ".";
  const std::string dir = root + "/test/fixtures/cosmos3-reasoner-tiny/transformer";
  return test_util::run_table_report([&] {
    auto plain = Checkpoint::open(dir);
    std::vector<std::string> files;
    for (const auto& n :
         {"diffusion_pytorch_model-00001-of-00002.safetensors", "diffusion_pytorch_model-00002-of-00002.safetensors"})
      files.push_back(dir + "/" + n);
    auto renamed = Checkpoint::open_files(files, und_renames(*plain));
    const auto gcfg = Cosmos3TransformerConfig::from_json(test_util::read_text(dir + "/config.json"));
    const auto tcfg =
        Qwen3TextConfig::from_json(test_util::read_text(root + "/test/fixtures/qwen3vl-tiny/config.json"));
    const int V = tcfg.vocab_size, H = tcfg.hidden_size, n = 12;
    std::vector<int> ids(n), pos3i(3 * n);
    std::vector<float> pos3f(3 * n);
    for (int i = 0; i < n; ++i) {
      ids[i] = (i * 97 + 5) % V;
      for (int r = 0; r < 3; ++r) pos3i[r * n + i] = i, pos3f[r * n + i] = (float)i;
    }
    const size_t per_layer = (size_t)n * gcfg.num_kv_heads * gcfg.head_dim;

    // CPU references (the "cpu" device key: never shared with the GPU blocks).
    auto cpu_text = Qwen3Text::load(*renamed, tcfg);
    std::vector<float> want_logits((size_t)n * V);
    cpu_text->prefill(ids.data(), n, pos3i.data(), nullptr, want_logits.data(), true);
    auto cpu_gen = Cosmos3Transformer::load(*plain, gcfg);
    Cosmos3UndCache c = cpu_gen->prefill_text(ids.data(), n, pos3f.data());
    std::vector<float> want_kv;
    for (size_t l = 0; l < c.k.size(); ++l) {
      want_kv.insert(want_kv.end(), c.k[l].begin(), c.k[l].end());
      want_kv.insert(want_kv.end(), c.v[l].begin(), c.v[l].end());
    }
    cpu_text.reset();
    cpu_gen.reset();

    for (WType wt : {WType::F32, WType::BF16}) {
      const bool bf = wt == WType::BF16;
      const std::string tag = bf ? "bf16" : "f32";
      const double tol = bf ? 1e-1 : 1e-4;  // bf16: a sanity bound (weights rounded, flash attention)
      const size_t live0 = SharedWeights::live_bytes();
      const auto t0 = std::chrono::steady_clock::now();
      auto gen = Cosmos3TransformerCuda::load(*plain, gcfg, wt);
      const size_t gen_live = SharedWeights::live_bytes() - live0;
      auto text = Qwen3TextCuda::load(*renamed, tcfg, wt);
      const double load_ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
      const size_t own = 4 * (size_t)H + (size_t)V * H * (bf ? 2 : 4);  // norm.weight f32, lm_head in wt
      const size_t added = SharedWeights::live_bytes() - live0 - gen_live;
      row(tag + " second load adds only the Reasoner's own blocks (bytes)", (double)added, 0, added == own);
      row(tag + " Reasoner's weights mostly shared (shared bytes)", (double)text->weight_bytes() - (double)own, 0,
          text->weight_bytes() > own && gen_live >= text->weight_bytes() - own);
      row(tag + " shared pool holds the live blocks (bytes in use)", (double)shared_weight_pool().bytes_in_use(), 0,
          shared_weight_pool().bytes_in_use() >= SharedWeights::live_bytes());
      const auto l1 = logits(*text, ids, pos3i, V);
      const double dl = max_abs_diff(l1, want_logits);
      row(tag + " Reasoner logits on shared blocks vs CPU", dl, tol, dl <= tol);
      const auto kv1 = und_kv(*gen, ids, pos3f, per_layer);
      const double dk = max_abs_diff(kv1, want_kv);
      row(tag + " Generator und K/V vs CPU", dk, tol, dk <= tol);

      gen.reset();
      const double d_after_gen = max_abs_diff(logits(*text, ids, pos3i, V), l1);
      row(tag + " Generator freed: Reasoner logits unchanged", d_after_gen, 0, d_after_gen == 0);
      row(tag + " Generator freed: only the Reasoner's bytes left", (double)(SharedWeights::live_bytes() - live0), 0,
          SharedWeights::live_bytes() - live0 == text->weight_bytes());
      gen = Cosmos3TransformerCuda::load(*plain, gcfg, wt);
      const double d_reload = max_abs_diff(und_kv(*gen, ids, pos3f, per_layer), kv1);
      row(tag + " Generator reloaded on the Reasoner's blocks: K/V unchanged", d_reload, 0, d_reload == 0);
      text.reset();
      const double d_after_text = max_abs_diff(und_kv(*gen, ids, pos3f, per_layer), kv1);
      row(tag + " Reasoner freed: Generator K/V unchanged", d_after_text, 0, d_after_text == 0);
      gen.reset();
      row(tag + " both freed: no shared bytes, pool empty", (double)shared_weight_pool().bytes_in_use(), 0,
          SharedWeights::live_bytes() == live0 && shared_weight_pool().bytes_in_use() == 0);
      row(tag + " load ms (Generator + Reasoner)", load_ms, 0, true);
    }
  });
}
