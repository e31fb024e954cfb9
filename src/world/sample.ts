/**
 * One world sample from one seed: the scene, the arm's scenario and action chunk, the simulated
 * state trace (made implausible on purpose when asked), its events and its plausibility label.
 * {@link renderClip} draws it at any size with the boxes of every object in every frame.
 *
 * @example
 * ```ts
 * import { makeSample, renderClip, gridBox } from "./sample.ts";
 * const sample = makeSample(42, { frames: 17, fps: 8 });
 * sample.plausibility.label; // "plausible"
 * const clip = renderClip(sample, { width: 320, height: 192 });
 * clip.frames.length; // 17
 * const box = clip.views[0][0].box; // pixels of object 0 in frame 0
 * if (box) gridBox(box, { width: 320, height: 192 }); // the same box on the Qwen3-VL 0–1000 grid
 * ```
 * @module
 */
import { z } from "zod";
import { ValidationError } from "../errors.ts";
import { eventsOf, type WorldEvent } from "./events.ts";
import { type Anomaly, AnomalyKind, findViolations, injectAnomaly, type Violation } from "./plausibility.ts";
import { Prng, subSeed } from "./prng.ts";
import { cameraForFrame, type ObjectView, renderFrame, type Size } from "./render.ts";
import type { RgbBuffer } from "./raster.ts";
import { makeScene, type Scene } from "./scene.ts";
import { splitOfSeed } from "./seeds.ts";
import { planScenario, type Scenario, ScenarioKind, simulate, type Trace } from "./sim.ts";

/** The smallest Generator tier, 256p 16:9 (the mini models' size). */
export const SMALL: Readonly<Size> = Object.freeze({ width: 320, height: 192 });
/** The cookbooks' conditioning size, 480p 16:9. */
export const COOKBOOK: Readonly<Size> = Object.freeze({ width: 832, height: 480 });

/** Options of {@link makeSample}. */
export const SampleOptions = z.object({
  /** Frames in the clip (2–300; 17 for the mini Generator, one action per transition). */
  frames: z.number().int().min(2).max(300).default(17),
  /** Frames per second (the clip lasts (frames − 1) / fps seconds). */
  fps: z.number().positive().max(60).default(8),
  /** The scenario (default: from the seed). */
  scenario: ScenarioKind.optional(),
  /** Objects on the table (default 2–4 from the seed). */
  objects: z.number().int().min(1).max(6).optional(),
  /** Camera orbit during the clip (default: from the seed, a third move). */
  movingCamera: z.boolean().optional(),
  /** Two objects of one colour (makeScene's `repeatColor`; default false). */
  repeatColor: z.boolean().optional(),
  /**
   * `"none"`: plausible; an anomaly kind: that anomaly (falls back to another kind when the clip
   * has no clean variant of it, e.g. a pass-through needs a push); `"auto"`: implausible with
   * probability `implausibleShare`, the kind from the seed.
   */
  anomaly: z.union([z.literal("none"), z.literal("auto"), AnomalyKind]).default("none"),
  implausibleShare: z.number().min(0).max(1).default(0.5),
}).strict();
export type SampleOptions = z.input<typeof SampleOptions>;

export interface Plausibility {
  label: "plausible" | "implausible";
  /** What was done to make it implausible. */
  anomaly?: Anomaly;
  /** What {@link findViolations} finds in the trace (empty when plausible). */
  violations: Violation[];
}

export interface WorldSample {
  seed: number;
  /** The seed's split ("train" / "eval"), or undefined for a seed outside both. */
  split: "train" | "eval" | undefined;
  fps: number;
  frames: number;
  /** (frames − 1) / fps. */
  seconds: number;
  scene: Scene;
  scenario: Scenario;
  /** Single-arm 10D chunk (EMBODIMENTS.droid): frames − 1 rows, row k commands frame k + 1. */
  actions: number[][];
  trace: Trace;
  events: WorldEvent[];
  plausibility: Plausibility;
}

/**
 * Makes the sample of a seed. Same seed and options, same sample (and same pixels).
 * @throws {ValidationError} for bad options (naming the option).
 */
export function makeSample(seed: number, options: SampleOptions = {}): WorldSample {
  if (!Number.isInteger(seed) || seed < 0 || seed > 0xffffffff) {
    throw new ValidationError([{
      field: "seed",
      value: seed,
      allowed: "an integer in 0..4294967295",
      message: "not a seed",
    }]);
  }
  const parsed = SampleOptions.safeParse(options);
  if (!parsed.success) {
    throw new ValidationError(parsed.error.issues.map((i) => ({
      field: `options.${i.path.join(".")}`,
      value: i.path.reduce<unknown>((v, k) => (v as Record<string, unknown> | undefined)?.[k as string], options),
      allowed: "see SampleOptions in src/world/sample.ts",
      message: i.message,
    })));
  }
  const o = parsed.data;
  const scene = makeScene(seed, { objects: o.objects, movingCamera: o.movingCamera, repeatColor: o.repeatColor });
  const plan = planScenario(scene, { frames: o.frames, fps: o.fps, kind: o.scenario });
  let trace = simulate(scene, plan.actions, { fps: o.fps });
  const rng = new Prng(subSeed(seed, "plausibility"));
  // Only a push can pass through its object: "auto" draws among the kinds this clip can show,
  // and falls back in a random order, so that no kind dominates the implausible share.
  const possible = AnomalyKind.options.filter((k) => k !== "pass_through" || plan.scenario.kind === "push");
  let wanted: AnomalyKind | undefined;
  if (o.anomaly === "auto") wanted = rng.chance(o.implausibleShare) ? rng.pick(possible) : undefined;
  else if (o.anomaly !== "none") wanted = o.anomaly;
  let anomaly: Anomaly | undefined;
  if (wanted) {
    for (const kind of [wanted, ...rng.shuffle(possible.filter((k) => k !== wanted))]) {
      const made = injectAnomaly(scene, plan, trace, kind, seed);
      if (made) {
        trace = made.trace;
        anomaly = made.anomaly;
        break;
      }
    }
  }
  const violations = findViolations(scene, trace);
  return {
    seed,
    split: splitOfSeed(seed),
    fps: o.fps,
    frames: o.frames,
    seconds: (o.frames - 1) / o.fps,
    scene,
    scenario: plan.scenario,
    actions: plan.actions,
    trace,
    events: eventsOf(scene, trace),
    plausibility: { label: anomaly ? "implausible" : "plausible", ...(anomaly ? { anomaly } : {}), violations },
  };
}

/** A rendered clip: frames and, per frame, what each object looks like and where the gripper is. */
export interface RenderedClip {
  size: Size;
  frames: RgbBuffer[];
  views: ObjectView[][];
  gripper: { u: number; v: number }[];
}

/** Largest side rendered (px): 720p's long side and then some. */
const MAX_SIDE = 4096;

/**
 * Renders every frame of a sample (or the frames listed in `only`).
 * @throws {ValidationError} for a size that is not whole pixels in 16..4096, or a frame index out of the clip.
 */
export function renderClip(sample: WorldSample, size: Size = SMALL, only?: readonly number[]): RenderedClip {
  for (const side of ["width", "height"] as const) {
    const v = size[side];
    if (!Number.isInteger(v) || v < 16 || v > MAX_SIDE) {
      throw new ValidationError([{
        field: `size.${side}`,
        value: v,
        allowed: `an integer in 16..${MAX_SIDE}`,
        message: "not a frame size",
      }]);
    }
  }
  const bad = only?.find((k) => !Number.isInteger(k) || k < 0 || k >= sample.frames);
  if (bad !== undefined) {
    throw new ValidationError([{
      field: "only",
      value: bad,
      allowed: `frame indexes 0..${sample.frames - 1}`,
      message: "no such frame",
    }]);
  }
  const ks = only ?? sample.trace.frames.map((_, k) => k);
  const out: RenderedClip = { size: { ...size }, frames: [], views: [], gripper: [] };
  for (const k of ks) {
    const r = renderFrame(sample.scene, sample.trace.frames[k], cameraForFrame(sample.scene, k, sample.frames, size));
    out.frames.push(r.image);
    out.views.push(r.objects);
    out.gripper.push(r.gripper);
  }
  return out;
}

/** A pixel box on the Qwen3-VL 0–1000 grid (rounded), as grounding answers give it. */
export function gridBox(box: readonly number[], size: Size): [number, number, number, number] {
  const g = (v: number, side: number) => Math.round((v / side) * 1000);
  return [g(box[0], size.width), g(box[1], size.height), g(box[2], size.width), g(box[3], size.height)];
}

/** A pixel point on the 0–1000 grid. */
export function gridPoint(u: number, v: number, size: Size): [number, number] {
  return [Math.round((u / size.width) * 1000), Math.round((v / size.height) * 1000)];
}
