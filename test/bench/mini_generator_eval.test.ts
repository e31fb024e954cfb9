// The mini Generator's automatic checkers (bench/mini_generator_eval.ts) on ground truth from the world:
// the text-to-video checker says yes for the true clip of every held-out push, no for the same clip
// reversed and no for a still clip; it still says yes after the H.264 round trip the engine's MP4 goes
// through. The forward-dynamics path error is 0 for the true clip and large for the reversed one.
import { after, describe, test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { decodeVideoFrames } from "../../src/media/mod.ts";
import { makeSample, renderClip, seedsOf, writeClip } from "../../src/world/mod.ts";
import {
  chunkError,
  followsDirection,
  meanTrainChunk,
  MIN_SHIFT_PX,
  pathError,
  slideTarget,
} from "../../bench/mini_generator_eval.ts";

const dir = mkdtempSync(join(tmpdir(), "cosmos-minigen-check-"));
after(() => rmSync(dir, { recursive: true, force: true }));

// The first 24 held-out pushes (eval seeds in order), as the evaluation picks them.
const pushes = seedsOf("eval", 90, 0)
  .map((seed) => makeSample(seed, { frames: 17, fps: 10 }))
  .filter((s) => slideTarget(s) !== undefined)
  .slice(0, 24);

describe("text-to-video checker", () => {
  test("yes for every true clip, no for it reversed and for a still clip", () => {
    assert.ok(pushes.length >= 20, `${pushes.length} pushes`);
    const directions = new Set<string>();
    for (const s of pushes) {
      const t = slideTarget(s)!;
      directions.add(t.direction);
      const frames = renderClip(s).frames;
      const truth = followsDirection(frames, t.color, t.direction);
      assert.ok(truth.ok, `seed ${s.seed} (${t.label}): ${truth.reason}`);
      assert.ok(truth.along! >= MIN_SHIFT_PX);
      const reversed = followsDirection([...frames].reverse(), t.color, t.direction);
      assert.ok(!reversed.ok, `seed ${s.seed} reversed: ${reversed.reason}`);
      assert.ok(reversed.along! < 0, `seed ${s.seed}: reversed moves the other way`);
      const still = followsDirection(frames.map(() => frames[0]), t.color, t.direction);
      assert.ok(!still.ok && still.along === 0, `seed ${s.seed} still: ${still.reason}`);
    }
    // the held-out pushes cover the four directions, so each image axis and sign is exercised
    assert.deepEqual([...directions].sort(), ["away", "left", "right", "towards"]);
  });

  test("colour blotches that change every frame (an untrained model's noise) are a no for every colour", () => {
    // 20 x 12 random colour cells, 16 px each, redrawn every frame: big saturated regions, no object
    let state = 12345;
    const rand = () => (state = (state * 1103515245 + 12345) >>> 0) / 2 ** 32;
    const frames = Array.from({ length: 17 }, () => {
      const cells = Array.from({ length: 20 * 12 }, () => [0, 0, 0].map(() => Math.floor(rand() * 256)));
      const data = new Uint8Array(320 * 192 * 3);
      for (let y = 0; y < 192; y++) {
        for (let x = 0; x < 320; x++) data.set(cells[(y >> 4) * 20 + (x >> 4)], (y * 320 + x) * 3);
      }
      return { data, width: 320, height: 192, channels: 3 as const };
    });
    for (const color of ["red", "green", "blue", "yellow", "purple", "orange"] as const) {
      for (const direction of ["left", "right", "away", "towards"] as const) {
        const v = followsDirection(frames, color, direction);
        assert.equal(v.ok, false, `${color} ${direction}: ${v.reason}`);
      }
    }
  });

  test("the wrong object or no object is a no", () => {
    const s = pushes[0];
    const t = slideTarget(s)!;
    const frames = renderClip(s).frames;
    const absent = (["red", "green", "blue", "yellow", "purple", "orange"] as const)
      .find((c) => !s.scene.objects.some((o) => o.color === c))!;
    const v = followsDirection(frames, absent, t.direction);
    assert.equal(v.ok, false);
    assert.equal(v.seen, 0);
  });

  test("after the H.264 round trip of the engine's MP4: still yes, reversed still no", async () => {
    for (const s of pushes.slice(0, 4)) {
      const t = slideTarget(s)!;
      const clip = renderClip(s);
      const { video } = await writeClip(clip, s, { dir, video: `${s.seed}.mp4` });
      const decoded = await decodeVideoFrames(video, { frameIndices: Array.from({ length: 17 }, (_, k) => k) });
      const frames = decoded.map((f) => ({ data: f.data, width: f.width, height: f.height, channels: 3 as const }));
      assert.ok(followsDirection(frames, t.color, t.direction).ok, `seed ${s.seed}`);
      assert.ok(!followsDirection([...frames].reverse(), t.color, t.direction).ok, `seed ${s.seed} reversed`);
      // and the gripper path read from the decoded clip is within 1% of the width of the lossless one
      assert.ok(pathError(frames, clip.frames).meanFraction < 0.01, `seed ${s.seed} path after H.264`);
    }
  });
});

describe("forward-dynamics path error", () => {
  test("0 for the true clip; the reversed clip is off by more than the 10% target on average", () => {
    let reversedSum = 0;
    for (const s of pushes.slice(0, 8)) {
      const frames = renderClip(s).frames;
      const same = pathError(frames, frames);
      assert.equal(same.meanFraction, 0);
      assert.equal(same.missing, 0);
      assert.ok(same.frames >= 9, `seed ${s.seed}: gripper seen in ${same.frames} frames`);
      reversedSum += pathError([...frames].reverse(), frames).meanFraction;
    }
    assert.ok(reversedSum / 8 > 0.1, `reversed mean ${reversedSum / 8}`);
  });

  test("a frame without a gripper counts half the width", () => {
    const frames = renderClip(pushes[0]).frames;
    const blank = { ...frames[0], data: new Uint8Array(frames[0].data.length).fill(200) };
    const e = pathError(frames.map(() => blank), frames);
    assert.equal(e.missing, e.frames);
    assert.equal(e.meanFraction, 0.5);
  });
});

describe("action chunk error (policy, inverse dynamics)", () => {
  test("0 for the true chunk; a 3-4-0 cm offset is 5 cm; a flipped gripper is its mean distance", () => {
    const truth = pushes[0].actions;
    assert.deepEqual(chunkError(truth, truth), { position: 0, gripper: 0 });
    const moved = truth.map((r) => [r[0] + 0.03, r[1] + 0.04, ...r.slice(2)]);
    assert.ok(Math.abs(chunkError(moved, truth).position - 0.05) < 1e-12);
    const flipped = truth.map((r) => [...r.slice(0, 9), 1 - r[9]]);
    const want = truth.reduce((a, r) => a + Math.abs(1 - 2 * r[9]), 0) / truth.length;
    assert.ok(Math.abs(chunkError(flipped, truth).gripper - want) < 1e-12);
  });

  test("the mean training chunk: 16 rows of 10, and closer to held-out chunks than a chunk of zeros", () => {
    const mean = meanTrainChunk(50);
    assert.equal(mean.length, 16);
    assert.ok(mean.every((r) => r.length === 10 && r.every(Number.isFinite)));
    const zeros = mean.map((r) => r.map(() => 0));
    let m = 0, z = 0;
    for (const s of pushes.slice(0, 8)) {
      m += chunkError(mean, s.actions).position;
      z += chunkError(zeros, s.actions).position;
    }
    assert.ok(m < z, `mean ${m / 8} vs zeros ${z / 8}`);
  });
});
