// Plausibility labels: plausible clips have no violation; an implausible clip really holds a
// teleport, a float or a pass-through in its state trace (checked here from the raw states,
// not through findViolations), and its pictures show it.
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { AnomalyKind, findViolations, makeSample, renderClip, SMALL } from "../../src/world/mod.ts";
import type { WorldSample } from "../../src/world/mod.ts";
import { FINGER_HALF, FINGER_LENGTH, fingerCenters } from "../../src/world/gripper.ts";

/** The largest one-frame horizontal jump of a free object (m). */
function biggestFreeJump(s: WorldSample, i: number): number {
  let best = 0;
  for (let k = 1; k < s.frames; k++) {
    const a = s.trace.frames[k - 1].objects[i];
    const b = s.trace.frames[k].objects[i];
    if (!a.held && !b.held) best = Math.max(best, Math.hypot(b.pos[0] - a.pos[0], b.pos[1] - a.pos[1]));
  }
  return best;
}

/** Frames in which a free object hangs above the table without falling. */
function hangingFrames(s: WorldSample, i: number): number {
  let n = 0;
  for (let k = 1; k < s.frames; k++) {
    const a = s.trace.frames[k - 1].objects[i];
    const b = s.trace.frames[k].objects[i];
    if (!a.held && !b.held && b.pos[2] > 0.01 && b.pos[2] >= a.pos[2]) n++;
  }
  return n;
}

/** The deepest a finger gets into a free object (m). */
function deepestFinger(s: WorldSample, i: number): number {
  const o = s.scene.objects[i];
  let best = 0;
  for (const f of s.trace.frames) {
    const st = f.objects[i];
    const g = f.gripper;
    if (st.held || g.pos[2] >= st.pos[2] + o.height || g.pos[2] + FINGER_LENGTH <= st.pos[2]) continue;
    for (const [x, y] of fingerCenters(g, g.gap)) {
      best = Math.max(best, o.radius + FINGER_HALF - Math.hypot(x - st.pos[0], y - st.pos[1]));
    }
  }
  return best;
}

describe("plausible clips", () => {
  test("the simulator breaks no rule: 300 clips, every scenario, both timings", () => {
    for (let seed = 1000; seed < 1300; seed++) {
      const s = makeSample(seed, seed % 2 ? { frames: 17, fps: 10 } : { frames: 33, fps: 8 });
      assert.equal(s.plausibility.label, "plausible");
      assert.deepEqual(s.plausibility.violations, [], `seed ${seed} ${s.scenario.kind}`);
      s.scene.objects.forEach((_, i) => {
        assert.ok(biggestFreeJump(s, i) < 0.08, `seed ${seed}: a free object jumps`); // a push moves up to ~5 cm a frame at 10 fps
        assert.equal(hangingFrames(s, i), 0, `seed ${seed}: an object hangs`);
        assert.ok(deepestFinger(s, i) < 0.003, `seed ${seed}: a finger inside an object`);
      });
    }
  });
});

describe("implausible clips", () => {
  for (const kind of AnomalyKind.options) {
    test(`${kind}: labelled implausible, and the trace shows it`, () => {
      let made = 0;
      for (let seed = 2000; seed < 2040; seed++) {
        const s = makeSample(seed, {
          frames: 17,
          fps: 10,
          anomaly: kind,
          ...(kind === "pass_through" ? { scenario: "push" } : {}),
        });
        assert.equal(s.plausibility.label, "implausible");
        const a = s.plausibility.anomaly!;
        assert.ok(s.plausibility.violations.length > 0);
        assert.ok(
          s.plausibility.violations.every((v) => v.kind === a.kind),
          `seed ${seed}: ${JSON.stringify(s.plausibility.violations)}`,
        );
        assert.deepEqual(findViolations(s.scene, s.trace), s.plausibility.violations);
        if (a.kind !== kind) continue; // no clean variant of that kind for this clip: another kind was used
        made++;
        if (kind === "teleport") assert.ok(biggestFreeJump(s, a.object) > 0.1, `seed ${seed}`);
        if (kind === "float") assert.ok(hangingFrames(s, a.object) >= 2, `seed ${seed}`);
        if (kind === "pass_through") {
          assert.ok(deepestFinger(s, a.object) > 0.01, `seed ${seed}`);
          // the target stays put while the gripper sweeps through it
          const start = s.trace.frames[0].objects[a.object].pos;
          assert.deepEqual(s.trace.frames[s.frames - 1].objects[a.object].pos, start);
        }
      }
      assert.ok(made >= 30, `${made} of 40 clips got a ${kind}`);
    });
  }
  test("a teleport shows in the pictures: the object's box jumps in one frame", () => {
    const s = makeSample(2001, { frames: 17, fps: 10, anomaly: "teleport", movingCamera: false });
    const a = s.plausibility.anomaly!;
    const clip = renderClip(s, SMALL);
    const before = clip.views[a.frame - 1][a.object].outline!;
    const after = clip.views[a.frame][a.object].outline!;
    assert.ok(Math.hypot(after[0] - before[0], after[1] - before[1]) > 10);
    assert.ok(s.events.some((e) => e.kind === "teleported" && e.object === a.object && e.startFrame === a.frame - 1));
  });
  test("anomaly 'auto' makes about the asked share implausible, kinds from the seed", () => {
    const kinds: Record<string, number> = {};
    let implausible = 0;
    for (let seed = 3000; seed < 3200; seed++) {
      const s = makeSample(seed, { frames: 17, fps: 10, anomaly: "auto", implausibleShare: 0.5 });
      if (s.plausibility.label === "implausible") {
        implausible++;
        kinds[s.plausibility.anomaly!.kind] = (kinds[s.plausibility.anomaly!.kind] ?? 0) + 1;
      }
    }
    assert.ok(implausible > 80 && implausible < 120, `${implausible} of 200`);
    assert.ok(Object.keys(kinds).length === 3, JSON.stringify(kinds));
    assert.equal(makeSample(3000, { anomaly: "auto", implausibleShare: 0 }).plausibility.label, "plausible");
  });
  test("bad options are ValidationErrors naming the option", () => {
    assert.throws(() => makeSample(1, { frames: 1 }), /options\.frames/);
    assert.throws(() => makeSample(1, { anomaly: "wobble" as never }), /options\.anomaly/);
    assert.throws(() => makeSample(-1), /seed/);
  });
});
