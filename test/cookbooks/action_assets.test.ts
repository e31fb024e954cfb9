// The gripper column of the cookbooks' single-arm chunks (assets/make.ts → actions/*.json, scene.json): the
// hand-drawn pick-and-place chunk is in Cosmos 3's convention, 1 open … 0 closed (cosmos-framework
// data/generator/action/agibot_fk.py:359; its DROID / UR loaders flip their raw 0 = open into it), checked against
// the clip's own event times; the world's chunk too (src/world/gripper.ts), checked against the world's finger gap
// and its push event, and scene.json says so for both.
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { readActionChunk } from "../../src/media/mod.ts";
import { makeSample } from "../../src/world/mod.ts";
import { OPEN_WIDTH } from "../../src/world/gripper.ts";

const asset = (p: string) => fileURLToPath(new URL(`../../assets/${p}`, import.meta.url));
const scene = JSON.parse(readFileSync(asset("scene.json"), "utf8"));

describe("action assets: the gripper column", () => {
  test("droid_10d.json: open (1) while reaching, closed (0) while carrying, open again after the drop", async () => {
    const droid = scene.actions.droid;
    assert.match(droid.layout, /gripper \(1 open … 0 closed, Cosmos 3's convention\)/);
    const chunk = await readActionChunk(asset(droid.path), { dim: 10 });
    assert.equal(chunk.length, droid.steps);
    const events: { start: number; end: number; label: string }[] = scene.pickPlace.events;
    const when = (label: RegExp) => events.find((e) => label.test(e.label))!;
    const closes = when(/^gripper closes/), carries = when(/^arm carries/), opens = when(/^gripper opens/);
    let seen = { open: 0, closed: 0, reopened: 0 };
    chunk.forEach((row, i) => {
      const t = (i / (chunk.length - 1)) * scene.pickPlace.seconds; // the rows span the clip
      const g = row[9];
      if (t <= closes.start) assert.equal(g, 1, `row ${i} (${t.toFixed(2)} s): reaching, the gripper is open`);
      if (t >= carries.start && t <= carries.end) assert.equal(g, 0, `row ${i} (${t.toFixed(2)} s): carrying`);
      if (t >= opens.end) assert.equal(g, 1, `row ${i} (${t.toFixed(2)} s): after the drop`);
      seen = {
        open: seen.open + Number(t <= closes.start),
        closed: seen.closed + Number(t >= carries.start && t <= carries.end),
        reopened: seen.reopened + Number(t >= opens.end),
      };
    });
    assert.ok(seen.open >= 3 && seen.closed >= 3 && seen.reopened >= 3, JSON.stringify(seen));
  });

  test("world_droid_10d.json: Cosmos 3's convention too (the finger gap is the column × the open width), closed while pushing", async () => {
    const push = scene.world.push;
    assert.match(push.layout, /gripper \(1 open … 0 closed, Cosmos 3's convention/);
    const chunk = await readActionChunk(asset(push.actions), { dim: 10 });
    const s = makeSample(push.seed, {
      frames: push.frames,
      fps: push.fps,
      scenario: "push",
      objects: 3,
      movingCamera: false,
    });
    assert.equal(s.trace.frames[0].gripper.gap, OPEN_WIDTH, "frame 0: at home, fully open");
    chunk.forEach((row, k) => {
      const g = s.trace.frames[k + 1].gripper; // frame k + 1 is where row k put the gripper
      assert.ok(Math.abs(g.open - row[9]) < 1e-4, `row ${k}: opening ${g.open} vs ${row[9]}`);
      // the gap is OPEN_WIDTH at 1 and shrinks towards 0 at 0 (or stops at a held object)
      assert.ok(g.gap >= OPEN_WIDTH * row[9] - 1e-9, `row ${k}: gap ${g.gap}`);
      if (row[9] === 1) assert.ok(Math.abs(g.gap - OPEN_WIDTH) < 1e-9, `row ${k}: 1 is fully open`);
    });
    // the push is done with closed fingers (a paddle): 0 in every row within the clip's slide event
    const slide: { start: number; end: number } = push.events[0];
    const during = chunk.filter((_, k) => (k + 1) / push.fps >= slide.start && (k + 1) / push.fps <= slide.end);
    assert.ok(during.length >= 3, `${during.length} rows in the slide`);
    for (const row of during) assert.equal(row[9], 0);
    assert.ok(chunk[0][9] > 0.5, `row 0 leaves home still mostly open: ${chunk[0][9]}`);
  });
});
