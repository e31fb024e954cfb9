/**
 * Quality of a mini Reasoner checkpoint through our own native engine (`reason()` with the
 * checkpoint folder as backend), on held-out world data written by tools/train/world_data.ts
 * (`--split eval`). Greedy decoding (temperature 0), so a run is repeatable.
 *
 * - grounding_2d: per reference object, the IoU of the predicted box with the same label (0 when
 *   none parses); a sample scores the mean over its objects, the figure is the mean over samples.
 * - caption: the colour+shape pairs named in the answer ("red cube", "blue ball", …) against the
 *   scene's; a sample is right when the two sets are equal. Also per-object precision and recall.
 * - temporal_localization: per reference event, the predicted event with the same label (else the
 *   one at the same place in the list): the mean of |start error| and |end error| in seconds; an
 *   event with no prediction at all counts the clip's length. The figure is the mean over events.
 * - physical_plausibility: accuracy of the parsed label (plausible / implausible), and the same per
 *   kind of clip (`plausible`, `teleport`, `float`, `pass_through`) and per kind and scenario when
 *   the records carry them (`by_kind` in the summary): where the misses are.
 * - action_cot: mean distance (0–1000 grid) between predicted and reference waypoints, index by index
 *   (a missing waypoint counts 1000).
 * - describe_anything: share of marked subjects whose description names the right colour+shape.
 *
 * Prints one JSON line per sample and a final `{"summary": …}` line.
 *
 * @example
 * ```sh
 * node --import tsx tools/train/world_data.ts --out /tmp/world_eval --split eval --count 60 --tasks caption,grounding_2d
 * node --import tsx bench/mini_reasoner_eval.ts --data /tmp/world_eval --checkpoint checkpoints/mini-reasoner --count 50
 * ```
 * @module
 */
import { readFile } from "node:fs/promises";
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { reason } from "../src/api/mod.ts";
import { ObjectColor, ObjectShape } from "../src/world/mod.ts";

type Box = [number, number, number, number];

/** Intersection over union of two `[x1, y1, x2, y2]` boxes. */
export function iou(a: Box, b: Box): number {
  const w = Math.max(0, Math.min(a[2], b[2]) - Math.max(a[0], b[0]));
  const h = Math.max(0, Math.min(a[3], b[3]) - Math.max(a[1], b[1]));
  const inter = w * h;
  const union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter;
  return union > 0 ? inter / union : 0;
}

const PAIR = new RegExp(`\\b(${ObjectColor.options.join("|")}) (${ObjectShape.options.join("|")})s?\\b`, "gi");

/** The distinct "colour shape" objects a text names. */
export function objectsNamed(text: string): Set<string> {
  return new Set([...text.matchAll(PAIR)].map((m) => `${m[1].toLowerCase()} ${m[2].toLowerCase()}`));
}

/** The Reasoner tasks the evaluation scores (the `<task>.jsonl` files of world_data.ts). */
export const EVAL_TASKS = [
  "grounding_2d",
  "caption",
  "temporal_localization",
  "physical_plausibility",
  "action_cot",
  "describe_anything",
] as const;
export type EvalTask = typeof EVAL_TASKS[number];

/** One line of a world_data.ts task file, as far as the evaluation reads it. */
export interface EvalRecord {
  id: string;
  task: EvalTask;
  messages: { role: string; content: { type: string; text?: string }[] }[];
  answer: string;
  reference: unknown;
  media: { image?: string; video?: string; unmarked?: string };
  subjects?: { box: [number, number, number, number] }[];
  seconds?: number;
  /** The clip's frame sampling the request asks for (world_data.ts --plausibility-fps); absent: the processor's. */
  videoSampling?: { fps: number };
  /** physical_plausibility: what made the clip implausible (absent: plausible). */
  anomaly?: { kind: string };
  /** physical_plausibility: the clip's scenario (push, pick_place, drop; data written since 2026-11-30). */
  scenario?: string;
}

interface TimedEvent {
  start: number;
  end: number;
  label?: string;
}

/**
 * Mean absolute error (seconds) of each reference event's start and end against its prediction:
 * the predicted event with the same label, else the one at the same index; none at all counts
 * `missing` seconds. Returns the per-event errors and how many matched by label.
 */
export function eventErrors(
  refs: TimedEvent[],
  preds: TimedEvent[],
  missing: number,
): { errors: number[]; byLabel: number } {
  const used = new Set<number>();
  let byLabel = 0;
  const errors = refs.map((ref, i) => {
    let k = preds.findIndex((p, j) => !used.has(j) && p.label !== undefined && p.label === ref.label);
    if (k >= 0) byLabel++;
    else if (i < preds.length && !used.has(i)) k = i;
    if (k < 0) return missing;
    used.add(k);
    return (Math.abs(preds[k].start - ref.start) + Math.abs(preds[k].end - ref.end)) / 2;
  });
  return { errors, byLabel };
}

function promptOf(r: EvalRecord): string {
  const user = r.messages.find((m) => m.role === "user");
  return user?.content.find((p) => p.type === "text")?.text ?? "";
}

/**
 * The first `count` records of `<data>/<task>.jsonl` (none when the file is missing).
 * @example
 * ```ts
 * const records = await readEvalRecords("/tmp/world_eval", "caption", 20);
 * ```
 */
export async function readEvalRecords(data: string, task: EvalTask, count: number): Promise<EvalRecord[]> {
  const text = await readFile(join(data, `${task}.jsonl`), "utf8").catch(() => "");
  return text.split("\n").filter((l) => l.trim()).map((l) => JSON.parse(l) as EvalRecord).slice(0, count);
}

/** What one sample adds to its task's totals ({@link summarizeTask} turns the totals into figures). */
export interface Tally {
  seconds: number;
  /** 1 when the answer parsed into the task's kind (boxes, events, a label, points, subjects). */
  parsed: number;
  /** grounding: the sample's mean IoU; temporal: the sum of its events' errors (s); action: its mean distance. */
  sum: number;
  /** caption / plausibility: 1 when right. */
  right: number;
  /** caption: the reference's objects; describe-anything: the marked subjects. */
  refObjects: number;
  /** caption: the objects the answer names. */
  predObjects: number;
  /** caption: the named objects that are in the reference; describe-anything: subjects named right. */
  hits: number;
  /** temporal: the reference's events, and how many of them matched a prediction by label. */
  events: number;
  byLabel: number;
}

const ZERO: Tally = {
  seconds: 0,
  parsed: 0,
  sum: 0,
  right: 0,
  refObjects: 0,
  predObjects: 0,
  hits: 0,
  events: 0,
  byLabel: 0,
};

/** One evaluated sample: the JSON line the script prints, and its {@link Tally}. */
export interface ScoredSample {
  line: { [k: string]: unknown };
  tally: Tally;
}

/** Where and how the samples run: the data folder, the checkpoint folder (or any backend `reason()` takes). */
export interface EvalOptions {
  data: string;
  backend: string;
  maxTokens: number;
}

/**
 * Runs one record through `reason()` (greedy, no streaming) and scores the answer against the
 * record's reference, as the module's header says per task.
 */
export async function scoreRecord(r: EvalRecord, o: EvalOptions): Promise<ScoredSample> {
  const { data, backend, maxTokens } = o;
  const task = r.task;
  // describe-anything: the unmarked image and the subjects, so that reason() draws the marks itself
  const media = r.task === "describe_anything" && r.media.unmarked && r.subjects
    ? { image: join(data, r.media.unmarked), subjects: r.subjects }
    : r.media.image
    ? { image: join(data, r.media.image) }
    : { video: join(data, r.media.video!) };
  const t0 = performance.now();
  const res = await reason(
    {
      task: r.task,
      prompt: promptOf(r),
      ...media,
      ...(r.videoSampling ? { videoSampling: r.videoSampling } : {}),
      maxTokens,
      sampling: { temperature: 0 },
      stream: false,
    },
    { backend },
  );
  const s = (performance.now() - t0) / 1000;
  const t: Tally = { ...ZERO, seconds: s };
  const line: { [k: string]: unknown } = { id: r.id, task, seconds: Number(s.toFixed(2)), answer: res.answer };
  if (task === "grounding_2d") {
    // One sample asks for one object or for every object: each reference object scores the IoU
    // of the predicted box with its label (0 when none), and the sample their mean.
    const refs = r.reference as { label: string; box: Box }[];
    const boxes = res.parsed.kind === "boxes" ? res.parsed.boxes : [];
    if (boxes.length) t.parsed = 1;
    const ious = refs.map((ref) => {
      const pred = boxes.find((b) => b.label === ref.label);
      return pred ? iou(pred.box as Box, ref.box) : 0;
    });
    t.sum = ious.reduce((x, y) => x + y, 0) / refs.length;
    Object.assign(line, { reference: refs, predicted: boxes, iou: Number(t.sum.toFixed(4)) });
  } else if (task === "temporal_localization") {
    const refs = r.reference as TimedEvent[];
    const preds = res.parsed.kind === "events" ? res.parsed.events : [];
    if (preds.length) t.parsed = 1;
    const e = eventErrors(refs, preds, r.seconds ?? 4);
    t.sum = e.errors.reduce((x, y) => x + y, 0);
    t.events = refs.length;
    t.byLabel = e.byLabel;
    Object.assign(line, { reference: refs, predicted: preds, errors: e.errors.map((v) => Number(v.toFixed(3))) });
  } else if (task === "physical_plausibility") {
    const got = res.parsed.kind === "label" ? res.parsed.label : undefined;
    if (got !== undefined) t.parsed = 1;
    if (got === r.reference) t.right = 1;
    Object.assign(line, {
      reference: r.reference,
      predicted: got,
      correct: got === r.reference,
      kind: r.anomaly?.kind ?? "plausible",
      ...(r.scenario ? { scenario: r.scenario } : {}),
    });
  } else if (task === "action_cot") {
    const refs = r.reference as [number, number][];
    const pts = res.parsed.kind === "trajectory" ? res.parsed.points as [number, number][] : [];
    if (pts.length) t.parsed = 1;
    const d = refs.map((p, i) => pts[i] ? Math.hypot(pts[i][0] - p[0], pts[i][1] - p[1]) : 1000);
    t.sum = d.reduce((x, y) => x + y, 0) / refs.length;
    Object.assign(line, { reference: refs, predicted: pts, mean_distance: Number(t.sum.toFixed(1)) });
  } else if (task === "describe_anything") {
    const refs = r.reference as { index: number; label: string }[];
    const subs = res.parsed.kind === "subjects" ? res.parsed.subjects : [];
    if (subs.length) t.parsed = 1;
    t.hits = refs.filter((ref) => {
      const s = subs.find((x) => x.index === ref.index);
      return s !== undefined && objectsNamed(s.description).has(ref.label);
    }).length;
    t.refObjects = refs.length;
    Object.assign(line, { reference: refs.map((x) => x.label), predicted: subs, right: t.hits });
  } else {
    const want = objectsNamed(r.answer), got = objectsNamed(res.answer);
    const inter = [...got].filter((o) => want.has(o)).length;
    const ok = inter === want.size && got.size === want.size;
    if (ok) t.right = 1;
    t.refObjects = want.size;
    t.predObjects = got.size;
    t.hits = inter;
    Object.assign(line, { reference: [...want], predicted: [...got], correct: ok });
  }
  return { line, tally: t };
}

/** A task's figures (the `summary` line's value per task): which keys depends on the task. */
export type TaskSummary = { [k: string]: number };

/**
 * The figures of a task from its samples' tallies.
 * @example
 * ```ts
 * const t = { seconds: 1, parsed: 1, sum: 0.8, right: 0, refObjects: 0, predObjects: 0, hits: 0, events: 0, byLabel: 0 };
 * summarizeTask("grounding_2d", [t, { ...t, sum: 0.6 }]).mean_iou; // 0.7
 * ```
 */
export function summarizeTask(task: EvalTask, tallies: readonly Tally[]): TaskSummary {
  const n = tallies.length;
  const total = tallies.reduce((a, t) => {
    for (const k of Object.keys(a) as (keyof Tally)[]) a[k] += t[k];
    return a;
  }, { ...ZERO });
  const { seconds, parsed, sum, right, refObjects, predObjects, hits, events, byLabel } = total;
  return task === "grounding_2d"
    ? { samples: n, mean_iou: sum / n, answers_with_a_box: parsed / n, seconds_per_call: seconds / n }
    : task === "temporal_localization"
    ? {
      samples: n,
      events,
      mean_abs_error_s: sum / Math.max(1, events),
      matched_by_label: byLabel / Math.max(1, events),
      answers_with_events: parsed / n,
      seconds_per_call: seconds / n,
    }
    : task === "physical_plausibility"
    ? { samples: n, accuracy: right / n, answers_with_a_label: parsed / n, seconds_per_call: seconds / n }
    : task === "action_cot"
    ? { samples: n, mean_waypoint_distance: sum / n, answers_with_points: parsed / n, seconds_per_call: seconds / n }
    : task === "describe_anything"
    ? {
      samples: n,
      subjects_named_right: hits / Math.max(1, refObjects),
      answers_with_subjects: parsed / n,
      seconds_per_call: seconds / n,
    }
    : {
      samples: n,
      colour_shape_accuracy: right / n,
      object_precision: hits / Math.max(1, predObjects),
      object_recall: hits / Math.max(1, refObjects),
      seconds_per_call: seconds / n,
    };
}

/**
 * Physical plausibility right / all per kind of clip, and per kind and scenario where the lines
 * carry one ("teleport", "teleport/push", …): which clips the misses are.
 * @example
 * ```ts
 * plausibilityByKind([
 *   { kind: "teleport", scenario: "push", correct: false },
 *   { kind: "teleport", scenario: "drop", correct: true },
 * ]); // { teleport: "1/2", "teleport/drop": "1/1", "teleport/push": "0/1" }
 * ```
 */
export function plausibilityByKind(
  lines: readonly { [k: string]: unknown }[],
): { [kindOrKindAndScenario: string]: string } {
  const n = new Map<string, [number, number]>();
  const add = (k: string, right: boolean) => {
    const v = n.get(k) ?? [0, 0];
    n.set(k, [v[0] + (right ? 1 : 0), v[1] + 1]);
  };
  for (const l of lines) {
    if (typeof l.kind !== "string") continue;
    add(l.kind, l.correct === true);
    if (typeof l.scenario === "string") add(`${l.kind}/${l.scenario}`, l.correct === true);
  }
  return Object.fromEntries([...n].sort(([a], [b]) => a.localeCompare(b)).map(([k, [r, a]]) => [k, `${r}/${a}`]));
}

/**
 * Scores `records` (any tasks, in order) with up to `concurrency` calls in flight (default 1).
 * The native engine runs one call at a time per checkpoint (a FIFO queue), so 2 in flight only
 * overlaps one call's media decoding (ffmpeg) with another's model time; a call's `seconds` then
 * includes its wait in the queue. `onSample` sees each sample as it completes.
 */
export async function scoreRecords(
  records: readonly EvalRecord[],
  o: EvalOptions & { concurrency?: number; onSample?: (s: ScoredSample) => void },
): Promise<ScoredSample[]> {
  const out: ScoredSample[] = new Array(records.length);
  let next = 0;
  const worker = async () => {
    while (next < records.length) {
      const i = next++;
      out[i] = await scoreRecord(records[i], o);
      o.onSample?.(out[i]);
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, o.concurrency ?? 1) }, worker));
  return out;
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      data: { type: "string" },
      checkpoint: { type: "string" },
      count: { type: "string", default: "50" },
      tasks: { type: "string", default: EVAL_TASKS.join(",") },
      "max-tokens": { type: "string", default: "192" },
    },
  });
  if (!values.data || !values.checkpoint) {
    console.error(
      "usage: bench/mini_reasoner_eval.ts --data <world_data --split eval folder> --checkpoint <folder> [--count 50] [--tasks grounding_2d,caption,…]",
    );
    process.exit(2);
  }
  const o: EvalOptions = {
    data: resolve(values.data),
    backend: resolve(values.checkpoint),
    maxTokens: Number(values["max-tokens"]),
  };
  const summary: { [task: string]: TaskSummary } = {};
  let byKind: ReturnType<typeof plausibilityByKind> | undefined;
  for (const task of values.tasks!.split(",") as EvalTask[]) {
    const records = await readEvalRecords(o.data, task, Number(values.count));
    const scored = await scoreRecords(records, { ...o, onSample: (s) => console.log(JSON.stringify(s.line)) });
    summary[task] = summarizeTask(task, scored.map((s) => s.tally));
    if (task === "physical_plausibility") byKind = plausibilityByKind(scored.map((s) => s.line));
  }
  console.log(
    JSON.stringify({
      summary,
      ...(byKind ? { by_kind: byKind } : {}),
      checkpoint: values.checkpoint,
      data: values.data,
    }),
  );
}

if (process.argv[1] && fileURLToPath(import.meta.url) === resolve(process.argv[1])) await main();
