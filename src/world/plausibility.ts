/**
 * Physical plausibility of a state trace, checked from the states alone (not from how they were
 * made): an object that jumps further in one frame than anything could have pushed it
 * (`teleport`), a free object that rises or hangs in the air (`float`), a finger or object
 * overlapping another object, or an object sinking into the table (`pass_through`).
 *
 * {@link injectAnomaly} makes implausible clips on purpose from plausible ones, and keeps only
 * variants in which this checker finds exactly the intended kind.
 *
 * @example
 * ```ts
 * import { makeScene } from "./scene.ts";
 * import { planScenario, simulate } from "./sim.ts";
 * import { findViolations } from "./plausibility.ts";
 * const scene = makeScene(5);
 * const trace = simulate(scene, planScenario(scene, { frames: 17, fps: 8 }).actions, { fps: 8 });
 * findViolations(scene, trace); // [] — the simulator is plausible
 * ```
 * @module
 */
import { z } from "zod";
import { FINGER_HALF, FINGER_LENGTH, fingerCenters } from "./gripper.ts";
import { Prng, subSeed } from "./prng.ts";
import { freeSpot, reach, type Scene } from "./scene.ts";
import { type Plan, simulate, type Trace } from "./sim.ts";

export const AnomalyKind = z.enum(["teleport", "float", "pass_through"]);
export type AnomalyKind = z.infer<typeof AnomalyKind>;

export const Violation = z.object({
  kind: AnomalyKind,
  /** The first frame showing it. */
  frame: z.number().int().min(0),
  object: z.number().int().min(0),
  detail: z.string(),
});
export type Violation = z.infer<typeof Violation>;

/** Overlap (m) tolerated before two solids count as passing through each other. */
const OVERLAP_TOLERANCE = 0.003;
/** Extra step (m) a free object may make beyond what the fastest finger or object near it made. */
const STEP_TOLERANCE = 0.02;

/**
 * Every frame where the trace breaks the world's physics, first occurrence per object and kind.
 */
export function findViolations(scene: Scene, trace: Trace): Violation[] {
  const out: Violation[] = [];
  const seen = new Set<string>();
  const report = (v: Violation) => {
    const key = `${v.kind}:${v.object}`;
    if (!seen.has(key)) {
      seen.add(key);
      out.push(v);
    }
  };
  const fr = trace.frames;
  for (let k = 0; k < fr.length; k++) {
    const f = fr[k];
    const g = f.gripper;
    const fingers = fingerCenters(g, g.gap);
    f.objects.forEach((s, i) => {
      const o = scene.objects[i];
      if (s.pos[2] < -1e-4) {
        report({ kind: "pass_through", frame: k, object: i, detail: `${o.label} is below the table top` });
      }
      if (!s.held) {
        // fingers inside a free object
        const overlapZ = g.pos[2] < s.pos[2] + o.height && g.pos[2] + FINGER_LENGTH > s.pos[2];
        for (const [fx, fy] of fingers) {
          if (overlapZ && Math.hypot(fx - s.pos[0], fy - s.pos[1]) < o.radius + FINGER_HALF - OVERLAP_TOLERANCE) {
            report({ kind: "pass_through", frame: k, object: i, detail: `a finger is inside the ${o.label}` });
          }
        }
      }
      f.objects.forEach((t, j) => {
        if (j <= i) return;
        const p = scene.objects[j];
        const overlapZ = s.pos[2] < t.pos[2] + p.height && t.pos[2] < s.pos[2] + o.height;
        if (
          overlapZ && Math.hypot(s.pos[0] - t.pos[0], s.pos[1] - t.pos[1]) < o.radius + p.radius - OVERLAP_TOLERANCE
        ) {
          report({
            kind: "pass_through",
            frame: k,
            object: s.held ? j : i,
            detail: `the ${o.label} and the ${p.label} overlap`,
          });
        }
      });
      if (k === 0) return;
      const prev = fr[k - 1].objects[i];
      if (s.held || prev.held) return;
      const step = Math.hypot(s.pos[0] - prev.pos[0], s.pos[1] - prev.pos[1]);
      // only what touches the object at the end of the step can have pushed it
      const touchZ = g.pos[2] < s.pos[2] + o.height && g.pos[2] + FINGER_LENGTH > s.pos[2];
      const fingerNear = touchZ &&
        fingers.some(([fx, fy]) => Math.hypot(fx - s.pos[0], fy - s.pos[1]) < o.radius + FINGER_HALF + 0.01);
      const gstep = fingerNear
        ? Math.hypot(g.pos[0] - fr[k - 1].gripper.pos[0], g.pos[1] - fr[k - 1].gripper.pos[1])
        : 0;
      const pusherStep = Math.max(
        gstep,
        ...f.objects.map((t, j) => {
          const near = j !== i &&
            Math.hypot(t.pos[0] - s.pos[0], t.pos[1] - s.pos[1]) < o.radius + scene.objects[j].radius + 0.01;
          return near ? Math.hypot(t.pos[0] - fr[k - 1].objects[j].pos[0], t.pos[1] - fr[k - 1].objects[j].pos[1]) : 0;
        }),
      );
      if (step > pusherStep + STEP_TOLERANCE) {
        report({
          kind: "teleport",
          frame: k,
          object: i,
          detail: `the ${o.label} jumps ${(step * 100).toFixed(0)} cm in one frame`,
        });
      }
      const dz = s.pos[2] - prev.pos[2];
      if (s.pos[2] > 1e-6 && dz >= -1e-9) {
        report({
          kind: "float",
          frame: k,
          object: i,
          detail: `the ${o.label} ${dz > 1e-9 ? "rises" : "hangs"} in the air unsupported`,
        });
      }
    });
  }
  return out;
}

/** A clip made implausible on purpose, and what was done. */
export interface Anomaly {
  kind: AnomalyKind;
  object: number;
  frame: number;
}

/** Objects free (not held) in every frame from `k` on. */
function freeFrom(trace: Trace, k: number): number[] {
  const n = trace.frames[0].objects.length;
  return Array.from({ length: n }, (_, i) => i).filter((i) =>
    trace.frames.slice(Math.max(0, k - 1)).every((f) => !f.objects[i].held && !f.objects[i].contact)
  );
}

/**
 * Makes an implausible variant of a plausible clip: a teleport (a resting object jumps to
 * another spot), a float (a resting object rises by itself and hangs), or a pass-through (the
 * pushing fingers go through the object, which stays put: only for push clips). Returns the
 * edited trace, or undefined when no variant of that kind is clean (the checker must find that
 * kind and nothing else).
 */
export function injectAnomaly(
  scene: Scene,
  plan: Plan,
  trace: Trace,
  kind: AnomalyKind,
  seed: number,
): { trace: Trace; anomaly: Anomaly } | undefined {
  const rng = new Prng(subSeed(seed, `anomaly:${kind}`));
  const n = trace.frames.length;
  for (let attempt = 0; attempt < 12; attempt++) {
    let edited: Trace;
    let anomaly: Anomaly;
    if (kind === "pass_through") {
      if (plan.scenario.kind !== "push") return undefined;
      edited = simulate(scene, plan.actions, { fps: trace.fps, ghosts: [plan.scenario.target] });
      const v = findViolations(scene, edited).find((x) => x.kind === "pass_through");
      if (!v) return undefined;
      anomaly = { kind, object: plan.scenario.target, frame: v.frame };
    } else {
      const k = rng.int(Math.max(2, Math.floor(n * 0.25)), Math.max(2, Math.floor(n * 0.7)));
      const candidates = freeFrom(trace, k);
      if (!candidates.length) return undefined;
      const i = rng.pick(candidates);
      const o = scene.objects[i];
      edited = structuredClone(trace);
      if (kind === "teleport") {
        const others = scene.objects.filter((p) => p.id !== i).map((p) => {
          const at = trace.frames[n - 1].objects[p.id].pos;
          return { x: at[0], y: at[1], r: reach(p) + 0.02 };
        });
        const start = trace.frames[k].objects[i].pos;
        const spot = freeSpot(rng, reach(o), [...others, { x: start[0], y: start[1], r: 0.14 }]);
        if (!spot) continue;
        for (let f = k; f < n; f++) edited.frames[f].objects[i].pos = [spot.x, spot.y, start[2]];
      } else {
        const top = rng.range(0.06, 0.12);
        const rise = rng.int(2, 4);
        for (let f = k; f < n; f++) {
          const u = Math.min(1, (f - k + 1) / rise);
          edited.frames[f].objects[i].pos[2] = trace.frames[f].objects[i].pos[2] + top * u;
        }
      }
      anomaly = { kind, object: i, frame: k };
    }
    const found = findViolations(scene, edited);
    if (found.length && found.every((v) => v.kind === kind)) return { trace: edited, anomaly };
    if (kind === "pass_through") return undefined;
  }
  return undefined;
}
