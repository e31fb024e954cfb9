// reason() and generate() on one Cosmos 3 checkpoint share the und tower's weights (issue 12 item 1): the
// native weight cache (native/src/layers/weights.h) hands the Reasoner's text decoder the blocks the
// Generator's und stream already holds (same file, same stored tensors, same f32 form on the CPU), so the
// second load grows native memory by the Reasoner's own tensors only (the und tower's final norm and
// lm_head, which generation never reads), sizes computed from the checkpoint's tensor list. Fixture:
// test/fixtures/cosmos3-shared-tiny (tools/fixtures/make_cosmos3_shared_tiny.ts): qwen3vl-tiny's und
// tower under the diffusers names + a random generation tower + cosmos3-tiny's VAE.
//
// References: the Reasoner's logits bound to the Generator's blocks equal qwen3vl-tiny's decoder (another
// file, loaded on its own) bit for bit and transformers' (test/fixtures/qwen3vl-tiny-reference.*) within 1e-3,
// and its greedy tokens are transformers'; the Generator bound to the Reasoner's blocks (reloaded while the
// Reasoner holds them) gives the same latents and frames as the Generator that loaded them first. Freeing
// either keeps the other working with its bytes; freeing both returns native memory to its baseline.
import { after, describe, test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { loadQwen3VLCheckpoint } from "../../src/checkpoint/mod.ts";
import { generatorInputs, planGeneration } from "../../src/generator/mod.ts";
import { loadAddon } from "../../src/native/load.ts";
import { checkpointKey } from "../../src/native/qwen3vl.ts";
import { checkpointSession } from "../../src/native/registry.ts";
import { closeNative, nativeMemory, openCosmos3Generator, openQwen3VL } from "../../src/native/mod.ts";
import type { GeneratorRunOutput } from "../../src/native/generator.ts";
import { NativeTextModel } from "../../src/native/model.ts";
import { f32, maxAbsDiff, readSafetensors } from "../multimodal/_fixture.ts";
import { type PipelineRun, pipelineRun } from "../generator/_cosmos3_reference.ts";
import { FIXTURES } from "./_reference.ts";

const SHARED = join(FIXTURES, "cosmos3-shared-tiny");
const QWEN = join(FIXTURES, "qwen3vl-tiny");
const ref = JSON.parse(readFileSync(join(FIXTURES, "qwen3vl-tiny-reference.json"), "utf8")) as {
  text_prompts: { input_ids: number[]; greedy_ids: number[] }[];
};
const refTensors = readSafetensors(join(FIXTURES, "qwen3vl-tiny-reference.safetensors"));
const t2i = (JSON.parse(readFileSync(join(FIXTURES, "cosmos3-tiny-reference", "reference.json"), "utf8")) as {
  pipelines: Record<string, PipelineRun>;
}).pipelines.t2i;

after(async () => {
  await closeNative();
});

const used = () => nativeMemory().bytesInUse;

/** f32 bytes of the stored tensors (the CPU backend holds every weight in f32), from the safetensors headers. */
function f32Bytes(files: readonly string[], stored: (name: string) => boolean): number {
  let n = 0;
  for (const file of files) {
    for (const t of loadAddon().inspectSafetensors(file)) {
      if (stored(t.name)) n += 4 * t.shape.reduce((a, b) => a * b, 1);
    }
  }
  return n;
}

/** The Reasoner's logits for the first reference prompt and its 16 greedy tokens. */
async function reasonerOutputs(model: NativeTextModel): Promise<{ logits: Float32Array; tokens: number[] }> {
  const p = ref.text_prompts[0];
  model.reset();
  const logits = model.forwardLogits(p.input_ids);
  model.reset();
  const g = await model.generate({ ids: p.input_ids, maxTokens: 16, stopIds: [], sampling: { temperature: 0 } });
  model.reset();
  return { logits, tokens: g.tokens };
}

/** One t2i run (the cosmos3-tiny reference's 64x96, 3-step plan) with a fixed seed. */
async function t2iRun(): Promise<GeneratorRunOutput> {
  const s = await openCosmos3Generator(SHARED);
  const plan = planGeneration(pipelineRun(t2i), s.model);
  return await s.run({ plan, inputs: generatorInputs(plan, s.tokenizer, s.model), seed: 11, keepStepLatents: true });
}

describe("one Cosmos 3 checkpoint: reason() and generate() share the und tower's weights (CPU)", () => {
  test("the second model binds the first one's und blocks; memory counts them once; either can be freed", async () => {
    const ck = await loadQwen3VLCheckpoint(SHARED);
    const text = ck.weights.text;
    assert.ok(typeof text === "object" && "renames" in text, "the diffusers layout is read through a rename map");
    const und = new Set(Object.keys(text.renames)); // stored (diffusers) names of the Reasoner's tensors
    // The Reasoner's own tensors: what the Generator never reads (cosmos3_transformer_bind: no lm_head, and the
    // und stream's final norm reaches no output). Everything else of the und tower is shared.
    const own = new Set(["lm_head.weight", "norm.weight"].filter((n) => und.has(n)));
    assert.ok(own.has("norm.weight"));
    const reasonerBytes = f32Bytes(text.files, (n) => und.has(n));
    const ownBytes = f32Bytes(text.files, (n) => own.has(n));
    const sharedBytes = reasonerBytes - ownBytes;
    assert.ok(sharedBytes > ownBytes, "most of the und tower is shared");

    const qwen = await NativeTextModel.loadAsync(QWEN); // another file: its own weights, the logits to match
    const want = await reasonerOutputs(qwen);
    qwen.free();

    const base = used();
    // 1. generate() first: the Generator loads the whole transformer (und + gen towers) and the VAE.
    const first = await t2iRun();
    const gen = await openCosmos3Generator(SHARED);
    const withGenerator = used();
    const generatorBytes = withGenerator - base;
    assert.ok(generatorBytes > sharedBytes, "the Generator holds the und tower and more");

    // 2. reason() on the same folder (spelled another way): only the Reasoner's own tensors are new; one session
    // of the checkpoint holds both model classes.
    const rs = await openQwen3VL(`${SHARED}/../cosmos3-shared-tiny/`);
    const session = checkpointSession(await checkpointKey(SHARED));
    assert.deepEqual(session.kinds.sort(), ["generator", "reasoner"]);
    assert.equal(used() - withGenerator, ownBytes, "the und tower is counted once");
    const got = await reasonerOutputs(rs.model);
    assert.equal(maxAbsDiff(got.logits, want.logits), 0, "bound to the Generator's blocks: qwen3vl-tiny's logits");
    const dRef = maxAbsDiff(got.logits, f32(refTensors.get("text.0.logits"), "text.0.logits"));
    assert.ok(dRef <= 1e-3, `logits vs transformers: ${dRef}`);
    assert.deepEqual(got.tokens, ref.text_prompts[0].greedy_ids.slice(0, got.tokens.length));
    assert.ok(got.tokens.length > 0);
    // The decoder's KV cache stays allocated between calls (reset() only rewinds it): the Reasoner's bytes now.
    const cache = used() - withGenerator - ownBytes;
    const { numLayers, numKvHeads, headDim } = ck.config.text;
    const tokens = ref.text_prompts[0].input_ids.length + 16;
    assert.ok(cache >= numLayers * 2 * tokens * numKvHeads * headDim * 4, `KV cache ${cache} bytes (K, V in f32)`);

    // 3. Freeing the Generator keeps the Reasoner's weights (and only those) and its answers.
    await gen.free();
    assert.deepEqual(session.kinds, ["reasoner"]);
    assert.equal(used() - base, reasonerBytes + cache, "the Reasoner keeps the shared blocks");
    const after = await reasonerOutputs(rs.model);
    assert.equal(maxAbsDiff(after.logits, want.logits), 0);
    assert.deepEqual(after.tokens, got.tokens);

    // 4. generate() again: the Generator binds the blocks the Reasoner holds and runs as before.
    const second = await t2iRun();
    assert.equal(used() - base, reasonerBytes + cache + generatorBytes - sharedBytes, "again counted once");
    assert.equal(second.stepLatents.length, first.stepLatents.length);
    for (let i = 0; i < first.stepLatents.length; i++) {
      assert.equal(maxAbsDiff(second.stepLatents[i], first.stepLatents[i]), 0, `step ${i}`);
    }
    assert.equal(maxAbsDiff(second.latents, first.latents), 0);
    assert.equal(maxAbsDiff(second.video!, first.video!), 0);

    // 5. Freeing the Reasoner keeps the Generator's; freeing both returns to the baseline.
    await rs.free();
    assert.equal(used() - base, generatorBytes, "the Generator keeps the shared blocks");
    const third = await t2iRun();
    assert.equal(maxAbsDiff(third.latents, first.latents), 0);
    assert.deepEqual(checkpointSession(session.key).kinds, ["generator"]);
    await closeNative();
    assert.deepEqual(checkpointSession(session.key).kinds, []);
    assert.equal(used(), base, "both freed: memory back to the baseline");
  });
});
