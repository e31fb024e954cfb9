/**
 * Temporal localization as a timeline: events (start/end seconds, label) drawn as bars over
 * the video's duration, overlapping events stacked in lanes, with a time axis. Model output is
 * often imperfect: an event with NaN times, a negative time or an end before its start, or one
 * that starts after the video ends, is left out; one that runs past the end is drawn cut and
 * dashed; a note under the timeline lists both (with the parser's `invalid` items). The
 * valid events are always drawn.
 *
 * @example
 * ```ts
 * import { showTimeline } from "./timeline.ts";
 * await showTimeline([{ start: 0.5, end: 2, label: "pick up cup" }, { start: 2.5, end: 4, label: "place" }], { duration: 5 });
 * ```
 * @module
 */
import { ValidationError } from "../src/errors.ts";
import { labelColors } from "./boxes.ts";
import { display } from "./runtime.ts";
import { type Displayable, displayable, escapeHtml, type MimeBundle, num } from "./mime.ts";
import { hasNotes, type ItemProblem, notesHtml, notesText, type RenderNotes } from "./notes.ts";

/** An event in seconds. */
export interface TimelineEvent {
  start: number;
  end: number;
  label: string;
}

/** Options of {@link timelineBundle}. */
export interface TimelineOptions {
  /** The video's duration in seconds (default: the last event's end). */
  duration?: number;
  /** Drawing width in pixels (default 720). */
  width?: number;
  /** A title above the timeline. */
  title?: string;
  /** Items the parser already left out (`parsed.invalid`), listed in the note. */
  invalid?: readonly ItemProblem[];
}

/**
 * Assigns each event (sorted by start) to the first lane where it does not overlap.
 * @example
 * ```ts
 * import { assignLanes } from "./timeline.ts";
 * assignLanes([{ start: 0, end: 2, label: "a" }, { start: 1, end: 3, label: "b" }]); // [0, 1]
 * ```
 */
export function assignLanes(events: readonly TimelineEvent[]): number[] {
  const order = events.map((_, i) => i).sort((a, b) => events[a].start - events[b].start);
  const laneEnds: number[] = [];
  const lanes = new Array<number>(events.length).fill(0);
  for (const i of order) {
    let lane = laneEnds.findIndex((end) => end <= events[i].start);
    if (lane < 0) lane = laneEnds.push(0) - 1;
    laneEnds[lane] = events[i].end;
    lanes[i] = lane;
  }
  return lanes;
}

function tickStep(duration: number): number {
  const raw = duration / 8;
  const pow = 10 ** Math.floor(Math.log10(raw || 1));
  for (const m of [1, 2, 5, 10]) if (raw <= m * pow) return m * pow;
  return 10 * pow;
}

function fmt(t: number): string {
  return t >= 60 ? `${Math.floor(t / 60)}:${(t % 60).toFixed(1).padStart(4, "0")}` : `${num(t)}s`;
}

/**
 * The timeline's MIME bundle: `text/html` with an SVG (one `<rect class="cosmos-event">` per
 * drawn event) and the note on bad events (`<div class="cosmos-problems">`, see the module doc), and
 * `text/plain` (one line per event, then the note's lines). Only a bad `duration` option throws.
 * @example
 * ```ts
 * import { timelineBundle } from "./timeline.ts";
 * timelineBundle([{ start: 1, end: 2, label: "wave" }], { duration: 4 })["text/plain"]; // includes "1s–2s wave"
 * ```
 */
export function timelineBundle(allEvents: readonly TimelineEvent[], o: TimelineOptions = {}): MimeBundle {
  if (o.duration !== undefined && !(Number.isFinite(o.duration) && o.duration > 0)) {
    throw new ValidationError([{
      field: "duration",
      value: o.duration,
      allowed: "> 0 seconds",
      message: "bad duration",
    }]);
  }
  const notes: RenderNotes = { skipped: [...(o.invalid ?? [])], flagged: [] };
  const events = allEvents.filter((e) => {
    const problem = eventProblem(e, o.duration);
    if (problem) notes.skipped.push({ item: eventText(e), problem });
    else if (o.duration !== undefined && e.end > o.duration) {
      notes.flagged.push({ item: eventText(e), problem: `runs past the end (${fmt(o.duration)}): drawn cut` });
    }
    return problem === undefined;
  });
  const duration = o.duration ?? Math.max(0, ...events.map((e) => e.end));
  if (!(duration > 0)) {
    if (hasNotes(notes)) return notesOnly(notes); // nothing drawable: say why rather than fail
    throw new ValidationError([{ field: "duration", value: duration, allowed: "> 0 seconds", message: "no duration" }]);
  }
  const width = o.width ?? 720;
  const pad = 12;
  const laneH = 26;
  const lanes = assignLanes(events);
  const nLanes = Math.max(1, ...lanes.map((l) => l + 1));
  const top = o.title ? 22 : 6;
  const axisY = top + nLanes * laneH + 6;
  const height = axisY + 24;
  const x = (t: number) => pad + (Math.min(t, duration) / duration) * (width - 2 * pad);
  const colors = labelColors(events.map((e) => e.label));
  const bars = events.map((e, i) => {
    const color = colors.get(e.label) as string;
    const y = top + lanes[i] * laneH;
    const w = Math.max(2, x(e.end) - x(e.start));
    const clip = `<title>${escapeHtml(`${e.label}: ${fmt(e.start)}–${fmt(e.end)}`)}</title>`;
    const showText = w > e.label.length * 6.5 + 6;
    const cut = e.end > duration;
    return `<g class="cosmos-event-g"><rect class="cosmos-event${
      cut ? " cosmos-flagged" : ""
    }" data-start="${e.start}" data-end="${e.end}" ` +
      `x="${num(x(e.start))}" y="${y}" width="${num(w)}" height="${laneH - 6}" rx="4" fill="${color}"` +
      `${cut ? ` stroke="#8a4b00" stroke-width="2" stroke-dasharray="5 3"` : ""}>${clip}</rect>` +
      (showText
        ? `<text x="${num(x(e.start) + 5)}" y="${y + laneH - 11}" font-size="12" font-family="sans-serif" fill="#fff">${
          escapeHtml(e.label)
        }</text>`
        : "") +
      "</g>";
  });
  const step = tickStep(duration);
  const ticks: string[] = [];
  for (let t = 0; t <= duration + 1e-9; t += step) {
    ticks.push(
      `<line x1="${num(x(t))}" x2="${num(x(t))}" y1="${axisY}" y2="${axisY + 5}" stroke="#666"/>` +
        `<text x="${num(x(t))}" y="${
          axisY + 17
        }" font-size="11" font-family="sans-serif" fill="#444" text-anchor="middle">${
          fmt(Math.round(t * 1000) / 1000)
        }</text>`,
    );
  }
  const title = o.title
    ? `<text x="${pad}" y="15" font-size="13" font-family="sans-serif" font-weight="bold">${escapeHtml(o.title)}</text>`
    : "";
  const svg = `<svg class="cosmos-timeline" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 ${width} ${height}" ` +
    `width="${width}" height="${height}" style="max-width:100%;height:auto">${title}` +
    `<rect x="${pad}" y="${top - 2}" width="${width - 2 * pad}" height="${nLanes * laneH + 2}" fill="#f4f4f4"/>` +
    `${bars.join("")}<line x1="${pad}" x2="${width - pad}" y1="${axisY}" y2="${axisY}" stroke="#666"/>${
      ticks.join("")
    }</svg>`;
  const lines = events.map((e) => `  ${fmt(e.start)}–${fmt(e.end)} ${e.label}`);
  const note = notesText(notes);
  return {
    "text/html": svg + notesHtml(notes, "event"),
    "text/plain": `<timeline ${events.length} event${events.length === 1 ? "" : "s"} over ${fmt(duration)}>\n${
      lines.join("\n")
    }${note ? `\n${note}` : ""}`,
  };
}

/** Why an event cannot be drawn at all, or undefined. */
function eventProblem(e: TimelineEvent, duration: number | undefined): string | undefined {
  if (!Number.isFinite(e.start) || !Number.isFinite(e.end)) return "a time is not a number (NaN, Infinity or missing)";
  if (e.start < 0 || e.end < 0) return "negative time";
  if (e.end < e.start) return "ends before it starts";
  if (duration !== undefined && e.start > duration) return `starts after the end (${fmt(duration)})`;
  return undefined;
}

function eventText(e: TimelineEvent): string {
  const t = (v: number) => (Number.isFinite(v) ? fmt(v) : String(v));
  return `${e.label || "(no label)"} ${t(e.start)}–${t(e.end)}`;
}

function notesOnly(notes: RenderNotes): MimeBundle {
  return {
    "text/html": `<div class="cosmos-timeline-empty">${notesHtml(notes, "event")}</div>`,
    "text/plain": `<timeline 0 events>\n${notesText(notes)}`,
  };
}

/**
 * Shows a timeline of events in the notebook.
 * @example
 * ```ts
 * import { showTimeline } from "./timeline.ts";
 * await showTimeline([{ start: 0, end: 1.5, label: "door opens" }], { duration: 6 });
 * ```
 */
export async function showTimeline(events: readonly TimelineEvent[], o: TimelineOptions = {}): Promise<void> {
  await display(timelineBundle(events, o));
}

/**
 * A timeline as a value that renders itself in Deno's kernel (a cell's last expression).
 * @example
 * ```ts
 * import { timelineOutput } from "./timeline.ts";
 * timelineOutput([{ start: 0, end: 2, label: "wave" }], { duration: 4 });
 * ```
 */
export function timelineOutput(events: readonly TimelineEvent[], o: TimelineOptions = {}): Displayable {
  return displayable(timelineBundle(events, o));
}
