/**
 * A tiny software rasteriser into RGB buffers: filled polygons and ellipses, no anti-aliasing.
 * A pixel is covered when its centre (x + 0.5, y + 0.5) lies inside the shape, so a shape's
 * pixels are exactly those inside its outline and ground-truth boxes computed from the
 * outline agree with the image to the pixel. Pure arithmetic: same input, same bytes.
 *
 * @example
 * ```ts
 * import { Canvas } from "./raster.ts";
 * const c = new Canvas(32, 16, [255, 255, 255]);
 * c.fillPolygon([[2, 2], [12, 2], [12, 10], [2, 10]], [255, 0, 0]); // pixels x 2..11, y 2..9
 * c.fillEllipse(20, 8, 5, 3, [0, 0, 255], 1); // id 1: c.ids says which pixels it covers
 * c.frame(); // { data, width: 32, height: 16, channels: 3 }
 * ```
 * @module
 */
import type { Rgb } from "./palette.ts";

export type Point2 = readonly [number, number];

/** An RGB frame (HWC), the shape src/media reads and writes. */
export interface RgbBuffer {
  data: Uint8Array;
  width: number;
  height: number;
  channels: 3;
}

export class Canvas {
  readonly width: number;
  readonly height: number;
  readonly data: Uint8Array;
  /** Which item painted each pixel last (-1: the background), for ground truth of what is visible. */
  readonly ids: Int16Array;
  constructor(width: number, height: number, background: Rgb) {
    this.width = width;
    this.height = height;
    this.data = new Uint8Array(width * height * 3);
    this.ids = new Int16Array(width * height).fill(-1);
    this.data.set(background, 0);
    // doubling copies: far faster than a loop over pixels for the 480p frames
    for (let filled = 3; filled < this.data.length; filled *= 2) {
      this.data.copyWithin(filled, 0, Math.min(filled, this.data.length - filled));
    }
  }

  /** Paints pixels x0..x1-1 of row y. */
  private span(y: number, x0: number, x1: number, c: Rgb, id: number): void {
    const a = Math.max(0, x0);
    const b = Math.min(this.width, x1);
    let o = (y * this.width + a) * 3;
    for (let x = a; x < b; x++, o += 3) {
      this.data[o] = c[0];
      this.data[o + 1] = c[1];
      this.data[o + 2] = c[2];
      this.ids[y * this.width + x] = id;
    }
  }

  /** Fills a polygon (even-odd rule, any winding; convex or not). */
  fillPolygon(points: readonly Point2[], c: Rgb, id = -1): void {
    if (points.length < 3) return;
    let minY = Infinity;
    let maxY = -Infinity;
    for (const p of points) {
      minY = Math.min(minY, p[1]);
      maxY = Math.max(maxY, p[1]);
    }
    const y0 = Math.max(0, Math.ceil(minY - 0.5));
    const y1 = Math.min(this.height - 1, Math.ceil(maxY - 0.5) - 1);
    const xs: number[] = [];
    for (let y = y0; y <= y1; y++) {
      const yc = y + 0.5;
      xs.length = 0;
      for (let i = 0; i < points.length; i++) {
        const [ax, ay] = points[i];
        const [bx, by] = points[(i + 1) % points.length];
        // half-open in y: a vertex shared by two edges is counted once
        if ((ay <= yc && yc < by) || (by <= yc && yc < ay)) xs.push(ax + ((yc - ay) / (by - ay)) * (bx - ax));
      }
      xs.sort((p, q) => p - q);
      for (let k = 0; k + 1 < xs.length; k += 2) {
        this.span(y, Math.ceil(xs[k] - 0.5), Math.ceil(xs[k + 1] - 0.5), c, id);
      }
    }
  }

  /** Fills an axis-aligned ellipse centred at (cx, cy) with radii rx, ry. */
  fillEllipse(cx: number, cy: number, rx: number, ry: number, c: Rgb, id = -1): void {
    if (!(rx > 0 && ry > 0)) return;
    const y0 = Math.max(0, Math.ceil(cy - ry - 0.5));
    const y1 = Math.min(this.height - 1, Math.ceil(cy + ry - 0.5) - 1);
    for (let y = y0; y <= y1; y++) {
      const dy = (y + 0.5 - cy) / ry;
      const h = 1 - dy * dy;
      if (h <= 0) continue;
      const dx = rx * Math.sqrt(h);
      this.span(y, Math.ceil(cx - dx - 0.5), Math.ceil(cx + dx - 0.5), c, id);
    }
  }

  /** The pixels as an RGB frame (shares the buffer). */
  frame(): RgbBuffer {
    return { data: this.data, width: this.width, height: this.height, channels: 3 };
  }
}

/** Convex hull (Andrew's monotone chain), counter-clockwise in image coordinates. */
export function convexHull(points: readonly Point2[]): Point2[] {
  const p = [...points].sort((a, b) => a[0] - b[0] || a[1] - b[1]);
  if (p.length < 3) return p;
  const turn = (o: Point2, a: Point2, b: Point2) => (a[0] - o[0]) * (b[1] - o[1]) - (a[1] - o[1]) * (b[0] - o[0]);
  const lower: Point2[] = [];
  for (const q of p) {
    while (lower.length >= 2 && turn(lower[lower.length - 2], lower[lower.length - 1], q) <= 0) lower.pop();
    lower.push(q);
  }
  const upper: Point2[] = [];
  for (let i = p.length - 1; i >= 0; i--) {
    const q = p[i];
    while (upper.length >= 2 && turn(upper[upper.length - 2], upper[upper.length - 1], q) <= 0) upper.pop();
    upper.push(q);
  }
  return [...lower.slice(0, -1), ...upper.slice(0, -1)];
}
