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
 * - physical_plausibility: accuracy of the parsed label (plausible / implausible).
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

interface Record {
  id: string;
  task:
    | "caption"
    | "grounding_2d"
    | "temporal_localization"
    | "physical_plausibility"
    | "action_cot"
    | "describe_anything";
  messages: { role: string; content: { type: string; text?: string }[] }[];
  answer: string;
  reference: unknown;
  media: { image?: string; video?: string; unmarked?: string };
  subjects?: { box: [number, number, number, number] }[];
  seconds?: number;
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

function promptOf(r: Record): string {
  const user = r.messages.find((m) => m.role === "user");
  return user?.content.find((p) => p.type === "text")?.text ?? "";
}

async function readJsonl(path: string): Promise<Record[]> {
  const text = await readFile(path, "utf8").catch(() => "");
  return text.split("\n").filter((l) => l.trim()).map((l) => JSON.parse(l) as Record);
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      data: { type: "string" },
      checkpoint: { type: "string" },
      count: { type: "string", default: "50" },
      tasks: {
        type: "string",
        default: "grounding_2d,caption,temporal_localization,physical_plausibility,action_cot,describe_anything",
      },
      "max-tokens": { type: "string", default: "192" },
    },
  });
  if (!values.data || !values.checkpoint) {
    console.error(
      "usage: bench/mini_reasoner_eval.ts --data <world_data --split eval folder> --checkpoint <folder> [--count 50] [--tasks grounding_2d,caption,…]",
    );
    process.exit(2);
  }
  const data = resolve(values.data);
  const backend = resolve(values.checkpoint);
  const count = Number(values.count);
  const maxTokens = Number(values["max-tokens"]);
  const summary: { [task: string]: { [k: string]: number } } = {};
  for (const task of values.tasks!.split(",")) {
    const records = (await readJsonl(join(data, `${task}.jsonl`))).slice(0, count);
    let sum = 0, right = 0, refObjects = 0, predObjects = 0, hits = 0, parsed = 0, seconds = 0, events = 0, byLabel = 0;
    for (const r of records) {
      // describe-anything: the unmarked image and the subjects, so that reason() draws the marks itself
      const media = r.task === "describe_anything" && r.media.unmarked && r.subjects
        ? { image: join(data, r.media.unmarked), subjects: r.subjects }
        : r.media.image
        ? { image: join(data, r.media.image) }
        : { video: join(data, r.media.video!) };
      const t0 = performance.now();
      const res = await reason(
        { task: r.task, prompt: promptOf(r), ...media, maxTokens, sampling: { temperature: 0 }, stream: false },
        { backend },
      );
      const s = (performance.now() - t0) / 1000;
      seconds += s;
      const line: { [k: string]: unknown } = { id: r.id, task, seconds: Number(s.toFixed(2)), answer: res.answer };
      if (task === "grounding_2d") {
        // One sample asks for one object or for every object: each reference object scores the IoU
        // of the predicted box with its label (0 when none), and the sample their mean.
        const refs = r.reference as { label: string; box: Box }[];
        const boxes = res.parsed.kind === "boxes" ? res.parsed.boxes : [];
        if (boxes.length) parsed++;
        const ious = refs.map((ref) => {
          const pred = boxes.find((b) => b.label === ref.label);
          return pred ? iou(pred.box as Box, ref.box) : 0;
        });
        const v = ious.reduce((x, y) => x + y, 0) / refs.length;
        sum += v;
        Object.assign(line, { reference: refs, predicted: boxes, iou: Number(v.toFixed(4)) });
      } else if (task === "temporal_localization") {
        const refs = r.reference as TimedEvent[];
        const preds = res.parsed.kind === "events" ? res.parsed.events : [];
        if (preds.length) parsed++;
        const e = eventErrors(refs, preds, r.seconds ?? 4);
        sum += e.errors.reduce((x, y) => x + y, 0);
        events += refs.length;
        byLabel += e.byLabel;
        Object.assign(line, { reference: refs, predicted: preds, errors: e.errors.map((v) => Number(v.toFixed(3))) });
      } else if (task === "physical_plausibility") {
        const got = res.parsed.kind === "label" ? res.parsed.label : undefined;
        if (got !== undefined) parsed++;
        if (got === r.reference) right++;
        Object.assign(line, { reference: r.reference, predicted: got, correct: got === r.reference });
      } else if (task === "action_cot") {
        const refs = r.reference as [number, number][];
        const pts = res.parsed.kind === "trajectory" ? res.parsed.points as [number, number][] : [];
        if (pts.length) parsed++;
        const d = refs.map((p, i) => pts[i] ? Math.hypot(pts[i][0] - p[0], pts[i][1] - p[1]) : 1000);
        const mean = d.reduce((x, y) => x + y, 0) / refs.length;
        sum += mean;
        Object.assign(line, { reference: refs, predicted: pts, mean_distance: Number(mean.toFixed(1)) });
      } else if (task === "describe_anything") {
        const refs = r.reference as { index: number; label: string }[];
        const subs = res.parsed.kind === "subjects" ? res.parsed.subjects : [];
        if (subs.length) parsed++;
        const ok = refs.filter((ref) => {
          const s = subs.find((x) => x.index === ref.index);
          return s !== undefined && objectsNamed(s.description).has(ref.label);
        }).length;
        hits += ok;
        refObjects += refs.length;
        Object.assign(line, { reference: refs.map((x) => x.label), predicted: subs, right: ok });
      } else {
        const want = objectsNamed(r.answer), got = objectsNamed(res.answer);
        const inter = [...got].filter((o) => want.has(o)).length;
        const ok = inter === want.size && got.size === want.size;
        if (ok) right++;
        refObjects += want.size;
        predObjects += got.size;
        hits += inter;
        Object.assign(line, { reference: [...want], predicted: [...got], correct: ok });
      }
      console.log(JSON.stringify(line));
    }
    const n = records.length;
    summary[task] = task === "grounding_2d"
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
  console.log(JSON.stringify({ summary, checkpoint: values.checkpoint, data: values.data }));
}

if (process.argv[1] && fileURLToPath(import.meta.url) === resolve(process.argv[1])) await main();
