// The notebook generate() / rollout() with `miniCheckpoint: true` (the mini Generator, checkpoints/mini-generator,
// trained by this project on the synthetic world of src/world): the request is sent at the size, length and rate
// it was trained at (320x192, 17 frames at 10 fps; 9 when 9 or fewer are asked), at most MINI_GENERATOR_CAPS.steps
// steps, guidance 4 for video and 1 for the action modes unless the request sets one, a chunk of at most 16 rows;
// notebookBackend() picks it only when no backend is configured and says plainly what it is; on the real native
// engine a text-to-video and a droid policy call write what was asked (a 320x192 MP4 of 17 frames, a 16 x 10
// chunk) under the note that says whether the workflow was trained. The mini Generator's weights are not in git
// until the lead commits them: the engine tests skip without them.
import assert from "node:assert/strict";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import process from "node:process";
import { fileURLToPath } from "node:url";
import { after, describe, test } from "node:test";
import {
  generate,
  generateRequestSent,
  MINI_CHECKPOINTS,
  MINI_GENERATOR_CAPS,
  MINI_GENERATOR_WORKFLOWS,
  notebookBackend,
  rollout,
  rolloutRequestSent,
  TINY_GENERATOR_CAPS,
  withMiniGeneratorCaps,
  withMiniRolloutCaps,
} from "../../kernel/calls.ts";
import { probeVideo } from "../../src/media/video.ts";
import { closeNative } from "../../src/native/qwen3vl.ts";
import { captureDisplays } from "./_sink.ts";

const MINI = fileURLToPath(new URL(`../../${MINI_CHECKPOINTS.generate}`, import.meta.url));
const START = fileURLToPath(new URL("../../assets/images/world_push_start.png", import.meta.url));
const OUT = mkdtempSync(join(tmpdir(), "cosmos-mini-generator-caps-"));
const noWeights = !existsSync(join(MINI, "transformer", "config.json")) &&
  "the mini Generator's weights are not here (checkpoints/mini-generator/transformer/)";
const noAssets = !existsSync(START) && "assets not made (node --import tsx assets/make.ts)";
after(async () => {
  await closeNative();
  rmSync(OUT, { recursive: true, force: true });
});

/** The plain text of every display the sink got. */
const said = (cap: ReturnType<typeof captureDisplays>) =>
  cap.sent.map((m) => m.bundle["text/plain"]).filter((t) => typeof t === "string").join("\n");

describe("mini Generator caps of the notebook generate() / rollout()", () => {
  test("video: 320x192, 17 frames (9 when 9 or fewer are asked) at 10 fps, steps capped, guidance 4 unless set", () => {
    assert.deepEqual(withMiniGeneratorCaps({ prompt: "p", resolution: "480p", numInferenceSteps: 35, seed: 0 }), {
      prompt: "p",
      seed: 0,
      resolution: "256p",
      aspectRatio: "16:9",
      numInferenceSteps: MINI_GENERATOR_CAPS.steps,
      guidanceScale: 4,
      numFrames: 17,
      fps: 10,
    });
    assert.equal(withMiniGeneratorCaps({ prompt: "p", numFrames: 5 }).numFrames, 9);
    assert.equal(withMiniGeneratorCaps({ prompt: "p", numFrames: 9 }).numFrames, 9);
    assert.equal(withMiniGeneratorCaps({ prompt: "p", numFrames: 189 }).numFrames, 17);
    assert.equal(withMiniGeneratorCaps({ prompt: "p", numInferenceSteps: 4 }).numInferenceSteps, 4);
    assert.equal(withMiniGeneratorCaps({ prompt: "p", guidanceScale: 2 }).guidanceScale, 2);
    const image = withMiniGeneratorCaps({ prompt: "p", output: "image" });
    assert.equal(image.numFrames, undefined);
    assert.equal(image.fps, undefined);
    // What the notebook shows as sent is that request, validated: the trained size, length and steps.
    const sent = generateRequestSent({ prompt: "p", resolution: "720p", seed: 0 }, { miniCheckpoint: true });
    assert.deepEqual(
      [sent.effective.width, sent.effective.height, sent.effective.numFrames, sent.effective.fps],
      [320, 192, 17, 10],
    );
    assert.deepEqual([sent.effective.numInferenceSteps, sent.effective.guidanceScale], [MINI_GENERATOR_CAPS.steps, 4]);
    // Without the option the request is sent as written; the tiny caps are still the tiny ones.
    assert.equal(generateRequestSent({ prompt: "p", resolution: "720p" }).effective.width, 1280);
    assert.equal(generateRequestSent({ prompt: "p" }, { tinyCheckpoint: true }).effective.numInferenceSteps, 2);
  });

  test("actions: 10 fps, steps capped, guidance 1 unless set, a chunk of at most 16 rows, frames from the chunk", () => {
    const rows = Array.from({ length: 20 }, (_, k) => Array.from({ length: 10 }, () => k));
    const capped = withMiniRolloutCaps({
      mode: "forward_dynamics",
      embodiment: "droid",
      image: "start.png",
      actions: rows,
      numFrames: 21,
    });
    assert.equal(Array.isArray(capped.actions) && capped.actions.length, MINI_GENERATOR_CAPS.actionSteps);
    assert.equal(capped.numFrames, undefined);
    assert.deepEqual([capped.resolution, capped.fps, capped.numInferenceSteps, capped.guidanceScale], [
      "256p",
      10,
      MINI_GENERATOR_CAPS.steps,
      1,
    ]);
    const sent = rolloutRequestSent(
      { mode: "policy", embodiment: "droid", image: "start.png", prompt: "Push.", actionChunkSize: 32 },
      { miniCheckpoint: true },
    );
    assert.deepEqual(
      [sent.effective.actionChunkSize, sent.effective.numFrames, sent.effective.numInferenceSteps],
      [16, 17, MINI_GENERATOR_CAPS.steps],
    );
    assert.equal(
      rolloutRequestSent({ mode: "policy", embodiment: "droid", image: "s.png", prompt: "P.", guidanceScale: 3 }, {
        miniCheckpoint: true,
      }).effective.guidanceScale,
      3,
    );
    assert.equal(
      withMiniRolloutCaps({ mode: "policy", embodiment: "droid", image: "s.png", prompt: "P." }).actionChunkSize,
      undefined,
      "no chunk size asked: the model's default (16)",
    );
    assert.ok(MINI_GENERATOR_CAPS.steps > TINY_GENERATOR_CAPS.steps);
  });

  test("notebookBackend: the mini Generator only when nothing is configured, said plainly", async () => {
    const saved = { g: process.env.COSMOS_GENERATOR_BACKEND, b: process.env.COSMOS_BACKEND };
    delete process.env.COSMOS_GENERATOR_BACKEND;
    delete process.env.COSMOS_BACKEND;
    const cap = captureDisplays();
    try {
      for (const call of ["generate", "rollout"] as const) {
        const o = await notebookBackend(call, { fallback: MINI, fallbackIsMiniCheckpoint: true });
        assert.equal(o.miniCheckpoint, true, call);
        assert.equal(o.tinyCheckpoint, undefined, call);
      }
      const text = said(cap);
      assert.match(
        text,
        /checkpoints\/mini-generator is a mini model trained by this project on a synthetic world, not Cosmos 3/,
      );
      assert.match(text, /set COSMOS_GENERATOR_BACKEND to a diffusers-layout Cosmos 3 checkpoint/);
      assert.match(text, /trained on: text-to-video, image-to-video, forward_dynamics, policy, inverse_dynamics/);
      assert.match(text, /Not trained: text-to-image, video-to-video, sound, prompt upsampling, other embodiments/);
      process.env.COSMOS_GENERATOR_BACKEND = "http://127.0.0.1:9";
      const remote = await notebookBackend("generate", { fallback: MINI, fallbackIsMiniCheckpoint: true });
      assert.equal(remote.miniCheckpoint, undefined);
      assert.equal(remote.tinyCheckpoint, false);
    } finally {
      cap.restore();
      for (const [k, v] of [["COSMOS_GENERATOR_BACKEND", saved.g], ["COSMOS_BACKEND", saved.b]] as const) {
        if (v === undefined) delete process.env[k];
        else process.env[k] = v;
      }
    }
  });

  test(
    "on the native engine: text-to-video at 320x192 x 17 frames, a droid policy chunk of 16 x 10, each noted",
    { skip: noWeights || noAssets },
    async () => {
      const cap = captureDisplays();
      try {
        const options = { backend: MINI, miniCheckpoint: true };
        const video = await generate(
          // a Cosmos 3-sized request: the caps make it the mini Generator's; 4 steps keep the test short
          {
            prompt: "A wooden table with a red cube, a grey robot arm above it.",
            resolution: "480p",
            numInferenceSteps: 4,
            seed: 0,
            outputPath: join(OUT, "t2v.mp4"),
          },
          options,
        );
        const info = await probeVideo(video.media.path);
        assert.deepEqual([info.width, info.height, info.frameCount], [320, 192, 17]);
        const policy = await rollout({
          mode: "policy",
          embodiment: "droid",
          image: START,
          prompt: "Push the red cube to the left.",
          actionChunkSize: 16,
          numInferenceSteps: 2,
          outputPath: join(OUT, "policy.mp4"),
        }, options);
        assert.deepEqual([policy.actions?.length, policy.actions?.[0].length], [16, 10]);
        // A text-to-image on it runs, under the note that it was not trained on that.
        await generate({
          prompt: "A wooden table.",
          output: "image",
          numInferenceSteps: 1,
          seed: 0,
          outputPath: join(OUT, "t2i.png"),
        }, options);
        const text = said(cap);
        assert.ok(
          text.includes(
            `Mini Generator, trained on text-to-video in its synthetic world: ${
              MINI_GENERATOR_WORKFLOWS["text-to-video"]
            }; ` +
              "run at 320x192, 17 frames at 10 fps, 4 denoising steps, guidance 4 (miniCheckpoint: true).",
          ),
          text,
        );
        assert.ok(
          text.includes(
            `Mini Generator, trained on policy in its synthetic world: ${MINI_GENERATOR_WORKFLOWS.policy}; ` +
              "run at 320x192, 17 frames at 10 fps, a 16-row chunk, 2 denoising steps, guidance 1",
          ),
          text,
        );
        assert.match(text, /The mini Generator was NOT trained on text-to-image: this result is not meaningful/);
      } finally {
        cap.restore();
      }
    },
  );
});
