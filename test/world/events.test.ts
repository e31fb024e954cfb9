// Events are read off the state trace: their frames are exactly where objects start and stop
// moving (checked on the trace and on the rendered outlines), their kinds follow the scenario,
// and a held object moves with the gripper.
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { makeSample, renderClip, SMALL } from "../../src/world/mod.ts";
import type { WorldSample } from "../../src/world/mod.ts";

const moved = (s: WorldSample, i: number, k: number) => {
  const a = s.trace.frames[k].objects[i].pos;
  const b = s.trace.frames[k + 1].objects[i].pos;
  return Math.hypot(b[0] - a[0], b[1] - a[1], b[2] - a[2]) >= 1e-4;
};

/** Same outline to a thousandth of a pixel (contacts leave float noise of 1e-17 m). */
const sameOutline = (a: number[] | null, b: number[] | null) =>
  a === null || b === null ? a === b : a.every((v, c) => Math.abs(v - b[c]) < 1e-3);

describe("event times", () => {
  test("each object's events cover exactly the frame transitions where it moves (60 clips)", () => {
    for (let seed = 500; seed < 560; seed++) {
      const s = makeSample(seed, { frames: 33, fps: 8 });
      assert.ok(s.events.length >= 1, `seed ${seed}: no event`);
      s.scene.objects.forEach((o, i) => {
        const covered = new Set<number>();
        for (const e of s.events.filter((x) => x.object === i)) {
          assert.equal(e.start, e.startFrame / s.fps);
          assert.equal(e.end, e.endFrame / s.fps);
          assert.ok(e.endFrame > e.startFrame && e.endFrame < s.frames);
          for (let k = e.startFrame; k < e.endFrame; k++) covered.add(k);
        }
        for (let k = 0; k + 1 < s.frames; k++) {
          assert.equal(covered.has(k), moved(s, i, k), `seed ${seed} ${o.label} transition ${k}→${k + 1}`);
        }
      });
    }
  });
  test("in the pictures: an object's outline changes inside its events and nowhere else (fixed camera)", () => {
    for (let seed = 600; seed < 615; seed++) {
      const s = makeSample(seed, { frames: 25, fps: 8, movingCamera: false });
      const clip = renderClip(s, SMALL);
      s.scene.objects.forEach((o, i) => {
        for (let k = 0; k + 1 < s.frames; k++) {
          const inEvent = s.events.some((e) => e.object === i && k >= e.startFrame && k < e.endFrame);
          const a = clip.views[k][i].outline;
          const b = clip.views[k + 1][i].outline;
          const same = sameOutline(a, b);
          if (!inEvent) assert.ok(same, `seed ${seed} ${o.label}: drawn moving at ${k}→${k + 1} outside its events`);
          // inside an event it moves by ≥ 0.1 mm, which may round to the same pixels; most steps show
          if (inEvent) assert.ok(moved(s, i, k));
        }
        const steps = s.events.filter((e) => e.object === i).reduce((n, e) => n + e.endFrame - e.startFrame, 0);
        const drawn = Array.from({ length: s.frames - 1 }, (_, k) =>
          !sameOutline(clip.views[k][i].outline, clip.views[k + 1][i].outline)).filter(Boolean).length;
        assert.ok(drawn >= steps * 0.8, `seed ${seed} ${o.label}: ${drawn} of ${steps} moving steps show`);
      });
    }
  });
});

describe("event kinds follow the scenario", () => {
  test("pick and place: picked up, carried in the planned direction, put down; it ends on the table there", () => {
    for (let seed = 700; seed < 720; seed++) {
      const s = makeSample(seed, { frames: 33, fps: 8, scenario: "pick_place" });
      const t = s.scenario.target;
      const mine = s.events.filter((e) => e.object === t);
      assert.deepEqual(mine.map((e) => e.kind), ["picked_up", "carried", "put_down"], `seed ${seed}`);
      assert.equal(mine[1].direction, s.scenario.direction);
      const end = s.trace.frames[s.frames - 1].objects[t];
      assert.equal(end.held, false);
      assert.equal(end.pos[2], 0);
      assert.match(mine[0].label, new RegExp(`picks up the ${s.scene.objects[t].label}`));
    }
  });
  test("push: the target slides in the prompted direction, on the table", () => {
    for (let seed = 720; seed < 740; seed++) {
      const s = makeSample(seed, { frames: 17, fps: 10, scenario: "push" });
      const t = s.scenario.target;
      const pushed = s.events.filter((e) => e.object === t);
      assert.deepEqual(pushed.map((e) => e.kind), ["pushed"], `seed ${seed}`);
      assert.equal(pushed[0].direction, s.scenario.direction);
      const a = s.trace.frames[0].objects[t].pos;
      const b = s.trace.frames[s.frames - 1].objects[t].pos;
      assert.ok(
        Math.hypot(b[0] - a[0], b[1] - a[1]) > 0.06,
        `seed ${seed}: moved ${Math.hypot(b[0] - a[0], b[1] - a[1])}`,
      );
      assert.ok(s.trace.frames.every((f) => f.objects[t].pos[2] === 0 && !f.objects[t].held));
      assert.match(pushed[0].label, /slides (to the left|to the right|away from the camera|towards the camera)$/);
    }
  });
  test("drop: picked up, then it falls onto the table after the gripper opens", () => {
    for (let seed = 740; seed < 760; seed++) {
      const s = makeSample(seed, { frames: 33, fps: 8, scenario: "drop" });
      const t = s.scenario.target;
      const kinds = s.events.filter((e) => e.object === t).map((e) => e.kind);
      assert.equal(kinds[0], "picked_up", `seed ${seed}: ${kinds}`);
      assert.equal(kinds[kinds.length - 1], "fell", `seed ${seed}: ${kinds}`);
      const fall = s.events.find((e) => e.object === t && e.kind === "fell")!;
      // falling from rest: the drop height in about sqrt(2h/g) seconds
      const h = s.trace.frames[fall.startFrame].objects[t].pos[2];
      assert.ok(h > 0.05);
      assert.ok(
        Math.abs(fall.end - fall.start - Math.sqrt((2 * h) / 9.81)) <= 2 / s.fps,
        `seed ${seed}: fall ${fall.end - fall.start} s from ${h} m`,
      );
      assert.ok(s.trace.frames[fall.endFrame].objects[t].pos[2] === 0);
    }
  });
  test("a held object moves with the gripper", () => {
    const s = makeSample(705, { frames: 33, fps: 8, scenario: "pick_place" });
    const t = s.scenario.target;
    const held = s.trace.frames.filter((f) => f.objects[t].held);
    assert.ok(held.length > 5);
    const off = (f: typeof held[number]) => f.objects[t].pos.map((v, c) => v - f.gripper.pos[c]);
    for (const f of held) {
      off(f).forEach((v, c) => assert.ok(Math.abs(v - off(held[0])[c]) < 1e-9 || c === 2 && f.objects[t].pos[2] === 0));
    }
  });
});
