// Request planning. Expected values are derived by hand from diffusers 58eb52c0 pipeline_cosmos3_omni.py
// (prepare_latents 757-997: which frames / tokens are clean, v2v fill and repeat-pad, sound length,
// action rows; check_inputs 999-1084: the size / frame / index rules; _prepare_action_video_conditioning
// 698-746: canvas bin, fit, pad, latent crop; _preprocess_conditioning_image 55-94: cover + centre crop)
// and transformer_cosmos3.py _patchify_and_pack_latents (2x2 patches over latents padded to even sides).
// The 720p / 480p / 256p token counts are cosmos3-generator.md §1.6's.
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { ValidationError } from "../../src/errors.ts";
import {
  actionCanvas,
  actionCanvasSize,
  branchLayout,
  coverCrop,
  generateRun,
  type GeneratorRun,
  planGeneration,
  rolloutRun,
} from "../../src/generator/plan.ts";
import { DEFAULT_GENERATOR_MODEL, parseGeneratorModelConfig } from "../../src/generator/config.ts";
import { GenerateRequest } from "../../src/schema/generate_request.ts";
import { RolloutRequest } from "../../src/schema/rollout_request.ts";
import { parseWith } from "../../src/schema/validate.ts";

const base = { prompt: "p", fps: 24, numInferenceSteps: 35, guidanceScale: 6, flowShift: 10 } as const;
const video = (over: Partial<GeneratorRun> = {}): GeneratorRun => ({
  ...base,
  task: "t2v",
  width: 1280,
  height: 720,
  numFrames: 189,
  ...over,
});

function throwsField(fn: () => unknown, field: string) {
  assert.throws(fn, (e: unknown) => e instanceof ValidationError && e.field === field);
}

describe("token counts (cosmos3-generator.md §1.6)", () => {
  test("189 frames: 720p 44,160, 480p 18,720, 256p 2,880 vision tokens; 197 sound tokens", () => {
    const p720 = planGeneration(video({ sound: true }));
    assert.deepEqual(p720.latent, { channels: 48, t: 48, h: 45, w: 80 });
    assert.deepEqual(p720.patchGrid, { t: 48, h: 23, w: 40 }); // 45 latents padded to 46
    assert.equal(p720.visionTokens, 44160);
    assert.deepEqual(p720.sound, { channels: 64, frames: 197, samples: 378000 });
    assert.equal(planGeneration(video({ width: 832, height: 480 })).visionTokens, 18720);
    assert.equal(planGeneration(video({ width: 320, height: 192 })).visionTokens, 2880);
    assert.equal(p720.outputFrames, 189);
  });
  test("t2i: one latent frame, all noisy; 1024x1024 is 32x32 tokens", () => {
    const p = planGeneration({ ...base, task: "t2i", width: 1024, height: 1024 });
    assert.equal(p.numFrames, 1);
    assert.deepEqual(p.patchGrid, { t: 1, h: 32, w: 32 });
    assert.deepEqual([p.cleanLatentFrames, p.noisyLatentFrames], [[], [0]]);
    assert.equal(p.prompt.numFrames, 1);
  });
});

describe("clean and noisy frames per task", () => {
  test("t2v all noisy; i2v latent 0 clean; v2v the condition indexes", () => {
    const small = { width: 96, height: 64, numFrames: 9 };
    assert.deepEqual(planGeneration(video(small)).cleanLatentFrames, []);
    const i2v = planGeneration(video({ ...small, task: "i2v", image: { width: 50, height: 40 } }));
    assert.deepEqual([i2v.cleanLatentFrames, i2v.noisyLatentFrames], [[0], [1, 2]]);
    const v2v = planGeneration(video({ ...small, task: "v2v", video: { width: 96, height: 64, frames: 30 } }));
    assert.deepEqual([v2v.cleanLatentFrames, v2v.noisyLatentFrames], [[0, 1], [2]]);
  });
  test("branchLayout: the noisy mask covers noisy vision frames, all sound, noisy actions", () => {
    const p = planGeneration(
      video({ task: "i2v", width: 64, height: 64, numFrames: 9, sound: true, image: { width: 64, height: 64 } }),
    );
    // latent 3 x 4 x 4 -> 3 frames of 2x2 tokens; 9 frames at 24 fps = 18000 samples -> 10 sound frames
    assert.equal(p.sound?.frames, 10);
    const b = branchLayout(p, 7);
    assert.equal(b.length, 7 + 12 + 10);
    assert.deepEqual(Array.from(b.noisyMask), [...Array(7 + 4).fill(0), ...Array(8 + 10).fill(1)]);
    assert.deepEqual(Array.from(b.noisyTokens), Array.from({ length: 18 }, (_, i) => 11 + i));
  });
});

describe("conditioning geometry", () => {
  test("i2v cover + centre crop: ceil sides, round() offsets (ties to even)", () => {
    assert.deepEqual(coverCrop({ width: 640, height: 480 }, { width: 1280, height: 720 }), {
      resized: { width: 1280, height: 960 },
      top: 120,
      left: 0,
    });
    // scale 96/91: width ceil(96.0) = 96, height ceil(101.27) = 102 -> (102 - 96) / 2 = 3
    assert.deepEqual(coverCrop({ width: 91, height: 96 }, { width: 96, height: 96 }), {
      resized: { width: 96, height: 102 },
      top: 3,
      left: 0,
    });
    // 64x69 onto 64x64: (69 - 64) / 2 = 2.5 -> round() = 2
    assert.equal(coverCrop({ width: 64, height: 69 }, { width: 64, height: 64 }).top, 2);
  });
  test("v2v: the first max(idx)*4+1 source frames, then the last one repeated; keep=last takes the tail", () => {
    const run = video({ task: "v2v", width: 96, height: 64, numFrames: 13 });
    const first = planGeneration({ ...run, video: { width: 96, height: 64, frames: 30 } });
    assert.deepEqual(first.video?.frameMap, [0, 1, 2, 3, 4, 4, 4, 4, 4, 4, 4, 4, 4]);
    const short = planGeneration({ ...run, video: { width: 96, height: 64, frames: 3 } });
    assert.deepEqual(short.video?.frameMap, [0, 1, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2]);
    const last = planGeneration({
      ...run,
      conditionFrameIndexes: [2],
      conditionVideoKeep: "last",
      video: { width: 96, height: 64, frames: 20 },
    });
    // 9 source frames (11..19) fill frames 0-8, frame 19 repeats; only latent 2 is clean
    assert.deepEqual(last.video?.frameMap, [11, 12, 13, 14, 15, 16, 17, 18, 19, 19, 19, 19, 19]);
    assert.deepEqual(last.cleanLatentFrames, [2]);
    assert.deepEqual(last.noisyLatentFrames, [0, 1, 3]);
  });
  test("action canvas: nearest height/width bin, fit without upscaling, pad right / bottom", () => {
    // 96x64 (h/w 0.667) is nearest 0.6 -> 192x320 at tier 256; no upscale; pad 224 >= 96 -> replicate
    assert.deepEqual(actionCanvasSize({ width: 96, height: 64 }, "256p"), { width: 320, height: 192 });
    const c = actionCanvas({ width: 96, height: 64, frames: 1 }, "256p", 5);
    assert.deepEqual([c.content, c.padRight, c.padBottom, c.padMode], [
      { width: 96, height: 64 },
      224,
      128,
      "replicate",
    ]);
    assert.deepEqual(c.frameMap, [0, 0, 0, 0, 0]);
    // 1920x1080 is first cut to 1920x1072 (whole multiples of 16: get_default_height_width), h/w 0.558 -> the
    // 16:9 bin 832x480; scale min(832/1920, 480/1072) = 0.4333 -> 832 x int(464.53 + 0.5) = 465, pad bottom 15 (reflect)
    const hd = actionCanvas({ width: 1920, height: 1080, frames: 3 }, "480p", 5);
    assert.deepEqual([hd.source, hd.canvas, hd.content, hd.padRight, hd.padBottom, hd.padMode], [
      { width: 1920, height: 1072 },
      { width: 832, height: 480 },
      { width: 832, height: 465 },
      0,
      15,
      "reflect",
    ]);
    assert.deepEqual(hd.frameMap, [0, 1, 2, 2, 2]);
    assert.throws(() => actionCanvas({ width: 15, height: 40, frames: 1 }, "256p", 5), ValidationError);
  });
});

describe("action modes", () => {
  const action = { chunkSize: 4, domainName: "av", rawActionDim: 9, resolutionTier: "256p" } as const;
  const observation = { width: 96, height: 64 };
  test("policy: latent 0 clean, all actions noisy; the latent is cropped to the content; caption names the canvas", () => {
    const p = planGeneration({ ...base, guidanceScale: 1, task: "policy", image: observation, action });
    assert.equal(p.numFrames, 5);
    assert.deepEqual(p.latent, { channels: 48, t: 2, h: 4, w: 6 });
    assert.deepEqual([p.width, p.height], [96, 64]);
    assert.deepEqual([p.cleanLatentFrames, p.noisyLatentFrames], [[0], [1]]);
    assert.deepEqual(p.action?.noisyTokens, [0, 1, 2, 3]);
    assert.deepEqual([p.action?.domainId, p.action?.actionDim, p.action?.predicts], [1, 64, true]);
    assert.deepEqual([p.prompt.width, p.prompt.height, p.prompt.action?.viewPoint], [320, 192, "ego_view"]);
    assert.equal(p.sampler.cfg, false);
    const b = branchLayout(p, 10);
    // 2 frames of 2x3 tokens, then 4 action tokens; frame 1 and every action noisy
    assert.equal(b.length, 10 + 12 + 4);
    assert.deepEqual(Array.from(b.noisyTokens), [16, 17, 18, 19, 20, 21, 22, 23, 24, 25]);
  });
  test("forward dynamics: every action clean, rows repeat the last and are zero-padded to action_dim", () => {
    const rows = [[1, 2, 3, 4, 5, 6, 7, 8, 9], [9, 8, 7, 6, 5, 4, 3, 2, 1]];
    const p = planGeneration({ ...base, task: "forward_dynamics", image: observation, action: { ...action, rows } });
    assert.deepEqual([p.action?.cleanTokens, p.action?.noisyTokens, p.action?.predicts], [[0, 1, 2, 3], [], false]);
    const v = p.action!.values!;
    assert.equal(v.length, 4 * 64);
    assert.deepEqual(Array.from(v.subarray(0, 10)), [...rows[0], 0]);
    for (const i of [1, 2, 3]) assert.deepEqual(Array.from(v.subarray(i * 64, i * 64 + 9)), rows[1]);
    assert.ok(v.subarray(9, 64).every((x) => x === 0));
    assert.equal(branchLayout(p, 3).noisyTokens.length, 6); // frame 1's 2x3 tokens only
  });
  test("inverse dynamics: every latent frame clean, needs a video", () => {
    const p = planGeneration({ ...base, task: "inverse_dynamics", video: { ...observation, frames: 5 }, action });
    assert.deepEqual([p.cleanLatentFrames, p.noisyLatentFrames, p.action?.noisyTokens], [[0, 1], [], [0, 1, 2, 3]]);
    throwsField(() => planGeneration({ ...base, task: "inverse_dynamics", image: observation, action }), "video");
  });
  test("chunk rule, widths and heads", () => {
    throwsField(
      () => planGeneration({ ...base, task: "policy", numFrames: 7, image: observation, action }),
      "numFrames",
    );
    for (const numFrames of [4, 5]) planGeneration({ ...base, task: "policy", numFrames, image: observation, action });
    const rows = [[1, 2, 3]];
    throwsField(
      () => planGeneration({ ...base, task: "forward_dynamics", image: observation, action: { ...action, rows } }),
      "actions.0",
    );
    const narrow = { ...DEFAULT_GENERATOR_MODEL, actionDim: 8 };
    throwsField(() => planGeneration({ ...base, task: "policy", image: observation, action }, narrow), "embodiment");
    const noActions = { ...DEFAULT_GENERATOR_MODEL, actionGen: false };
    throwsField(() => planGeneration({ ...base, task: "policy", image: observation, action }, noActions), "mode");
  });
});

describe("checkpoint rules (check_inputs)", () => {
  test("sizes are multiples of 16, videos 4k + 1 frames, v2v indexes inside the latent timeline", () => {
    throwsField(() => planGeneration(video({ width: 1000 })), "width");
    throwsField(() => planGeneration(video({ height: 730 })), "height");
    throwsField(() => planGeneration(video({ numFrames: 10 })), "numFrames");
    throwsField(() => planGeneration(video({ numFrames: 1 })), "numFrames");
    throwsField(
      () =>
        planGeneration(
          video({ task: "v2v", numFrames: 9, conditionFrameIndexes: [3], video: { width: 8, height: 8, frames: 9 } }),
        ),
      "conditionFrameIndexes",
    );
    throwsField(() => planGeneration(video({ task: "i2v" })), "image");
  });
  test("v2v keeps at least one latent frame noisy: all 3 latents of 9 frames clean is refused, 2 of 3 runs", () => {
    const v2v = (conditionFrameIndexes: number[]) =>
      planGeneration(
        video({ task: "v2v", numFrames: 9, conditionFrameIndexes, video: { width: 8, height: 8, frames: 9 } }),
      );
    assert.throws(
      () => v2v([0, 1, 2]),
      (e: unknown) =>
        e instanceof ValidationError && e.field === "conditionFrameIndexes" &&
        /at most 2 of the latent/.test(e.message),
    );
    assert.deepEqual(v2v([0, 1]).video?.conditionFrameIndexes, [0, 1]);
  });
  test("sound needs a sound checkpoint", () => {
    throwsField(() => planGeneration(video({ sound: true }), { ...DEFAULT_GENERATOR_MODEL, soundGen: false }), "sound");
  });
});

describe("from validated requests", () => {
  test("generate(): effective size, frames and the video defaults (35 steps, guidance 6, shift 10)", () => {
    const req = GenerateRequest.parse({ prompt: "A robot arm.", resolution: "480p", numFrames: 30, sound: true });
    const p = planGeneration(generateRun(req));
    assert.deepEqual([p.width, p.height, p.numFrames], [832, 480, 33]);
    assert.deepEqual(p.sampler, {
      numInferenceSteps: 35,
      guidanceScale: 6,
      flowShift: 10,
      cfg: true,
      guidanceInterval: [0, 1000],
    });
    assert.deepEqual([p.prompt.addResolutionTemplate, p.prompt.addDurationTemplate], [false, false]);
    assert.equal(p.prompt.maxSequenceLength, 4096);
    const img = planGeneration(generateRun(GenerateRequest.parse({ prompt: "x", output: "image" })));
    assert.deepEqual([img.task, img.width, img.height, img.sampler.numInferenceSteps], ["t2i", 1024, 1024, 50]);
    // vLLM-Omni's text-to-image interval (pipeline_cosmos3.py:171): CFG only for timesteps 400-1000.
    assert.deepEqual([img.sampler.guidanceScale, img.sampler.guidanceInterval], [7, [400, 1000]]);
  });
  test("guidanceInterval: the request's, checked in the schema and the plan (field and allowed range named)", () => {
    const req = GenerateRequest.parse({ prompt: "x", output: "image", guidanceInterval: [0, 1000] });
    assert.deepEqual(planGeneration(generateRun(req)).sampler.guidanceInterval, [0, 1000]);
    for (const bad of [[600, 400], [-1, 500], [400, 1001]]) {
      assert.throws(
        () => parseWith(GenerateRequest, { prompt: "x", guidanceInterval: bad }, "request"),
        (e: unknown) =>
          e instanceof ValidationError && e.field === "request.guidanceInterval" &&
          /0 <= lo <= hi <= 1000/.test(e.issues[0].allowed),
      );
    }
    for (const bad of [[600, 400], [-1, 500], [400, 1001], [Number.NaN, 1]] as [number, number][]) {
      throwsField(() => planGeneration({ ...generateRun(req), guidanceInterval: bad }), "guidanceInterval");
    }
    // A GeneratorRun without one guides every step (diffusers' pipeline).
    assert.deepEqual(planGeneration({ ...generateRun(req), guidanceInterval: undefined }).sampler.guidanceInterval, [
      0,
      1000,
    ]);
  });
  test("rollout(): chunk, domain, width and tier from the request; action defaults (30 steps, guidance 1)", () => {
    const req = RolloutRequest.parse({
      mode: "policy",
      embodiment: "droid",
      image: "x.png",
      prompt: "Pick up the cube.",
      actionChunkSize: 8,
      resolution: "256p",
    });
    const p = planGeneration(rolloutRun(req, { image: { width: 96, height: 64 } }));
    assert.deepEqual([p.numFrames, p.action?.tokens, p.action?.domainName, p.action?.rawActionDim], [
      9,
      8,
      "droid_lerobot",
      10,
    ]);
    assert.equal(p.actionCanvas?.tier, "256p");
    assert.deepEqual([p.sampler.numInferenceSteps, p.sampler.guidanceScale, p.sampler.cfg], [30, 1, false]);
  });
});

describe("parseGeneratorModelConfig", () => {
  test("class defaults fill what config.json leaves out; hop from the decoder strides", () => {
    const m = parseGeneratorModelConfig({
      transformer: { action_gen: true, action_dim: 16, sound_gen: true, sound_dim: 4 },
      soundTokenizer: { sampling_rate: 16, hop_size: 4 },
      modelIndex: {},
    });
    assert.deepEqual(
      [m.baseFps, m.temporalModalityMargin, m.latentPatchSize, m.actionDim, m.soundGen, m.soundHopSize],
      [24, 15000, 2, 16, true, 4],
    );
    assert.equal(m.defaultUseSystemPrompt, true); // Cosmos3OmniPipeline.__init__'s default
    const noSound = parseGeneratorModelConfig({ transformer: { sound_gen: true, sound_dim: 4 } });
    assert.equal(noSound.soundGen, false); // no sound_tokenizer
    assert.equal(parseGeneratorModelConfig({ transformer: {}, soundTokenizer: {} }).soundHopSize, 1920);
  });
});
