/**
 * Does the mini Generator's text-to-video follow the direction word at all? For held-out push clips, four
 * generations with the same seed (the same noise) and prompts that differ only in the direction ("slides to the
 * left / to the right / away from the camera / towards the camera"); the prompted object's centroid displacement
 * (bench/mini_generator_eval.ts's tracker) under each. A model that ignores the word moves the object the same way
 * under all four; one that follows it gives `right − left` > 0 in x and `towards − away` > 0 in y (image pixels,
 * y down). Prints one JSON line per seed and a `{"summary": …}` line with the mean of both differences over the
 * seeds where the object was tracked under both prompts of the pair.
 *
 * @example
 * ```sh
 * node --import tsx bench/mini_generator_direction_probe.ts --checkpoint checkpoints/mini-generator --count 10
 * ```
 * @module
 */
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { type Direction, DIRECTION_WORDS, generatorPrompt } from "../src/world/mod.ts";
import { type EvalSettings, followsDirection, framesOf, generateT2v, pushSamples } from "./mini_generator_eval.ts";

const DIRECTIONS: readonly Direction[] = ["left", "right", "away", "towards"];

/** One probed seed: the displacement (px) of the prompted object under each direction word (absent: not tracked). */
export interface ProbeRow {
  seed: number;
  target: string;
  moved: Partial<Record<Direction, { dx: number; dy: number; follows: boolean }>>;
}

/**
 * The mean `right − left` x displacement and `towards − away` y displacement over the rows that tracked the
 * object under both prompts of the pair (positive: the word is followed).
 * @example
 * ```ts
 * const m = { dx: 0, dy: 0, follows: false };
 * directionEffect([{ seed: 1, target: "", moved: { left: { ...m, dx: -5 }, right: { ...m, dx: 15 } } }]);
 * // { xRightMinusLeftPx: 20, xPairs: 1, yTowardsMinusAwayPx: NaN, yPairs: 0 }
 * ```
 */
export function directionEffect(rows: readonly ProbeRow[]) {
  const x = rows.flatMap((r) => r.moved.left && r.moved.right ? [r.moved.right.dx - r.moved.left.dx] : []);
  const y = rows.flatMap((r) => r.moved.away && r.moved.towards ? [r.moved.towards.dy - r.moved.away.dy] : []);
  const mean = (v: number[]) => v.length ? v.reduce((a, b) => a + b, 0) / v.length : NaN;
  return { xRightMinusLeftPx: mean(x), xPairs: x.length, yTowardsMinusAwayPx: mean(y), yPairs: y.length };
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      checkpoint: { type: "string", default: "checkpoints/mini-generator" },
      count: { type: "string", default: "10" },
      offset: { type: "string", default: "0" },
      steps: { type: "string", default: "30" },
      guidance: { type: "string", default: "4" },
    },
  });
  const o: EvalSettings = {
    backend: resolve(values.checkpoint!),
    steps: Number(values.steps),
    guidance: Number(values.guidance),
    out: mkdtempSync(join(tmpdir(), "mini-generator-direction-")),
  };
  const rows: ProbeRow[] = [];
  for (const { seed, sample, target } of pushSamples(Number(values.count), Number(values.offset))) {
    const prompt = generatorPrompt(sample);
    const said = `slides ${DIRECTION_WORDS[target.direction]}`;
    const row: ProbeRow = { seed, target: target.label, moved: {} };
    for (const d of DIRECTIONS) {
      const r = await generateT2v(
        prompt.replace(said, `slides ${DIRECTION_WORDS[d]}`),
        seed,
        join(o.out, `${seed}_${d}.mp4`),
        o,
      );
      const v = followsDirection(await framesOf(r.media.path, 17), target.color, d);
      if (v.dx !== undefined && v.dy !== undefined) row.moved[d] = { dx: v.dx, dy: v.dy, follows: v.ok };
    }
    rows.push(row);
    console.log(JSON.stringify(row));
  }
  console.log(JSON.stringify({ summary: directionEffect(rows), checkpoint: values.checkpoint, out: o.out }));
}

if (process.argv[1] && fileURLToPath(import.meta.url) === resolve(process.argv[1])) await main();
