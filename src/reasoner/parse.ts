/**
 * Parses the Reasoner's answer into the typed result of each workflow: boxes
 * (Qwen3-VL `bbox_2d` + `label` on the 0–1000 grid), temporal events, plausibility
 * labels, trajectories and describe-anything subjects. Tolerates code fences, bare and
 * truncated JSON and the usual text forms; never throws — a failure is
 * `{ kind: "unparsed", error }` and the raw text stays in the result.
 *
 * @example
 * ```ts
 * import { parseAnswer } from "./parse.ts";
 * parseAnswer("grounding_2d", '```json\n[{"bbox_2d": [10, 20, 300, 400], "label": "cup"}]\n```');
 * // { kind: "boxes", boxes: [{ label: "cup", box: [10, 20, 300, 400] }] }
 * ```
 * @module
 */
import { REASON_TASKS, type ReasonTask, type TaskInfo } from "../schema/reason_request.ts";
import type { LabeledBox, ParsedOutput, TimedEvent } from "../schema/results.ts";
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
const num = (v: Json): number | undefined => isNum(v) ? v : typeof v === "string" && v.trim() !== "" && Number.isFinite(Number(v)) ? Number(v) : undefined;

/** Flattens arrays and common wrappers ({"objects": [...]}, {"boxes": [...]}, …) into a list of items. */
function items(values: Json[], wrapperKeys: string[]): Json[] {
  const out: Json[] = [];
  const visit = (v: Json, depth: number) => {
    if (depth > 4) return;
    if (Array.isArray(v)) {
      for (const x of v) Array.isArray(x) && x.some((y) => !isNum(y)) ? visit(x, depth + 1) : out.push(x);
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

function asBox(v: Json): LabeledBox["box"] | undefined {
  if (!Array.isArray(v) || v.length !== 4) return undefined;
  const n = v.map(num);
  if (n.some((x) => x === undefined)) return undefined;
  const [x1, y1, x2, y2] = n as number[];
  if (!(x2 > x1 && y2 > y1)) return undefined;
  return [x1, y1, x2, y2];
}

function labelOf(o: Record<string, Json>): string {
  for (const k of LABEL_KEYS) if (typeof o[k] === "string") return o[k] as string;
  return "";
}

/** Qwen3-VL grounding output → boxes. */
export function parseBoxes(answer: string): ParsedOutput {
  const boxes: LabeledBox[] = [];
  for (const it of items(extractJsonValues(answer), ["objects", "boxes", "detections", "results", "annotations"])) {
    if (isObj(it)) {
      const key = BOX_KEYS.find((k) => k in it);
      const box = key ? asBox(it[key]) : undefined;
      if (box) boxes.push({ label: labelOf(it), box });
    } else {
      const box = asBox(it);
      if (box) boxes.push({ label: "", box });
    }
  }
  if (boxes.length) return { kind: "boxes", boxes };
  // Text forms: "cup: [10, 20, 300, 400]", "<box>(10,20),(300,400)</box>".
  const re = /(?:([A-Za-z][\w -]{0,40}?)\s*[:=]\s*)?[[(]\s*(\d+(?:\.\d+)?)\s*,\s*(\d+(?:\.\d+)?)\s*[\]),]\s*,?\s*[[(]?\s*(\d+(?:\.\d+)?)\s*,\s*(\d+(?:\.\d+)?)\s*[\])]/g;
  for (const m of answer.matchAll(re)) {
    const box = asBox([m[2], m[3], m[4], m[5]].map(Number));
    if (box) boxes.push({ label: (m[1] ?? "").trim(), box });
  }
  return boxes.length ? { kind: "boxes", boxes } : { kind: "unparsed", error: "no bounding box (bbox_2d) found in the answer" };
}

// ---------------------------------------------------------------- events

/** "75", "75.5s", "1:15", "01:15.5", "0:01:15" → seconds. */
export function parseTimestamp(s: string | number): number | undefined {
  if (typeof s === "number") return Number.isFinite(s) ? s : undefined;
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

function eventFromObject(o: Record<string, Json>): TimedEvent | undefined {
  let start: number | undefined;
  let end: number | undefined;
  for (const k of START_KEYS) if (start === undefined && k in o) start = parseTimestamp(o[k] as string | number);
  for (const k of END_KEYS) if (end === undefined && k in o) end = parseTimestamp(o[k] as string | number);
  if (start === undefined) {
    for (const k of RANGE_KEYS) {
      const r = o[k];
      if (Array.isArray(r) && r.length >= 1) {
        start = parseTimestamp(r[0] as string | number);
        end = r.length > 1 ? parseTimestamp(r[1] as string | number) : start;
      } else if (typeof r === "string") {
        const span = textSpan(r);
        if (span) [start, end] = span;
        else start = end = parseTimestamp(r);
      } else if (isNum(r)) start = end = r;
      if (start !== undefined) break;
    }
  }
  if (start === undefined) return undefined;
  let label = "";
  for (const k of EVENT_KEYS) if (!label && typeof o[k] === "string") label = (o[k] as string).trim();
  return { start, end: end ?? start, label };
}

const TS = String.raw`(?:\d+:)?\d{1,2}:\d{1,2}(?:\.\d+)?|\d+(?:\.\d+)?`;
const SPAN_RE = new RegExp(String.raw`(${TS})\s*(?:s|sec|secs|seconds?)?\s*(?:-|–|—|to|~)\s*(${TS})\s*(?:s\b|sec\b|secs\b|seconds?\b)?`, "i");

function textSpan(s: string): [number, number] | undefined {
  const m = SPAN_RE.exec(s);
  if (!m) return undefined;
  const a = parseTimestamp(m[1]);
  const b = parseTimestamp(m[2]);
  return a === undefined || b === undefined ? undefined : [a, b];
}

/** Temporal localization output → events (JSON or "mm:ss–mm:ss: text" / "t1-t2 seconds" lines). */
export function parseEvents(answer: string): ParsedOutput {
  const events: TimedEvent[] = [];
  for (const it of items(extractJsonValues(answer), ["events", "results", "segments", "timeline"])) {
    if (isObj(it)) {
      const e = eventFromObject(it);
      if (e) events.push(e);
    }
  }
  if (events.length) return { kind: "events", events };
  for (const rawLine of answer.split(/\r?\n/)) {
    const line = rawLine.replace(/^\s*(?:[-*•]|\d+[.)])\s+/, "");
    const m = SPAN_RE.exec(line);
    if (!m) continue;
    const start = parseTimestamp(m[1]);
    const end = parseTimestamp(m[2]);
    if (start === undefined || end === undefined) continue;
    const before = line.slice(0, m.index);
    const after = line.slice(m.index + m[0].length);
    const label = (after.replace(/^[\s\]):,.-]+/, "").trim() || before.replace(/[\s[(:,-]+$/, "").replace(/^(?:from|between)\s*$/i, "").trim())
      .replace(/^(?:\*\*)?\s*|\s*(?:\*\*)?$/g, "");
    events.push({ start, end, label });
  }
  return events.length ? { kind: "events", events } : { kind: "unparsed", error: "no timestamps found in the answer" };
}

// ---------------------------------------------------------------- labels

/** Physical plausibility output → "plausible" | "implausible" (or the model's short label). */
export function parseLabel(answer: string): ParsedOutput {
  const json = extractJsonValues(answer).find(isObj);
  const fromJson = json && ["label", "answer", "classification", "result", "plausibility"].map((k) => json[k]).find((v) => typeof v === "string");
  const text = (typeof fromJson === "string" ? fromJson : answer).toLowerCase();
  if (/\b(?:implausible|not\s+(?:physically\s+)?plausible|unrealistic|impossible)\b/.test(text)) return { kind: "label", label: "implausible" };
  if (/\bplausible\b/.test(text)) return { kind: "label", label: "plausible" };
  const first = text.trim().split(/\r?\n/)[0].replace(/^[\s*"'`]+|[\s*"'`.!]+$/g, "");
  if (/^(?:yes|no)\b/.test(first)) return { kind: "label", label: first.startsWith("yes") ? "plausible" : "implausible" };
  if (first && first.length <= 40) return { kind: "label", label: first };
  return { kind: "unparsed", error: "no plausibility label found in the answer" };
}

// ---------------------------------------------------------------- trajectories

function asPoint(v: Json): [number, number] | undefined {
  if (Array.isArray(v) && v.length >= 2 && v.length <= 3) {
    const x = num(v[0]);
    const y = num(v[1]);
    return x === undefined || y === undefined ? undefined : [x, y];
  }
  if (isObj(v)) {
    for (const k of ["point_2d", "point", "xy", "coordinate", "coordinates"]) if (k in v) return asPoint(v[k]);
    const x = num(v.x);
    const y = num(v.y);
    if (x !== undefined && y !== undefined) return [x, y];
  }
  return undefined;
}

/** Action CoT output → trajectory points ([[x, y], …] in JSON, or "(x, y)" pairs in text). */
export function parseTrajectory(answer: string): ParsedOutput {
  const points: [number, number][] = [];
  const visit = (v: Json, depth: number) => {
    if (depth > 5) return;
    const p = asPoint(v);
    if (p && !(Array.isArray(v) && v.some(Array.isArray))) {
      points.push(p);
      return;
    }
    if (Array.isArray(v)) v.forEach((x) => visit(x, depth + 1));
    else if (isObj(v)) {
      const key = ["trajectory", "points", "waypoints", "path", "trajectory_2d"].find((k) => Array.isArray(v[k]));
      if (key) visit(v[key], depth + 1);
    }
  };
  for (const v of extractJsonValues(answer)) visit(v, 0);
  if (points.length) return { kind: "trajectory", points };
  for (const m of answer.matchAll(/[([]\s*(-?\d+(?:\.\d+)?)\s*,\s*(-?\d+(?:\.\d+)?)\s*[)\]]/g)) {
    points.push([Number(m[1]), Number(m[2])]);
  }
  return points.length ? { kind: "trajectory", points } : { kind: "unparsed", error: "no trajectory points found in the answer" };
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
          const idx = ["index", "id", "region", "subject", "mark", "number"].map((k) => num(it[k])).find((x) => x !== undefined);
          const desc = ["description", "caption", "desc", "text", "attributes"].map((k) => it[k]).find((x) => typeof x === "string");
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
    const re = /^\s*(?:[-*•]\s*)?(?:\*\*)?(?:region|subject|object|box|mark(?:ed)?(?:\s+region)?)?\s*[#[(]?(\d{1,2})[\])]?(?:\*\*)?\s*[:.)\-–—]\s*(?:\*\*)?\s*(.+)$/i;
    for (const line of answer.split(/\r?\n/)) {
      const m = re.exec(line);
      if (m) add(Number(m[1]), m[2].replace(/\*\*/g, ""));
    }
  }
  if (!subjects.length && marked.length === 1 && answer.trim()) add(1, answer);
  return subjects.length ? { kind: "subjects", subjects } : { kind: "unparsed", error: "no per-subject descriptions found in the answer" };
}
