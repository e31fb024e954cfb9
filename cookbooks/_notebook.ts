/**
 * The few helpers every cookbook notebook shares, so that the notebooks themselves show only the
 * workflow: where the inputs are (`asset`, `readScene`), short notes under a cell (`note`), a
 * `CosmosError` shown with its hint instead of a failed cell (`explain`), an input image
 * (`showImage`), a value as JSON (`showJson`), and the parsed part of a Reasoner answer whose text
 * was already streamed (`showParsed`).
 *
 * Deno's kernel resolves this module from the notebook's folder (`../_notebook.ts`). The tslab
 * variant (`reasoner/caption.tslab.ipynb`) cannot load it: tslab compiles local `.ts` files to
 * CommonJS but not the ESM sources of `src/` and `kernel/` this module imports, so that notebook
 * keeps its own copies of these helpers (written by `cookbooks/make.ts`).
 *
 * @example
 * ```ts
 * import { asset, note, readScene, showImage } from "../_notebook.ts";
 * const scene = readScene();
 * await showImage(asset("images/tabletop.png"), `input: ${scene.image.boxes.length} objects`);
 * await note("info", "backend: native");
 * ```
 * @module
 */
import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { CosmosError } from "../src/errors.ts";
import type { ReasonResult } from "../src/schema/results.ts";
import { birdsEyeFigure, type BoxConvention, display, escapeHtml, showBoxes, showPlot, showSubjects, showTimeline } from "../kernel/mod.ts";

/** The repository root (this file is `cookbooks/_notebook.ts`). */
const root = resolve(fileURLToPath(new URL("..", import.meta.url)));

/**
 * The absolute path of a file in the repository.
 * @example
 * ```ts
 * import { fromRepo } from "../_notebook.ts";
 * fromRepo("test/fixtures/qwen3vl-tiny"); // "/…/cosmos-ts/test/fixtures/qwen3vl-tiny"
 * ```
 */
export function fromRepo(path: string): string {
  return resolve(root, path);
}

/**
 * The absolute path of a cookbook input in `assets/` (synthetic files made by `assets/make.ts`;
 * `scripts/setup.sh` runs it).
 * @example
 * ```ts
 * import { asset } from "../_notebook.ts";
 * asset("videos/pick_place.mp4"); // "/…/cosmos-ts/assets/videos/pick_place.mp4"
 * ```
 */
export function asset(path: string): string {
  return resolve(root, "assets", path);
}

/** What `assets/scene.json` says about the synthetic inputs (references, not model output). */
export interface Scene {
  /** The table image's objects, `[x1, y1, x2, y2]` on the Qwen3-VL 0–1000 grid. */
  image: { boxes: { label: string; box: [number, number, number, number] }[] };
  /** The pick-and-place clip: its length and the events drawn into it. */
  pickPlace: { seconds: number; events: { start: number; end: number; label: string }[] };
  /** The driving clip's length. */
  driving: { seconds: number };
  /** One action chunk per embodiment id: file (under assets/), dimension, steps, column layout. */
  actions: Record<string, { path: string; dim: number; steps: number; layout: string }>;
}

/**
 * Reads `assets/scene.json`: the reference boxes, events and action-chunk layouts of the inputs.
 * @example
 * ```ts
 * import { readScene } from "../_notebook.ts";
 * const scene = readScene();
 * scene.pickPlace.events.length; // 5
 * ```
 */
export function readScene(): Scene {
  return JSON.parse(readFileSync(asset("scene.json"), "utf8")) as Scene;
}

/** What a {@link note} says: plain information, what the backend lacks, or the untrained-weights warning. */
export type NoteKind = "info" | "unavailable" | "untrained";

const NOTE_COLOURS: Record<NoteKind, string> = { info: "#2563eb", unavailable: "#b45309", untrained: "#b91c1c" };

/**
 * Shows a short note under the cell (HTML with a coloured bar, and plain text).
 * @example
 * ```ts
 * import { note } from "../_notebook.ts";
 * await note("info", "backend: remote:http://127.0.0.1:8000/v1");
 * ```
 */
export async function note(kind: NoteKind, text: string): Promise<void> {
  await display({
    "text/html": `<div class="cosmos-note cosmos-${kind}" style="border-left:4px solid ${
      NOTE_COLOURS[kind]
    };padding:4px 10px;margin:4px 0;white-space:pre-wrap">${escapeHtml(text)}</div>`,
    "text/plain": text,
  });
}

/**
 * Shows a `CosmosError`'s name, code, message and hint as an "unavailable" note; anything else is
 * a bug and is rethrown, so the cell fails.
 * @example
 * ```ts
 * import { explain } from "../_notebook.ts";
 * try {
 *   await rollout(request, { backend });
 * } catch (e) {
 *   await explain(e);
 * }
 * ```
 */
export async function explain(e: unknown): Promise<void> {
  if (!(e instanceof CosmosError)) throw e;
  await note("unavailable", `${e.name} (${e.code}): ${e.message}`);
}

/**
 * Shows an input image (PNG, JPG or WEBP) inline, with a caption.
 * @example
 * ```ts
 * import { asset, showImage } from "../_notebook.ts";
 * await showImage(asset("images/tabletop.png"), "input: images/tabletop.png · 832x480");
 * ```
 */
export async function showImage(path: string, caption: string): Promise<void> {
  const mime = path.endsWith(".png") ? "image/png" : path.endsWith(".webp") ? "image/webp" : "image/jpeg";
  const uri = `data:${mime};base64,${readFileSync(path).toString("base64")}`;
  await display({
    "text/html": `<figure class="cosmos-input" style="margin:4px 0"><img src="${uri}" style="max-width:100%"><figcaption>${
      escapeHtml(caption)
    }</figcaption></figure>`,
    "text/plain": `<image ${caption}>`,
  });
}

/**
 * Shows a value as JSON under a title (a collapsible HTML block, `application/json` and plain
 * text); numbers are rounded to 4 decimals.
 * @example
 * ```ts
 * import { showJson } from "../_notebook.ts";
 * await showJson("request: validated, with the defaults filled in", { task: "caption", maxTokens: 4096 });
 * ```
 */
export async function showJson(title: string, value: unknown): Promise<void> {
  const text = JSON.stringify(value, (_k, v: unknown) => (typeof v === "number" ? Math.round(v * 1e4) / 1e4 : v), 2);
  await display({
    "text/html": `<details class="cosmos-json" open><summary>${escapeHtml(title)}</summary><pre>${escapeHtml(text)}</pre></details>`,
    "application/json": JSON.parse(text) as object,
    "text/plain": `${title}\n${text}`,
  });
}

/** Options of {@link showParsed}. */
export interface ParsedOptions {
  /** The image the Reasoner saw, to draw boxes or marked subjects on. */
  image?: string;
  /** The regions sent to describe-anything, numbered 1… like the answer's subjects. */
  regions?: { box?: [number, number, number, number]; polygon?: [number, number][] }[];
  /** The video's length in seconds, for the timeline of events. */
  duration?: number;
  /** Box convention (default `"norm1000"`, the Reasoner's 0–1000 grid). */
  convention?: BoxConvention;
}

/**
 * Renders what was parsed out of a `reason()` answer — boxes over the image, marked subjects, a
 * timeline of events, a bird's-eye trajectory, a label — then one summary line
 * (`parsed as … · finish: … · backend`). The answer's text is not repeated: the call already
 * streamed it.
 * @example
 * ```ts
 * import { asset, showParsed } from "../_notebook.ts";
 * const result = await reason({ task: "grounding_2d", image: asset("images/tabletop.png"), prompt: "Locate the cube." });
 * await showParsed(result, { image: asset("images/tabletop.png") }); // boxes, then "parsed as boxes · …"
 * ```
 */
export async function showParsed(result: ReasonResult, o: ParsedOptions = {}): Promise<void> {
  const p = result.parsed;
  let detail = "";
  if (p.kind === "events") {
    if (p.events.length > 0) await showTimeline(p.events, { duration: o.duration, title: "Events in the answer" });
    detail = ` (${p.events.length} event${p.events.length === 1 ? "" : "s"})`;
  } else if (p.kind === "boxes") {
    if (o.image && p.boxes.length > 0) await showBoxes(o.image, p.boxes, { convention: o.convention, caption: "boxes in the answer" });
    detail = ` (${p.boxes.length} box${p.boxes.length === 1 ? "" : "es"})`;
  } else if (p.kind === "subjects") {
    if (o.image && o.regions) {
      const regions = o.regions.map((r, i) => ({ ...r, index: i + 1, ...p.subjects.find((s) => s.index === i + 1) }));
      await showSubjects(o.image, regions, { convention: o.convention, caption: "the marked subjects, described" });
    }
    detail = ` (${p.subjects.length} subject${p.subjects.length === 1 ? "" : "s"})`;
  } else if (p.kind === "trajectory") {
    if (p.points.length > 0) await showPlot(birdsEyeFigure([{ name: "trajectory", points: p.points }], { title: "Trajectory in the answer" }));
    detail = ` (${p.points.length} waypoints)`;
  } else if (p.kind === "label") {
    detail = `: ${p.label}`;
  } else if (p.kind === "unparsed") {
    detail = ` (${p.error})`;
  }
  await note("info", `parsed as ${p.kind}${detail} · finish: ${result.finishReason ?? "?"} · ${result.backend}`);
}
