/**
 * `show(result)`: renders what `reason()`, `generate()` and `rollout()` return — the reasoning
 * and answer apart, then the parsed output (timeline of events, boxes or marked subjects over the
 * input image, waypoints), the generated image / video with its sound, the predicted actions.
 *
 * @example
 * ```ts
 * import { show } from "./show.ts";
 * // const r = await reason({ task: "grounding_2d", image: "scene.png", prompt: "..." });
 * // await show(r, { image: "scene.png" });
 * ```
 * @module
 */
import { readFile } from "node:fs/promises";
import { showBoxes, showSubjects, type BoxConvention } from "./boxes.ts";
import { showVideo, type MediaOutputOptions } from "./media.ts";
import { birdsEyeFigure, showPlot, timeSeriesFigure, trajectory3dFigure } from "./plotly.ts";
import { display } from "./runtime.ts";
import { streamBundle } from "./stream.ts";
import { showTimeline } from "./timeline.ts";
import { toBase64 } from "./mime.ts";

/** The parts of a `reason()` result that `show` uses. */
export interface ReasonLike {
  task: string;
  answer: string;
  reasoning?: string;
  parsed:
    | { kind: "text"; text: string }
    | { kind: "events"; events: { start: number; end: number; label: string }[] }
    | { kind: "boxes"; boxes: { label: string; box: [number, number, number, number] }[] }
    | { kind: "subjects"; subjects: { index: number; label?: string; description: string }[] }
    | { kind: "trajectory"; points: [number, number][] }
    | { kind: "label"; label: string }
    | { kind: "unparsed"; error: string };
}

/** The parts of a media file that `show` uses. */
export interface MediaLike {
  path: string;
  mimeType: string;
  width?: number;
  height?: number;
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

function isReason(v: object): v is ReasonLike {
  return "answer" in v && "parsed" in v && "task" in v;
}

async function showMedia(m: MediaLike, o: ShowOptions): Promise<void> {
  if (m.mimeType.startsWith("video/")) return await showVideo(m.path, o);
  const bytes = new Uint8Array(await readFile(m.path));
  await display({
    [m.mimeType]: toBase64(bytes),
    "text/plain": `<image ${m.path}${m.width ? ` ${m.width}x${m.height}` : ""}>`,
  });
}

/**
 * Shows a result of `reason()`, `generate()` or `rollout()` (anything else: its JSON).
 * @example
 * ```ts
 * import { show } from "./show.ts";
 * await show({ task: "caption", answer: "A cat.", parsed: { kind: "text", text: "A cat." } });
 * ```
 */
export async function show(result: unknown, o: ShowOptions = {}): Promise<void> {
  if (typeof result !== "object" || result === null) {
    await display({ "text/plain": String(result) });
    return;
  }
  if (isReason(result)) {
    await display(streamBundle({ title: result.task, reasoning: result.reasoning ?? "", answer: result.answer, streaming: false }));
    const p = result.parsed;
    if (p.kind === "events" && p.events.length > 0) await showTimeline(p.events, { duration: o.duration });
    if (p.kind === "boxes" && o.image) await showBoxes(o.image, p.boxes, { convention: o.convention });
    if (p.kind === "subjects" && o.image && o.regions) {
      await showSubjects(
        o.image,
        o.regions.map((r, i) => ({ ...r, index: i + 1, ...p.subjects.find((s) => s.index === i + 1) })),
        { convention: o.convention },
      );
    }
    if (p.kind === "trajectory" && p.points.length > 0) {
      await showPlot(birdsEyeFigure([{ name: "trajectory", points: p.points }], { title: "Trajectory" }));
    }
    return;
  }
  const r = result as { media?: MediaLike; video?: MediaLike; actions?: number[][] };
  let shown = false;
  if (r.media) {
    await showMedia(r.media, o);
    shown = true;
  }
  if (r.video) {
    await showMedia(r.video, o);
    shown = true;
  }
  if (r.actions && r.actions.length > 0) {
    const actions = { name: "predicted", points: r.actions };
    await showPlot(timeSeriesFigure([actions], { fps: o.fps }));
    if ((r.actions[0]?.length ?? 0) >= 3) await showPlot(trajectory3dFigure([actions], { title: "Path (first 3 dims)" }));
    shown = true;
  }
  if (!shown) await display({ "application/json": result, "text/plain": JSON.stringify(result, null, 2) });
}
