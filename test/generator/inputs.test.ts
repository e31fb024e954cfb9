// Both CFG branches of a run: the cond / uncond ids from the tiny fixture's tokenizer (transformers-made
// chat template ids are checked in prompt.test.ts), each with its own generation offset L + 15000
// (pipeline_cosmos3_omni.py _prepare_text_segment 526-553, built per branch at 1573-1667), and no
// uncond pass at guidance 1 (do_classifier_free_guidance, 1308-1309).
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { generatorInputs, loadGeneratorTextTokenizer, planGeneration } from "../../src/generator/mod.ts";

describe("generatorInputs", () => {
  test("cond and uncond: own ids, own offsets, the same noisy generation tokens", async () => {
    const tok = await loadGeneratorTextTokenizer("test/fixtures/qwen3vl-tiny");
    const plan = planGeneration({
      task: "i2v",
      prompt: "A robot arm stacks two red cubes.",
      negativePrompt: "blurry",
      width: 96,
      height: 64,
      numFrames: 9,
      fps: 24,
      numInferenceSteps: 3,
      guidanceScale: 6,
      flowShift: 10,
      image: { width: 96, height: 64 },
    });
    const { cond, uncond, prompts } = generatorInputs(plan, tok);
    assert.ok(uncond);
    assert.deepEqual(cond.inputIds, prompts.cond);
    assert.deepEqual(uncond.inputIds, prompts.uncond);
    for (const b of [cond, uncond]) {
      const L = b.inputIds.length;
      // 3 latent frames of 2x3 tokens after the text
      assert.equal(b.length, L + 18);
      assert.equal(b.positions[L], L + 15000);
      assert.equal(b.positions[L + 17], L + 15002);
      assert.deepEqual(Array.from(b.noisyTokens), Array.from({ length: 12 }, (_, i) => L + 6 + i));
    }
    assert.notEqual(cond.inputIds.length, uncond.inputIds.length);
  });
  test("guidance 1: the cond branch only", async () => {
    const tok = await loadGeneratorTextTokenizer("test/fixtures/qwen3vl-tiny");
    const plan = planGeneration({
      task: "t2i",
      prompt: "x",
      width: 32,
      height: 32,
      fps: 24,
      numInferenceSteps: 1,
      guidanceScale: 1,
      flowShift: 3,
    });
    assert.equal(generatorInputs(plan, tok).uncond, undefined);
  });
});
