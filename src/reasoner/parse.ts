/**
 * Parses the Reasoner's answer into the typed result of each workflow: boxes
 * (Qwen3-VL `bbox_2d` + `label` on the 0–1000 grid), temporal events, plausibility
 * labels, trajectories and describe-anything subjects. Tolerates code fences, bare and
 * truncated JSON and the usual text forms; never throws — a failure is
 * `{ kind: "unparsed", error }` and the raw text stays in the result.
 *
 * One bad item never costs the others: an event that ends before it starts, an empty or
 * reversed box, a box wholly outside the 0–1000 grid, a point with NaN / null is left out and
 * listed in `invalid` (`{ item, problem }`), and a box that sticks out of the grid is kept with
 * a `problem`. Overlapping events are all kept (a timeline stacks them in lanes).
 *
 * @example
 * ```ts
 * import { parseAnswer } from "./parse.ts";
 * const fence = "`".repeat(3); // a code fence, as the model writes one around its JSON
 * parseAnswer("grounding_2d", `${fence}json\n[{"bbox_2d": [10, 20, 300, 400], "label": "cup"}]\n${fence}`);
 * // { kind: "boxes", boxes: [{ label: "cup", box: [10, 20, 300, 400] }] }
 * parseAnswer("temporal_localization", '[{"start": 5, "end": 3, "event": "x"}, {"start": 0, "end": 2, "event": "y"}]');
 * // { kind: "events", events: [{ start: 0, end: 2, label: "y" }],
 * //   invalid: [{ item: '{"start":5,"end":3,"event":"x"}', problem: "ends (3s) before it starts (5s)" }] }
 * ```
 * @module
 */
import { REASON_TASKS, type ReasonTask, type TaskInfo } from "../schema/reason_request.ts";
import type { InvalidItem, LabeledBox, ParsedOutput, TimedEvent } from "../schema/results.ts";
import { extractJsonValues } from "./json_extract.ts";

/** Options of {@link parseAnswer}. */
export interface ParseOptions {
  /** describe-anything: the marked subjects, to attach their labels by index (1-based). */
  subjects?: { label?: string }[];
}

/** Parses an answer (the text after `</think>`) for a workflow. */
export function parseAnswer(task: ReasonTask, answer: string, opts: ParseOptions = {}): ParsedOutput {
  const output = (REASON_TASKS[task] as TaskInfo).output;
  switch (output) {
    case "text":
      return { kind: "text", text: answer.trim() };
    case "boxes":
      return parseBoxes(answer);
    case "events":
      return parseEvents(answer);
    case "label":
      return parseLabel(answer);
    case "trajectory":
      return parseTrajectory(answer);
    case "subjects":
      return parseSubjects(answer, opts.subjects ?? []);
  }
}

type Json = unknown;
const isObj = (v: Json): v is Record<string, Json> => typeof v === "object" && v !== null && !Array.isArray(v);
const isNum = (v: Json): v is number => typeof v === "number" && Number.isFinite(v);
const num = (v: Json): number | undefined =>
  isNum(v) ? v : typeof v === "string" && v.trim() !== "" && Number.isFinite(Number(v)) ? Number(v) : undefined;

/** The item as the model wrote it, compact and short enough for a note. */
function itemText(v: Json): string {
  const text = typeof v === "string" ? v : JSON.stringify(v) ?? String(v);
  return text.length > 160 ? `${text.slice(0, 159)}…` : text;
}

/** `invalid` only when something was left out, so clean answers parse to the same shape as before. */
function withInvalid<T extends object>(parsed: T, invalid: InvalidItem[]): T & { invalid?: InvalidItem[] } {
  return invalid.length ? { ...parsed, invalid } : parsed;
}

/** Flattens arrays and common wrappers ({"objects": [...]}, {"boxes": [...]}, …) into a list of items. */
function items(values: Json[], wrapperKeys: string[]): Json[] {
  const out: Json[] = [];
  const visit = (v: Json, depth: number) => {
    if (depth > 4) return;
    if (Array.isArray(v)) {
      // A list of scalars (numbers, or a NaN turned null) is one item, e.g. a bare box.
      for (const x of v) {
        Array.isArray(x) && x.some((y) => typeof y === "object" && y !== null) ? visit(x, depth + 1) : out.push(x);
      }
      return;
    }
    if (isObj(v)) {
      const key = wrapperKeys.find((k) => Array.isArray(v[k]));
      if (key && !Object.keys(v).some((k) => BOX_KEYS.includes(k))) visit(v[key], depth + 1);
      else out.push(v);
    }
  };
  for (const v of values) visit(v, 0);
  return out;
}

// ---------------------------------------------------------------- boxes

const BOX_KEYS = ["bbox_2d", "bbox", "box", "box_2d"];
const LABEL_KEYS = ["label", "name", "object", "category", "class", "text"];

/** Side of the Qwen3-VL grounding grid: boxes are `[x1, y1, x2, y2]` in 0..1000. */
const GRID = 1000;

/** A box value → the box (with a `problem` when it sticks out of the grid) or why it is unusable. */
function checkBox(v: Json): { box: LabeledBox["box"]; problem?: string } | { problem: string } {
  if (!Array.isArray(v) || v.length !== 4) return { problem: "not a box: needs 4 numbers [x1, y1, x2, y2]" };
  const n = v.map(num);
  if (n.some((x) => x === undefined)) return { problem: "a coordinate is not a number (NaN, null or text)" };
  const [x1, y1, x2, y2] = n as number[];
  if (!(x2 > x1 && y2 > y1)) return { problem: `empty or reversed box (x2 ≤ x1 or y2 ≤ y1)` };
  if (x2 <= 0 || y2 <= 0 || x1 >= GRID || y1 >= GRID) return { problem: `outside the image (the grid is 0–${GRID})` };
  const box: LabeledBox["box"] = [x1, y1, x2, y2];
  if (x1 < 0 || y1 < 0 || x2 > GRID || y2 > GRID) {
    return { box, problem: `partly outside the image (the grid is 0–${GRID})` };
  }
  return { box };
}

function labelOf(o: Record<string, Json>): string {
  for (const k of LABEL_KEYS) if (typeof o[k] === "string") return o[k] as string;
  return "";
}

/** Qwen3-VL grounding output → boxes (bad ones in `invalid`, see the module doc). */
export function parseBoxes(answer: string): ParsedOutput {
  const boxes: LabeledBox[] = [];
  const invalid: InvalidItem[] = [];
  const take = (raw: Json, value: Json, label: string) => {
    const c = checkBox(value);
    if ("box" in c) boxes.push({ label, box: c.box, ...(c.problem ? { problem: c.problem } : {}) });
    else invalid.push({ item: itemText(raw), problem: c.problem });
  };
  for (const it of items(extractJsonValues(answer), ["objects", "boxes", "detections", "results", "annotations"])) {
    if (isObj(it)) {
      const key = BOX_KEYS.find((k) => k in it);
      if (key) take(it, it[key], labelOf(it));
      // An object naming a thing but with no box is a box the model forgot; a bare {"text": …} is prose.
      else if (LABEL_KEYS.some((k) => k !== "text" && typeof it[k] === "string")) {
        invalid.push({ item: itemText(it), problem: "no bbox_2d" });
      }
    } else if (Array.isArray(it) && it.length === 4) take(it, it, "");
  }
  if (boxes.length || invalid.length) return withInvalid({ kind: "boxes" as const, boxes }, invalid);
  // Text forms: "cup: [10, 20, 300, 400]", "<box>(10,20),(300,400)</box>".
  const re =
    /(?:([A-Za-z][\w -]{0,40}?)\s*[:=]\s*)?[[(]\s*(-?\d+(?:\.\d+)?)\s*,\s*(-?\d+(?:\.\d+)?)\s*[\]),]\s*,?\s*[[(]?\s*(-?\d+(?:\.\d+)?)\s*,\s*(-?\d+(?:\.\d+)?)\s*[\])]/g;
  for (const m of answer.matchAll(re)) take(m[0].trim(), [m[2], m[3], m[4], m[5]].map(Number), (m[1] ?? "").trim());
  return boxes.length || invalid.length
    ? withInvalid({ kind: "boxes" as const, boxes }, invalid)
    : { kind: "unparsed", error: "no bounding box (bbox_2d) found in the answer" };
}

// ---------------------------------------------------------------- events

/** "75", "75.5s", "1:15", "01:15.5", "0:01:15" → seconds. */
export function parseTimestamp(s: unknown): number | undefined {
  if (typeof s === "number") return Number.isFinite(s) ? s : undefined;
  if (typeof s !== "string") return undefined; // null (a NaN the JSON repair turned null), objects
  const t = s.trim().replace(/\s*(?:s|sec|secs|seconds?)$/i, "");
  if (/^\d+(?:\.\d+)?$/.test(t)) return Number(t);
  const m = /^(?:(\d+):)?(\d{1,2}):(\d{1,2}(?:\.\d+)?)$/.exec(t);
  if (!m) return undefined;
  return (m[1] ? Number(m[1]) * 3600 : 0) + Number(m[2]) * 60 + Number(m[3]);
}

const START_KEYS = ["start", "start_time", "begin", "from", "t0", "start_sec", "start_seconds"];
const END_KEYS = ["end", "end_time", "stop", "to", "t1", "end_sec", "end_seconds"];
const EVENT_KEYS = ["event", "label", "description", "caption", "action", "text", "name", "activity"];
const RANGE_KEYS = ["timestamp", "timestamps", "time", "interval", "span", "time_range"];

/** Why an event cannot be drawn, or undefined when it can (overlaps are fine: lanes). */
function eventProblem(start: number, end: number): string | undefined {
  if (start < 0 || end < 0) return `negative time (${start}s–${end}s)`;
  if (end < start) return `ends (${end}s) before it starts (${start}s)`;
  return undefined;
}

/** An object → an event, why it is unusable, or undefined when it is not event-like at all. */
function eventFromObject(o: Record<string, Json>): TimedEvent | { problem: string } | undefined {
  let start: number | undefined;
  let end: number | undefined;
  const has = (keys: string[]) => keys.some((k) => k in o);
  for (const k of START_KEYS) if (start === undefined && k in o) start = parseTimestamp(o[k]);
  for (const k of END_KEYS) if (end === undefined && k in o) end = parseTimestamp(o[k]);
  if (start === undefined) {
    for (const k of RANGE_KEYS) {
      const r = o[k];
      if (Array.isArray(r) && r.length >= 1) {
        start = parseTimestamp(r[0]);
        end = r.length > 1 ? parseTimestamp(r[1]) : start;
      } else if (typeof r === "string") {
        const span = textSpan(r);
        if (span) [start, end] = span;
        else start = end = parseTimestamp(r);
      } else if (isNum(r)) start = end = r;
      if (start !== undefined) break;
    }
  }
  let label = "";
  for (const k of EVENT_KEYS) if (!label && typeof o[k] === "string") label = (o[k] as string).trim();
  if (start === undefined) {
    // Times given but unreadable (null, NaN, "soon"), or a described event with no time at all.
    if (has(START_KEYS) || has(RANGE_KEYS)) return { problem: "no readable start time" };
    return label ? { problem: "no timestamps" } : undefined;
  }
  if (end === undefined && has(END_KEYS)) return { problem: "no readable end time" };
  const problem = eventProblem(start, end ?? start);
  return problem ? { problem } : { start, end: end ?? start, label };
}

const TS = String.raw`(?:\d+:)?\d{1,2}:\d{1,2}(?:\.\d+)?|\d+(?:\.\d+)?`;
const SPAN_RE = new RegExp(
  String.raw`(${TS})\s*(?:s|sec|secs|seconds?)?\s*(?:-|–|—|to|~)\s*(${TS})\s*(?:s\b|sec\b|secs\b|seconds?\b)?`,
  "i",
);

function textSpan(s: string): [number, number] | undefined {
  const m = SPAN_RE.exec(s);
  if (!m) return undefined;
  const a = parseTimestamp(m[1]);
  const b = parseTimestamp(m[2]);
  return a === undefined || b === undefined ? undefined : [a, b];
}

/**
 * Temporal localization output → events (JSON or "mm:ss–mm:ss: text" / "t1-t2 seconds" lines);
 * unusable ones in `invalid` (see the module doc).
 */
export function parseEvents(answer: string): ParsedOutput {
  const events: TimedEvent[] = [];
  const invalid: InvalidItem[] = [];
  for (const it of items(extractJsonValues(answer), ["events", "results", "segments", "timeline"])) {
    if (isObj(it)) {
      const e = eventFromObject(it);
      if (e && "problem" in e) invalid.push({ item: itemText(it), problem: e.problem });
      else if (e) events.push(e);
    }
  }
  if (events.length || invalid.length) return withInvalid({ kind: "events" as const, events }, invalid);
  for (const rawLine of answer.split(/\r?\n/)) {
    const line = rawLine.replace(/^\s*(?:[-*•]|\d+[.)])\s+/, "");
    const m = SPAN_RE.exec(line);
    if (!m) continue;
    const start = parseTimestamp(m[1]);
    const end = parseTimestamp(m[2]);
    if (start === undefined || end === undefined) continue;
    const before = line.slice(0, m.index);
    const after = line.slice(m.index + m[0].length);
    const label = (after.replace(/^[\s\]):,.-]+/, "").trim() ||
      before.replace(/[\s[(:,-]+$/, "").replace(/^(?:from|between)\s*$/i, "").trim())
      .replace(/^(?:\*\*)?\s*|\s*(?:\*\*)?$/g, "");
    const problem = eventProblem(start, end);
    if (problem) invalid.push({ item: itemText(line.trim()), problem });
    else events.push({ start, end, label });
  }
  return events.length || invalid.length
    ? withInvalid({ kind: "events" as const, events }, invalid)
    : { kind: "unparsed", error: "no timestamps found in the answer" };
}

// ---------------------------------------------------------------- labels

/** Physical plausibility output → "plausible" | "implausible" (or the model's short label). */
export function parseLabel(answer: string): ParsedOutput {
  const json = extractJsonValues(answer).find(isObj);
  const fromJson = json &&
    ["label", "answer", "classification", "result", "plausibility"].map((k) => json[k]).find((v) =>
      typeof v === "string"
    );
  const text = (typeof fromJson === "string" ? fromJson : answer).toLowerCase();
  if (/\b(?:implausible|not\s+(?:physically\s+)?plausible|unrealistic|impossible)\b/.test(text)) {
    return { kind: "label", label: "implausible" };
  }
  if (/\bplausible\b/.test(text)) return { kind: "label", label: "plausible" };
  const first = text.trim().split(/\r?\n/)[0].replace(/^[\s*"'`]+|[\s*"'`.!]+$/g, "");
  if (/^(?:yes|no)\b/.test(first)) {
    return { kind: "label", label: first.startsWith("yes") ? "plausible" : "implausible" };
  }
  if (first && first.length <= 40) return { kind: "label", label: first };
  return { kind: "unparsed", error: "no plausibility label found in the answer" };
}

// ---------------------------------------------------------------- trajectories

const POINT_KEYS = ["point_2d", "point", "xy", "coordinate", "coordinates"];

/** A point, `"bad"` when it is point-shaped but a coordinate is not a number, else undefined. */
function asPoint(v: Json): [number, number] | "bad" | undefined {
  // Point-shaped: 2-3 numbers, where null stands for a NaN / Infinity the JSON repair replaced.
  if (Array.isArray(v) && v.length >= 2 && v.length <= 3 && v.every((c) => c === null || num(c) !== undefined)) {
    const x = num(v[0]);
    const y = num(v[1]);
    return x === undefined || y === undefined ? "bad" : [x, y];
  }
  if (isObj(v)) {
    for (const k of POINT_KEYS) if (k in v) return asPoint(v[k]) ?? "bad";
    if ("x" in v && "y" in v) {
      const x = num(v.x);
      const y = num(v.y);
      return x !== undefined && y !== undefined ? [x, y] : "bad";
    }
  }
  return undefined;
}

/**
 * Action CoT output → trajectory points ([[x, y], …] in JSON, or "(x, y)" pairs in text); a
 * point with NaN / null / text goes to `invalid`, the others stay in order.
 */
export function parseTrajectory(answer: string): ParsedOutput {
  const points: [number, number][] = [];
  const invalid: InvalidItem[] = [];
  const visit = (v: Json, depth: number) => {
    if (depth > 5) return;
    const p = asPoint(v);
    if (p === "bad") invalid.push({ item: itemText(v), problem: "a coordinate is not a number (NaN, null or text)" });
    else if (p) points.push(p);
    else if (Array.isArray(v)) v.forEach((x) => visit(x, depth + 1));
    else if (isObj(v)) {
      const key = ["trajectory", "points", "waypoints", "path", "trajectory_2d"].find((k) => Array.isArray(v[k]));
      if (key) visit(v[key], depth + 1);
    }
  };
  for (const v of extractJsonValues(answer)) visit(v, 0);
  if (points.length) return withInvalid({ kind: "trajectory" as const, points }, invalid);
  for (const m of answer.matchAll(/[([]\s*(-?\d+(?:\.\d+)?)\s*,\s*(-?\d+(?:\.\d+)?)\s*[)\]]/g)) {
    points.push([Number(m[1]), Number(m[2])]);
  }
  return points.length || invalid.length
    ? withInvalid({ kind: "trajectory" as const, points }, invalid)
    : { kind: "unparsed", error: "no trajectory points found in the answer" };
}

// ---------------------------------------------------------------- describe anything

type Subject = { index: number; label?: string; description: string };

/** Describe-anything output → one description per marked subject (JSON, or "1: …" / "Region 1 - …" lines). */
export function parseSubjects(answer: string, marked: { label?: string }[]): ParsedOutput {
  const subjects: Subject[] = [];
  const add = (index: number, description: string, label?: string) => {
    if (!Number.isInteger(index) || !description.trim()) return;
    const l = label ?? marked[index - 1]?.label;
    subjects.push({ index, ...(l ? { label: l } : {}), description: description.trim() });
  };
  const values = extractJsonValues(answer);
  for (const v of values) {
    if (Array.isArray(v)) {
      v.forEach((it, i) => {
        if (typeof it === "string") add(i + 1, it);
        else if (isObj(it)) {
          const idx = ["index", "id", "region", "subject", "mark", "number"].map((k) => num(it[k])).find((x) =>
            x !== undefined
          );
          const desc = ["description", "caption", "desc", "text", "attributes"].map((k) => it[k]).find((x) =>
            typeof x === "string"
          );
          const label = typeof it.label === "string" ? it.label : undefined;
          if (typeof desc === "string") add(idx ?? i + 1, desc, label);
        }
      });
    } else if (isObj(v)) {
      for (const [k, d] of Object.entries(v)) {
        const m = /(\d+)/.exec(k);
        if (m && typeof d === "string") add(Number(m[1]), d);
      }
    }
  }
  if (!subjects.length) {
    const re =
      /^\s*(?:[-*•]\s*)?(?:\*\*)?(?:region|subject|object|box|mark(?:ed)?(?:\s+region)?)?\s*[#[(]?(\d{1,2})[\])]?(?:\*\*)?\s*[:.)\-–—]\s*(?:\*\*)?\s*(.+)$/i;
    for (const line of answer.split(/\r?\n/)) {
      const m = re.exec(line);
      if (m) add(Number(m[1]), m[2].replace(/\*\*/g, ""));
    }
  }
  if (!subjects.length && marked.length === 1 && answer.trim()) add(1, answer);
  return subjects.length
    ? { kind: "subjects", subjects }
    : { kind: "unparsed", error: "no per-subject descriptions found in the answer" };
}
