/**
 * `show()`: renders what `reason()`, `generate()` and `rollout()` return, the IPython way — one
 * call per result, whatever its kind. A Reasoner result shows its reasoning and answer apart (unless
 * the notebook-aware `reason()` of `kernel/calls.ts` already streamed them), then the parsed output
 * (timeline of events, boxes or marked subjects over the input image, waypoints, a label) and one
 * summary line; a Generator result its image or video with sound; a rollout its video and the
 * predicted actions as plots. Given the pending call instead of its result, `show()` awaits it and
 * shows a typed error (`CosmosError`: name, code, message and hint) in place of a result, so a
 * backend that cannot run a request does not stop the notebook.
 *
 * Also here: `note()` (a short line under a cell), `showJson()` and `showError()`.
 *
 * @example
 * ```ts
 * import { show } from "./show.ts";
 * await show({ task: "caption", answer: "A cat.", parsed: { kind: "text", text: "A cat." } });
 * // In a notebook, with the calls of kernel/notebook.ts:
 * // await show(reason({ task: "grounding_2d", image: "scene.png", prompt: "Locate the cup." }), { image: "scene.png" });
 * ```
 * @module
 */
import { readFile } from "node:fs/promises";
import { CosmosError } from "../src/errors.ts";
import { type BoxConvention, showBoxes, showSubjects } from "./boxes.ts";
import { type MediaOutputOptions, showVideo } from "./media.ts";
import { actionGroupsFigure, birdsEyeFigure, showPlot, timeSeriesFigure, trajectory3dFigure } from "./plotly.ts";
import { ACTION_LAYOUTS, type EmbodimentId, EMBODIMENTS } from "../src/schema/embodiments.ts";
import { display } from "./runtime.ts";
import { streamBundle } from "./stream.ts";
import { showTimeline } from "./timeline.ts";
import type { ItemProblem } from "./notes.ts";
import { escapeHtml, type MimeBundle, toBase64 } from "./mime.ts";

/** The parts of a `reason()` result that `show` uses. */
export interface ReasonLike {
  task: string;
  answer: string;
  reasoning?: string;
  parsed:
    | { kind: "text"; text: string }
    | { kind: "events"; events: { start: number; end: number; label: string }[]; invalid?: ItemProblem[] }
    | {
      kind: "boxes";
      boxes: { label: string; box: [number, number, number, number]; problem?: string }[];
      invalid?: ItemProblem[];
    }
    | { kind: "subjects"; subjects: { index: number; label?: string; description: string }[] }
    | { kind: "trajectory"; points: [number, number][]; invalid?: ItemProblem[] }
    | { kind: "label"; label: string }
    | { kind: "unparsed"; error: string };
  finishReason?: string;
  backend?: string;
}

/** The parts of a media file that `show` uses. */
export interface MediaLike {
  path: string;
  mimeType: string;
  width?: number;
  height?: number;
  numFrames?: number;
  fps?: number;
  hasSound?: boolean;
}

/** Options of {@link show}. */
export interface ShowOptions extends MediaOutputOptions {
  /** The image the Reasoner saw (for boxes / marked subjects). */
  image?: string | Uint8Array;
  /** Regions given to describe-anything, numbered like the answer's subjects. */
  regions?: { box?: [number, number, number, number]; polygon?: [number, number][] }[];
  /** Box convention (default `"norm1000"`). */
  convention?: BoxConvention;
  /** The video's duration for timelines (default: the last event's end). */
  duration?: number;
  /** Steps per second for action plots. */
  fps?: number;
}

// ------------------------------------------------------------------------------ notes

/** What a {@link note} says: plain information, what the backend lacks, or an untrained-weights warning. */
export type NoteKind = "info" | "unavailable" | "untrained";

const NOTE_COLOURS: Record<NoteKind, string> = { info: "#2563eb", unavailable: "#b45309", untrained: "#b91c1c" };

/**
 * The MIME bundle of a note: HTML with a coloured bar (`class="cosmos-note cosmos-<kind>"`) and plain text.
 * @example
 * ```ts
 * import { noteBundle } from "./show.ts";
 * noteBundle("info", "backend: native")["text/plain"]; // "backend: native"
 * ```
 */
export function noteBundle(kind: NoteKind, text: string): MimeBundle {
  return {
    "text/html": `<div class="cosmos-note cosmos-${kind}" style="border-left:4px solid ${
      NOTE_COLOURS[kind]
    };padding:4px 10px;margin:4px 0;white-space:pre-wrap">${escapeHtml(text)}</div>`,
    "text/plain": text,
  };
}

/**
 * Shows a short note under the cell.
 * @example
 * ```ts
 * import { note } from "./show.ts";
 * await note("info", "backend: remote:http://127.0.0.1:8000/v1");
 * ```
 */
export async function note(kind: NoteKind, text: string): Promise<void> {
  await display(noteBundle(kind, text));
}

/**
 * Shows a `CosmosError` — name, code, message and hint — as an "unavailable" note; anything else
 * is a bug and is rethrown, so the cell fails with it.
 * @example
 * ```ts
 * import { showError } from "./show.ts";
 * import { UnsupportedError } from "../src/errors.ts";
 * await showError(new UnsupportedError("No diffusion model here.", { hint: "Use a vLLM-Omni server." }));
 * ```
 */
export async function showError(e: unknown): Promise<void> {
  if (!(e instanceof CosmosError)) throw e;
  await note("unavailable", `${e.name} (${e.code}): ${e.message}`);
}

/**
 * Shows a value as JSON under a title (a collapsible HTML block, `application/json` and plain
 * text); numbers are rounded to 4 decimals.
 * @example
 * ```ts
 * import { showJson } from "./show.ts";
 * await showJson("request: validated, with the defaults filled in", { task: "caption", maxTokens: 4096 });
 * ```
 */
export async function showJson(title: string, value: unknown): Promise<void> {
  const text = JSON.stringify(value, (_k, v: unknown) => (typeof v === "number" ? Math.round(v * 1e4) / 1e4 : v), 2) ??
    "null";
  await display({
    "text/html": `<details class="cosmos-json" open><summary>${escapeHtml(title)}</summary><pre>${
      escapeHtml(text)
    }</pre></details>`,
    "application/json": JSON.parse(text) as object,
    "text/plain": `${title}\n${text}`,
  });
}

// ------------------------------------------------------------------------------ results

/** Reasoner results whose text a live output already showed (see {@link markStreamed}). */
const streamed = new WeakSet<object>();

/**
 * Records that a Reasoner result's reasoning and answer were already streamed into the notebook,
 * so that {@link show} renders only what was parsed out of them, not the text a second time.
 * The notebook-aware `reason()` (kernel/calls.ts) calls it.
 * @example
 * ```ts
 * import { markStreamed } from "./show.ts";
 * const result = { task: "caption", answer: "A cat.", parsed: { kind: "text", text: "A cat." } };
 * markStreamed(result); // show(result) now prints only the summary line
 * ```
 */
export function markStreamed<T extends object>(result: T): T {
  streamed.add(result);
  return result;
}

function isReason(v: object): v is ReasonLike {
  return "answer" in v && "parsed" in v && "task" in v;
}

const plural = (n: number, one: string, many = `${one}s`) => `${n} ${n === 1 ? one : many}`;

/** The parsed part of a Reasoner answer, then `parsed as … · finish: … · backend`. */
async function showReason(r: ReasonLike, o: ShowOptions): Promise<void> {
  if (!streamed.has(r)) {
    await display(streamBundle({ title: r.task, reasoning: r.reasoning ?? "", answer: r.answer, streaming: false }));
  }
  const p = r.parsed;
  let detail = "";
  if (p.kind === "events") {
    if (p.events.length > 0 || p.invalid?.length) {
      await showTimeline(p.events, { duration: o.duration, title: "Events in the answer", invalid: p.invalid });
    }
    detail = ` (${plural(p.events.length, "event")})`;
  } else if (p.kind === "boxes") {
    if (o.image && (p.boxes.length > 0 || p.invalid?.length)) {
      await showBoxes(o.image, p.boxes, {
        convention: o.convention,
        caption: "boxes in the answer",
        invalid: p.invalid,
      });
    }
    detail = ` (${plural(p.boxes.length, "box", "boxes")})`;
  } else if (p.kind === "subjects") {
    if (o.image && o.regions) {
      const regions = o.regions.map((region, i) => ({
        ...region,
        index: i + 1,
        ...p.subjects.find((s) => s.index === i + 1),
      }));
      await showSubjects(o.image, regions, { convention: o.convention, caption: "the marked subjects, described" });
    }
    detail = ` (${plural(p.subjects.length, "subject")})`;
  } else if (p.kind === "trajectory") {
    if (p.points.length > 0 || p.invalid?.length) {
      await showPlot(
        birdsEyeFigure([{ name: "trajectory", points: p.points }], {
          title: "Trajectory in the answer",
          invalid: p.invalid,
        }),
      );
    }
    detail = ` (${p.points.length} waypoints)`;
  } else if (p.kind === "label") {
    detail = `: ${p.label}`;
  } else if (p.kind === "unparsed") {
    detail = ` (${p.error})`;
  }
  await note("info", `parsed as ${p.kind}${detail} · finish: ${r.finishReason ?? "?"} · ${r.backend ?? "?"}`);
}

async function showMedia(m: MediaLike, o: ShowOptions): Promise<void> {
  if (m.mimeType.startsWith("video/")) return await showVideo(m.path, o);
  const bytes = new Uint8Array(await readFile(m.path));
  await display({
    [m.mimeType]: toBase64(bytes),
    "text/plain": `<image ${m.path}${m.width ? ` ${m.width}x${m.height}` : ""}>`,
  });
}

/** `832x480 · 189 frames at 24 fps · sound: true` */
function mediaSummary(m: MediaLike): string {
  const frames = m.numFrames ? ` · ${m.numFrames} frames at ${m.fps} fps` : "";
  return `${m.width}x${m.height}${frames}${m.hasSound === undefined ? "" : ` · sound: ${m.hasSound}`}`;
}

interface GenerateLike {
  mode: string;
  media: MediaLike;
  backend?: string;
  /** The native checkpoint's weights are untrained (its cosmos-ts.json says so): the media are noise. */
  untrained?: boolean;
  /** Text-to-video ran as the checkpoint's two-pass recipe (src/schema/results.ts `GenerateResult`). */
  textToVideoRecipe?: string;
  /** The recipe's first frame went through the checkpoint's first-frame check. */
  firstFrameCheck?: {
    candidates: number;
    chosen: number;
    accepted: boolean;
    subjects: string[];
    /** Not accepted, but the subjects were found once each, `misplaced` drawn in another column than the prompt's. */
    found?: boolean;
    misplaced?: string[];
  };
  /** The prompt that ran, with places written in for a checkpoint that reads prompts with places. */
  upsampledPrompt?: string;
}

/** One clause on the first-frame check: which candidate was kept and why. */
function firstFrameCheckNote(c: NonNullable<GenerateLike["firstFrameCheck"]>): string {
  const subjects = c.subjects.join(", ");
  const drawn = c.candidates === 1 ? "1 first frame drawn" : `${c.candidates} first frames drawn`;
  if (c.accepted) return ` (${drawn}; the Reasoner found the ${subjects} in number ${c.chosen + 1})`;
  if (c.found && c.misplaced?.length) {
    return ` (${drawn}; the Reasoner found the ${subjects} where the prompt says in none; number ${
      c.chosen + 1
    } kept, the ${c.misplaced.join(", ")} in another place)`;
  }
  return ` (${drawn}; the Reasoner found the ${subjects} in none, the first kept)`;
}

/** What pass 1 of a two-pass text-to-video recipe (src/native/generator.ts `TextToVideoRecipe`) ran. */
const FIRST_FRAME_PASS: Readonly<Record<string, string>> = {
  first_frame_anchored: "text-to-video",
  image_anchored: "text-to-image",
};

interface RolloutLike {
  mode: string;
  embodiment: string;
  untrained?: boolean;
  video?: MediaLike;
  actions?: number[][];
  /** The chunk in both spaces and which one to chart (src/schema/results.ts `RolloutActions`). */
  actionSpaces?: { role: string; normalized: number[][]; raw?: number[][]; charted: "raw" | "normalized" };
  backend?: string;
}

const isGenerate = (v: object): v is GenerateLike => "media" in v && "mode" in v;
const isRollout = (v: object): v is RolloutLike => "embodiment" in v && "mode" in v;

function isPending(v: unknown): v is PromiseLike<unknown> {
  return typeof v === "object" && v !== null && typeof (v as { then?: unknown }).then === "function";
}

/**
 * Shows a result of `reason()`, `generate()` or `rollout()` (anything else: its JSON). Like
 * IPython's `display()` it returns nothing, so a cell ending in `await show(…)` prints no value of
 * its own. Given the pending call (a promise), it awaits it first; a `CosmosError` is then shown
 * with its hint instead of a result (any other error is rethrown, failing the cell). To keep a
 * result for later cells, await the call, then show it: `const r = await reason(…); await show(r);`.
 * @example
 * ```ts
 * import { show } from "./show.ts";
 * await show({ task: "caption", answer: "A cat.", parsed: { kind: "text", text: "A cat." } });
 * // the pending call: a CosmosError is shown, not thrown
 * await show(Promise.resolve({ mode: "policy", embodiment: "droid", actions: [[0, 0, 1]] }));
 * ```
 */
export async function show(result: unknown, o: ShowOptions = {}): Promise<void> {
  let value: unknown;
  if (isPending(result)) {
    try {
      value = await result;
    } catch (e) {
      await showError(e);
      return;
    }
  } else {
    value = result;
  }
  if (typeof value !== "object" || value === null) {
    await display({ "text/plain": String(value) });
    return;
  }
  if (isReason(value)) {
    await showReason(value, o);
    return;
  }
  if (isGenerate(value)) {
    await showMedia(value.media, o);
    const firstFrame = FIRST_FRAME_PASS[value.textToVideoRecipe ?? ""];
    const recipe = firstFrame
      ? ` · two passes, the checkpoint's recipe: ${firstFrame} for the first frame${
        value.firstFrameCheck ? firstFrameCheckNote(value.firstFrameCheck) : ""
      }, then image-to-video from it`
      : "";
    await note(
      "info",
      `${value.mode}: ${mediaSummary(value.media)} · ${value.media.path}${
        value.backend ? ` · ${value.backend}` : ""
      }${recipe}${
        value.upsampledPrompt
          ? ` · the checkpoint reads prompts that say where each object stands, so it ran: "${value.upsampledPrompt}"`
          : ""
      }`,
    );
    if (value.untrained) await untrainedNote();
    return;
  }
  const r = value as Partial<RolloutLike>;
  let shown = false;
  if (r.video) {
    await showMedia(r.video, o);
    shown = true;
  }
  const charted = chartedActions(r);
  if (charted) {
    await showActionCharts(charted, r.embodiment, o.fps);
    shown = true;
  }
  if (isRollout(value)) {
    const steps = charted
      ? ` · ${charted.points.length} ${charted.name} steps × ${charted.points[0]?.length ?? 0}D (${charted.space})`
      : "";
    const video = r.video ? ` · video ${r.video.width}x${r.video.height}` : "";
    await note(
      "info",
      `${value.mode} · ${value.embodiment}${steps}${video}${value.backend ? ` · ${value.backend}` : ""}`,
    );
    if (value.untrained) await untrainedNote();
    return;
  }
  if (!shown) await display({ "application/json": value, "text/plain": JSON.stringify(value, null, 2) });
}

/** Under a native result whose checkpoint says its weights are untrained (the tiny test fixture). */
async function untrainedNote(): Promise<void> {
  await note(
    "untrained",
    "Untrained test checkpoint (its cosmos-ts.json says so): the engine ran the whole Generator path, but these " +
      "pixels and actions are noise by design. Point COSMOS_GENERATOR_BACKEND at a Cosmos 3 Generator checkpoint for real output.",
  );
}

/** The chunk a rollout's chart shows: `actionSpaces[charted]` when the result has it, else the predicted `actions`. */
function chartedActions(
  r: Partial<RolloutLike>,
): { name: string; points: number[][]; space: "raw" | "normalized" } | undefined {
  const spaces = r.actionSpaces;
  const points = spaces ? spaces[spaces.charted] : r.actions;
  if (!points || points.length === 0) return undefined;
  return { name: spaces?.role ?? "predicted", points, space: spaces?.charted ?? "normalized" };
}

/**
 * The action charts of a rollout: panels grouped by the embodiment's layout (translation, 6D
 * rotation, gripper, fingertips) when the rows have its width, else one panel per dimension; and
 * the first translation group as a 3D plot. Titles say which space is drawn.
 */
async function showActionCharts(
  chunk: { name: string; points: number[][]; space: "raw" | "normalized" },
  embodiment: string | undefined,
  fps: number | undefined,
): Promise<void> {
  const space = chunk.space === "raw" ? "raw units" : "normalised model space";
  const title = `${chunk.name === "given" ? "Given" : "Predicted"} actions (${space})`;
  const emb = embodiment !== undefined && embodiment in EMBODIMENTS
    ? EMBODIMENTS[embodiment as EmbodimentId]
    : undefined;
  const layout = emb && ACTION_LAYOUTS[emb.layout];
  const fits = layout !== undefined && chunk.points.every((row) => row.length === emb!.actionDim);
  const traj = { name: chunk.name, points: chunk.points };
  await showPlot(
    fits ? actionGroupsFigure([traj], layout, { fps, title }) : timeSeriesFigure([traj], { fps, title }),
  );
  // The 3D view: the layout's first translation (per-step deltas in the datasets), else the first three dimensions.
  const groups = fits ? layout.groups : [];
  const t = groups.findIndex((g) => g.kind === "translation");
  if (t >= 0) {
    const from = groups.slice(0, t).reduce((n, g) => n + g.columns.length, 0);
    const points = chunk.points.map((row) => row.slice(from, from + 3));
    await showPlot(
      trajectory3dFigure([{ name: chunk.name, points }], { title: `${groups[t].label} per step (${space})` }),
    );
  } else if (!fits && (chunk.points[0]?.length ?? 0) >= 3) {
    await showPlot(trajectory3dFigure([traj], { title: `Path (first 3 dims, ${space})` }));
  }
}
