// rollout() on the native engine (CPU) with test/fixtures/cosmos3-tiny-a64 (tools/fixtures/make_cosmos3_tiny_a64.ts):
// cosmos3-tiny with a 64-wide action head, as the real Cosmos 3 has it, so that the wide embodiments fit. Policy,
// forward dynamics and inverse dynamics for egocentric 57D (hand_pose) and humanoid 29D (AgiBot World): the
// request path end to end (shapes, finite values, the raw width kept), and on the engine's own output that the
// channels from the raw width to action_dim stay zero, as diffusers' pipeline zeroes them after every step.
// The engine's action path itself is checked against diffusers on cosmos3-tiny (native_generate.test.ts).
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import sharp from "sharp";
import { conditioningPixels } from "../../src/api/native_generate.ts";
import { rollout } from "../../src/api/rollout.ts";
import { generatorInputs, planGeneration, rolloutRun } from "../../src/generator/mod.ts";
import { encodeVideo, probeVideo } from "../../src/media/video.ts";
import type { RgbFrame } from "../../src/media/video_decode.ts";
import { openCosmos3Generator } from "../../src/native/generator.ts";
import { closeNative } from "../../src/native/qwen3vl.ts";
import { RolloutRequest, type RolloutRequestInput } from "../../src/schema/rollout_request.ts";

const FIX = fileURLToPath(new URL("../fixtures/", import.meta.url));
const CKPT = join(FIX, "cosmos3-tiny-a64");
const MEDIA = join(FIX, "cosmos3-tiny-reference", "media");
const IMAGE = join(MEDIA, "action_00.png");
const OUT = mkdtempSync(join(tmpdir(), "cosmos-native-rollout-a64-"));
const CHUNK = 4;
let frames: RgbFrame[] = [];
let clip = "";

before(async () => {
  frames = await Promise.all(
    [0, 1, 2, 3, 4].map(async (i) => {
      const { data, info } = await sharp(join(MEDIA, `action_0${i}.png`)).removeAlpha().raw().toBuffer({
        resolveWithObject: true,
      });
      return { width: info.width, height: info.height, channels: 3 as const, data: new Uint8Array(data) };
    }),
  );
  clip = join(OUT, "clip.mp4");
  await encodeVideo(frames, { output: clip, fps: 15, width: 64, height: 48 });
});
after(async () => {
  await closeNative();
  rmSync(OUT, { recursive: true, force: true });
});

const finiteRows = (rows: number[][] | undefined, n: number, width: number) =>
  rows !== undefined && rows.length === n && rows.every((r) => r.length === width && r.every(Number.isFinite));

/** A seeded chunk of `width`-wide rows in [-1, 1] that is not constant along either axis. */
const givenActions = (width: number) =>
  Array.from({ length: CHUNK }, (_, t) => Array.from({ length: width }, (_, d) => Math.sin(1.3 * t + 0.7 * d)));

const WIDE = [["egocentric", 57], ["agibot", 29]] as const;

describe("rollout() on the native engine with a 64-wide action head (cosmos3-tiny-a64)", () => {
  test("the checkpoint opens natively with action_dim 64, untrained", async () => {
    const s = await openCosmos3Generator(CKPT);
    assert.equal(s.model.actionDim, 64);
    assert.equal(s.untrained, true);
  });

  for (const [embodiment, width] of WIDE) {
    test(`${embodiment} ${width}D: policy, forward dynamics and inverse dynamics`, async () => {
      const backend = CKPT;
      const common = { embodiment, resolution: "256p", numInferenceSteps: 1, seed: 3 } as const;
      const policy = await rollout(
        {
          ...common,
          mode: "policy",
          image: IMAGE,
          prompt: "Pick up the cube.",
          actionChunkSize: CHUNK,
          outputPath: join(OUT, `${embodiment}_policy.mp4`),
        },
        { backend },
      );
      assert.equal(policy.untrained, true);
      assert.ok(finiteRows(policy.actions, CHUNK, width), JSON.stringify(policy.actions));
      // Untrained but live: the predicted actions are not all equal.
      assert.ok(new Set(policy.actions!.flat()).size > width, "policy actions are constant");
      const pv = await probeVideo(policy.video!.path);
      assert.deepEqual([pv.width, pv.height, pv.frameCount], [64, 48, 5]);

      const fd = await rollout(
        {
          ...common,
          mode: "forward_dynamics",
          image: IMAGE,
          actions: givenActions(width),
          outputPath: join(OUT, `${embodiment}_fdyn.mp4`),
        },
        { backend },
      );
      assert.equal((await probeVideo(fd.video!.path)).frameCount, 5);
      assert.ok(finiteRows(fd.actionSpaces?.normalized, CHUNK, width), JSON.stringify(fd.actionSpaces));

      const id = await rollout(
        { ...common, mode: "inverse_dynamics", video: clip, actionChunkSize: CHUNK },
        { backend },
      );
      assert.ok(finiteRows(id.actions, CHUNK, width), JSON.stringify(id.actions));
      assert.equal(id.video, undefined);
    });
  }

  for (const [embodiment, width] of WIDE) {
    for (const mode of ["policy", "forward_dynamics", "inverse_dynamics"] as const) {
      test(`${embodiment} ${width}D ${mode}: the engine's action tokens are 64 wide, zero from channel ${width} on`, async () => {
        const input: RolloutRequestInput = mode === "policy"
          ? { mode, embodiment, image: IMAGE, prompt: "Pick up the cube.", actionChunkSize: CHUNK }
          : mode === "forward_dynamics"
          ? { mode, embodiment, image: IMAGE, actions: givenActions(width) }
          : { mode, embodiment, video: clip, actionChunkSize: CHUNK };
        const req = RolloutRequest.parse({ ...input, resolution: "256p", numInferenceSteps: 1 });
        const s = await openCosmos3Generator(CKPT);
        const media = mode === "inverse_dynamics"
          ? { video: { width: 64, height: 48, frames: frames.length } }
          : { image: { width: 64, height: 48 } };
        const plan = planGeneration(rolloutRun(req, media), s.model);
        assert.equal(plan.action!.actionDim, 64);
        assert.equal(plan.action!.rawActionDim, width);
        const out = await s.run({
          plan,
          inputs: generatorInputs(plan, s.tokenizer, s.model),
          condVideo: await conditioningPixels(plan, { frames: mode === "inverse_dynamics" ? frames : [frames[0]] }),
          seed: 5,
          decode: false,
        });
        const a = out.action!;
        assert.equal(a.length, plan.action!.tokens * 64);
        assert.ok(a.every(Number.isFinite));
        for (let k = 0; k < plan.action!.tokens; k++) {
          const row = a.subarray(k * 64, (k + 1) * 64);
          assert.ok(row.subarray(width).every((v) => v === 0), `token ${k}: ${Array.from(row.subarray(width))}`);
          assert.ok(row.subarray(0, width).some((v) => v !== 0), `token ${k}: the raw channels are all zero`);
        }
      });
    }
  }
});
