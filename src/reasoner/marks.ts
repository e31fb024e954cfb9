/**
 * Describe-anything marks: numbered, outlined boxes drawn on the image (with sharp)
 * before it is sent, so the prompt can refer to "region 1", "region 2", ….
 *
 * @example
 * ```ts
 * import sharp from "sharp";
 * import { drawSubjectMarks } from "./marks.ts";
 * const img = await sharp({ create: { width: 64, height: 48, channels: 3, background: "#808080" } }).png().toBuffer();
 * const marked = await drawSubjectMarks(new Uint8Array(img), [{ box: [100, 100, 600, 700] }]);
 * ```
 * @module
 */
import { Buffer } from "node:buffer";
import sharp from "sharp";
import { MediaError } from "../errors.ts";
import type { MarkedSubject } from "../schema/reason_request.ts";

/** Outline colours, cycled per subject. */
export const MARK_COLORS = [
  "#ff3b30",
  "#34c759",
  "#007aff",
  "#ffcc00",
  "#af52de",
  "#ff9500",
  "#5ac8fa",
  "#ff2d55",
] as const;

/** Pixel rectangle of a 0–1000 grid box on a `width`×`height` image. */
export function boxToPixels(
  box: readonly number[],
  width: number,
  height: number,
): { left: number; top: number; right: number; bottom: number } {
  const [x1, y1, x2, y2] = box;
  return {
    left: Math.round((x1 / 1000) * width),
    top: Math.round((y1 / 1000) * height),
    right: Math.round((x2 / 1000) * width),
    bottom: Math.round((y2 / 1000) * height),
  };
}

/** SVG overlay with one numbered box per subject (numbers start at 1). */
export function marksSvg(subjects: readonly MarkedSubject[], width: number, height: number): string {
  const stroke = Math.max(2, Math.round(Math.min(width, height) / 150));
  const font = Math.max(10, Math.round(Math.min(width, height) / 22));
  const parts = subjects.map((s, i) => {
    const color = MARK_COLORS[i % MARK_COLORS.length];
    const r = boxToPixels(s.box, width, height);
    const tag = String(i + 1);
    const tw = Math.round(font * 0.65 * tag.length + font * 0.5);
    const th = Math.round(font * 1.25);
    const ty = r.top - th >= 0 ? r.top - th : r.top;
    return `<rect x="${r.left}" y="${r.top}" width="${Math.max(1, r.right - r.left)}" height="${
      Math.max(1, r.bottom - r.top)
    }" fill="none" stroke="${color}" stroke-width="${stroke}"/>` +
      `<rect x="${r.left}" y="${ty}" width="${tw}" height="${th}" fill="${color}"/>` +
      `<text x="${r.left + tw / 2}" y="${
        ty + th * 0.8
      }" font-family="DejaVu Sans, Arial, sans-serif" font-size="${font}" font-weight="bold" fill="#ffffff" text-anchor="middle">${tag}</text>`;
  });
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}">${parts.join("")}</svg>`;
}

/**
 * Draws the marks on an image and returns PNG bytes of the same size.
 * @throws {MediaError} when the bytes are not a readable image.
 */
export async function drawSubjectMarks(image: Uint8Array, subjects: readonly MarkedSubject[]): Promise<Uint8Array> {
  try {
    const base = sharp(image).rotate(); // apply EXIF orientation so marks land where the viewer sees them
    const { data: flat, info } = await base.toBuffer({ resolveWithObject: true });
    const svg = Buffer.from(marksSvg(subjects, info.width, info.height));
    const out = await sharp(flat).composite([{ input: svg, left: 0, top: 0 }]).png().toBuffer();
    return new Uint8Array(out);
  } catch (e) {
    throw new MediaError(`Cannot draw the describe-anything marks: ${(e as Error).message}`, {
      hint: "Pass a JPG/PNG/WEBP image.",
      cause: e,
    });
  }
}
