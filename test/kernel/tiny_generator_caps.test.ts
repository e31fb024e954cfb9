// The notebook generate() / rollout() of kernel/calls.ts with `tinyCheckpoint: true` on the real native engine
// (tiny untrained Cosmos 3 fixture, CPU): the request the cookbooks write for a real checkpoint (480p, the model's
// default frames and steps, 16-step chunks) runs at TINY_GENERATOR_CAPS instead, the files written probe at those
// sizes, the note under the result says so, and without the option the request is left as written.
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { after, describe, test } from "node:test";
import sharp from "sharp";
import {
  generate,
  rollout,
  TINY_GENERATOR_CAPS,
  withTinyGeneratorCaps,
  withTinyRolloutCaps,
} from "../../kernel/calls.ts";
import { probeVideo } from "../../src/media/video.ts";
import { closeNative } from "../../src/native/qwen3vl.ts";
import { captureDisplays, str } from "./_sink.ts";

const TINY = fileURLToPath(new URL("../fixtures/cosmos3-tiny", import.meta.url));
const IMAGE = fileURLToPath(new URL("../fixtures/cosmos3-tiny-reference/media/action_00.png", import.meta.url));
const OUT = mkdtempSync(join(tmpdir(), "cosmos-tiny-caps-"));
after(async () => {
  await closeNative();
  rmSync(OUT, { recursive: true, force: true });
});

describe("tiny-checkpoint caps of the notebook generate() / rollout()", () => {
  test("the frame count leaves one latent frame after the last clean one; images get none; chunks cut to 4 rows", () => {
    assert.deepEqual(withTinyGeneratorCaps({ prompt: "p", resolution: "480p", numInferenceSteps: 35 }), {
      prompt: "p",
      resolution: "256p",
      numInferenceSteps: TINY_GENERATOR_CAPS.steps,
      numFrames: 5,
    });
    assert.equal(withTinyGeneratorCaps({ prompt: "p", video: "v.mp4", conditionFrameIndexes: [0, 1] }).numFrames, 9);
    assert.equal(withTinyGeneratorCaps({ prompt: "p", output: "image" }).numFrames, undefined);
    assert.equal(withTinyGeneratorCaps({ prompt: "p", numInferenceSteps: 1 }).numInferenceSteps, 1, "never raised");
    const actions = Array.from({ length: 16 }, (_, t) => Array.from({ length: 10 }, () => t));
    const fd = withTinyRolloutCaps({
      mode: "forward_dynamics",
      embodiment: "droid",
      image: "i.png",
      actions,
      numFrames: 17,
    });
    assert.deepEqual([fd.actions, fd.numFrames, fd.resolution], [actions.slice(0, 4), undefined, "256p"]);
    const policy = withTinyRolloutCaps({
      mode: "policy",
      embodiment: "droid",
      image: "i.png",
      prompt: "p",
      actionChunkSize: 16,
    });
    assert.equal(policy.actionChunkSize, TINY_GENERATOR_CAPS.actionSteps);
  });

  test("generate(): a 480p text-to-video runs at 256p, 5 frames, 2 steps, and says so; a PNG is left as asked", async () => {
    const cap = captureDisplays();
    try {
      const v = await generate(
        { prompt: "A ball rolls.", resolution: "480p", seed: 0, outputPath: join(OUT, "t2v.mp4") },
        { backend: TINY, tinyCheckpoint: true },
      );
      const info = await probeVideo(v.media.path);
      assert.deepEqual([info.frameCount, info.hasAudio], [5, false]);
      assert.ok(info.width <= 512 && info.height <= 512, `${info.width}x${info.height}: the 256p tier`);
      assert.equal(v.untrained, true);
      const denoise = cap.sent.map((c) => str(c.bundle, "text/plain")).filter((t) => t.startsWith("denoise "));
      assert.match(denoise.at(-1) ?? "", /^denoise 2\/2/, "2 denoising steps");
      assert.match(
        str(cap.sent.at(-1)!.bundle, "text/plain"),
        /^Tiny test checkpoint: run at 256p, 5 frames, 2 denoising steps \(tinyCheckpoint: true\)/,
      );
      const img = await generate(
        { prompt: "A cube.", output: "image", resolution: "256p", aspectRatio: "1:1", numInferenceSteps: 1, seed: 1 },
        { backend: TINY },
      );
      const meta = await sharp(img.media.path).metadata();
      assert.deepEqual([meta.format, meta.width, meta.height], ["png", 256, 256], "without the option: as asked");
      rmSync(img.media.path, { force: true });
    } finally {
      cap.restore();
    }
  });

  test("rollout(): a 16-step policy runs a 4-step chunk and a 5-frame video", async () => {
    const cap = captureDisplays();
    try {
      const r = await rollout(
        {
          mode: "policy",
          embodiment: "droid",
          image: IMAGE,
          prompt: "Pick up the cube.",
          actionChunkSize: 16,
          seed: 2,
        },
        { backend: TINY, tinyCheckpoint: true },
      );
      assert.equal(r.actions?.length, 4);
      assert.ok(r.actions?.every((row) => row.length === 10 && row.every(Number.isFinite)));
      assert.equal((await probeVideo(r.video!.path)).frameCount, 5);
      assert.match(
        str(cap.sent.at(-1)!.bundle, "text/plain"),
        /^Tiny test checkpoint: run at 256p, a chunk of 4 steps/,
      );
      rmSync(r.video!.path, { force: true });
    } finally {
      cap.restore();
    }
  });
});
