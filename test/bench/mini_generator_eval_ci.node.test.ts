// The mini Generator's held-out evaluation in CI (issue 16: "the evaluation runs in CI on a subset"): the
// committed checkpoint (MINI_CHECKPOINTS.generate) through our own native engine on the CPU, scored by
// bench/mini_generator_eval.ts's checkers on fresh held-out seeds of the procedural world (eval offset 50,000:
// none of the benchmark's seeds, none of the cookbooks' assets, never a training seed).
//
// What is asserted is what the committed weights do (checkpoints/mini-generator/README.md), a margin away:
// inverse dynamics reads the arm's chunk from the clip, the policy beats the mean training chunk, both get the
// gripper schedule right, and forward dynamics beats the first frame held still. Text-to-video following the
// prompt (issue 16: ≥ 80%) is NOT met by these weights (10% held out): it is measured and reported, and its
// test asserts only that every call made a 17-frame video the checker read.
//
// Node only (*.node.test.ts): about 3 minutes of CPU on 2 cores; a second run on Deno would add no check.
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { after, before, describe, test } from "node:test";
import { fileURLToPath } from "node:url";
import {
  type ChunkRow,
  evalChunks,
  evalFdyn,
  type EvalSettings,
  evalT2v,
  type FdynRow,
  summarizeChunks,
  summarizeFdyn,
  summarizeT2v,
  type T2vRow,
} from "../../bench/mini_generator_eval.ts";
import { MINI_CHECKPOINTS } from "../../kernel/calls.ts";
import { SEED_SPLITS, splitOfSeed } from "../../src/world/mod.ts";

const repo = resolve(dirname(fileURLToPath(import.meta.url)), "..", "..");

/** The subset: eval seeds from offset 50,000; 20 text-to-video samples (seeds with a push), 10 of each action mode. */
const SUBSET = { offset: 50_000, t2v: 20, actions: 10 } as const;

/**
 * Asserted figures. Held out (checkpoints/mini-generator/README.md, 10 seeds a mode): inverse dynamics 0.053 m /
 * gripper 0.010, policy 0.152 m / 0.011 (the mean chunk: 0.200 m / 0.239), forward dynamics path 0.152 (the
 * first frame held still: 0.210). Measured on this subset when the test was written (2026-11-30): text-to-video
 * 0/20, forward dynamics 0.177 (still 0.236), policy 0.139 m / 0.011 (the mean chunk 0.186 m / 0.273), inverse
 * dynamics 0.059 m / 0.010; 5 min wall, 3 min 47 s of CPU on the 2 shared cores. Fixed seeds on the CPU repeat
 * exactly; the margins are for engine changes.
 */
const THRESHOLDS = {
  idynMaxPositionM: 0.1, // issue 16: "plausible chunks"
  maxGripperError: 0.05, // policy and inverse dynamics; the mean chunk: 0.24
} as const;

const settings: EvalSettings = {
  backend: join(repo, MINI_CHECKPOINTS.generate),
  steps: 30,
  guidance: 4,
  out: mkdtempSync(join(tmpdir(), "cosmos-minigenerator-ci-")),
};
after(() => rmSync(settings.out, { recursive: true, force: true }));

let t2v: T2vRow[] = [];
let fdyn: FdynRow[] = [];
let policy: ChunkRow[] = [];
let idyn: ChunkRow[] = [];

describe("mini Generator, held-out subset through the native engine (CPU)", { timeout: 900_000 }, () => {
  before(async () => {
    t2v = await evalT2v(SUBSET.t2v, SUBSET.offset, settings);
    fdyn = await evalFdyn(SUBSET.actions, SUBSET.offset, settings);
    policy = await evalChunks("policy", SUBSET.actions, SUBSET.offset, settings);
    idyn = await evalChunks("idyn", SUBSET.actions, SUBSET.offset, settings);
    console.log(JSON.stringify({
      mini_generator_ci_eval: {
        t2v: summarizeT2v(t2v),
        fdyn: summarizeFdyn(fdyn),
        policy: summarizeChunks(policy),
        idyn: summarizeChunks(idyn),
      },
    }));
  });

  test("the subset is held out: eval seeds from offset 50,000", () => {
    for (const r of [...t2v, ...fdyn, ...policy, ...idyn]) {
      assert.equal(splitOfSeed(r.seed), "eval", `seed ${r.seed}`);
      assert.ok(r.seed >= SEED_SPLITS.eval.from + SUBSET.offset, `seed ${r.seed} is not one of the subset's`);
    }
  });

  test("text-to-video: 20 prompts, each a 17-frame video the checker read — following the prompt (target 80%) is NOT met (10% held out)", () => {
    assert.equal(t2v.length, SUBSET.t2v);
    for (const r of t2v) assert.match(r.target, /^the \w+ \w+ slides /, `seed ${r.seed}`);
  });

  test("forward dynamics: the gripper's path beats the first frame held still", () => {
    const s = summarizeFdyn(fdyn);
    assert.equal(s.samples, SUBSET.actions);
    assert.ok(
      s.meanPathError < s.stillFrameBaseline,
      `path error ${s.meanPathError.toFixed(3)} vs ${s.stillFrameBaseline.toFixed(3)} for the still first frame`,
    );
  });

  test(`policy: the chunk beats the mean training chunk; gripper error ≤ ${THRESHOLDS.maxGripperError}`, () => {
    const s = summarizeChunks(policy);
    assert.equal(s.samples, SUBSET.actions);
    assert.ok(
      s.positionErrorM < s.baselinePositionErrorM,
      `TCP ${s.positionErrorM.toFixed(3)} m vs ${s.baselinePositionErrorM.toFixed(3)} m for the mean chunk`,
    );
    assert.ok(s.gripperError <= THRESHOLDS.maxGripperError, `gripper ${s.gripperError.toFixed(3)}`);
  });

  test(`inverse dynamics: TCP error ≤ ${THRESHOLDS.idynMaxPositionM} m, gripper error ≤ ${THRESHOLDS.maxGripperError}`, () => {
    const s = summarizeChunks(idyn);
    assert.equal(s.samples, SUBSET.actions);
    assert.ok(s.positionErrorM <= THRESHOLDS.idynMaxPositionM, `TCP ${s.positionErrorM.toFixed(3)} m`);
    assert.ok(s.gripperError <= THRESHOLDS.maxGripperError, `gripper ${s.gripperError.toFixed(3)}`);
  });
});
