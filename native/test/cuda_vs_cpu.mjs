// CUDA backend vs CPU backend vs transformers on the tiny Qwen3-VL fixture, through the addon only (no
// TypeScript, no npm packages: runs wherever node and native/build/Release/cosmos_native.node are).
//
//   COSMOS_DEVICE=cpu  node native/test/cuda_vs_cpu.mjs dump cpu.json
//   COSMOS_DEVICE=cuda node native/test/cuda_vs_cpu.mjs dump cuda.json
//   COSMOS_DEVICE=cuda COSMOS_CUDA_WEIGHTS=bf16 node native/test/cuda_vs_cpu.mjs dump cuda_bf16.json
//   node native/test/cuda_vs_cpu.mjs compare cpu.json cuda.json [cuda_bf16.json ...]
//
// dump: text prefill logits of the 3 reference prompts + 32 greedy tokens (generate), the vision tower
// on the reference image and video pixels, image/video prefill logits with the tower's own outputs at
// the visual rows + 16 greedy tokens; each checked against the transformers reference (max-abs-diff,
// token ids), and the sampler's rules through generate() (seeded repeat, top-k 1 / T -> 0 = greedy,
// penalised greedy). The tower's outputs are NativeTensors on the backend's device, passed to the decoder
// as they are (on CUDA: read in place on the GPU); their toHost() copies are the dumped arrays, and the
// decoder given those host copies must give bit-identical logits. On the CUDA backend also the GPU memory
// rules: a cancelled generate() and a cancelled tower run leave the CUDA bytes in use at their baseline,
// disposing the tower's tensors or freeing the tower gives their blocks back, free() returns everything.
// compare: max-abs-diff of every array between the first dump and each other one, and token equality.
// Exit status 1 when a check fails (f32 runs: 1e-3 and identical tokens; bf16 runs are reported only).
import { createRequire } from "node:module";
import { readFileSync, writeFileSync } from "node:fs";
import { fileURLToPath } from "node:url";

const ROOT = fileURLToPath(new URL("../../", import.meta.url));
const CKPT = ROOT + "test/fixtures/qwen3vl-tiny";
const require = createRequire(import.meta.url);

function readSafetensors(path) {
  const b = readFileSync(path);
  const n = Number(b.readBigUInt64LE(0));
  const h = JSON.parse(b.subarray(8, 8 + n).toString("utf8"));
  const out = new Map();
  for (const [k, v] of Object.entries(h)) {
    if (k === "__metadata__" || v.dtype !== "F32") continue;
    const [s, e] = v.data_offsets;
    const bytes = b.subarray(8 + n + s, 8 + n + e);
    out.set(k, new Float32Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength)));
  }
  return out;
}

function maxAbsDiff(a, b) {
  if (a.length !== b.length) return Infinity;
  let m = 0;
  for (let i = 0; i < a.length; i++) {
    const d = Math.abs(a[i] - b[i]);
    if (!(d <= m)) m = Number.isNaN(d) ? Infinity : d;
  }
  return m;
}

const b64 = (f) => Buffer.from(f.buffer, f.byteOffset, f.byteLength).toString("base64");
const unb64 = (s) => {
  const b = Buffer.from(s, "base64");
  return new Float32Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength));
};

// The config objects the addon takes (ABI 2 and later), as src/native/config.ts builds them from config.json.
function textConfig(cfg) {
  const t = cfg.text_config;
  const rope = t.rope_parameters ?? t.rope_scaling;
  return {
    vocabSize: t.vocab_size, hiddenSize: t.hidden_size, intermediateSize: t.intermediate_size, numLayers: t.num_hidden_layers,
    numHeads: t.num_attention_heads, numKvHeads: t.num_key_value_heads, headDim: t.head_dim ?? t.hidden_size / t.num_attention_heads,
    rmsNormEps: t.rms_norm_eps, ropeTheta: rope.rope_theta ?? t.rope_theta, mropeSection: rope.mrope_section,
    mropeInterleaved: rope.mrope_interleaved ?? true, tieWordEmbeddings: t.tie_word_embeddings ?? cfg.tie_word_embeddings ?? false,
  };
}
function visionConfig(cfg) {
  const v = cfg.vision_config;
  return {
    depth: v.depth, hiddenSize: v.hidden_size, intermediateSize: v.intermediate_size, numHeads: v.num_heads, inChannels: v.in_channels ?? 3,
    patchSize: v.patch_size, temporalPatchSize: v.temporal_patch_size, spatialMergeSize: v.spatial_merge_size, outHiddenSize: v.out_hidden_size,
    numPositionEmbeddings: v.num_position_embeddings, deepstackVisualIndexes: v.deepstack_visual_indexes ?? [], layerNormEps: 1e-6,
    ropeTheta: v.rope_parameters?.rope_theta ?? 10000,
  };
}

async function dump(file) {
  const addon = require(ROOT + "native/build/Release/cosmos_native.node");
  const dev = addon.deviceInfo();
  const cuda = dev.modelBackend === "cuda";
  const bf16 = process.env.COSMOS_CUDA_WEIGHTS === "bf16";
  const strict = !bf16;  // bf16 weights are not expected to meet the f32 tolerance
  const cfg = JSON.parse(readFileSync(CKPT + "/config.json", "utf8"));
  const ref = JSON.parse(readFileSync(ROOT + "test/fixtures/qwen3vl-tiny-reference.json", "utf8"));
  const T = readSafetensors(ROOT + "test/fixtures/qwen3vl-tiny-reference.safetensors");
  const arrays = {}, tokens = {}, vsRef = {}, fails = [], mem = {};
  const check = (name, got, want) => {
    const d = maxAbsDiff(got, want);
    vsRef[name] = d;
    if (strict && !(d <= 1e-3)) fails.push(`${name}: max-abs-diff vs transformers ${d}`);
  };
  const checkTokens = (name, got, want) => {
    tokens[name] = Array.from(got);
    const same = want.every((t, i) => t === got[i]) && got.length === want.length;
    vsRef[name] = same ? "identical" : `differs: got ${Array.from(got).join(",")} want ${want.join(",")}`;
    if (strict && !same) fails.push(`${name}: tokens differ from transformers`);
  };
  mem.start = addon.memory();

  const m = addon.loadModel(CKPT, textConfig(cfg));
  const modelInfo = m.info();
  mem.afterLoad = addon.memory();
  ref.text_prompts.forEach((p, i) => {
    const logits = m.forwardLogits(Int32Array.from(p.input_ids));
    arrays[`text.${i}.logits`] = logits;
    check(`text.${i}.logits`, logits, T.get(`text.${i}.logits`));
  });
  for (const [i, p] of ref.text_prompts.entries()) {
    m.reset();
    const r = await m.generate({ ids: Int32Array.from(p.input_ids), maxTokens: 32 });
    checkTokens(`text.${i}.greedy`, r.tokens, p.greedy_ids);
  }

  // The token loop's sampler (runtime/token_loop + sample_cpu / sample_cuda): seeded sampling repeats
  // run to run on this device; top-k 1 and a vanishing temperature are the greedy tokens; penalised
  // greedy is compared across devices (compare: tokens identical) since the GPU penalties are sample_cpu's
  // bit for bit. The seeded draws themselves may differ between devices (sample_cuda.h) and are reported.
  {
    const p = ref.text_prompts[0];
    const ids = Int32Array.from(p.input_ids);
    const gen = async (sampling, maxTokens = 24) => {
      m.reset();
      return Array.from((await m.generate({ ids, maxTokens, sampling })).tokens);
    };
    const reasoner = { temperature: 0.7, topK: 20, topP: 0.8, presencePenalty: 1.5, seed: 7 };
    const a = await gen(reasoner), b = await gen(reasoner);
    const full = { temperature: 1, seed: 11 }, fa = await gen(full), fb = await gen(full);
    const capped = { temperature: 1, topP: 0.9, seed: 13 }, ca = await gen(capped), cb = await gen(capped);
    mem.sampled = { reasoner: a, full: fa, topP: ca };
    if (JSON.stringify(a) !== JSON.stringify(b) || JSON.stringify(fa) !== JSON.stringify(fb) || JSON.stringify(ca) !== JSON.stringify(cb))
      fails.push(`seeded sampling does not repeat: ${a} / ${b}; ${fa} / ${fb}; ${ca} / ${cb}`);
    const greedy = p.greedy_ids.slice(0, 24);
    const k1 = await gen({ temperature: 0.9, topK: 1, seed: 3 });
    const t0 = await gen({ temperature: 1e-4, topK: 20, topP: 0.95, seed: 3 });
    if (strict && JSON.stringify(k1) !== JSON.stringify(greedy)) fails.push(`top-k 1 is not greedy: ${k1}`);
    if (strict && JSON.stringify(t0) !== JSON.stringify(greedy)) fails.push(`temperature 1e-4 is not greedy: ${t0}`);
    tokens["text.0.penalised_greedy"] = await gen({ temperature: 0, repetitionPenalty: 1.3, presencePenalty: 0.5 }, 32);
  }

  const tower = addon.loadVision(CKPT, visionConfig(cfg));
  const towerInfo = tower.info();
  const vis = {};
  for (const [kind, key, grid] of [["image", "image.pixel_values", [1, 4, 6]], ["video", "video.pixel_values_videos", [4, 6, 4]]]) {
    const o = await tower.run(T.get(key), grid);
    vis[kind] = o;
    if (o.embeds.device !== dev.modelBackend) fails.push(`${kind}: the tower's tensors are on ${o.embeds.device}, not ${dev.modelBackend}`);
    const embeds = await o.embeds.toHost();
    arrays[`${kind}.embeds`] = embeds;
    check(`${kind}.embeds`, embeds, T.get(`${kind}.vision_embeds`));
    for (const [k, t] of o.deepstack.entries()) {
      const d = await t.toHost();
      arrays[`${kind}.deepstack.${k}`] = d;
      check(`${kind}.deepstack.${k}`, d, T.get(`${kind}.deepstack.${k}`));
    }
  }
  const towerRunInfo = tower.info();

  for (const kind of ["image", "video"]) {
    const p = ref[kind];
    const tok = kind === "image" ? cfg.image_token_id : cfg.video_token_id;
    const ids = Int32Array.from(p.input_ids);
    const pos3 = Int32Array.from(p.position_ids.flat());
    const visualRows = Int32Array.from(p.input_ids.flatMap((t, i) => (t === tok ? [i] : [])));
    const o = vis[kind];
    const opts = { visualRows, embeds: o.embeds, deepstack: o.deepstack };  // the tensors, read in place
    const logits = m.forwardLogits(ids, pos3, opts);
    arrays[`${kind}.logits`] = logits;
    check(`${kind}.logits`, logits, T.get(`${kind}.logits`));
    const host = { visualRows, embeds: arrays[`${kind}.embeds`], deepstack: o.deepstack.map((_, k) => arrays[`${kind}.deepstack.${k}`]) };
    const viaHost = m.forwardLogits(ids, pos3, host);
    if (Buffer.compare(Buffer.from(viaHost.buffer), Buffer.from(logits.buffer)) !== 0)
      fails.push(`${kind}: logits from the tensors differ from logits from their host copies (max ${maxAbsDiff(viaHost, logits)})`);
    m.reset();
    const r = await m.generate({ ids, pos3, maxTokens: 16, ...opts });
    checkTokens(`${kind}.greedy`, r.tokens, p.greedy_ids);
  }

  if (cuda) {
    // Cancelled runs: bytes in use back at the baseline. The baseline is taken after one full run of
    // the same prompt, so the KV cache (model state, kept across runs until free) already has its size.
    const ids = Int32Array.from(ref.text_prompts[0].input_ids);
    m.reset();
    await m.generate({ ids, maxTokens: 40 });
    m.reset();
    const base = addon.memory().cuda.bytesInUse;
    let seen = 0;
    const r = await m.generate({ ids, maxTokens: 1_000_000, onToken: () => { if (++seen === 3) m.abort(); } });
    mem.abortGenerate = { stopReason: r.stopReason, tokens: r.tokens.length, base, after: addon.memory().cuda.bytesInUse };
    if (r.stopReason !== "abort" || mem.abortGenerate.after !== base) fails.push(`aborted generate: ${JSON.stringify(mem.abortGenerate)}`);
    const tbase = addon.memory().cuda.bytesInUse;
    const pr = tower.run(T.get("video.pixel_values_videos"), [4, 6, 4]);
    tower.abort();
    let code = "resolved";
    try { await pr; } catch (e) { code = e.code; }
    const after = addon.memory().cuda;
    mem.abortTower = { code, base: tbase, after: after.bytesInUse, cachedAfter: after.cachedBytes };
    if (code !== "ABORTED" || after.bytesInUse !== tbase) fails.push(`aborted tower run: ${JSON.stringify(mem.abortTower)}`);
    // The tower's output tensors are blocks of its pool: disposing one gives its bytes back at once, and
    // freeing the tower releases the rest (a handle used afterwards is a TENSOR_FREED error).
    const held = addon.memory().cuda.bytesInUse;
    const img = vis.image;
    img.embeds.dispose();
    const afterDispose = addon.memory().cuda.bytesInUse;
    mem.tensorDispose = { held, afterDispose, bytes: img.embeds.bytes };
    if (held - afterDispose < img.embeds.bytes) fails.push(`tensor dispose: ${JSON.stringify(mem.tensorDispose)}`);
    mem.beforeFree = addon.memory();
    tower.free();
    let freedCode = "resolved";
    try { await vis.video.embeds.toHost(); } catch (e) { freedCode = e.code; }
    if (freedCode !== "TENSOR_FREED" || !vis.video.deepstack[0].disposed) fails.push(`a freed tower's tensor: ${freedCode}`);
    m.free();
    mem.afterFree = addon.memory();
    if (mem.afterFree.cuda.bytesInUse !== mem.start.cuda.bytesInUse || mem.afterFree.cuda.pools !== 0)
      fails.push(`free(): cuda bytes ${mem.afterFree.cuda.bytesInUse}, pools ${mem.afterFree.cuda.pools}`);
  } else {
    tower.free();
    m.free();
  }
  const report = { device: dev, weights: process.env.COSMOS_CUDA_WEIGHTS ?? "checkpoint dtype", modelInfo, towerInfo, towerRunInfo, vsRef, mem, fails };
  console.log(JSON.stringify(report, null, 1));
  writeFileSync(file, JSON.stringify({ report, tokens, arrays: Object.fromEntries(Object.entries(arrays).map(([k, v]) => [k, b64(v)])) }));
  if (fails.length) {
    console.error("FAILED:\n  " + fails.join("\n  "));
    process.exitCode = 1;
  }
}

function compare(files) {
  const [base, ...rest] = files.map((f) => [f, JSON.parse(readFileSync(f, "utf8"))]);
  let bad = false;
  for (const [f, d] of rest) {
    console.log(`\n${base[0]} (${base[1].report.device.modelBackend}) vs ${f} (${d.report.device.modelBackend}, weights ${d.report.weights})`);
    let worst = 0;
    for (const [k, v] of Object.entries(base[1].arrays)) {
      const diff = maxAbsDiff(unb64(v), unb64(d.arrays[k]));
      worst = Math.max(worst, diff);
      console.log(`  ${k.padEnd(20)} max-abs-diff ${diff.toExponential(2)}`);
    }
    for (const [k, v] of Object.entries(base[1].tokens)) {
      const same = JSON.stringify(v) === JSON.stringify(d.tokens[k]);
      console.log(`  ${k.padEnd(20)} tokens ${same ? "identical" : "DIFFER: " + JSON.stringify(d.tokens[k])}`);
      if (!same && d.report.weights !== "bf16") bad = true;
    }
    console.log(`  worst array diff ${worst.toExponential(2)}`);
    if (d.report.weights !== "bf16" && !(worst <= 1e-3)) bad = true;
  }
  if (bad) process.exitCode = 1;
}

const [mode, ...args] = process.argv.slice(2);
if (mode === "dump") await dump(args[0]);
else if (mode === "compare") compare(args);
else {
  console.error("usage: cuda_vs_cpu.mjs dump OUT.json | compare A.json B.json [C.json ...]");
  process.exitCode = 2;
}
