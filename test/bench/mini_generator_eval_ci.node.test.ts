// The mini Generator's held-out evaluation in CI (issue 16: "the evaluation runs in CI on a subset"): the
// committed checkpoint (MINI_CHECKPOINTS.generate) through our own native engine on the CPU, scored by
// bench/mini_generator_eval.ts's checkers on fresh held-out seeds of the procedural world (eval offset 50,000:
// none of the benchmark's seeds, none of the cookbooks' assets, never a training seed).
//
// What is asserted is what the committed weights do (checkpoints/mini-generator/README.md), a margin away:
// inverse dynamics reads the arm's chunk from the clip, the policy's chunk is well inside the mean training
// chunk's error, both get the gripper schedule right, and forward dynamics follows the chunk (its path well below
// the first frame held still), and text-to-video follows the prompt (issue 16: ≥ 80%; these weights: 82% of 200
// fresh held-out prompts that say where each object stands, with the checkpoint's recipe and its first-frame check;
// the prompts here say so too, as the checkpoint's cosmos-ts.json `prompt_places` asks).
//
// Node only (*.node.test.ts): about 4-6 minutes of CPU on 2 cores; a second run on Deno would add no check.
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
  evalVaeCeiling,
  type FdynRow,
  summarizeChunks,
  summarizeFdyn,
  summarizeT2v,
  summarizeVae,
  type T2vRow,
  type VaeRow,
} from "../../bench/mini_generator_eval.ts";
import { MINI_CHECKPOINTS } from "../../kernel/calls.ts";
import { readCheckpointNotes } from "../../src/native/mod.ts";
import { SEED_SPLITS, splitOfSeed } from "../../src/world/mod.ts";

const repo = resolve(dirname(fileURLToPath(import.meta.url)), "..", "..");

/**
 * The subset: eval seeds from offset 50,000; 20 text-to-video samples (seeds with a push), 10 of each action mode,
 * and the VAE's ceiling on the first 8 of the pushes.
 */
const SUBSET = { offset: 50_000, t2v: 20, actions: 10, vae: 8 } as const;

/**
 * Asserted figures. Held out (checkpoints/mini-generator/README.md: session 41's run41c transformer at patch 1,
 * session 33's VAE decoder): text-to-video 82% of 200 fresh prompts with places, the two-pass recipe and its
 * first-frame check (cosmos-ts.json text_to_video, first_frame_check with 5 candidates, prompt_places), forward
 * dynamics path 0.022 (the first 60), policy 0.081 m / 0.004, inverse dynamics 0.021 m / 0.005 (the first frame held
 * still: 0.212; the mean chunk: 0.200 m / 0.25). Measured on this subset (2026-12-04, these weights, session 42):
 * text-to-video 17/20 (17.9 s a call; the weights before, run29b, with plain prompts: 18/20), forward dynamics 0.037
 * (still 0.236; 9 of 10 within 0.1), policy 0.047 m / 0.004 (the mean chunk 0.186 m / 0.273), inverse dynamics
 * 0.021 m / 0.005, and the VAE's ceiling (the true clips through the VAE alone, `evalVaeCeiling`) 8 of 8 following,
 * every true clip 8 of 8 (59 of the first 60 held out); 8 min 56 s wall alone. Fixed seeds on the CPU repeat
 * exactly; the margins are for engine changes (text-to-video: 15 of 20, a little below the target's 16; forward
 * dynamics: the target, 0.1, plus a fifth, as its 10 clips average less evenly than the 200).
 */
const THRESHOLDS = {
  t2vMinFollowing: 15, // of 20 (measured 17 with the recipe and its check); held out 82% (the target: 80%)
  fdynMaxPathError: 0.12, // the target: 0.1
  policyMaxPositionM: 0.12, // the mean chunk: 0.19 on this subset
  idynMaxPositionM: 0.08, // issue 16: "plausible chunks"
  maxGripperError: 0.05, // policy and inverse dynamics; the mean chunk: 0.27
  vaeMinFollowing: 7, // of 8 (measured 8; 59 of the first 60 held out), every true clip following
} as const;

const checkpoint = join(repo, MINI_CHECKPOINTS.generate);
/** The checkpoint's cosmos-ts.json: its prompts say where each object stands (prompt_places), its candidates. */
const notes = await readCheckpointNotes(checkpoint);
const candidates = notes.firstFrameCheck?.candidates ?? 1;
const settings: EvalSettings = {
  backend: checkpoint,
  layout: notes.promptPlaces,
  steps: 30,
  guidance: 4,
  out: mkdtempSync(join(tmpdir(), "cosmos-minigenerator-ci-")),
};
after(() => rmSync(settings.out, { recursive: true, force: true }));

let t2v: T2vRow[] = [];
let fdyn: FdynRow[] = [];
let policy: ChunkRow[] = [];
let idyn: ChunkRow[] = [];
let vae: VaeRow[] = [];

describe("mini Generator, held-out subset through the native engine (CPU)", { timeout: 1_500_000 }, () => {
  before(async () => {
    t2v = await evalT2v(SUBSET.t2v, SUBSET.offset, settings);
    fdyn = await evalFdyn(SUBSET.actions, SUBSET.offset, settings);
    policy = await evalChunks("policy", SUBSET.actions, SUBSET.offset, settings);
    idyn = await evalChunks("idyn", SUBSET.actions, SUBSET.offset, settings);
    vae = await evalVaeCeiling(SUBSET.vae, SUBSET.offset, settings);
    console.log(JSON.stringify({
      mini_generator_ci_eval: {
        t2v: summarizeT2v(t2v),
        fdyn: summarizeFdyn(fdyn),
        policy: summarizeChunks(policy),
        idyn: summarizeChunks(idyn),
        vae: summarizeVae(vae),
      },
    }));
  });

  test("the subset is held out: eval seeds from offset 50,000", () => {
    for (const r of [...t2v, ...fdyn, ...policy, ...idyn, ...vae]) {
      assert.equal(splitOfSeed(r.seed), "eval", `seed ${r.seed}`);
      assert.ok(r.seed >= SEED_SPLITS.eval.from + SUBSET.offset, `seed ${r.seed} is not one of the subset's`);
    }
  });

  test(`text-to-video: at least ${THRESHOLDS.t2vMinFollowing} of 20 prompts followed (held out: 82% of 200, the target 80%)`, () => {
    assert.equal(t2v.length, SUBSET.t2v);
    for (const r of t2v) {
      assert.match(r.target, /^the \w+ \w+ slides /, `seed ${r.seed}`);
      assert.equal(r.recipe, "first_frame_anchored", "the checkpoint's recipe (cosmos-ts.json text_to_video)");
      assert.equal(
        r.layout,
        notes.promptPlaces ? true : undefined,
        "prompts with places when the checkpoint reads them",
      );
      // the checkpoint's first-frame check (cosmos-ts.json first_frame_check, the mini Reasoner, its candidates): a
      // kept frame has the pushed object's colour located exactly once; when no candidate passed, the first is kept
      const f = r.firstFrame;
      assert.ok(f, `seed ${r.seed}: no first-frame check`);
      assert.ok(f.candidates >= 1 && f.candidates <= candidates, `seed ${r.seed}: ${f.candidates} candidates`);
      const color = r.target.split(" ")[1];
      if (f.accepted) {
        assert.equal(f.chosen, f.candidates - 1, `seed ${r.seed}: the check stops at the first kept frame`);
        assert.equal(f.located.filter((l) => l.startsWith(`${color} `)).length, 1, `seed ${r.seed}: ${f.located}`);
      } else {
        assert.deepEqual([f.chosen, f.candidates], [0, candidates], `seed ${r.seed}: none passed, the first kept`);
      }
    }
    const following = t2v.filter((r) => r.ok).length;
    assert.ok(following >= THRESHOLDS.t2vMinFollowing, `${following} of ${t2v.length} follow the prompt`);
  });

  test(`forward dynamics: the gripper's path error ≤ ${THRESHOLDS.fdynMaxPathError} of the width, below the first frame held still`, () => {
    const s = summarizeFdyn(fdyn);
    assert.equal(s.samples, SUBSET.actions);
    assert.ok(
      s.meanPathError <= THRESHOLDS.fdynMaxPathError && s.meanPathError < s.stillFrameBaseline,
      `path error ${s.meanPathError.toFixed(3)} vs ${s.stillFrameBaseline.toFixed(3)} for the still first frame`,
    );
  });

  test(`policy: TCP error ≤ ${THRESHOLDS.policyMaxPositionM} m, below the mean training chunk's; gripper error ≤ ${THRESHOLDS.maxGripperError}`, () => {
    const s = summarizeChunks(policy);
    assert.equal(s.samples, SUBSET.actions);
    assert.ok(
      s.positionErrorM <= THRESHOLDS.policyMaxPositionM && s.positionErrorM < s.baselinePositionErrorM,
      `TCP ${s.positionErrorM.toFixed(3)} m vs ${s.baselinePositionErrorM.toFixed(3)} m for the mean chunk`,
    );
    assert.ok(s.gripperError <= THRESHOLDS.maxGripperError, `gripper ${s.gripperError.toFixed(3)}`);
  });

  test(`the VAE's ceiling: every true clip follows its prompt; after the VAE alone at least ${THRESHOLDS.vaeMinFollowing} of 8`, () => {
    assert.equal(vae.length, SUBSET.vae);
    for (const r of vae) assert.ok(r.trueOk, `seed ${r.seed}: the true clip fails the checker`);
    const following = vae.filter((r) => r.ok).length;
    assert.ok(following >= THRESHOLDS.vaeMinFollowing, `${following} of ${vae.length} follow after the VAE`);
  });

  test(`inverse dynamics: TCP error ≤ ${THRESHOLDS.idynMaxPositionM} m, gripper error ≤ ${THRESHOLDS.maxGripperError}`, () => {
    const s = summarizeChunks(idyn);
    assert.equal(s.samples, SUBSET.actions);
    assert.ok(s.positionErrorM <= THRESHOLDS.idynMaxPositionM, `TCP ${s.positionErrorM.toFixed(3)} m`);
    assert.ok(s.gripperError <= THRESHOLDS.maxGripperError, `gripper ${s.gripperError.toFixed(3)}`);
  });
});
