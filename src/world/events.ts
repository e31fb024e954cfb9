/**
 * Events read off a state trace: each object's motion between consecutive frames is classed
 * (lifted, carried, lowered while held; falling, pushed, jumping, rising while free) and a run
 * of one class is one event, from the frame where the motion starts to the frame where it
 * stops (times in seconds: frame / fps).
 *
 * @example
 * ```ts
 * import { makeScene } from "./scene.ts";
 * import { planScenario, simulate } from "./sim.ts";
 * import { eventsOf } from "./events.ts";
 * const scene = makeScene(3);
 * const trace = simulate(scene, planScenario(scene, { frames: 33, fps: 8, kind: "pick_place" }).actions, { fps: 8 });
 * eventsOf(scene, trace).map((e) => e.label);
 * // ["the robot arm picks up the red cube", "the robot arm carries the red cube to the left", "the robot arm puts the red cube down"]
 * ```
 * @module
 */
import { z } from "zod";
import type { Scene } from "./scene.ts";
import { type Direction, DIRECTION_WORDS, type Trace } from "./sim.ts";

export const EventKind = z.enum(["picked_up", "carried", "put_down", "fell", "pushed", "teleported", "floated"]);
export type EventKind = z.infer<typeof EventKind>;

export const WorldEvent = z.object({
  kind: EventKind,
  object: z.number().int().min(0),
  /** Seconds: the frame where the motion starts / stops, over fps. */
  start: z.number().min(0),
  end: z.number().min(0),
  /** Frames of the start and the end. */
  startFrame: z.number().int().min(0),
  endFrame: z.number().int().min(0),
  /** Net horizontal direction of the motion (carried, pushed, teleported). */
  direction: z.enum(["left", "right", "away", "towards"]).optional(),
  /** What a caption says, e.g. "the robot arm pushes the red cube to the left". */
  label: z.string(),
});
export type WorldEvent = z.infer<typeof WorldEvent>;

/** Motion below this (m per frame) is rest. */
const STILL = 1e-4;
/** A free object moving further than this in one frame jumps (nothing in the world is that fast unheld). */
const JUMP = 0.08;

function classify(scene: Scene, trace: Trace, i: number, k: number): EventKind | undefined {
  const a = trace.frames[k].objects[i];
  const b = trace.frames[k + 1].objects[i];
  const dx = b.pos[0] - a.pos[0];
  const dy = b.pos[1] - a.pos[1];
  const dz = b.pos[2] - a.pos[2];
  const dxy = Math.hypot(dx, dy);
  if (Math.max(dxy, Math.abs(dz)) < STILL) return undefined;
  // a release mid-step: what follows is the free object's own motion (a fall, or rest)
  const held = b.held || (a.held && !(dz < -STILL && b.pos[2] > 0));
  if (held) return Math.abs(dz) >= dxy ? (dz > 0 ? "picked_up" : "put_down") : "carried";
  if (dxy > JUMP) return "teleported";
  if (dz < -STILL) return "fell";
  if (dz > STILL) return "floated";
  return b.contact ? "pushed" : "teleported";
}

function directionOf(dx: number, dy: number): Direction {
  return Math.abs(dx) >= Math.abs(dy) ? (dx < 0 ? "left" : "right") : (dy > 0 ? "away" : "towards");
}

const towards = (d: Direction) => DIRECTION_WORDS[d];

function labelOf(kind: EventKind, name: string, dir: Direction | undefined): string {
  switch (kind) {
    case "picked_up":
      return `the robot arm picks up the ${name}`;
    case "carried":
      return `the robot arm carries the ${name} ${towards(dir ?? "left")}`;
    case "put_down":
      return `the robot arm puts the ${name} down`;
    case "fell":
      return `the ${name} falls onto the table`;
    case "pushed":
      return `the ${name} slides ${towards(dir ?? "left")}`;
    case "teleported":
      return `the ${name} jumps to another spot`;
    case "floated":
      return `the ${name} rises into the air by itself`;
  }
}

/** The events of a trace, in order of start (then object). */
export function eventsOf(scene: Scene, trace: Trace): WorldEvent[] {
  const out: WorldEvent[] = [];
  const n = trace.frames.length;
  scene.objects.forEach((o, i) => {
    let run: { kind: EventKind; from: number; to: number } | undefined;
    const close = () => {
      if (!run) return;
      const p0 = trace.frames[run.from].objects[i].pos;
      const p1 = trace.frames[run.to].objects[i].pos;
      const horizontal = run.kind === "carried" || run.kind === "pushed" || run.kind === "teleported";
      const direction = horizontal ? directionOf(p1[0] - p0[0], p1[1] - p0[1]) : undefined;
      out.push({
        kind: run.kind,
        object: i,
        start: run.from / trace.fps,
        end: run.to / trace.fps,
        startFrame: run.from,
        endFrame: run.to,
        ...(direction ? { direction } : {}),
        label: labelOf(run.kind, o.label, direction),
      });
      run = undefined;
    };
    for (let k = 0; k + 1 < n; k++) {
      const kind = classify(scene, trace, i, k);
      if (kind && run && run.kind === kind && run.to === k && kind !== "teleported") run.to = k + 1;
      else {
        close();
        if (kind) run = { kind, from: k, to: k + 1 };
      }
    }
    close();
  });
  return out.sort((a, b) => a.startFrame - b.startFrame || a.object - b.object);
}
