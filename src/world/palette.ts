/**
 * The world's colours and shapes. Everything is drawn flat (no anti-aliasing, no texture), each
 * face in one of three exact shades of its base colour, so a pixel's colour says which object it
 * belongs to: an object's pixels are exactly {@link shadesOf}(its colour), and no other part of
 * the scene (table, wall, arm, shadows) uses those values.
 *
 * @example
 * ```ts
 * import { OBJECT_COLORS, shadesOf } from "./palette.ts";
 * shadesOf(OBJECT_COLORS.red); // [[220, 38, 38], [176, 30, 30], [136, 24, 24]]
 * ```
 * @module
 */
import { z } from "zod";

export type Rgb = readonly [number, number, number];

/** Object colours: saturated, far apart in hue, none grey or brown like the scenery. */
export const OBJECT_COLORS = Object.freeze(
  {
    red: [220, 38, 38],
    green: [34, 176, 70],
    blue: [40, 90, 230],
    yellow: [238, 200, 20],
    purple: [150, 60, 200],
    orange: [245, 130, 20],
  } as const satisfies Record<string, Rgb>,
);

export const ObjectColor = z.enum(
  Object.keys(OBJECT_COLORS) as [keyof typeof OBJECT_COLORS, ...(keyof typeof OBJECT_COLORS)[]],
);
export type ObjectColor = z.infer<typeof ObjectColor>;

export const ObjectShape = z.enum(["cube", "ball", "cylinder"]);
export type ObjectShape = z.infer<typeof ObjectShape>;

/** Shade factors: a face towards the light (tops), a lit side, a side in shade. */
export const SHADES = Object.freeze({ top: 1, lit: 0.8, dark: 0.62 } as const);
export type Shade = keyof typeof SHADES;

/** One shade of a colour, rounded to bytes. */
export function shade(c: Rgb, s: Shade): Rgb {
  const k = SHADES[s];
  return [Math.round(c[0] * k), Math.round(c[1] * k), Math.round(c[2] * k)];
}

/** The exact pixel values a flat-shaded object of colour `c` can take. */
export function shadesOf(c: Rgb): Rgb[] {
  return [shade(c, "top"), shade(c, "lit"), shade(c, "dark")];
}

/** Scenery and robot colours (greys and browns, never an object shade). */
export const SCENERY = Object.freeze({
  walls: [[214, 218, 224], [196, 204, 214], [222, 214, 204]] as Rgb[],
  tables: [[150, 112, 76], [128, 100, 80], [164, 140, 112]] as Rgb[],
  floor: [96, 98, 104] as Rgb,
  tableEdge: [92, 66, 44] as Rgb,
  /** The robot's links and base. */
  arm: [172, 176, 184] as Rgb,
  /** The gripper (palm and fingers). */
  gripper: [52, 56, 64] as Rgb,
  /** Shadows darken the table by this factor. */
  shadow: 0.72,
});
