// Pixel helpers of the world tests: find an object in a rendered frame by its exact colours,
// independently of the renderer's own bookkeeping (its id buffer).
import type { RgbBuffer } from "../../src/world/raster.ts";
import type { Rgb } from "../../src/world/palette.ts";

export interface Mask {
  count: number;
  /** [x1, y1, x2, y2], x2 / y2 exclusive; null when no pixel matches. */
  box: [number, number, number, number] | null;
  centroid: [number, number] | null;
}

/** The pixels whose colour is exactly one of `colors`. */
export function colorMask(frame: RgbBuffer, colors: readonly Rgb[]): Mask {
  const keys = new Set(colors.map((c) => (c[0] << 16) | (c[1] << 8) | c[2]));
  let x1 = Infinity, y1 = Infinity, x2 = -Infinity, y2 = -Infinity, count = 0, sx = 0, sy = 0;
  const d = frame.data;
  for (let y = 0, o = 0; y < frame.height; y++) {
    for (let x = 0; x < frame.width; x++, o += 3) {
      if (!keys.has((d[o] << 16) | (d[o + 1] << 8) | d[o + 2])) continue;
      count++;
      sx += x + 0.5;
      sy += y + 0.5;
      if (x < x1) x1 = x;
      if (x > x2) x2 = x;
      if (y < y1) y1 = y;
      if (y > y2) y2 = y;
    }
  }
  return count
    ? { count, box: [x1, y1, x2 + 1, y2 + 1], centroid: [sx / count, sy / count] }
    : { count: 0, box: null, centroid: null };
}

/** Distance from (u, v) to the nearest pixel of `colors` (Infinity when none). */
export function nearestPixel(frame: RgbBuffer, colors: readonly Rgb[], u: number, v: number): number {
  const keys = new Set(colors.map((c) => (c[0] << 16) | (c[1] << 8) | c[2]));
  let best = Infinity;
  const d = frame.data;
  for (let y = 0, o = 0; y < frame.height; y++) {
    for (let x = 0; x < frame.width; x++, o += 3) {
      if (keys.has((d[o] << 16) | (d[o + 1] << 8) | d[o + 2])) {
        best = Math.min(best, Math.hypot(x + 0.5 - u, y + 0.5 - v));
      }
    }
  }
  return best;
}
