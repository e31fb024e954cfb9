/**
 * Colour segmentation of world frames that went through a lossy codec (a generated or decoded
 * video): a pixel belongs to an object colour when it is saturated and bright enough and its hue
 * is nearest that colour's; it belongs to the gripper when it is dark and grey. Scenery never
 * passes (the tables' saturation stays under 0.5, the objects' over 0.65), and where two colours
 * blur into a third at an edge (red on brown looks orange) the pixels are too dark or too few to
 * count: each class keeps only its large connected regions. This is the automatic
 * checker of a text-to-video ("the red cube slides to the left": did it?) and of forward dynamics
 * (does the gripper follow the simulated path?).
 *
 * @example
 * ```ts
 * import { makeSample, renderClip } from "./sample.ts";
 * import { motionOf, trackColors } from "./segment.ts";
 * const s = makeSample(5, { frames: 17, fps: 10, scenario: "push" });
 * const track = trackColors(renderClip(s).frames); // or frames decoded from an MP4
 * motionOf(track, s.scene.objects[s.scenario.target].color)?.direction; // s.scenario.direction
 * ```
 * @module
 */
import { OBJECT_COLORS, ObjectColor, SHADES } from "./palette.ts";
import type { RgbBuffer } from "./raster.ts";
import type { Direction } from "./sim.ts";

/** Hue (degrees), saturation (max − min over max) and value (max) of an RGB triple. */
export function hsv(r: number, g: number, b: number): [number, number, number] {
  const max = Math.max(r, g, b);
  const min = Math.min(r, g, b);
  const d = max - min;
  let h = 0;
  if (d > 0) {
    if (max === r) h = 60 * (((g - b) / d + 6) % 6);
    else if (max === g) h = 60 * ((b - r) / d + 2);
    else h = 60 * ((r - g) / d + 4);
  }
  return [h, max > 0 ? d / max : 0, max];
}

/** Thresholds: object pixels are this saturated and bright; gripper pixels this dark and grey. */
export const SEGMENT_THRESHOLDS = Object.freeze({
  minSaturation: 0.6,
  /** An object pixel is at least this share of its colour's darkest shade's value (edges blur darker). */
  minValueShare: 0.8,
  maxHueDistance: 16,
  gripperMaxValue: 78,
  gripperMaxSaturation: 0.4,
});

const COLORS: readonly { color: ObjectColor; hue: number; minValue: number }[] = ObjectColor.options.map((color) => {
  const [r, g, b] = OBJECT_COLORS[color];
  const [hue, , v] = hsv(r, g, b);
  return { color, hue, minValue: v * SHADES.dark * SEGMENT_THRESHOLDS.minValueShare };
});

const hueDistance = (a: number, b: number) => Math.min(Math.abs(a - b), 360 - Math.abs(a - b));

/** The object colour of a pixel, "gripper", or undefined (scenery, arm, blurred edges). */
export function classifyPixel(r: number, g: number, b: number): ObjectColor | "gripper" | undefined {
  const [h, s, v] = hsv(r, g, b);
  const t = SEGMENT_THRESHOLDS;
  if (s >= t.minSaturation) {
    let best: (typeof COLORS)[number] | undefined;
    let bestD = Infinity;
    for (const c of COLORS) {
      const d = hueDistance(h, c.hue);
      if (d < bestD) {
        bestD = d;
        best = c;
      }
    }
    return best && bestD <= t.maxHueDistance && v >= best.minValue ? best.color : undefined;
  }
  if (v <= t.gripperMaxValue && s <= t.gripperMaxSaturation) return "gripper";
  return undefined;
}

/** Regions smaller than this share of a class's largest are blur, not the object (an arm in front splits one in two large parts). */
const KEEP_SHARE = 0.2;

/** What a class covers in one frame (its main 4-connected regions). */
export interface Segment {
  pixels: number;
  /** [x1, y1, x2, y2] in pixels (x2, y2 exclusive). */
  box: [number, number, number, number];
  centroid: [number, number];
}

export type FrameSegments = Partial<Record<ObjectColor | "gripper", Segment>>;

const CLASSES: readonly (ObjectColor | "gripper")[] = [...ObjectColor.options, "gripper"];

/**
 * Segments of one frame: per class its 4-connected regions of at least a fifth of the largest
 * one's size and `minPixels` (stray pixels where two colours blur into a third are left out).
 */
export function segmentFrame(frame: RgbBuffer, minPixels = 6): FrameSegments {
  const { width: w, height: h, data: d } = frame;
  const cls = new Int8Array(w * h).fill(-1);
  for (let p = 0, o = 0; p < w * h; p++, o += 3) {
    const c = classifyPixel(d[o], d[o + 1], d[o + 2]);
    if (c) cls[p] = CLASSES.indexOf(c);
  }
  const seen = new Uint8Array(w * h);
  const stack = new Int32Array(w * h);
  const out: FrameSegments = {};
  const regions: { n: number; sx: number; sy: number; box: [number, number, number, number] }[][] = CLASSES.map(
    () => [],
  );
  for (let p0 = 0; p0 < w * h; p0++) {
    const c = cls[p0];
    if (c < 0 || seen[p0]) continue;
    let top = 0;
    stack[top++] = p0;
    seen[p0] = 1;
    let n = 0, sx = 0, sy = 0, x1 = Infinity, y1 = Infinity, x2 = -Infinity, y2 = -Infinity;
    while (top > 0) {
      const p = stack[--top];
      const x = p % w;
      const y = (p - x) / w;
      n++;
      sx += x + 0.5;
      sy += y + 0.5;
      if (x < x1) x1 = x;
      if (x > x2) x2 = x;
      if (y < y1) y1 = y;
      if (y > y2) y2 = y;
      for (const q of [x > 0 ? p - 1 : -1, x < w - 1 ? p + 1 : -1, y > 0 ? p - w : -1, y < h - 1 ? p + w : -1]) {
        if (q >= 0 && !seen[q] && cls[q] === c) {
          seen[q] = 1;
          stack[top++] = q;
        }
      }
    }
    regions[c].push({ n, sx, sy, box: [x1, y1, x2 + 1, y2 + 1] });
  }
  CLASSES.forEach((name, c) => {
    const largest = Math.max(0, ...regions[c].map((r) => r.n));
    const kept = regions[c].filter((r) => r.n >= Math.max(minPixels, largest * KEEP_SHARE));
    if (!kept.length) return;
    const n = kept.reduce((a, r) => a + r.n, 0);
    out[name] = {
      pixels: n,
      box: [
        Math.min(...kept.map((r) => r.box[0])),
        Math.min(...kept.map((r) => r.box[1])),
        Math.max(...kept.map((r) => r.box[2])),
        Math.max(...kept.map((r) => r.box[3])),
      ],
      centroid: [kept.reduce((a, r) => a + r.sx, 0) / n, kept.reduce((a, r) => a + r.sy, 0) / n],
    };
  });
  return out;
}

/** Segments of every frame. */
export function trackColors(frames: readonly RgbBuffer[], minPixels = 6): FrameSegments[] {
  return frames.map((f) => segmentFrame(f, minPixels));
}

/** How a class moved over a clip, in the image (pixels; +x right, +y down). */
export interface Motion {
  /** Centroid displacement from the first to the last frame where it shows. */
  dx: number;
  dy: number;
  /** The dominant direction: left / right, or away (up the image) / towards (down). */
  direction: Direction;
  /** Frames where it shows. */
  seen: number;
}

/** The motion of one class, or undefined when it shows in fewer than two frames. */
export function motionOf(track: readonly FrameSegments[], cls: ObjectColor | "gripper"): Motion | undefined {
  const seen = track.map((f) => f[cls]).filter((s): s is Segment => s !== undefined);
  if (seen.length < 2) return undefined;
  const [x0, y0] = seen[0].centroid;
  const [x1, y1] = seen[seen.length - 1].centroid;
  const dx = x1 - x0;
  const dy = y1 - y0;
  const direction: Direction = Math.abs(dx) >= Math.abs(dy)
    ? (dx < 0 ? "left" : "right")
    : (dy < 0 ? "away" : "towards");
  return { dx, dy, direction, seen: seen.length };
}
