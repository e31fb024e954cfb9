/**
 * The world's physics, kinematic and simple: the gripper follows its action chunk (one row per
 * frame transition), a closing gripper around an object picks it up, an opened one lets it go
 * (it falls under gravity onto the table), the fingers and objects push what they touch
 * (discs seen from above, no overlap left), and nothing else moves. The result is a state trace:
 * one state per frame, from which the renderer draws and the events are read.
 *
 * Scenarios (`pick_place`, `push`, `drop`) turn a scene into an action chunk; the chunk alone
 * drives the simulation, so a chunk from elsewhere (a policy's prediction) can be simulated too.
 *
 * @example
 * ```ts
 * import { makeScene } from "./scene.ts";
 * import { planScenario, simulate } from "./sim.ts";
 * const scene = makeScene(3);
 * const plan = planScenario(scene, { frames: 17, fps: 8 });
 * const trace = simulate(scene, plan.actions, { fps: 8 });
 * trace.frames.length; // 17
 * ```
 * @module
 */
import { z } from "zod";
import { ValidationError } from "../errors.ts";
import {
  actionRow,
  FINGER_HALF,
  FINGER_LENGTH,
  fingerCenters,
  fingerGap,
  type GripperPose,
  poseOfRow,
} from "./gripper.ts";
import { Prng, subSeed } from "./prng.ts";
import { freeSpot, PLACE_AREA, reach, type Scene, type WorldObject } from "./scene.ts";
import type { Vec3 } from "./geometry.ts";

const Num3 = z.tuple([z.number(), z.number(), z.number()]);

export const ObjectState = z.object({
  /** Footprint centre and bottom z (m). */
  pos: Num3,
  held: z.boolean(),
  /** Touched by a finger or another object during the transition into this frame. */
  contact: z.boolean(),
});
export type ObjectState = z.infer<typeof ObjectState>;

export const FrameState = z.object({
  /** Seconds from the clip's start. */
  t: z.number(),
  /** The gripper: TCP, yaw, opening (1 open … 0 closed, as the action row's last column) and finger gap (m). */
  gripper: z.object({ pos: Num3, yaw: z.number(), open: z.number(), gap: z.number() }),
  objects: z.array(ObjectState),
});
export type FrameState = z.infer<typeof FrameState>;

export const Trace = z.object({ fps: z.number().positive(), frames: z.array(FrameState).min(1) });
export type Trace = z.infer<typeof Trace>;

export const ScenarioKind = z.enum(["pick_place", "push", "drop"]);
export type ScenarioKind = z.infer<typeof ScenarioKind>;

export const Direction = z.enum(["left", "right", "away", "towards"]);
export type Direction = z.infer<typeof Direction>;

/** Unit vectors of the directions in the world frame (the camera looks along +y). */
export const DIRECTIONS: Readonly<Record<Direction, readonly [number, number]>> = Object.freeze({
  left: [-1, 0],
  right: [1, 0],
  away: [0, 1],
  towards: [0, -1],
});

/** Words for a direction, as prompts and captions say it. */
export const DIRECTION_WORDS: Readonly<Record<Direction, string>> = Object.freeze({
  left: "to the left",
  right: "to the right",
  away: "away from the camera",
  towards: "towards the camera",
});

/** What the arm is asked to do in a clip. */
export const Scenario = z.object({
  kind: ScenarioKind,
  /** The object acted on. */
  target: z.number().int().min(0),
  /** Push: the direction; pick-and-place and drop: where the object goes, seen from the start. */
  direction: Direction,
  /** The instruction, as a policy prompt would say it. */
  instruction: z.string(),
});
export type Scenario = z.infer<typeof Scenario>;

/** Gravity (m/s²). */
const G = 9.81;
/** Simulation steps per frame transition (contacts are resolved at each). */
const SUBSTEPS = 8;

const smooth = (u: number) => u * u * (3 - 2 * u);
const lerp = (a: number, b: number, u: number) => a + (b - a) * u;

/** A keyframe of the arm: time as a fraction of the clip, pose. */
type Key = [number, GripperPose];

function samplePath(keys: readonly Key[], u: number): GripperPose {
  let i = 0;
  while (i < keys.length - 2 && u > keys[i + 1][0]) i++;
  const [u0, a] = keys[i];
  const [u1, b] = keys[i + 1];
  const s = smooth(Math.max(0, Math.min(1, (u - u0) / (u1 - u0))));
  return {
    pos: [lerp(a.pos[0], b.pos[0], s), lerp(a.pos[1], b.pos[1], s), lerp(a.pos[2], b.pos[2], s)],
    yaw: lerp(a.yaw, b.yaw, s),
    open: lerp(a.open, b.open, s),
  };
}

/** Clip timing: frame count and frame rate. */
export interface ClipTiming {
  frames: number;
  fps: number;
}

/** Options of {@link planScenario}. */
export interface PlanOptions extends ClipTiming {
  /** Which scenario (default: from the scene's seed). */
  kind?: ScenarioKind;
  /** Which object (default: from the seed). */
  target?: number;
}

/** A planned clip: the scenario and its action chunk (frames − 1 rows of 10). */
export interface Plan {
  scenario: Scenario;
  actions: number[][];
}

/** A keyframe pose; `open`: 1 open … 0 closed. */
function pose(x: number, y: number, z: number, yaw: number, open: number): GripperPose {
  return { pos: [x, y, z], yaw, open };
}

function dirOf(dx: number, dy: number): Direction {
  return Math.abs(dx) >= Math.abs(dy) ? (dx < 0 ? "left" : "right") : (dy > 0 ? "away" : "towards");
}

/** Push: the paddle (closed fingers, across the push) starts behind the object and moves it `dist`. */
function pushKeys(scene: Scene, o: WorldObject, dir: Direction, dist: number): Key[] {
  const [dx, dy] = DIRECTIONS[dir];
  const yaw = Math.atan2(dy, dx) + Math.PI / 2;
  const back = o.radius + FINGER_HALF + 0.03;
  const sx = o.start[0] - dx * back;
  const sy = o.start[1] - dy * back;
  const low = 0.012;
  const h = scene.home;
  return [
    [0, pose(h[0], h[1], h[2], 0, 1)],
    [0.25, pose(sx, sy, o.height + 0.06, yaw, 0)],
    [0.38, pose(sx, sy, low, yaw, 0)],
    [0.72, pose(sx + dx * (dist + 0.03), sy + dy * (dist + 0.03), low, yaw, 0)],
    [0.86, pose(sx + dx * (dist + 0.03), sy + dy * (dist + 0.03), o.height + 0.08, yaw, 0)],
    [1, pose(sx + dx * (dist + 0.03), sy + dy * (dist + 0.03), o.height + 0.08, yaw, 0)],
  ];
}

/** Pick and place (or drop from `dropZ` when given): grasp at half height, carry, put down. */
function pickKeys(scene: Scene, o: WorldObject, dest: { x: number; y: number }, dropZ?: number): Key[] {
  const [x, y] = o.start;
  const grasp = o.height / 2;
  const carry = Math.max(0.2, o.height + 0.12);
  const h = scene.home;
  const yaw = o.yaw;
  if (dropZ !== undefined) {
    return [
      [0, pose(h[0], h[1], h[2], 0, 1)],
      [0.2, pose(x, y, o.height + 0.07, yaw, 1)],
      [0.3, pose(x, y, grasp, yaw, 1)],
      [0.38, pose(x, y, grasp, yaw, 0)],
      [0.52, pose(x, y, dropZ + grasp, yaw, 0)],
      [0.64, pose(dest.x, dest.y, dropZ + grasp, yaw, 0)],
      [0.68, pose(dest.x, dest.y, dropZ + grasp, yaw, 1)],
      [1, pose(dest.x, dest.y, dropZ + grasp + 0.04, yaw, 1)],
    ];
  }
  return [
    [0, pose(h[0], h[1], h[2], 0, 1)],
    [0.18, pose(x, y, o.height + 0.07, yaw, 1)],
    [0.28, pose(x, y, grasp, yaw, 1)],
    [0.36, pose(x, y, grasp, yaw, 0)],
    [0.48, pose(x, y, carry, yaw, 0)],
    [0.66, pose(dest.x, dest.y, carry, yaw, 0)],
    [0.78, pose(dest.x, dest.y, grasp, yaw, 0)],
    [0.85, pose(dest.x, dest.y, grasp, yaw, 1)],
    [1, pose(dest.x, dest.y, o.height + 0.08, yaw, 1)],
  ];
}

/** Does a straight sweep of `o` from its start by `dist` along `dir` stay clear of the others and on the table? */
function clearPath(scene: Scene, o: WorldObject, dir: Direction, dist: number): boolean {
  const [dx, dy] = DIRECTIONS[dir];
  for (let s = 0; s <= 1.0001; s += 0.1) {
    const x = o.start[0] + dx * dist * s;
    const y = o.start[1] + dy * dist * s;
    if (
      x < PLACE_AREA.x[0] - 0.08 || x > PLACE_AREA.x[1] + 0.08 || y < PLACE_AREA.y[0] - 0.06 ||
      y > PLACE_AREA.y[1] + 0.08
    ) return false;
    for (const p of scene.objects) {
      if (p.id !== o.id && Math.hypot(p.start[0] - x, p.start[1] - y) < reach(p) + reach(o) + 0.04) return false;
    }
  }
  // the paddle behind the object must not start inside another object either
  const bx = o.start[0] - dx * (o.radius + 0.05);
  const by = o.start[1] - dy * (o.radius + 0.05);
  return scene.objects.every((p) => p.id === o.id || Math.hypot(p.start[0] - bx, p.start[1] - by) > reach(p) + 0.03);
}

/**
 * Plans a clip: picks a scenario, a target and a destination from the scene's seed (each
 * overridable) and samples the arm's path at every frame after the first into an action chunk.
 */
export function planScenario(scene: Scene, opts: PlanOptions): Plan {
  const rng = new Prng(subSeed(scene.seed, "scenario"));
  const order = opts.target !== undefined ? [opts.target] : rng.shuffle(scene.objects.map((o) => o.id));
  const kinds = opts.kind ? [opts.kind] : rng.shuffle(ScenarioKind.options);
  for (const kind of kinds) {
    for (const id of order) {
      const o = scene.objects[id];
      let keys: Key[] | undefined;
      let direction: Direction = "left";
      if (kind === "push") {
        const dist = rng.range(0.1, 0.18);
        const dir = rng.shuffle(Direction.options).find((d) => clearPath(scene, o, d, dist));
        if (!dir) continue;
        direction = dir;
        keys = pushKeys(scene, o, dir, dist);
      } else {
        const others = scene.objects.filter((p) => p.id !== o.id).map((p) => ({
          x: p.start[0],
          y: p.start[1],
          r: reach(p) + 0.03,
        }));
        const dest = freeSpot(rng, reach(o), [...others, { x: o.start[0], y: o.start[1], r: 0.08 }]);
        if (!dest) continue;
        direction = dirOf(dest.x - o.start[0], dest.y - o.start[1]);
        keys = pickKeys(scene, o, dest, kind === "drop" ? rng.range(0.1, 0.16) : undefined);
      }
      const instruction = kind === "push"
        ? `Push the ${o.label} ${DIRECTION_WORDS[direction]}.`
        : kind === "drop"
        ? `Pick up the ${o.label} and drop it onto the table.`
        : `Pick up the ${o.label} and put it down ${
          direction === "away"
            ? "further from the camera"
            : direction === "towards"
            ? "closer to the camera"
            : DIRECTION_WORDS[direction]
        }.`;
      const actions = Array.from(
        { length: opts.frames - 1 },
        (_, i) => actionRow(samplePath(keys!, (i + 1) / (opts.frames - 1))),
      );
      return { scenario: { kind, target: id, direction, instruction }, actions };
    }
  }
  // Rare: a crowded table (5–6 objects) with no free spot to put the object down or push it to.
  const asked = opts.kind ?? "any scenario";
  throw new ValidationError([{
    field: opts.kind ? "options.scenario" : "options.objects",
    value: opts.kind ?? scene.objects.length,
    allowed: "another scenario, fewer objects or another seed",
    message: `seed ${scene.seed}: ${asked} has no free path or spot on a table with ${scene.objects.length} objects`,
  }]);
}

/** Options of {@link simulate}. */
export interface SimulateOptions {
  fps: number;
  /** Objects whose contacts are switched off (an implausible pass-through). */
  ghosts?: readonly number[];
}

/**
 * Runs the world from the scene's start under an action chunk: frame 0 is the start (the
 * gripper at home, open), frame k + 1 has the gripper at row k.
 */
export function simulate(scene: Scene, actions: readonly (readonly number[])[], opts: SimulateOptions): Trace {
  const ghosts = new Set(opts.ghosts ?? []);
  const objs = scene.objects.map((o) => ({
    o,
    pos: [...o.start] as [number, number, number],
    vz: 0,
    held: false,
    offset: [0, 0, 0] as Vec3,
    contact: false,
  }));
  let g: GripperPose = { pos: scene.home, yaw: 0, open: 1 };
  const dt = 1 / opts.fps / SUBSTEPS;
  const heldRadius = () => objs.find((s) => s.held)?.o.radius;
  const snapshot = (t: number) => ({
    t,
    gripper: {
      pos: [...g.pos] as [number, number, number],
      yaw: g.yaw,
      open: g.open,
      gap: fingerGap(g.open, heldRadius()),
    },
    objects: objs.map((s) => ({ pos: [...s.pos] as [number, number, number], held: s.held, contact: s.contact })),
  });
  const frames: FrameState[] = [snapshot(0)];
  for (let k = 0; k < actions.length; k++) {
    const from = g;
    const to = poseOfRow(actions[k]);
    for (const s of objs) s.contact = false;
    for (let sub = 1; sub <= SUBSTEPS; sub++) {
      const u = sub / SUBSTEPS;
      g = {
        pos: [lerp(from.pos[0], to.pos[0], u), lerp(from.pos[1], to.pos[1], u), lerp(from.pos[2], to.pos[2], u)],
        yaw: lerp(from.yaw, to.yaw, u),
        open: lerp(from.open, to.open, u),
      };
      const holding = objs.find((s) => s.held);
      // release: the fingers open past the object
      if (holding && g.open > 0.5 && fingerGap(g.open) > 2 * holding.o.radius) {
        holding.held = false;
        holding.vz = 0;
      }
      // grasp: closing fingers reach an object centred between them (only while closing: a closed
      // gripper sweeping through an object does not pick it up)
      if (!objs.some((s) => s.held)) {
        for (const s of objs) {
          const centred = Math.hypot(s.pos[0] - g.pos[0], s.pos[1] - g.pos[1]) < 0.02;
          const inside = g.pos[2] >= s.pos[2] && g.pos[2] <= s.pos[2] + s.o.height;
          if (centred && inside && g.open < 1 && fingerGap(g.open) <= 2 * s.o.radius && to.open < from.open) {
            s.held = true;
            s.offset = [s.pos[0] - g.pos[0], s.pos[1] - g.pos[1], s.pos[2] - g.pos[2]];
            break;
          }
        }
      }
      for (const s of objs) {
        if (s.held) {
          // the table holds it up (action rows are rounded to 1e-5 m: a put-down may aim a hair low)
          s.pos = [g.pos[0] + s.offset[0], g.pos[1] + s.offset[1], Math.max(0, g.pos[2] + s.offset[2])];
        } else if (s.pos[2] > 0) {
          s.vz -= G * dt;
          s.pos[2] = Math.max(0, s.pos[2] + s.vz * dt);
          if (s.pos[2] === 0) s.vz = 0;
        }
      }
      // contacts: fingers push free objects they overlap, then objects push each other
      const gap = fingerGap(g.open, heldRadius());
      for (const [fx, fy] of fingerCenters(g, gap)) {
        for (const s of objs) {
          if (s.held || ghosts.has(s.o.id)) continue;
          if (g.pos[2] >= s.pos[2] + s.o.height || g.pos[2] + FINGER_LENGTH <= s.pos[2]) continue;
          if (separate(s.pos, fx, fy, s.o.radius + FINGER_HALF)) s.contact = true;
        }
      }
      for (let round = 0; round < 3; round++) {
        for (const a of objs) {
          for (const b of objs) {
            if (a === b || b.held || ghosts.has(b.o.id) || ghosts.has(a.o.id)) continue;
            if (a.pos[2] >= b.pos[2] + b.o.height || b.pos[2] >= a.pos[2] + a.o.height) continue;
            // the one touched (or held) stays, the other gives way
            if (!(a.contact || a.held) || b.contact && !a.held) continue;
            if (separate(b.pos, a.pos[0], a.pos[1], a.o.radius + b.o.radius)) b.contact = true;
          }
        }
      }
    }
    frames.push(snapshot((k + 1) / opts.fps));
  }
  return { fps: opts.fps, frames };
}

/** Moves `pos` straight away from (x, y) until `minDist` apart; true when it moved. */
function separate(pos: [number, number, number], x: number, y: number, minDist: number): boolean {
  const dx = pos[0] - x;
  const dy = pos[1] - y;
  const d = Math.hypot(dx, dy);
  if (d >= minDist) return false;
  const ux = d > 1e-9 ? dx / d : 1;
  const uy = d > 1e-9 ? dy / d : 0;
  pos[0] = x + ux * minDist;
  pos[1] = y + uy * minDist;
  return true;
}
