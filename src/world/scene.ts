/**
 * A world's layout from its seed: 2–4 objects (each a distinct colour, a shape and a size) at
 * non-overlapping spots on the table, the table and wall colours, the camera (fixed, or orbiting
 * during the clip) and the arm's home pose. With `repeatColor` two objects of different shapes share a
 * colour (Reasoner training data only: a judge of generated frames must count a colour drawn twice).
 *
 * @example
 * ```ts
 * import { makeScene } from "./scene.ts";
 * const scene = makeScene(7);
 * scene.objects.map((o) => o.label); // e.g. ["red cube", "blue ball", "green cylinder"]
 * ```
 * @module
 */
import { z } from "zod";
import { ObjectColor, ObjectShape, SCENERY } from "./palette.ts";
import { Prng, subSeed } from "./prng.ts";

const Num3 = z.tuple([z.number(), z.number(), z.number()]);

/** One object on the table. */
export const WorldObject = z.object({
  /** Index in the scene's object list. */
  id: z.number().int().min(0),
  color: ObjectColor,
  shape: ObjectShape,
  /** "red cube": colour and shape, unique in a scene (colours are, except in a `repeatColor` scene, whose two same-coloured objects differ in shape). */
  label: z.string(),
  /** Footprint radius (m): half the edge of a cube, the radius of a ball or cylinder. */
  radius: z.number().positive(),
  /** Height (m). */
  height: z.number().positive(),
  /** Rotation about z (rad); only a cube shows it. */
  yaw: z.number(),
  /** Where it starts: centre of its footprint, z of its bottom (0 on the table). */
  start: Num3,
});
export type WorldObject = z.infer<typeof WorldObject>;

/** The camera over a clip: it orbits the table centre from `fromDeg` to `toDeg` (equal: fixed). */
export const CameraPath = z.object({ fromDeg: z.number(), toDeg: z.number() });
export type CameraPath = z.infer<typeof CameraPath>;

export const Scene = z.object({
  seed: z.number().int(),
  objects: z.array(WorldObject).min(1),
  wall: Num3,
  table: Num3,
  camera: CameraPath,
  /** The gripper's resting point (TCP, m) at the start of every clip. */
  home: Num3,
});
export type Scene = z.infer<typeof Scene>;

/** Where objects may stand (m): inside the table, in front of the robot. */
export const PLACE_AREA = Object.freeze({ x: [-0.3, 0.3] as const, y: [0.14, 0.56] as const });
/** The table top (m). */
export const TABLE_AREA = Object.freeze({ x: [-0.7, 0.7] as const, y: [-0.2, 0.9] as const });

/** Smallest gap (m) between two objects' footprints when laid out. */
const GAP = 0.05;

/** Footprint radius and height of a shape of size `s` (a cube's edge, a ball's diameter). */
export function shapeDims(shape: ObjectShape, s: number): { radius: number; height: number } {
  switch (shape) {
    case "cube":
      return { radius: s / 2, height: s };
    case "ball":
      return { radius: s / 2, height: s };
    case "cylinder":
      return { radius: s * 0.42, height: s * 1.3 };
  }
}

/** The distance two footprints need to look apart: a cube's corners reach √2 × its half edge. */
export function reach(o: Pick<WorldObject, "shape" | "radius">): number {
  return o.shape === "cube" ? o.radius * Math.SQRT2 : o.radius;
}

/** Options of {@link makeScene}. */
export interface SceneOptions {
  /** How many objects (default: 2–4 from the seed). */
  objects?: number;
  /** Camera motion (default: from the seed, a third of the scenes orbit). */
  movingCamera?: boolean;
  /**
   * Give a second object the colour of another of a different shape ("a red cube and a red ball"; default false).
   * The rest of the scene is the seed's as without it; a scene with no two shapes apart stays as it is.
   */
  repeatColor?: boolean;
}

/** A free spot for an object of reach `r`, away from `taken`, or undefined after 200 tries. */
export function freeSpot(
  rng: Prng,
  r: number,
  taken: readonly { x: number; y: number; r: number }[],
  area: { x: readonly [number, number]; y: readonly [number, number] } = PLACE_AREA,
): { x: number; y: number } | undefined {
  for (let i = 0; i < 200; i++) {
    const x = rng.range(area.x[0], area.x[1]);
    const y = rng.range(area.y[0], area.y[1]);
    if (taken.every((t) => Math.hypot(t.x - x, t.y - y) >= t.r + r + GAP)) return { x, y };
  }
  return undefined;
}

/**
 * Recolours one object with another's colour, the pair drawn among those of different shapes, so that labels stay
 * unique. Its own generator (not the scene's), so the scene's other draws are the same with or without it.
 */
function repeatAColor(objects: WorldObject[], rng: Prng): void {
  const pairs = objects.flatMap((a) => objects.filter((b) => b.id !== a.id && b.shape !== a.shape).map((b) => [a, b]));
  if (!pairs.length) return;
  const [from, to] = rng.pick(pairs);
  to.color = from.color;
  to.label = `${from.color} ${to.shape}`;
}

/** The scene of a seed. Same seed and options, same scene. */
export function makeScene(seed: number, opts: SceneOptions = {}): Scene {
  const rng = new Prng(subSeed(seed, "scene"));
  const n = opts.objects ?? rng.int(2, 4);
  const colors = rng.shuffle(ObjectColor.options).slice(0, n);
  const objects: WorldObject[] = [];
  const taken: { x: number; y: number; r: number }[] = [];
  for (let id = 0; id < n; id++) {
    const shape = rng.pick(ObjectShape.options);
    const { radius, height } = shapeDims(shape, rng.range(0.06, 0.09));
    const yaw = shape === "cube" ? rng.range(-0.6, 0.6) : 0;
    const r = reach({ shape, radius });
    const spot = freeSpot(rng, r, taken);
    if (!spot) break; // the table is full: fewer objects
    taken.push({ ...spot, r });
    objects.push({
      id,
      color: colors[id],
      shape,
      label: `${colors[id]} ${shape}`,
      radius,
      height,
      yaw,
      start: [spot.x, spot.y, 0],
    });
  }
  if (opts.repeatColor) repeatAColor(objects, new Prng(subSeed(seed, "scene:repeat-color")));
  const moving = opts.movingCamera ?? rng.chance(1 / 3);
  const orbit = rng.range(-12, 12);
  const sweep = moving ? rng.pick([-1, 1]) * rng.range(8, 16) : 0;
  return {
    seed,
    objects,
    wall: [...rng.pick(SCENERY.walls)] as [number, number, number],
    table: [...rng.pick(SCENERY.tables)] as [number, number, number],
    camera: { fromDeg: orbit, toDeg: orbit + sweep },
    home: [rng.range(-0.12, 0.12), rng.range(0.46, 0.54), rng.range(0.19, 0.23)],
  };
}
