/**
 * Images with bounding boxes and labels drawn over them (an SVG overlay, one colour per label
 * from a stable palette), and "marked subjects" for describe-anything (numbered outlines).
 * Coordinates are converted from the model's convention to pixels: Qwen3-VL grounding boxes
 * are `[x1, y1, x2, y2]` on a 0–1000 grid (`"norm1000"`); `"norm1"` is 0–1; `"pixel"` is as is.
 * A box the model got wrong never costs the others: one with a NaN, no area or lying wholly
 * outside the image is left out, one that sticks out is drawn clipped and dashed (so is one the
 * parser flagged with a `problem`), and a note under the image lists them (with the parser's
 * `invalid` items).
 *
 * @example
 * ```ts
 * import { showBoxes } from "./boxes.ts";
 * await showBoxes("assets/images/tabletop.png", [{ label: "red cube", box: [100, 200, 300, 400] }]);
 * ```
 * @module
 */
import { ValidationError } from "../src/errors.ts";
import { loadImage, type OverlayImage } from "./image_input.ts";
import { display } from "./runtime.ts";
import { type Displayable, displayable, escapeHtml, type MimeBundle, num, toBase64 } from "./mime.ts";
import { type ItemProblem, notesHtml, notesText, type RenderNotes } from "./notes.ts";

/** How box coordinates are expressed. Qwen3-VL (Cosmos Reasoner) uses `"norm1000"`. */
export type BoxConvention = "norm1000" | "norm1" | "pixel";

/** `[x1, y1, x2, y2]`. */
export type Box = [number, number, number, number];

/** A box with its label (the Reasoner's grounding output). */
export interface OverlayBox {
  label: string;
  box: Box | readonly [number, number, number, number];
  /** Optional confidence shown after the label. */
  score?: number;
  /** Set by the parser when the box is kept but suspect (drawn dashed, listed in the note). */
  problem?: string;
}

/** A stable palette (Tableau 10, readable on photos). */
export const PALETTE: readonly string[] = [
  "#e15759",
  "#4e79a7",
  "#59a14f",
  "#f28e2b",
  "#b07aa1",
  "#76b7b2",
  "#edc948",
  "#ff9da7",
  "#9c755f",
  "#bab0ac",
];

/**
 * The colour of a label: the same label always gets the same colour (FNV-1a hash → palette).
 * @example
 * ```ts
 * import { labelColor } from "./boxes.ts";
 * labelColor("cup") === labelColor("cup"); // true
 * ```
 */
export function labelColor(label: string): string {
  let h = 0x811c9dc5;
  for (let i = 0; i < label.length; i++) {
    h ^= label.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return PALETTE[h % PALETTE.length];
}

/**
 * Colours for a set of labels: each label's {@link labelColor}, except that labels whose hash
 * collides take the next free palette colour (decided in sorted label order, so the result
 * does not depend on the order of the boxes). Distinct as long as there are ≤ 10 labels.
 * @example
 * ```ts
 * import { labelColors } from "./boxes.ts";
 * const colors = labelColors(["cup", "plate", "fork"]);
 * colors.get("cup"); // e.g. "#4e79a7"
 * ```
 */
export function labelColors(labels: Iterable<string>): Map<string, string> {
  const out = new Map<string, string>();
  const used = new Set<number>();
  for (const label of [...new Set(labels)].sort()) {
    let i = PALETTE.indexOf(labelColor(label));
    for (let k = 0; k < PALETTE.length && used.has(i); k++) i = (i + 1) % PALETTE.length;
    used.add(i);
    out.set(label, PALETTE[i]);
  }
  return out;
}

function checkConvention(c: string): BoxConvention {
  if (c === "norm1000" || c === "norm1" || c === "pixel") return c;
  throw new ValidationError([{
    field: "convention",
    value: c,
    allowed: `"norm1000" | "norm1" | "pixel"`,
    message: "unknown box convention",
  }]);
}

/**
 * Converts a point `[x, y]` from a convention to pixels of a `width`×`height` image.
 * @example
 * ```ts
 * import { toPixelPoint } from "./boxes.ts";
 * toPixelPoint([500, 500], "norm1000", 640, 480); // [320, 240]
 * ```
 */
export function toPixelPoint(
  p: readonly [number, number],
  convention: BoxConvention,
  width: number,
  height: number,
): [number, number] {
  const c = checkConvention(convention);
  const sx = c === "norm1000" ? width / 1000 : c === "norm1" ? width : 1;
  const sy = c === "norm1000" ? height / 1000 : c === "norm1" ? height : 1;
  return [p[0] * sx, p[1] * sy];
}

/**
 * Converts a box to pixels: scaled, corners ordered (x1 ≤ x2, y1 ≤ y2), clamped to the image.
 * @example
 * ```ts
 * import { toPixelBox } from "./boxes.ts";
 * toPixelBox([100, 200, 300, 400], "norm1000", 640, 480); // [64, 96, 192, 192]
 * ```
 */
export function toPixelBox(box: readonly number[], convention: BoxConvention, width: number, height: number): Box {
  if (box.length !== 4 || !box.every(Number.isFinite)) {
    throw new ValidationError([{
      field: "box",
      value: box,
      allowed: "[x1, y1, x2, y2] of finite numbers",
      message: "a box has 4 finite numbers",
    }]);
  }
  const [ax, ay] = toPixelPoint([box[0], box[1]], convention, width, height);
  const [bx, by] = toPixelPoint([box[2], box[3]], convention, width, height);
  const cx = (v: number) => Math.min(width, Math.max(0, v));
  const cy = (v: number) => Math.min(height, Math.max(0, v));
  return [cx(Math.min(ax, bx)), cy(Math.min(ay, by)), cx(Math.max(ax, bx)), cy(Math.max(ay, by))];
}

/** Where a box goes on the image: its pixel box (with a `problem` when drawn cut), or why not at all. */
export type BoxPlacement = { pixel: Box; problem?: string } | { problem: string };

/**
 * Places a box on a `width`×`height` image without throwing on model mistakes: a NaN or a
 * wrong length, a box with no area, or one wholly outside the image gets only a `problem`; a
 * box that sticks out gets its clipped pixel box and a `problem`.
 * @example
 * ```ts
 * import { placeBox } from "./boxes.ts";
 * placeBox([900, 100, 1200, 300], "norm1000", 640, 480); // { pixel: [576, 48, 640, 144], problem: "partly outside the image: drawn clipped" }
 * placeBox([1200, 100, 1400, 300], "norm1000", 640, 480); // { problem: "outside the image" }
 * ```
 */
export function placeBox(
  box: readonly number[],
  convention: BoxConvention,
  width: number,
  height: number,
): BoxPlacement {
  if (!Array.isArray(box) || box.length !== 4 || !box.every(Number.isFinite)) {
    return { problem: "not 4 numbers [x1, y1, x2, y2]" };
  }
  const [ax, ay] = toPixelPoint([box[0], box[1]], convention, width, height);
  const [bx, by] = toPixelPoint([box[2], box[3]], convention, width, height);
  const [x1, y1, x2, y2] = [Math.min(ax, bx), Math.min(ay, by), Math.max(ax, bx), Math.max(ay, by)];
  if (!(x2 > x1 && y2 > y1)) return { problem: "empty box (no width or height)" };
  const pixel = toPixelBox(box, convention, width, height);
  if (!(pixel[2] > pixel[0] && pixel[3] > pixel[1])) return { problem: "outside the image" };
  const clipped = pixel[0] !== x1 || pixel[1] !== y1 || pixel[2] !== x2 || pixel[3] !== y2;
  return clipped ? { pixel, problem: "partly outside the image: drawn clipped" } : { pixel };
}

/** The drawable boxes with their pixel boxes, and the note on the others. */
function placeAll(img: OverlayImage, boxes: readonly OverlayBox[], o: BoxesOptions): {
  drawn: { box: OverlayBox; pixel: Box; flagged: boolean }[];
  notes: RenderNotes;
} {
  const convention = o.convention ?? "norm1000";
  const notes: RenderNotes = { skipped: [...(o.invalid ?? [])], flagged: [] };
  const drawn: { box: OverlayBox; pixel: Box; flagged: boolean }[] = [];
  for (const b of boxes) {
    const place = placeBox(b.box as readonly number[], convention, img.width, img.height);
    const coords = Array.isArray(b.box) ? `[${b.box.map((v) => String(v)).join(", ")}]` : String(b.box);
    const item = `${b.label || "(no label)"} ${coords}`;
    if (!("pixel" in place)) {
      notes.skipped.push({ item, problem: place.problem });
      continue;
    }
    // The renderer's own finding (drawn clipped) is the more concrete one; else the parser's.
    const problem = place.problem ?? b.problem;
    if (problem) notes.flagged.push({ item, problem });
    drawn.push({ box: b, pixel: place.pixel, flagged: problem !== undefined });
  }
  return { drawn, notes };
}

interface Geometry {
  stroke: number;
  font: number;
}

function geometry(img: OverlayImage): Geometry {
  const short = Math.min(img.width, img.height);
  return { stroke: Math.max(2, Math.round(short / 200)), font: Math.max(12, Math.round(short / 28)) };
}

function labelTag(x: number, y: number, text: string, color: string, g: Geometry, img: OverlayImage): string {
  const w = Math.ceil(text.length * g.font * 0.6) + 8;
  const h = g.font + 6;
  const lx = Math.min(Math.max(0, x), Math.max(0, img.width - w));
  const ly = y - h >= 0 ? y - h : y; // above the box, or inside when at the top edge
  return `<rect class="cosmos-label-bg" x="${num(lx)}" y="${num(ly)}" width="${w}" height="${h}" fill="${color}"/>` +
    `<text class="cosmos-label" x="${num(lx + 4)}" y="${num(ly + g.font)}" font-size="${g.font}" ` +
    `font-family="sans-serif" fill="#fff">${escapeHtml(text)}</text>`;
}

function svgOpen(img: OverlayImage, cls: string): string {
  return `<svg class="${cls}" xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink" ` +
    `viewBox="0 0 ${img.width} ${img.height}" width="${img.width}" height="${img.height}" ` +
    `style="max-width:100%;height:auto">` +
    `<image href="data:${img.mimeType};base64,${
      toBase64(img.bytes)
    }" x="0" y="0" width="${img.width}" height="${img.height}"/>`;
}

/** Options of {@link boxesSvg} and {@link boxesBundle}. */
export interface BoxesOptions {
  /** Coordinate convention of the boxes (default `"norm1000"`, Qwen3-VL). */
  convention?: BoxConvention;
  /** A caption under the image. */
  caption?: string;
  /** Items the parser already left out (`parsed.invalid`), listed in the note. */
  invalid?: readonly ItemProblem[];
}

/**
 * The SVG (image + one `<rect class="cosmos-box-rect">` per drawable box + labels) as a string;
 * boxes drawn cut or flagged also have the class `cosmos-flagged` and a dashed outline.
 * @example
 * ```ts
 * import { boxesSvg } from "./boxes.ts";
 * const img = { bytes: new Uint8Array(), mimeType: "image/png", width: 640, height: 480 };
 * boxesSvg(img, [{ label: "cup", box: [0, 0, 500, 500] }]).includes('width="320"'); // true
 * ```
 */
export function boxesSvg(img: OverlayImage, boxes: readonly OverlayBox[], o: BoxesOptions = {}): string {
  return svgOf(img, placeAll(img, boxes, o).drawn);
}

function svgOf(img: OverlayImage, drawn: { box: OverlayBox; pixel: Box; flagged: boolean }[]): string {
  const g = geometry(img);
  const colors = labelColors(drawn.map((d) => d.box.label));
  const parts = drawn.map(({ box: b, pixel: [x1, y1, x2, y2], flagged }) => {
    const color = colors.get(b.label) as string;
    const text = b.score === undefined ? b.label : `${b.label} ${b.score.toFixed(2)}`;
    const dash = flagged ? ` stroke-dasharray="${g.stroke * 3} ${g.stroke * 2}"` : "";
    return `<g class="cosmos-box" data-label="${escapeHtml(b.label)}">` +
      `<rect class="cosmos-box-rect${flagged ? " cosmos-flagged" : ""}" x="${num(x1)}" y="${num(y1)}" width="${
        num(x2 - x1)
      }" height="${num(y2 - y1)}" ` +
      `fill="none" stroke="${color}" stroke-width="${g.stroke}"${dash}/>${labelTag(x1, y1, text, color, g, img)}</g>`;
  });
  return `${svgOpen(img, "cosmos-boxes")}${parts.join("")}</svg>`;
}

function caption(text: string | undefined): string {
  return text ? `<figcaption style="font:12px sans-serif;color:#666">${escapeHtml(text)}</figcaption>` : "";
}

/**
 * The MIME bundle of an image with boxes: `text/html` (figure with the SVG and the note on bad
 * boxes) and `text/plain` (one line per drawn box, in pixels, then the note's lines).
 * @example
 * ```ts
 * import { boxesBundle } from "./boxes.ts";
 * const img = { bytes: new Uint8Array(), mimeType: "image/png", width: 100, height: 100 };
 * boxesBundle(img, [{ label: "a", box: [0, 0, 1000, 1000] }])["text/plain"]; // includes "a: [0, 0, 100, 100]"
 * ```
 */
export function boxesBundle(img: OverlayImage, boxes: readonly OverlayBox[], o: BoxesOptions = {}): MimeBundle {
  checkConvention(o.convention ?? "norm1000");
  const { drawn, notes } = placeAll(img, boxes, o);
  const lines = drawn.map((d) => `  ${d.box.label}: [${d.pixel.map(num).join(", ")}]`);
  const note = notesText(notes);
  return {
    "text/html": `<figure class="cosmos-figure" style="margin:0">${svgOf(img, drawn)}${caption(o.caption)}${
      notesHtml(notes, "box")
    }</figure>`,
    "text/plain": `<image ${img.width}x${img.height} with ${drawn.length} box${
      drawn.length === 1 ? "" : "es"
    } (pixels)>\n${lines.join("\n")}${note ? `\n${note}` : ""}`,
  };
}

/** A region to mark for describe-anything: a box or a polygon, numbered. */
export interface SubjectRegion {
  /** The mark's number (default: position + 1). */
  index?: number;
  box?: readonly [number, number, number, number];
  /** Outline points `[x, y]` in the same convention as boxes. */
  polygon?: readonly (readonly [number, number])[];
  label?: string;
  /** The model's description of the subject, listed under the image. */
  description?: string;
}

/**
 * The SVG of numbered subject marks: an outline (`<rect>` or `<polygon>`, class
 * `cosmos-subject-outline`) and a numbered disc per region.
 * @example
 * ```ts
 * import { subjectsSvg } from "./boxes.ts";
 * const img = { bytes: new Uint8Array(), mimeType: "image/png", width: 100, height: 100 };
 * subjectsSvg(img, [{ box: [100, 100, 500, 500] }]).includes(">1</text>"); // true
 * ```
 */
export function subjectsSvg(img: OverlayImage, regions: readonly SubjectRegion[], o: BoxesOptions = {}): string {
  const convention = o.convention ?? "norm1000";
  const g = geometry(img);
  const parts = regions.map((r, i) => {
    const n = r.index ?? i + 1;
    const color = PALETTE[(n - 1 + PALETTE.length) % PALETTE.length];
    let outline: string;
    let anchor: [number, number];
    if (r.polygon && r.polygon.length >= 3) {
      const pts = r.polygon.map((p) => toPixelPoint(p, convention, img.width, img.height));
      outline = `<polygon class="cosmos-subject-outline" points="${
        pts.map((p) => `${num(p[0])},${num(p[1])}`).join(" ")
      }" ` +
        `fill="${color}" fill-opacity="0.15" stroke="${color}" stroke-width="${g.stroke}"/>`;
      anchor = [pts.reduce((s, p) => s + p[0], 0) / pts.length, pts.reduce((s, p) => s + p[1], 0) / pts.length];
    } else if (r.box) {
      const [x1, y1, x2, y2] = toPixelBox(r.box, convention, img.width, img.height);
      outline = `<rect class="cosmos-subject-outline" x="${num(x1)}" y="${num(y1)}" width="${num(x2 - x1)}" ` +
        `height="${
          num(y2 - y1)
        }" fill="${color}" fill-opacity="0.15" stroke="${color}" stroke-width="${g.stroke}" stroke-dasharray="${
          g.stroke * 3
        } ${g.stroke * 2}"/>`;
      anchor = [x1, y1];
    } else {
      throw new ValidationError([{
        field: `regions.${i}`,
        value: r,
        allowed: "a region with `box` [x1,y1,x2,y2] or `polygon` of ≥ 3 points",
        message: "nothing to mark",
      }]);
    }
    const rad = Math.round(g.font * 0.8);
    const cx = Math.min(img.width - rad, Math.max(rad, anchor[0]));
    const cy = Math.min(img.height - rad, Math.max(rad, anchor[1]));
    return `<g class="cosmos-subject" data-index="${n}">${outline}` +
      `<circle class="cosmos-subject-mark" cx="${num(cx)}" cy="${
        num(cy)
      }" r="${rad}" fill="${color}" stroke="#fff" stroke-width="2"/>` +
      `<text x="${num(cx)}" y="${num(cy + g.font * 0.35)}" font-size="${g.font}" font-family="sans-serif" ` +
      `font-weight="bold" fill="#fff" text-anchor="middle">${n}</text></g>`;
  });
  return `${svgOpen(img, "cosmos-subjects")}${parts.join("")}</svg>`;
}

/**
 * The MIME bundle of marked subjects: the SVG and a numbered list of labels/descriptions.
 * @example
 * ```ts
 * import { subjectsBundle } from "./boxes.ts";
 * const img = { bytes: new Uint8Array(), mimeType: "image/png", width: 100, height: 100 };
 * subjectsBundle(img, [{ box: [0, 0, 500, 500], description: "a red cube" }]);
 * ```
 */
export function subjectsBundle(img: OverlayImage, regions: readonly SubjectRegion[], o: BoxesOptions = {}): MimeBundle {
  const items = regions.map((r, i) => {
    const n = r.index ?? i + 1;
    const color = PALETTE[(n - 1 + PALETTE.length) % PALETTE.length];
    const head = r.label ? `<b>${escapeHtml(r.label)}</b>${r.description ? ": " : ""}` : "";
    return `<li value="${n}" style="margin:2px 0"><span style="color:${color};font-weight:bold">●</span> ${head}${
      escapeHtml(r.description ?? "")
    }</li>`;
  });
  const list = regions.some((r) => r.label || r.description)
    ? `<ol class="cosmos-subject-list" style="font:13px sans-serif">${items.join("")}</ol>`
    : "";
  const text = regions.map((r, i) => `  ${r.index ?? i + 1}. ${[r.label, r.description].filter(Boolean).join(": ")}`);
  return {
    "text/html": `<figure class="cosmos-figure" style="margin:0">${subjectsSvg(img, regions, o)}${
      caption(o.caption)
    }${list}</figure>`,
    "text/plain": `<image ${img.width}x${img.height} with ${regions.length} marked subject${
      regions.length === 1 ? "" : "s"
    }>\n${text.join("\n")}`,
  };
}

/**
 * Builds the boxes output from an image path/bytes (measured with sharp).
 * @example
 * ```ts
 * import { boxesOutput } from "./boxes.ts";
 * const out = await boxesOutput("assets/images/tabletop.png", [{ label: "cup", box: [10, 20, 30, 40] }]);
 * ```
 */
export async function boxesOutput(
  image: string | Uint8Array | OverlayImage,
  boxes: readonly OverlayBox[],
  o: BoxesOptions = {},
): Promise<Displayable> {
  return displayable(boxesBundle(await loadImage(image), boxes, o));
}

/**
 * Shows an image with labelled boxes in the notebook.
 * @example
 * ```ts
 * import { showBoxes } from "./boxes.ts";
 * await showBoxes("assets/images/tabletop.png", [{ label: "cup", box: [100, 200, 300, 400] }], { convention: "norm1000" });
 * ```
 */
export async function showBoxes(
  image: string | Uint8Array | OverlayImage,
  boxes: readonly OverlayBox[],
  o: BoxesOptions = {},
): Promise<void> {
  await display((await boxesOutput(image, boxes, o)).bundle);
}

/**
 * Shows an image with numbered subject marks (describe-anything) and their descriptions.
 * @example
 * ```ts
 * import { showSubjects } from "./boxes.ts";
 * await showSubjects("assets/images/tabletop.png", [{ box: [100, 100, 400, 600], description: "a person in a red coat" }]);
 * ```
 */
export async function showSubjects(
  image: string | Uint8Array | OverlayImage,
  regions: readonly SubjectRegion[],
  o: BoxesOptions = {},
): Promise<void> {
  await display(subjectsBundle(await loadImage(image), regions, o));
}
