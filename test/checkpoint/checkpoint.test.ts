// Checkpoint resolution and config reading: the fixture folder (values checked against the
// transformers-written reference JSON), a fake Hugging Face hub cache built in a temp dir, and
// broken configs whose errors must name the file and the field.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { mkdir, mkdtemp, readFile, rm, symlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  checkpointFiles,
  hfHubCacheDir,
  loadGenerationConfig,
  loadQwen3VLCheckpoint,
  loadQwen3VLConfig,
  parseQwen3VLConfig,
  resolveCheckpoint,
} from "../../src/checkpoint/mod.ts";
import { CheckpointError } from "../../src/errors.ts";
import { nativeTextConfig, nativeVisionConfig } from "../../src/native/config.ts";
import { loadTokenizer } from "../../src/tokenizer/mod.ts";
import { CHECKPOINT_DIR, REF } from "../tokenizer/_fixture.ts";
import { isCkptError } from "./_checkpoint_error.ts";

const FILES = [
  "config.json",
  "generation_config.json",
  "model.safetensors",
  "tokenizer.json",
  "tokenizer_config.json",
  "chat_template.jinja",
  "processor_config.json",
];
const SHA = "0123456789abcdef0123456789abcdef01234567";
let root: string;
let cache: string;

async function fixtureConfig(): Promise<
  Record<string, unknown> & { text_config: Record<string, unknown>; vision_config: Record<string, unknown> }
> {
  return JSON.parse(await readFile(join(CHECKPOINT_DIR, "config.json"), "utf8"));
}

before(async () => {
  root = await mkdtemp(join(tmpdir(), "cosmos-ckpt-"));
  // HF hub cache layout: blobs/ hold the files, snapshots/<sha>/ symlinks to them, refs/main has the sha.
  cache = join(root, "hub");
  const repo = join(cache, "models--acme--qwen3vl-tiny");
  await mkdir(join(repo, "refs"), { recursive: true });
  await mkdir(join(repo, "blobs"), { recursive: true });
  await mkdir(join(repo, "snapshots", SHA), { recursive: true });
  await writeFile(join(repo, "refs", "main"), SHA + "\n");
  for (const f of FILES) {
    await writeFile(join(repo, "blobs", f + ".blob"), await readFile(join(CHECKPOINT_DIR, f)));
    await symlink(join("..", "..", "blobs", f + ".blob"), join(repo, "snapshots", SHA, f));
  }
});

after(async () => {
  await rm(root, { recursive: true, force: true });
});

async function ckptDir(name: string, edit?: (files: Map<string, string | Uint8Array>) => void): Promise<string> {
  const dir = join(root, name);
  await mkdir(dir, { recursive: true });
  const files = new Map<string, string | Uint8Array>();
  for (const f of FILES) files.set(f, new Uint8Array(await readFile(join(CHECKPOINT_DIR, f))));
  edit?.(files);
  for (const [f, data] of files) await writeFile(join(dir, f), data);
  return dir;
}

describe("config.json / generation_config.json of the fixture vs transformers' reference", () => {
  test("text and vision config values", async () => {
    const cfg = await loadQwen3VLConfig(CHECKPOINT_DIR);
    const t = REF.text_config;
    const rope = t.rope_parameters as { rope_theta: number; mrope_section: number[]; mrope_interleaved: boolean };
    assert.deepEqual(
      [
        cfg.text.vocabSize,
        cfg.text.hiddenSize,
        cfg.text.intermediateSize,
        cfg.text.numLayers,
        cfg.text.numHeads,
        cfg.text.numKvHeads,
        cfg.text.headDim,
        cfg.text.rmsNormEps,
        cfg.text.tieWordEmbeddings,
      ],
      [
        t.vocab_size,
        t.hidden_size,
        t.intermediate_size,
        t.num_hidden_layers,
        t.num_attention_heads,
        t.num_key_value_heads,
        t.head_dim,
        t.rms_norm_eps,
        t.tie_word_embeddings,
      ],
    );
    assert.deepEqual(cfg.text.rope, {
      theta: rope.rope_theta,
      mropeSection: rope.mrope_section,
      mropeInterleaved: rope.mrope_interleaved,
      type: "default",
    });
    const v = REF.vision_config;
    assert.deepEqual(
      [
        cfg.vision.depth,
        cfg.vision.hiddenSize,
        cfg.vision.intermediateSize,
        cfg.vision.numHeads,
        cfg.vision.patchSize,
        cfg.vision.spatialMergeSize,
        cfg.vision.temporalPatchSize,
        cfg.vision.outHiddenSize,
        cfg.vision.numPositionEmbeddings,
        cfg.vision.deepstackVisualIndexes,
        cfg.vision.hiddenAct,
      ],
      [
        v.depth,
        v.hidden_size,
        v.intermediate_size,
        v.num_heads,
        v.patch_size,
        v.spatial_merge_size,
        v.temporal_patch_size,
        v.out_hidden_size,
        v.num_position_embeddings,
        v.deepstack_visual_indexes,
        v.hidden_act,
      ],
    );
    assert.deepEqual(cfg.tokens, {
      imageTokenId: REF.tokenizer.added_tokens["<|image_pad|>"],
      videoTokenId: REF.tokenizer.added_tokens["<|video_pad|>"],
      visionStartTokenId: REF.tokenizer.added_tokens["<|vision_start|>"],
      visionEndTokenId: REF.tokenizer.added_tokens["<|vision_end|>"],
    });
  });

  test("generation defaults: eos list, sampling values", async () => {
    const g = await loadGenerationConfig(CHECKPOINT_DIR);
    assert.deepEqual(g.eosTokenIds, [
      REF.tokenizer.added_tokens["<|im_end|>"],
      REF.tokenizer.added_tokens["<|endoftext|>"],
    ]);
    assert.deepEqual([g.doSample, g.temperature, g.topK, g.topP, g.repetitionPenalty, g.padTokenId], [
      true,
      0.7,
      20,
      0.8,
      1,
      1400,
    ]);
  });

  test("a single eos number becomes a one-element list; no file gives transformers' defaults", async () => {
    const dir = await ckptDir(
      "gen-number",
      (f) => f.set("generation_config.json", JSON.stringify({ eos_token_id: 1402 })),
    );
    assert.deepEqual((await loadGenerationConfig(dir)).eosTokenIds, [1402]);
    const none = await ckptDir("gen-none", (f) => f.delete("generation_config.json"));
    const g = await loadGenerationConfig(none);
    assert.deepEqual([g.eosTokenIds, g.doSample, g.temperature, g.topK, g.topP], [[], false, 1, 50, 1]);
  });
});

describe("resolveCheckpoint", () => {
  test("a local folder resolves to itself", async () => {
    const r = await resolveCheckpoint(CHECKPOINT_DIR);
    assert.equal(r.source, "local");
    assert.equal(r.dir, CHECKPOINT_DIR.replace(/\/$/, ""));
  });

  test("a repo id resolves through refs/main to the snapshot (cacheDir, HF_HUB_CACHE, HF_HOME)", async () => {
    const want = join(cache, "models--acme--qwen3vl-tiny", "snapshots", SHA);
    for (const opts of [{ cacheDir: cache }, { env: { HF_HUB_CACHE: cache } }, { env: { HF_HOME: root } }]) {
      const r = await resolveCheckpoint("acme/qwen3vl-tiny", opts);
      assert.deepEqual(r, {
        dir: want,
        source: "hf-cache",
        repoId: "acme/qwen3vl-tiny",
        revision: "main",
        commit: SHA,
      });
    }
    const byCommit = await resolveCheckpoint("acme/qwen3vl-tiny", { cacheDir: cache, revision: SHA });
    assert.equal(byCommit.dir, want);
  });

  test("cache folder precedence: HF_HUB_CACHE, HF_HOME/hub, XDG_CACHE_HOME/huggingface/hub, ~/.cache/huggingface/hub", () => {
    assert.equal(hfHubCacheDir({ HF_HUB_CACHE: "/a", HF_HOME: "/b" }), "/a");
    assert.equal(hfHubCacheDir({ HF_HOME: "/b", XDG_CACHE_HOME: "/c" }), join("/b", "hub"));
    assert.equal(hfHubCacheDir({ XDG_CACHE_HOME: "/c" }), join("/c", "huggingface", "hub"));
    assert.match(hfHubCacheDir({}), /\.cache[/\\]huggingface[/\\]hub$/);
  });

  test("errors list what was looked for and how to get the model", async () => {
    await assert.rejects(
      resolveCheckpoint("acme/missing", { cacheDir: cache }),
      (e) =>
        isCkptError(/acme\/missing not found.*models--acme--missing/)(e) &&
        /hf download acme\/missing/.test((e as CheckpointError).hint!),
    );
    await assert.rejects(
      resolveCheckpoint("acme/qwen3vl-tiny", { cacheDir: cache, revision: "dev" }),
      isCkptError(/no revision "dev".*refs[/\\]dev/),
    );
    await assert.rejects(
      resolveCheckpoint("acme/qwen3vl-tiny", { cacheDir: cache, revision: "f".repeat(40) }),
      isCkptError(/snapshot f{40} is missing/),
    );
    await assert.rejects(resolveCheckpoint("./no/such/folder/at/all"), isCkptError(/does not exist/));
    await assert.rejects(resolveCheckpoint(""), isCkptError(/No checkpoint given/));
  });
});

describe("loadQwen3VLCheckpoint / checkpointFiles", () => {
  test("through the fake hub cache: files, config and a working tokenizer", async () => {
    const c = await loadQwen3VLCheckpoint("acme/qwen3vl-tiny", { cacheDir: cache });
    assert.equal(c.source, "hf-cache");
    assert.deepEqual(c.files.safetensors, [join(c.dir, "model.safetensors")]);
    assert.equal(c.files.chatTemplate, join(c.dir, "chat_template.jinja"));
    assert.equal(c.config.text.numLayers, REF.text_config.num_hidden_layers);
    const tok = await loadTokenizer(c.dir);
    const k = REF.tokenizer.cases[0];
    assert.deepEqual(tok.encode(k.text), k.ids);
  });

  test("sharded weights from model.safetensors.index.json; a missing shard is named", async () => {
    const index = {
      metadata: { total_size: 1 },
      weight_map: { "a.weight": "model-00002-of-00002.safetensors", "b.weight": "model-00001-of-00002.safetensors" },
    };
    const dir = await ckptDir("sharded", (f) => {
      f.delete("model.safetensors");
      f.set("model.safetensors.index.json", JSON.stringify(index));
      f.set("model-00001-of-00002.safetensors", "x");
    });
    await assert.rejects(
      checkpointFiles(dir),
      isCkptError(/model\.safetensors\.index\.json.*missing.*model-00002-of-00002/),
    );
    await writeFile(join(dir, "model-00002-of-00002.safetensors"), "x");
    const files = await checkpointFiles(dir);
    assert.deepEqual(files.safetensors, [
      join(dir, "model-00001-of-00002.safetensors"),
      join(dir, "model-00002-of-00002.safetensors"),
    ]);
    assert.equal(files.weightMap?.["a.weight"], "model-00002-of-00002.safetensors");
  });

  test("missing config, weights, tokenizer or chat template are named", async () => {
    await assert.rejects(
      checkpointFiles(await ckptDir("no-config", (f) => f.delete("config.json"))),
      isCkptError(/no config\.json/),
    );
    await assert.rejects(
      checkpointFiles(await ckptDir("no-weights", (f) => f.delete("model.safetensors"))),
      isCkptError(/no weights.*model\.safetensors\.index\.json/),
    );
    await assert.rejects(
      loadQwen3VLCheckpoint(await ckptDir("no-tok", (f) => f.delete("tokenizer.json"))),
      isCkptError(/no tokenizer\.json/),
    );
    await assert.rejects(
      loadQwen3VLCheckpoint(await ckptDir("no-template", (f) => f.delete("chat_template.jinja"))),
      isCkptError(/no chat template/),
    );
  });

  test("a chat template inside tokenizer_config.json counts", async () => {
    const dir = await ckptDir("template-in-config", (f) => {
      f.delete("chat_template.jinja");
      f.set("tokenizer_config.json", JSON.stringify({ chat_template: "{{ messages[0].content }}" }));
    });
    assert.equal((await checkpointFiles(dir)).chatTemplate, join(dir, "tokenizer_config.json"));
  });
});

describe("broken config.json: errors name the file and the field", () => {
  const cases: Array<[string, (c: Awaited<ReturnType<typeof fixtureConfig>>) => void, RegExp]> = [
    ["MoE / other model types", (c) => {
      c.model_type = "qwen3_vl_moe";
    }, /config\.json.*model_type.*"qwen3_vl"/s],
    ["missing hidden_size", (c) => {
      delete c.text_config.hidden_size;
    }, /text_config\.hidden_size: missing/],
    ["negative vocab_size", (c) => {
      c.text_config.vocab_size = -5;
    }, /text_config\.vocab_size.*got -5/],
    ["kv heads that do not divide heads", (c) => {
      c.text_config.num_key_value_heads = 3;
    }, /text_config\.num_key_value_heads: must divide num_attention_heads \(4\)/],
    ["mrope_section not summing to head_dim / 2", (c) => {
      (c.text_config.rope_parameters as Record<string, unknown>).mrope_section = [4, 4, 4];
    }, /text_config\.rope_parameters\.mrope_section: must sum to head_dim \/ 2 = 8/],
    ["no rope_theta anywhere", (c) => {
      delete (c.text_config.rope_parameters as Record<string, unknown>).rope_theta;
    }, /rope_theta is missing/],
    ["deepstack index past the tower", (c) => {
      c.vision_config.deepstack_visual_indexes = [0, 5];
    }, /vision_config\.deepstack_visual_indexes\.1: must be < depth \(2\)/],
    ["missing image_token_id", (c) => {
      delete c.image_token_id;
    }, /image_token_id: missing/],
  ];
  for (const [name, edit, re] of cases) {
    test(name, async () => {
      const c = await fixtureConfig();
      edit(c);
      assert.throws(() => parseQwen3VLConfig(c, "/x/config.json"), isCkptError(re));
    });
  }

  test("transformers 4.57 layout (rope_scaling + text_config.rope_theta) reads the same", async () => {
    const c = await fixtureConfig();
    const rp = c.text_config.rope_parameters as Record<string, unknown>;
    c.text_config.rope_theta = rp.rope_theta;
    delete rp.rope_theta;
    c.text_config.rope_scaling = rp;
    delete c.text_config.rope_parameters;
    assert.deepEqual(parseQwen3VLConfig(c).text.rope, (await loadQwen3VLConfig(CHECKPOINT_DIR)).text.rope);
  });

  test("invalid JSON names the file", async () => {
    const dir = await ckptDir("bad-json", (f) => f.set("config.json", '{ "model_type": '));
    await assert.rejects(loadQwen3VLConfig(dir), isCkptError(/bad-json[/\\]config\.json is not valid JSON/));
  });

  test("a bad generation_config.json field is named", async () => {
    const dir = await ckptDir("bad-gen", (f) => f.set("generation_config.json", JSON.stringify({ top_p: 2 })));
    await assert.rejects(loadGenerationConfig(dir), isCkptError(/generation_config\.json: top_p.*got 2/));
  });
});

describe("one text-config mapping for the checkpoint and the native engine", () => {
  // transformers' Qwen3VLTextRotaryEmbedding interleaves whatever the config says, so a config
  // without the flag (older Qwen3-VL exports) must run interleaved on both paths.
  test("a missing mrope_interleaved means interleaved; an explicit false is kept", async () => {
    const c = await fixtureConfig();
    const rp = c.text_config.rope_parameters as Record<string, unknown>;
    delete rp.mrope_interleaved;
    assert.equal(parseQwen3VLConfig(c).text.rope.mropeInterleaved, true);
    assert.equal(nativeTextConfig(c).mropeInterleaved, true);
    rp.mrope_interleaved = false;
    assert.equal(parseQwen3VLConfig(c).text.rope.mropeInterleaved, false);
    assert.equal(nativeTextConfig(c).mropeInterleaved, false);
  });

  test("the native config is the checkpoint config's numbers, field by field", async () => {
    const c = await fixtureConfig();
    const t = parseQwen3VLConfig(c).text;
    const n = nativeTextConfig(c);
    assert.deepEqual(n, {
      vocabSize: t.vocabSize,
      hiddenSize: t.hiddenSize,
      intermediateSize: t.intermediateSize,
      numLayers: t.numLayers,
      numHeads: t.numHeads,
      numKvHeads: t.numKvHeads,
      headDim: t.headDim,
      rmsNormEps: t.rmsNormEps,
      ropeTheta: t.rope.theta,
      mropeSection: t.rope.mropeSection,
      mropeInterleaved: t.rope.mropeInterleaved,
      tieWordEmbeddings: t.tieWordEmbeddings,
    });
    // A top-level tie_word_embeddings applies when text_config has none, on both paths.
    delete c.text_config.tie_word_embeddings;
    c.tie_word_embeddings = true;
    assert.equal(parseQwen3VLConfig(c).text.tieWordEmbeddings, true);
    assert.equal(nativeTextConfig(c).tieWordEmbeddings, true);
    assert.equal(nativeVisionConfig(c).ropeTheta, parseQwen3VLConfig(c).vision.ropeTheta);
  });
});
