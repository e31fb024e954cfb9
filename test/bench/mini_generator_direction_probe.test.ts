// The direction probe's summary (bench/mini_generator_direction_probe.ts): the mean right − left x and
// towards − away y displacement, over the seeds where both prompts of a pair were tracked.
import { test } from "node:test";
import assert from "node:assert/strict";
import { directionEffect, type ProbeRow } from "../../bench/mini_generator_direction_probe.ts";

const at = (dx: number, dy: number) => ({ dx, dy, follows: false });

test("directionEffect: means over the complete pairs only", () => {
  const rows: ProbeRow[] = [
    { seed: 1, target: "a", moved: { left: at(-10, 0), right: at(30, 0), away: at(0, -8), towards: at(0, 12) } },
    { seed: 2, target: "b", moved: { left: at(4, 0), right: at(0, 0), towards: at(0, 50) } }, // no "away": no y pair
    { seed: 3, target: "c", moved: {} },
  ];
  assert.deepEqual(directionEffect(rows), { xRightMinusLeftPx: 18, xPairs: 2, yTowardsMinusAwayPx: 20, yPairs: 1 });
});

test("directionEffect: a model that ignores the word scores 0", () => {
  const same = { left: at(7, 3), right: at(7, 3), away: at(7, 3), towards: at(7, 3) };
  assert.deepEqual(directionEffect([{ seed: 1, target: "", moved: same }]), {
    xRightMinusLeftPx: 0,
    xPairs: 1,
    yTowardsMinusAwayPx: 0,
    yPairs: 1,
  });
});
