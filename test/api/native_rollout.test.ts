// rollout() on the native engine (CPU) with the tiny Cosmos 3 Generator fixture: policy from an image, forward
// dynamics from an image and inline actions, inverse dynamics from an MP4, at the 256p tier (the 48x64
// observation on a 256x320 canvas, content 3x4 latents). The engine's action path itself is checked against
// diffusers in native_generate.test.ts (policy, fdyn, idyn with the pipeline's noise); here: the request's own
// path end to end (files in, action chunk and MP4 out, shapes, the untrained label, actions in both spaces).
import { after, describe, test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import sharp from "sharp";
import { rollout } from "../../src/api/rollout.ts";
import { encodeVideo, probeVideo } from "../../src/media/video.ts";
import { closeNative } from "../../src/native/qwen3vl.ts";

const FIX = fileURLToPath(new URL("../fixtures/", import.meta.url));
const CKPT = join(FIX, "cosmos3-tiny");
const MEDIA = join(FIX, "cosmos3-tiny-reference", "media");
const OUT = mkdtempSync(join(tmpdir(), "cosmos-native-rollout-"));
after(async () => {
  await closeNative();
  rmSync(OUT, { recursive: true, force: true });
});

const finiteRows = (rows: number[][] | undefined, n: number, width: number) =>
  rows !== undefined && rows.length === n && rows.every((r) => r.length === width && r.every(Number.isFinite));

describe("rollout() on the native engine (tiny fixture)", () => {
  const backend = CKPT;
  const image = join(MEDIA, "action_00.png");

  test("policy: a 4-step chunk of 10-wide bridge actions and the predicted 5-frame video", async () => {
    const r = await rollout(
      {
        mode: "policy",
        embodiment: "bridge",
        image,
        prompt: "Pick up the cube.",
        resolution: "256p",
        actionChunkSize: 4,
        numInferenceSteps: 2,
        seed: 1,
        outputPath: join(OUT, "policy.mp4"),
      },
      { backend },
    );
    assert.equal(r.untrained, true);
    assert.ok(finiteRows(r.actions, 4, 10), JSON.stringify(r.actions));
    const info = await probeVideo(r.video!.path);
    assert.deepEqual([info.width, info.height, info.frameCount], [64, 48, 5]);
  });

  test("forward dynamics: the video for given actions; inverse dynamics: the actions of a video", async () => {
    const actions = Array.from({ length: 4 }, (_, t) => Array.from({ length: 10 }, (_, d) => (t - d) / 10));
    const fd = await rollout(
      {
        mode: "forward_dynamics",
        embodiment: "bridge",
        image,
        actions,
        resolution: "256p",
        numInferenceSteps: 1,
        outputPath: join(OUT, "fdyn.mp4"),
      },
      { backend },
    );
    assert.equal((await probeVideo(fd.video!.path)).frameCount, 5);
    const frames = await Promise.all(
      [0, 1, 2, 3, 4].map(async (i) => {
        const { data, info } = await sharp(join(MEDIA, `action_0${i}.png`)).removeAlpha().raw().toBuffer({
          resolveWithObject: true,
        });
        return { width: info.width, height: info.height, channels: 3 as const, data: new Uint8Array(data) };
      }),
    );
    const clip = join(OUT, "clip.mp4");
    await encodeVideo(frames, { output: clip, fps: 15, width: 64, height: 48 });
    const id = await rollout(
      {
        mode: "inverse_dynamics",
        embodiment: "bridge",
        video: clip,
        resolution: "256p",
        actionChunkSize: 4,
        numInferenceSteps: 1,
      },
      { backend },
    );
    assert.ok(finiteRows(id.actions, 4, 10), JSON.stringify(id.actions));
    assert.equal(id.video, undefined);
  });
});
