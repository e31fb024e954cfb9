// The mini Reasoner's held-out evaluation in CI (issue 16: "the evaluation runs in CI on a subset"): the
// committed checkpoint (MINI_CHECKPOINTS.reason) through our own native engine on the CPU, scored by
// bench/mini_reasoner_eval.ts on samples the procedural world renders here (tools/train/world_data.ts
// --split eval): fresh held-out seeds, never training seeds, and none of the seeds of the 200-sample
// benchmark (eval offsets 0-249) or of the cookbooks' assets (the first eval seeds).
//
// Thresholds sit a little below issue 16's targets so that a borderline sample does not flake the run.
// Action waypoints and describe-anything are scored and reported, not asserted (not targets of the issue).
//
// Node only (*.node.test.ts): the run takes minutes on 2 cores, and running it a second time on Deno
// would double that for no added check.
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { after, before, describe, test } from "node:test";
import { fileURLToPath } from "node:url";
import {
  EVAL_TASKS,
  type EvalRecord,
  type EvalTask,
  readEvalRecords,
  type ScoredSample,
  scoreRecords,
  summarizeTask,
  type TaskSummary,
} from "../../bench/mini_reasoner_eval.ts";
import { MINI_CHECKPOINTS } from "../../kernel/calls.ts";
import { SEED_SPLITS, splitOfSeed } from "../../src/world/mod.ts";
import { writeWorldData } from "../../tools/train/world_data.ts";

const repo = resolve(dirname(fileURLToPath(import.meta.url)), "..", "..");

/**
 * The subset: eval seeds 1000050000 … (offset 50,000 of the held-out split, which nothing else uses),
 * one sample per task per seed, the first 20 of each task. One seed to spare, as a grounding still with
 * no visible object writes no record.
 */
const SUBSET = { offset: 50_000, seeds: 21, samples: 20 } as const;

/**
 * Asserted figures, issue 16's target in each comment. Measured on this subset with the session-15 weights
 * (20 samples a task): caption 100% (20/20), mean IoU 0.931, temporal MAE 0.011 s (42 events), plausibility
 * 100% (20/20; 96.0% on the benchmark's 200), action waypoints 261 on the 0–1000 grid, describe-anything 68% of
 * subjects named right (session 14's weights: 95%, 0.925, 0.009 s, 75%, 264, 63%).
 * Greedy decoding on fixed seeds repeats exactly; the margins are for engine changes that move a
 * borderline answer (the same figures before and after the packed SIMD CPU GEMM). Time on the 2-core
 * machine, shared (load 5–10): 4 min 8 s wall, 2 min 36 s of CPU (media writing overlapped with scoring).
 */
const THRESHOLDS = {
  captionAccuracy: 0.85, // target ≥ 0.90
  groundingMeanIou: 0.65, // target ≥ 0.70
  temporalMaeSeconds: 0.6, // target ≤ 0.5 s
  plausibilityAccuracy: 0.8, // target ≥ 0.90
} as const;

const dir = mkdtempSync(join(tmpdir(), "cosmos-minireasoner-ci-"));
after(() => rmSync(dir, { recursive: true, force: true }));

const scored = new Map<EvalTask, ScoredSample[]>(EVAL_TASKS.map((t) => [t, []]));
const summary = new Map<EvalTask, TaskSummary>();
const seeds = new Set<number>();
const seconds = { total: 0 };

/** The samples of a task that missed, for a failure message: id, answer, what was expected. */
function misses(task: EvalTask, bad: (s: ScoredSample) => boolean): string {
  return (scored.get(task) ?? []).filter(bad).map((s) => JSON.stringify(s.line)).join("\n");
}

describe("mini Reasoner on held-out world samples, native engine on the CPU (issue 16's CI subset)", () => {
  before(async () => {
    const t0 = performance.now();
    // The seeds in three chunks: one chunk's media are written (ffmpeg) while the previous one is scored.
    const chunk = Math.ceil(SUBSET.seeds / 3);
    const write = (k: number) => {
      const out = join(dir, `seeds-${k}`);
      const count = Math.min(chunk, SUBSET.seeds - k);
      const written = writeWorldData({ out, split: "eval", count, offset: SUBSET.offset + k, tasks: [...EVAL_TASKS] })
        .then(() => out);
      written.catch(() => {}); // awaited after the current chunk is scored; a failure is thrown there
      return written;
    };
    let writing = write(0);
    for (let k = 0; k < SUBSET.seeds; k += chunk) {
      const data = await writing;
      if (k + chunk < SUBSET.seeds) writing = write(k + chunk);
      const records: EvalRecord[] = [];
      for (const task of EVAL_TASKS) {
        const want = SUBSET.samples - scored.get(task)!.length;
        records.push(...(await readEvalRecords(data, task, chunk)).slice(0, want));
      }
      for (const r of records) seeds.add(Number(r.id.split("-")[1]));
      // One model load for every task (the engine keeps one session per checkpoint); two calls in
      // flight overlap one call's video decoding (ffmpeg) with the other's model time.
      const done = await scoreRecords(records, {
        data,
        backend: resolve(repo, MINI_CHECKPOINTS.reason),
        maxTokens: 192,
        concurrency: 2,
      });
      for (const s of done) scored.get(s.line.task as EvalTask)!.push(s);
    }
    seconds.total = (performance.now() - t0) / 1000;
    for (const task of EVAL_TASKS) summary.set(task, summarizeTask(task, scored.get(task)!.map((s) => s.tally)));
    console.log(JSON.stringify({ mini_reasoner_ci_eval: Object.fromEntries(summary), seconds: seconds.total }));
  });

  test(`${SUBSET.samples} samples per task, every one from a fresh held-out seed`, () => {
    for (const task of EVAL_TASKS) {
      const n = scored.get(task)?.length ?? 0;
      assert.equal(n, SUBSET.samples, `${task}: ${n} samples`);
    }
    for (const seed of seeds) {
      assert.equal(splitOfSeed(seed), "eval", `seed ${seed} is held out`);
      assert.ok(seed >= SEED_SPLITS.eval.from + SUBSET.offset, `seed ${seed} is not one of the benchmark's`);
    }
  });

  test(`caption: colour+shape set right ≥ ${THRESHOLDS.captionAccuracy} (target 0.90)`, () => {
    const acc = summary.get("caption")!.colour_shape_accuracy;
    assert.ok(
      acc >= THRESHOLDS.captionAccuracy,
      `accuracy ${acc}; misses:\n${misses("caption", (s) => !s.tally.right)}`,
    );
  });

  test(`grounding: mean IoU ≥ ${THRESHOLDS.groundingMeanIou} (target 0.7)`, () => {
    const m = summary.get("grounding_2d")!.mean_iou;
    assert.ok(
      m >= THRESHOLDS.groundingMeanIou,
      `mean IoU ${m}; below 0.5:\n${misses("grounding_2d", (s) => s.tally.sum < 0.5)}`,
    );
  });

  test(`temporal localization: mean absolute error ≤ ${THRESHOLDS.temporalMaeSeconds} s (target 0.5 s)`, () => {
    const mae = summary.get("temporal_localization")!.mean_abs_error_s;
    assert.ok(
      mae <= THRESHOLDS.temporalMaeSeconds,
      `MAE ${mae} s; off by > 0.5 s:\n${misses("temporal_localization", (s) => s.tally.sum > 0.5 * s.tally.events)}`,
    );
  });

  test(`physical plausibility: accuracy ≥ ${THRESHOLDS.plausibilityAccuracy}`, () => {
    const acc = summary.get("physical_plausibility")!.accuracy;
    assert.ok(
      acc >= THRESHOLDS.plausibilityAccuracy,
      `accuracy ${acc}; misses:\n${misses("physical_plausibility", (s) => !s.tally.right)}`,
    );
  });

  test("action waypoints and describe-anything: scored and reported (no target)", () => {
    for (const task of ["action_cot", "describe_anything"] as const) {
      assert.equal(summary.get(task)?.samples, SUBSET.samples, `${task} ran`);
    }
  });
});
