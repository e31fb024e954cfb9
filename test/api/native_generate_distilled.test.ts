// Distilled few-step checkpoints on the native engine (CPU), against the real diffusers Cosmos3DistilledModularPipeline
// (test/fixtures/cosmos3-tiny-reference/pipeline_distilled_<t2i|i2v|v2v>.safetensors and distilled.json, made on the
// GPU machine by tools/fixtures/make_cosmos3_tiny.py --only-distilled on the layout of test/fixtures/cosmos3-tiny-distilled):
//  - t2i, i2v and v2v, planned as the pipeline's run was called (64x96, both prompt templates, the system prompt), with
//    its initial noise and each step's re-noising draw injected: timesteps and sigmas equal, latents after every one
//    of the 4 FlowMatchEuler steps, final latents and decoded frames within 1e-3; i2v / v2v: the clean latent frames
//    (i2v 0, v2v condition_frame_indexes_vision) after every step = diffusers' encoded conditioning latents
//    (re-anchored);
//  - the engine's own re-noising follows the run's seed (same seed, same latents; another seed, others);
//  - generate() on the distilled fixture: 4 steps, guidance 1 in `effective`, the request's guidance, negative
//    prompt and flow shift listed as ignored, another step count refused.
import { after, describe, test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import sharp from "sharp";
import { generate } from "../../src/api/generate.ts";
import { conditioningPixels } from "../../src/api/native_generate.ts";
import { ValidationError } from "../../src/errors.ts";
import { generatorInputs, planGeneration } from "../../src/generator/mod.ts";
import { openCosmos3Generator } from "../../src/native/generator.ts";
import type { ProgressEvent } from "../../src/schema/results.ts";
import { f32, i32, maxAbsDiff, readSafetensors } from "../multimodal/_fixture.ts";
import { distilledRun, type DistilledRuns, pipelineFrames } from "../generator/_cosmos3_reference.ts";
import { nativeGeneratorFixture } from "./_native_generator_fixture.ts";

const { CKPT, REF, OUT, png } = nativeGeneratorFixture("cosmos-distilled-", "cosmos3-tiny-distilled");

const runs = (JSON.parse(readFileSync(join(REF, "distilled.json"), "utf8")) as DistilledRuns).runs;

describe("native distilled runs vs diffusers' Cosmos3DistilledModularPipeline (injected noise)", () => {
  for (const mode of ["t2i", "i2v", "v2v"] as const) {
    const file = join(REF, `pipeline_distilled_${mode}.safetensors`);
    const name = `${mode}: 4 re-noising FlowMatchEuler steps: latents per step, final latents and frames within 1e-3`;
    test(name, async () => {
      const spec = runs[mode];
      assert.ok(spec, `distilled.json has no runs.${mode} beside ${file}`);
      const store = readSafetensors(file);
      const s = await openCosmos3Generator(CKPT);
      assert.ok(s.model.distilled, "the session reads the checkpoint as distilled");
      assert.deepEqual(s.model.distilled.sigmas, spec.distilled_sigmas);
      const plan = planGeneration(distilledRun(spec, s.model.distilled.shift), s.model);
      assert.equal(plan.sampler.cfg, false);
      const inputs = generatorInputs(plan, s.tokenizer, s.model);
      assert.deepEqual(inputs.prompts.cond, i32(store.get("prompt.cond_ids"), "prompt.cond_ids"));
      const condVideo = await conditioningPixels(plan, {
        image: mode === "i2v" ? await png("frame_00.png") : undefined,
        // v2v: media/frame_00..04.png, the clip the pipeline got (it keeps the first 1 + 4 · max index of them)
        frames: mode === "v2v"
          ? await Promise.all([0, 1, 2, 3, 4].map((i) => png(`frame_${String(i).padStart(2, "0")}.png`)))
          : undefined,
      });
      const steps = spec.distilled_sigmas.length;
      const n = f32(store.get("noise.vision"), "noise.vision").length;
      const stepNoise = new Float32Array(steps * n);
      for (let i = 0; i < steps; i++) stepNoise.set(f32(store.get(`step.${i}.noise`), `step.${i}.noise`), i * n);
      const events: ProgressEvent[] = [];
      const r = await s.run({
        plan,
        inputs,
        condVideo,
        noise: f32(store.get("noise.vision"), "noise.vision"),
        stepNoise,
        keepStepLatents: true,
        onProgress: (e) => events.push(e),
      });
      assert.deepEqual(Array.from(r.timesteps), Array.from(f32(store.get("sched.timesteps"), "sched.timesteps")));
      assert.deepEqual(Array.from(r.sigmas), Array.from(f32(store.get("sched.sigmas"), "sched.sigmas")));
      const worst: Record<string, number> = {};
      assert.equal(r.stepLatents.length, steps);
      for (let i = 0; i < steps; i++) {
        worst[`step.${i}`] = maxAbsDiff(r.stepLatents[i], f32(store.get(`step.${i}.vision`), `step.${i}.vision`));
      }
      worst.final = maxAbsDiff(r.latents, f32(store.get("final.vision"), "final.vision"));
      const want = f32(store.get("out.video"), "out.video");
      assert.deepEqual([r.frames, r.height, r.width], [spec.num_frames, spec.height, spec.width]);
      worst.video = maxAbsDiff(pipelineFrames(r, want.length), want);
      if (mode !== "t2i") {
        // The clean latent frames are re-anchored after every step: diffusers' encoded conditioning latents there
        // (i2v the image's frame 0; v2v the clip's frames at condition_frame_indexes_vision).
        const cleanFrames = mode === "i2v" ? [0] : spec.condition_frame_indexes_vision!;
        assert.deepEqual(plan.cleanLatentFrames, cleanFrames);
        const [C, T, H, W] = spec.latent_shape;
        const clean = f32(store.get("encode.out"), "encode.out");
        assert.equal(clean.length, C * T * H * W);
        let d = 0;
        for (const x of r.stepLatents) {
          for (let c = 0; c < C; c++) {
            for (const f of cleanFrames) {
              const at = (c * T + f) * H * W;
              for (let k = 0; k < H * W; k++) d = Math.max(d, Math.abs(x[at + k] - clean[at + k]));
            }
          }
        }
        worst[`reanchored_frames_${cleanFrames.join("_")}`] = d;
      }
      console.log(`distilled ${mode}`, JSON.stringify(worst));
      for (const [k, d] of Object.entries(worst)) assert.ok(d <= 1e-3, `${mode} ${k}: ${d}`);
      assert.deepEqual(
        events.filter((e) => e.stage === "denoise").map((e) => e.done),
        [1, 2, 3, 4],
      );
    });
  }

  test("the engine's own re-noising follows the seed: same seed, same latents; another seed, others", async () => {
    const spec = runs.t2i;
    const store = readSafetensors(join(REF, "pipeline_distilled_t2i.safetensors"));
    const s = await openCosmos3Generator(CKPT);
    const plan = planGeneration(distilledRun(spec, s.model.distilled!.shift), s.model);
    const inputs = generatorInputs(plan, s.tokenizer, s.model);
    const noise = f32(store.get("noise.vision"), "noise.vision");
    const go = (seed: number) => s.run({ plan, inputs, noise, seed, decode: false });
    const [a, b, c] = [await go(7), await go(7), await go(8)];
    assert.deepEqual(a.latents, b.latents);
    assert.ok(maxAbsDiff(a.latents, c.latents) > 0.05, "the initial noise is the same: only the re-noising differs");
  });
});

describe("generate() on a distilled checkpoint", () => {
  test("4 steps and guidance 1 in effective; the request's guidance, negative prompt and flow shift are ignored", async () => {
    const events: ProgressEvent[] = [];
    const r = await generate(
      {
        prompt: "A red cube.",
        output: "image",
        resolution: "256p",
        aspectRatio: "1:1",
        guidanceScale: 6,
        negativePrompt: "blurry",
        flowShift: 3,
        seed: 3,
        outputPath: join(OUT, "distilled.png"),
      },
      { backend: CKPT, onProgress: (e) => events.push(e) },
    );
    assert.equal(r.untrained, true);
    assert.equal(r.effective?.numInferenceSteps, 4);
    assert.equal(r.effective?.guidanceScale, 1);
    assert.deepEqual(r.effective?.ignored?.map((i) => i.field), ["guidanceScale", "negativePrompt", "flowShift"]);
    assert.deepEqual(events.filter((e) => e.stage === "denoise").map((e) => `${e.done}/${e.total}`), [
      "1/4",
      "2/4",
      "3/4",
      "4/4",
    ]);
    const meta = await sharp(r.media.path).metadata();
    assert.deepEqual([meta.format, meta.width, meta.height], ["png", 256, 256]);
    await assert.rejects(
      generate({ prompt: "A red cube.", output: "image", resolution: "256p", numInferenceSteps: 8 }, { backend: CKPT }),
      (e: unknown) => e instanceof ValidationError && e.field === "numInferenceSteps",
    );
  });
});
