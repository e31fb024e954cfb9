// The clip the VAE encodes per task: padding as torch's F.pad (hand-derived), and the pipeline's own
// encoder inputs from the cosmos3-tiny fixtures (`encode.0.in_frames` of pipeline_<run>.safetensors:
// frames [0, last], top-left 64x96, of what diffusers' prepare_latents handed to the VAE).
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { readImage } from "../../src/media/images.ts";
import type { RgbFrame } from "../../src/media/video_decode.ts";
import { conditioningClip, type GeneratorRun, padFrame, planGeneration } from "../../src/generator/mod.ts";
import { readSafetensors } from "../multimodal/_fixture.ts";

const frame = (width: number, height: number, values: number[]): RgbFrame => ({
  width,
  height,
  channels: 3,
  data: Uint8Array.from(values.flatMap((v) => [v, v, v])),
});
const gray = (f: RgbFrame) => Array.from({ length: f.width * f.height }, (_, i) => f.data[i * 3]);

describe("padFrame (torch F.pad on the right and bottom)", () => {
  test("replicate repeats the edge, reflect mirrors without it", () => {
    const f = frame(3, 2, [1, 2, 3, 4, 5, 6]);
    assert.deepEqual(gray(padFrame(f, 2, 1, "replicate")), [1, 2, 3, 3, 3, 4, 5, 6, 6, 6, 4, 5, 6, 6, 6]);
    assert.deepEqual(gray(padFrame(f, 2, 1, "reflect")), [1, 2, 3, 2, 1, 4, 5, 6, 5, 4, 1, 2, 3, 2, 1]);
    assert.throws(() => padFrame(f, 3, 0, "reflect"));
  });
});

const REF = "test/fixtures/cosmos3-tiny-reference";
const skip = existsSync(`${REF}/reference.json`) ? false : "the cosmos3-tiny fixtures are not committed yet";
const base = { prompt: "p", numInferenceSteps: 3, guidanceScale: 1, flowShift: 10 };
const png = (name: string) => readImage(`${REF}/media/${name}.png`);

/** `clip[:, [0, last], :64, :96]` as the fixture stores it. */
function firstLastWindow(clip: { data: Float32Array; frames: number; height: number; width: number }): number[] {
  const out: number[] = [];
  for (let c = 0; c < 3; c++) {
    for (const t of [0, clip.frames - 1]) {
      for (let y = 0; y < Math.min(64, clip.height); y++) {
        const row = ((c * clip.frames + t) * clip.height + y) * clip.width;
        out.push(...clip.data.subarray(row, row + Math.min(96, clip.width)));
      }
    }
  }
  return out;
}

function expected(run: string): number[] {
  const t = readSafetensors(`${REF}/pipeline_${run}.safetensors`).get("encode.0.in_frames");
  assert.ok(t && t.dtype === "F32");
  const copy = t.bytes.slice();
  return Array.from(new Float32Array(copy.buffer, 0, copy.length / 4));
}

describe("conditioningClip against the pipeline's encoder inputs", { skip }, () => {
  test("i2v: the image (no resize at 64x96) repeated, x / 127.5 - 1", async () => {
    const run: GeneratorRun = {
      ...base,
      task: "i2v",
      width: 96,
      height: 64,
      numFrames: 9,
      fps: 24,
      image: { width: 96, height: 64 },
    };
    const clip = await conditioningClip(planGeneration(run), { image: await png("frame_00") });
    assert.deepEqual([clip?.frames, clip?.height, clip?.width], [9, 64, 96]);
    assert.deepEqual(firstLastWindow(clip!), expected("i2v"));
  });
  test("v2v: source frames 0-4, frame 4 repeated to the end, 2 (x / 255) - 1", async () => {
    const frames = await Promise.all([0, 1, 2, 3, 4].map((i) => png(`frame_0${i}`)));
    const run: GeneratorRun = {
      ...base,
      task: "v2v",
      width: 96,
      height: 64,
      numFrames: 9,
      fps: 16,
      conditionFrameIndexes: [0, 1],
      video: { width: 96, height: 64, frames: 5 },
    };
    const clip = await conditioningClip(planGeneration(run), { frames });
    assert.deepEqual(firstLastWindow(clip!), expected("v2v"));
  });
  test("policy / inverse dynamics: the 48x64 observation replicate-padded to the 256x320 canvas", async () => {
    const action = {
      chunkSize: 4,
      domainName: "bridge_orig_lerobot",
      rawActionDim: 10,
      resolutionTier: "256p",
    } as const;
    const policy = planGeneration({ ...base, task: "policy", fps: 15, image: { width: 64, height: 48 }, action });
    const clip = await conditioningClip(policy, { image: await png("action_00") });
    assert.deepEqual([clip?.frames, clip?.height, clip?.width], [5, 256, 320]);
    assert.deepEqual(firstLastWindow(clip!), expected("policy"));
    const frames = await Promise.all([0, 1, 2, 3, 4].map((i) => png(`action_0${i}`)));
    const idyn = planGeneration({
      ...base,
      task: "inverse_dynamics",
      fps: 15,
      video: { width: 64, height: 48, frames: 5 },
      action: { ...action, domainName: "av", rawActionDim: 9 },
    });
    assert.deepEqual(firstLastWindow((await conditioningClip(idyn, { frames }))!), expected("idyn"));
  });
});
