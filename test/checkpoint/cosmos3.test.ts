// The Cosmos 3 diffusers layout (src/checkpoint/cosmos3.ts) on test/fixtures/cosmos3-reasoner-tiny
// (tools/fixtures/make_cosmos3_reasoner_tiny.ts: qwen3vl-tiny's tensors under the diffusers names,
// a random generation tower, the vision_encoder/ sidecar): layout detection, the configs against the
// source Qwen3-VL config.json, the und-tower name map against the source's tensor list, the HF cache,
// and broken checkpoints whose errors must name the part and what to do.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { cp, mkdir, mkdtemp, readFile, rm, symlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  checkpointLayout,
  cosmos3Reasoner,
  Cosmos3SchedulerConfigJson,
  Cosmos3TransformerConfigJson,
  cosmos3UndTensorName,
  loadCosmos3Checkpoint,
  loadQwen3VLCheckpoint,
  loadQwen3VLConfig,
  readSafetensorsHeader,
  WanVaeConfigJson,
} from "../../src/checkpoint/mod.ts";
import { FIXTURES } from "../native/_reference.ts";
import { isCkptError } from "./_checkpoint_error.ts";

const QWEN = join(FIXTURES, "qwen3vl-tiny");
const COSMOS = join(FIXTURES, "cosmos3-reasoner-tiny");
let root: string;

before(async () => {
  root = await mkdtemp(join(tmpdir(), "cosmos3-ckpt-"));
});
after(async () => {
  await rm(root, { recursive: true, force: true });
});

/** A copy of the Cosmos 3 fixture, changed by `edit` (paths relative to the checkpoint root). */
async function variant(name: string, edit: (dir: string) => Promise<void>): Promise<string> {
  const dir = join(root, name);
  await cp(COSMOS, dir, { recursive: true });
  await edit(dir);
  return dir;
}

async function editJson(path: string, edit: (j: Record<string, unknown>) => void): Promise<void> {
  const j = JSON.parse(await readFile(path, "utf8"));
  edit(j);
  await writeFile(path, JSON.stringify(j));
}

const qwenConfig = JSON.parse(await readFile(join(QWEN, "config.json"), "utf8"));

describe("Cosmos 3 diffusers layout: detection and configs", () => {
  test("each fixture is detected as its layout", async () => {
    assert.equal(await checkpointLayout(QWEN), "qwen3-vl-transformers");
    assert.equal(await checkpointLayout(COSMOS), "cosmos3-diffusers");
    await assert.rejects(checkpointLayout(join(FIXTURES, "qwen3vl-tiny-media")), isCkptError(/neither a Cosmos 3/));
  });

  test("components, configs and shards are read; the transformer's text fields are the source's", async () => {
    const ck = await loadCosmos3Checkpoint(COSMOS);
    assert.deepEqual(ck.modelIndex.transformer, ["diffusers", "Cosmos3OmniTransformer"]);
    assert.equal(ck.modelIndex.enable_safety_checker, false);
    assert.equal(ck.soundTokenizer, undefined, "sound_tokenizer is [null, null]");
    const t = ck.transformer.config;
    const q = qwenConfig.text_config;
    assert.deepEqual(
      [t.hidden_size, t.intermediate_size, t.num_hidden_layers, t.num_attention_heads, t.num_key_value_heads],
      [q.hidden_size, q.intermediate_size, q.num_hidden_layers, q.num_attention_heads, q.num_key_value_heads],
    );
    assert.deepEqual([t.head_dim, t.vocab_size, t.rope_theta], [
      q.head_dim,
      q.vocab_size,
      q.rope_parameters.rope_theta,
    ]);
    assert.deepEqual(t.rope_axes_dim, q.rope_parameters.mrope_section);
    assert.deepEqual(ck.transformer.safetensors.map((p) => p.split("/").pop()), [
      "diffusion_pytorch_model-00001-of-00002.safetensors",
      "diffusion_pytorch_model-00002-of-00002.safetensors",
    ]);
    assert.equal(ck.vae.config.z_dim, t.latent_channel);
    assert.equal(ck.scheduler.config._class_name, "UniPCMultistepScheduler");
    assert.equal(ck.visionEncoder?.config.depth, qwenConfig.vision_config.depth);
    assert.deepEqual(ck.visionEncoder?.safetensors.map((p) => p.split("/").pop()), ["model.safetensors"]);
  });

  test("the diffusers-written cosmos3-tiny (save_pretrained) reads to the configs diffusers held", async () => {
    // test/fixtures/cosmos3-tiny was written by Cosmos3OmniPipeline.save_pretrained; reference.json has each
    // model's resolved config as diffusers held it in memory.
    const refConfigs = JSON.parse(
      await readFile(join(FIXTURES, "cosmos3-tiny-reference", "reference.json"), "utf8"),
    ).configs as Record<string, Record<string, unknown>>;
    const ck = await loadCosmos3Checkpoint(join(FIXTURES, "cosmos3-tiny"));
    const same = (ours: Record<string, unknown>, theirs: Record<string, unknown>, what: string) => {
      let n = 0;
      for (const [k, v] of Object.entries(ours)) {
        if (k.startsWith("_") || !(k in theirs)) continue;
        assert.deepEqual(v ?? null, theirs[k] ?? null, `${what}.${k}`);
        n++;
      }
      return n;
    };
    assert.ok(same(ck.transformer.config, refConfigs.transformer, "transformer") >= 30);
    assert.ok(same(ck.vae.config, refConfigs.vae, "vae") >= 15);
    assert.ok(same(ck.scheduler.config, refConfigs.scheduler_saved, "scheduler") >= 15);
    assert.ok(same(ck.soundTokenizer!.config, refConfigs.sound_tokenizer, "sound_tokenizer") >= 4);
    assert.ok(same(ck.modelIndex, refConfigs.pipeline, "model_index") >= 7);
    assert.equal(ck.visionEncoder, undefined, "save_pretrained writes no vision_encoder/ (the converter adds it)");
  });

  test("schema defaults are diffusers' __init__ defaults (Nano / Super sizes)", () => {
    const t = Cosmos3TransformerConfigJson.parse({});
    assert.deepEqual(
      [t.hidden_size, t.intermediate_size, t.num_hidden_layers, t.num_attention_heads, t.num_key_value_heads],
      [4096, 12288, 36, 32, 8],
    );
    assert.deepEqual([t.head_dim, t.vocab_size, t.rope_theta, t.patch_latent_dim], [128, 151936, 5e6, 192]);
    assert.deepEqual(t.rope_axes_dim, [24, 20, 20]);
    assert.deepEqual(
      Cosmos3TransformerConfigJson.parse({ rope_scaling: { mrope_section: [32, 16, 16] } }).rope_axes_dim,
      [
        32,
        16,
        16,
      ],
    );
    const v = WanVaeConfigJson.parse({});
    assert.deepEqual([v.base_dim, v.z_dim, v.dim_mult, v.scale_factor_spatial], [96, 16, [1, 2, 4, 4], 8]);
    const s = Cosmos3SchedulerConfigJson.parse({ _class_name: "UniPCMultistepScheduler" });
    assert.ok(s._class_name === "UniPCMultistepScheduler" && s.solver_type === "bh2" && s.solver_order === 2);
  });

  const bad: [string, Record<string, unknown>, RegExp][] = [
    ["patch_latent_dim off", { patch_latent_dim: 100 }, /patch_latent_dim: must equal latent_channel/],
    ["rope_axes_dim off", { rope_axes_dim: [4, 2, 1] }, /rope_axes_dim: must sum to head_dim \/ 2 = 8/],
    ["action_gen without action_dim", { action_gen: true }, /action_dim: is required when action_gen/],
    ["sound_gen without sound_dim", { sound_gen: true }, /sound_dim: is required when sound_gen/],
    ["unknown hidden_act", { hidden_act: "gelu" }, /hidden_act: expected "silu"/],
  ];
  for (const [name, change, re] of bad) {
    test(`transformer/config.json: ${name} is named`, async () => {
      const dir = await variant(
        `t-${name.replaceAll(" ", "-")}`,
        (d) => editJson(join(d, "transformer", "config.json"), (j) => Object.assign(j, change)),
      );
      await assert.rejects(
        loadCosmos3Checkpoint(dir),
        isCkptError(new RegExp(`transformer.config\\.json: ${re.source}`)),
      );
    });
  }

  test("scheduler, VAE and model_index errors name their file and field", async () => {
    const sched = await variant(
      "sched",
      (d) => editJson(join(d, "scheduler", "scheduler_config.json"), (j) => (j._class_name = "DDIMScheduler")),
    );
    await assert.rejects(loadCosmos3Checkpoint(sched), isCkptError(/scheduler_config\.json: _class_name/));
    const karras = await variant(
      "karras",
      (d) => editJson(join(d, "scheduler", "scheduler_config.json"), (j) => (j.use_beta_sigmas = true)),
    );
    await assert.rejects(loadCosmos3Checkpoint(karras), isCkptError(/use_karras_sigmas: only one of/));
    const z = await variant("zdim", (d) =>
      editJson(join(d, "vae", "config.json"), (j) => {
        j.z_dim = 16;
        j.latents_mean = Array(16).fill(0);
        j.latents_std = Array(16).fill(1);
      }));
    await assert.rejects(
      loadCosmos3Checkpoint(z),
      isCkptError(/z_dim 16 differs from transformer\/config\.json latent_channel 48/),
    );
    const stats = await variant("stats", (d) => editJson(join(d, "vae", "config.json"), (j) => (j.latents_std = [1])));
    await assert.rejects(loadCosmos3Checkpoint(stats), isCkptError(/latents_std: must have z_dim = 48 values/));
    const idx = await variant(
      "index",
      (d) => editJson(join(d, "model_index.json"), (j) => (j._class_name = "WanPipeline")),
    );
    await assert.rejects(
      loadCosmos3Checkpoint(idx),
      isCkptError(/model_index\.json: _class_name: expected "Cosmos3OmniPipeline"/),
    );
  });

  test("missing parts are named with what to do", async () => {
    const noIndex = await variant("no-index", (d) => rm(join(d, "model_index.json")));
    await assert.rejects(loadCosmos3Checkpoint(noIndex), isCkptError(/no model_index\.json/));
    const noVae = await variant("no-vae", (d) => rm(join(d, "vae"), { recursive: true }));
    await assert.rejects(loadCosmos3Checkpoint(noVae), isCkptError(/has no vae\/ folder/));
    const shard = await variant(
      "no-shard",
      (d) => rm(join(d, "transformer", "diffusion_pytorch_model-00002-of-00002.safetensors")),
    );
    await assert.rejects(loadCosmos3Checkpoint(shard), isCkptError(/shard\(s\) that are missing: .*00002-of-00002/));
    const noWeights = await variant(
      "no-weights",
      (d) => rm(join(d, "transformer", "diffusion_pytorch_model.safetensors.index.json")),
    );
    await assert.rejects(loadCosmos3Checkpoint(noWeights), isCkptError(/transformer\/ has no weights/));
    const noTok = await variant("no-tok", (d) => rm(join(d, "text_tokenizer", "tokenizer.json")));
    await assert.rejects(loadCosmos3Checkpoint(noTok), isCkptError(/text_tokenizer has no tokenizer\.json/));
    const noVision = await variant("no-vision", (d) => rm(join(d, "vision_encoder"), { recursive: true }));
    assert.equal((await loadCosmos3Checkpoint(noVision)).visionEncoder, undefined, "the sidecar is optional");
    await assert.rejects(loadQwen3VLCheckpoint(noVision), isCkptError(/has no vision_encoder\/.*no root config\.json/));
  });

  test("a repo id resolves in the Hugging Face cache as for the transformers layout", async () => {
    const sha = "89abcdef0123456789abcdef0123456789abcdef";
    const repo = join(root, "hub", "models--nvidia--Cosmos3-Tiny");
    await mkdir(join(repo, "refs"), { recursive: true });
    await mkdir(join(repo, "snapshots"), { recursive: true });
    await writeFile(join(repo, "refs", "main"), sha);
    await symlink(COSMOS, join(repo, "snapshots", sha));
    const ck = await loadCosmos3Checkpoint("nvidia/Cosmos3-Tiny", { cacheDir: join(root, "hub") });
    assert.equal(ck.source, "hf-cache");
    assert.equal(ck.commit, sha);
    assert.equal(ck.transformer.config.num_hidden_layers, qwenConfig.text_config.num_hidden_layers);
  });
});

describe("Cosmos 3 Reasoner view: the und tower as Qwen3-VL", () => {
  test("the rename maps reach exactly the source's text and vision tensors; the generation tower is left out", async () => {
    const r = await cosmos3Reasoner(await loadCosmos3Checkpoint(COSMOS));
    const source = Object.keys((await readSafetensorsHeader(join(QWEN, "model.safetensors"))).tensors).sort();
    const text = source.filter((n) => !n.startsWith("model.visual."));
    const vision = source.filter((n) => n.startsWith("model.visual."));
    assert.deepEqual(Object.values(r.text.renames).sort(), text);
    assert.deepEqual(Object.values(r.vision!.renames).sort(), vision);
    assert.equal(
      r.text.renames["layers.2.self_attn.to_out.weight"],
      "model.language_model.layers.2.self_attn.o_proj.weight",
    );
    assert.equal(
      r.text.renames["layers.0.self_attn.norm_k.weight"],
      "model.language_model.layers.0.self_attn.k_norm.weight",
    );
    assert.equal(r.text.renames["norm.weight"], "model.language_model.norm.weight");
    assert.equal(r.vision!.renames["blocks.0.attn.qkv.weight"], "model.visual.blocks.0.attn.qkv.weight");
    // Every stored transformer tensor that is not renamed is a generation-tower one.
    const stored: string[] = [];
    for (const f of r.text.files) stored.push(...Object.keys((await readSafetensorsHeader(f)).tensors));
    const left = stored.filter((n) => !(n in r.text.renames));
    assert.equal(left.length, 42);
    for (const n of left) {
      assert.match(n, /_moe_gen|add_[qkv]_proj|to_add_out|norm_added_|^proj_(in|out)\.|^time_embedder\./, n);
    }
    assert.equal(cosmos3UndTensorName("layers.0.mlp_moe_gen.up_proj.weight"), undefined);
    assert.equal(cosmos3UndTensorName("action_modality_embed"), undefined);
    assert.equal(cosmos3UndTensorName("vae2llm.weight"), undefined);
    // Nested spellings of other exports reach the same Qwen3-VL names.
    const q = "model.language_model.layers.1.self_attn.q_proj.weight";
    for (
      const n of ["model.layers.1.self_attn.to_q.weight", "language_model.model.layers.1.self_attn.to_q.weight", q]
    ) {
      assert.equal(cosmos3UndTensorName(n), q, n);
    }
    assert.equal(cosmos3UndTensorName("model.lm_head.weight"), "lm_head.weight");
    assert.equal(cosmos3UndTensorName("language_model.lm_head.weight"), "lm_head.weight");
    assert.equal(cosmos3UndTensorName("model.norm.weight"), "model.language_model.norm.weight");
    assert.equal(cosmos3UndTensorName("model.norm_moe_gen.weight"), undefined);
  });

  test("the assembled Qwen3-VL config equals the source config.json (no max_position_embeddings to read)", async () => {
    const r = await cosmos3Reasoner(await loadCosmos3Checkpoint(COSMOS));
    const q = await loadQwen3VLConfig(QWEN);
    assert.deepEqual({ ...r.config.text, maxPositionEmbeddings: q.text.maxPositionEmbeddings }, q.text);
    assert.equal(r.config.text.maxPositionEmbeddings, undefined);
    assert.deepEqual(r.config.vision, q.vision);
    assert.deepEqual(r.config.tokens, q.tokens, "token ids from the tokenizer's added tokens");
    assert.equal(r.tokenizerDir, join(COSMOS, "text_tokenizer"));
  });

  test("a root config.json of model_type cosmos3_omni is used (and must agree with transformer/)", async () => {
    const withRoot = await variant(
      "root-config",
      (d) => writeFile(join(d, "config.json"), JSON.stringify({ ...qwenConfig, model_type: "cosmos3_omni" })),
    );
    const r = await cosmos3Reasoner(await loadCosmos3Checkpoint(withRoot));
    assert.deepEqual(r.config.text, (await loadQwen3VLConfig(QWEN)).text, "max_position_embeddings from the root");
    const off = await variant("root-config-off", (d) =>
      writeFile(
        join(d, "config.json"),
        JSON.stringify({
          ...qwenConfig,
          model_type: "cosmos3_omni",
          text_config: { ...qwenConfig.text_config, num_hidden_layers: 2 },
        }),
      ));
    await assert.rejects(
      cosmos3Reasoner(await loadCosmos3Checkpoint(off)),
      isCkptError(/contradicts .*num_hidden_layers 2 vs 3/),
    );
  });

  test("an Edge (relu2, no text q/k norm) transformer is refused by name", async () => {
    const edge = await variant("edge", (d) =>
      editJson(join(d, "transformer", "config.json"), (j) => {
        j.hidden_act = "relu2";
        j.qk_norm_for_text = false;
      }));
    await assert.rejects(
      cosmos3Reasoner(await loadCosmos3Checkpoint(edge)),
      isCkptError(/hidden_act "relu2" without qk_norm_for_text is a Nemotron \(Edge\) und tower/),
    );
  });

  test("loadQwen3VLCheckpoint reads the Cosmos 3 checkpoint as its Reasoner", async () => {
    const ck = await loadQwen3VLCheckpoint(COSMOS);
    const q = await loadQwen3VLCheckpoint(QWEN);
    assert.equal(ck.layout, "cosmos3-diffusers");
    assert.equal(q.layout, "qwen3-vl-transformers");
    assert.equal(ck.tokenizerDir, join(COSMOS, "text_tokenizer"));
    assert.deepEqual(ck.generation, q.generation, "root generation_config.json");
    assert.equal(ck.files.chatTemplate, join(COSMOS, "text_tokenizer", "chat_template.jinja"));
    assert.equal(typeof ck.weights.text, "object");
    assert.equal(q.weights.text, q.dir);
  });
});
