/**
 * CPU speed of the mini checkpoints through the real API on the native engine (issue 16 item 6: on a 2-core CPU a
 * mini Reasoner call ≤ 10 s, a mini text-to-video ≤ 60 s).
 *
 * - `reason`: the mini Reasoner (checkpoints/mini-reasoner) on one held-out world sample rendered here
 *   (tools/train/world_data.ts, eval split): a 2D grounding call on a 320×192 still and a temporal-localization call
 *   on a 4 s clip (33 frames at 8 fps), greedy, the evaluation's prompts; the load and the first call (the vision
 *   tower's load) apart, then the median of `--reps` calls. Parts from the progress events: media + vision tower
 *   (reading, resizing and the tower), prefill (to the first token), decode (tokens/s).
 * - `generate`: text-to-video 320×192 × 17 frames (the 256p tier, 16:9) with the mode's default steps and guidance
 *   (35, CFG 6: two transformer forwards a step) on the mini Generator (checkpoints/mini-generator; `--generator`
 *   another checkpoint folder). Parts: text encoder (the prompt's K/V, once per branch), transformer per step and
 *   per forward, VAE decode, MP4 write.
 *
 * Prints one JSON line per call (`"bench": "cpu_mini"`), then one `"summary"` line per part with the medians.
 * `--addons before=path/a.node,after=path/b.node` runs each part once per addon in child processes
 * (COSMOS_NATIVE_PATH), alternating the order every round, and ends with `"compare"` lines (ratio > 1 = the last
 * addon is faster: first / last for seconds, last / first for tokens/s).
 *
 * @example
 * ```sh
 * node --import tsx bench/cpu_mini.ts                          # both parts, this checkout's addon
 * node --import tsx bench/cpu_mini.ts --parts reason --reps 5
 * node --import tsx bench/cpu_mini.ts --addons before=native/build/cpuperf/cmake-before/Release/cosmos_native.node,after=native/build/cpuperf/cmake-after/Release/cosmos_native.node
 * ```
 * @module
 */
import { spawn } from "node:child_process";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { availableParallelism, cpus, loadavg, tmpdir } from "node:os";
import { join, resolve } from "node:path";
import process from "node:process";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { generate, reason } from "../src/api/mod.ts";
import { openCosmos3Generator } from "../src/native/generator.ts";
import { openQwen3VL } from "../src/native/qwen3vl.ts";
import type { ProgressEvent } from "../src/schema/results.ts";
import { writeWorldData } from "../tools/train/world_data.ts";
import { type EvalRecord, readEvalRecords } from "./mini_reasoner_eval.ts";

const ROOT = fileURLToPath(new URL("../", import.meta.url));
const PARTS = ["reason", "generate"] as const;
type Part = (typeof PARTS)[number];
type Row = { [k: string]: unknown };

const r2 = (s: number) => Number(s.toFixed(2));
const r3 = (s: number) => Number(s.toFixed(3));
const median = (v: number[]) => {
  const s = [...v].sort((a, b) => a - b);
  return s.length === 0 ? NaN : s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

/** Progress events with the seconds since the call started. */
function recorder(): { events: { t: number; e: ProgressEvent }[]; onProgress: (e: ProgressEvent) => void } {
  const t0 = performance.now();
  const events: { t: number; e: ProgressEvent }[] = [];
  return { events, onProgress: (e) => events.push({ t: (performance.now() - t0) / 1000, e }) };
}

function emit(row: Row): void {
  console.log(JSON.stringify({ bench: "cpu_mini", ...row }));
}

function machine(): Row {
  return {
    cpu: cpus()[0]?.model ?? "?",
    cores: availableParallelism(),
    cosmos_threads: process.env.COSMOS_THREADS ?? null,
    addon: process.env.COSMOS_NATIVE_PATH ?? "native/build/Release/cosmos_native.node",
    load1: r2(loadavg()[0]),
  };
}

/** One reason() call timed by its parts. */
async function reasonCall(rec: EvalRecord, data: string, checkpoint: string, maxTokens: number): Promise<Row> {
  const { events, onProgress } = recorder();
  const user = rec.messages.find((m) => m.role === "user");
  const prompt = user?.content.find((p) => p.type === "text")?.text ?? "";
  const media = rec.media.image ? { image: join(data, rec.media.image) } : { video: join(data, rec.media.video!) };
  const t0 = performance.now();
  const res = await reason(
    { task: rec.task, prompt, ...media, maxTokens, sampling: { temperature: 0 }, stream: false },
    { backend: checkpoint, onProgress },
  );
  const total = (performance.now() - t0) / 1000;
  const at = (stage: string, done?: number) =>
    events.find((x) => x.e.stage === stage && (done === undefined || x.e.done === done))?.t;
  const pre = at("preprocess") ?? 0, prefill = at("prefill") ?? pre, first = at("decode", 1) ?? total;
  const tokens = res.usage?.completionTokens ?? 0;
  return {
    seconds: r3(total),
    media_and_tower_s: r3(prefill - pre),
    prefill_s: r3(first - prefill),
    prompt_tokens: res.usage?.promptTokens,
    decode_s: r3(total - first),
    new_tokens: tokens,
    decode_tok_s: tokens > 1 ? r2((tokens - 1) / (total - first)) : null,
    answer: res.answer.slice(0, 160),
  };
}

async function benchReason(o: Options): Promise<void> {
  const data = mkdtempSync(join(tmpdir(), "cosmos-cpu-mini-"));
  try {
    await writeWorldData({
      out: data,
      split: "eval",
      count: 1,
      offset: o.seedOffset,
      tasks: ["grounding_2d", "temporal_localization"],
    });
    const checkpoint = o.reasoner;
    const t0 = performance.now();
    await openQwen3VL(checkpoint);
    emit({ part: "reason", call: "load", seconds: r3((performance.now() - t0) / 1000), ...machine() });
    for (const task of ["grounding_2d", "temporal_localization"] as const) {
      const [rec] = await readEvalRecords(data, task, 1);
      const first = await reasonCall(rec, data, checkpoint, o.maxTokens);
      emit({ part: "reason", task, call: "first (+ tower load)", ...first });
      const rows: Row[] = [];
      for (let i = 0; i < o.reps; i++) {
        const row = await reasonCall(rec, data, checkpoint, o.maxTokens);
        rows.push(row);
        emit({ part: "reason", task, call: i, ...row });
      }
      summary("reason", task, rows);
    }
  } finally {
    rmSync(data, { recursive: true, force: true });
  }
}

/** One text-to-video call timed by its parts (progress events: prefill, denoise k/N, decode chunk k/n). */
async function generateCall(checkpoint: string, steps: number | undefined, out: string): Promise<Row> {
  const { events, onProgress } = recorder();
  const t0 = performance.now();
  const res = await generate(
    {
      prompt:
        "A wooden table with a red cube and a blue ball, a grey robot arm above it. The red cube slides to the left.",
      output: "video",
      resolution: "256p",
      aspectRatio: "16:9",
      numFrames: 17,
      fps: 10,
      seed: 1,
      ...(steps ? { numInferenceSteps: steps } : {}),
      outputPath: out,
    },
    { backend: checkpoint, onProgress },
  );
  const total = (performance.now() - t0) / 1000;
  const denoise = events.filter((x) => x.e.stage === "denoise");
  const decode = events.filter((x) => x.e.stage === "decode");
  const prefill = events.find((x) => x.e.stage === "prefill")?.t ?? 0;
  const stepTimes = denoise.slice(1).map((x, i) => x.t - denoise[i].t);
  const step = median(stepTimes);
  const lastStep = denoise.at(-1)?.t ?? prefill;
  const guidance = res.effective?.guidanceScale ?? NaN;
  const forwards = guidance > 1 ? 2 : 1; // CFG: a conditional and an unconditional forward per step
  return {
    seconds: r3(total),
    steps: denoise.length,
    guidance,
    // the first step's event comes after the prompt's K/V (cond + uncond) and one step
    text_encoder_s: r3((denoise[0]?.t ?? prefill) - prefill - step),
    step_s: r3(step),
    forward_s: r3(step / forwards),
    denoise_s: r3(lastStep - prefill),
    vae_decode_s: r3((decode.at(-1)?.t ?? lastStep) - lastStep),
    vae_chunks: decode.length,
    write_s: r3(total - (decode.at(-1)?.t ?? lastStep)),
    before_prefill_s: r3(prefill),
    size: `${res.effective?.width}x${res.effective?.height}x${res.effective?.numFrames}`,
  };
}

async function benchGenerate(o: Options): Promise<void> {
  const checkpoint = o.generator;
  if (!existsSync(join(checkpoint, "transformer", "config.json"))) {
    throw new Error(
      `--generator ${checkpoint}: no transformer/config.json there (a diffusers-layout checkpoint folder)`,
    );
  }
  const outDir = mkdtempSync(join(tmpdir(), "cosmos-cpu-mini-gen-"));
  try {
    const t0 = performance.now();
    await openCosmos3Generator(checkpoint);
    emit({ part: "generate", call: "load", seconds: r3((performance.now() - t0) / 1000), ...machine() });
    const rows: Row[] = [];
    for (let i = 0; i < o.genReps; i++) {
      const row = await generateCall(checkpoint, o.steps, join(outDir, `t2v-${i}.mp4`));
      rows.push(row);
      emit({ part: "generate", task: "t2v_320x192x17", call: i, ...row, load1: r2(loadavg()[0]) });
    }
    summary("generate", "t2v_320x192x17", rows);
  } finally {
    rmSync(outDir, { recursive: true, force: true });
  }
}

function summary(part: Part, task: string, rows: Row[]): void {
  const s: Row = { part, task, summary: true, calls: rows.length };
  for (const k of Object.keys(rows[0] ?? {})) {
    const v = rows.map((r) => r[k]).filter((x): x is number => typeof x === "number");
    if (v.length === rows.length) s[k] = r3(median(v));
  }
  emit(s);
}

interface Options {
  parts: Part[];
  reps: number;
  genReps: number;
  steps?: number;
  maxTokens: number;
  seedOffset: number;
  reasoner: string;
  generator: string;
}

/** Runs this script per addon in child processes, alternating the order each round; prints ratio lines. */
async function compareAddons(spec: string, args: string[], o: Options, rounds: number): Promise<void> {
  const addons = spec.split(",").map((p) => {
    const [label, path] = p.includes("=") ? p.split("=", 2) : [p, p];
    if (!existsSync(path)) throw new Error(`--addons: ${path} not found`);
    return { label, path: resolve(path) };
  });
  const summaries = new Map<string, Row[]>(); // label|part|task -> summary rows
  for (let round = 0; round < rounds; round++) {
    for (const part of o.parts) {
      const order = round % 2 === 0 ? addons : [...addons].reverse();
      for (const a of order) {
        const lines = await runChild(args, part, a.path);
        for (const row of lines) {
          console.log(JSON.stringify({ ...row, addon: a.label, round }));
          if (row.summary) {
            const key = `${a.label}|${row.part}|${row.task}`;
            summaries.set(key, [...(summaries.get(key) ?? []), row]);
          }
        }
      }
    }
  }
  const first = addons[0].label, last = addons.at(-1)!.label;
  for (const key of summaries.keys()) {
    if (!key.startsWith(first + "|")) continue;
    const [, part, task] = key.split("|");
    const a = summaries.get(key)!, b = summaries.get(`${last}|${part}|${task}`) ?? [];
    const row: Row = { bench: "cpu_mini", compare: `${first} / ${last}`, part, task, rounds: a.length };
    for (
      const k of [
        "seconds",
        "media_and_tower_s",
        "prefill_s",
        "decode_tok_s",
        "text_encoder_s",
        "step_s",
        "forward_s",
        "vae_decode_s",
      ]
    ) {
      const x = median(a.map((r) => r[k]).filter((v): v is number => typeof v === "number"));
      const y = median(b.map((r) => r[k]).filter((v): v is number => typeof v === "number"));
      // ratio > 1: the last addon is faster (seconds: first / last; tokens/s: last / first)
      const ratio = k.endsWith("_tok_s") ? y / x : x / y;
      if (Number.isFinite(x) && Number.isFinite(y)) row[k] = { [first]: r3(x), [last]: r3(y), ratio: r2(ratio) };
    }
    console.log(JSON.stringify(row));
  }
}

function runChild(args: string[], part: Part, addon: string): Promise<Row[]> {
  return new Promise((ok, fail) => {
    const child = spawn(
      process.execPath,
      ["--import", "tsx", fileURLToPath(import.meta.url), ...args, "--parts", part],
      {
        env: { ...process.env, COSMOS_NATIVE_PATH: addon },
        stdio: ["ignore", "pipe", "inherit"],
      },
    );
    let out = "";
    child.stdout.on("data", (d) => (out += d));
    child.on("error", fail);
    child.on("close", (code) => {
      if (code !== 0) return fail(new Error(`child (${part}, ${addon}) exited with ${code}`));
      ok(out.split("\n").filter((l) => l.startsWith("{")).map((l) => JSON.parse(l) as Row));
    });
  });
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      parts: { type: "string", default: PARTS.join(",") },
      reps: { type: "string", default: "3" },
      "gen-reps": { type: "string", default: "1" },
      steps: { type: "string" },
      "max-tokens": { type: "string", default: "192" },
      "seed-offset": { type: "string", default: "0" },
      reasoner: { type: "string", default: join(ROOT, "checkpoints/mini-reasoner") },
      generator: { type: "string", default: join(ROOT, "checkpoints", "mini-generator") },
      addons: { type: "string" },
      rounds: { type: "string", default: "1" },
    },
  });
  const parts = values.parts.split(",").map((p) => {
    if (!(PARTS as readonly string[]).includes(p)) throw new Error(`--parts: ${p} is not one of ${PARTS.join(", ")}`);
    return p as Part;
  });
  const o: Options = {
    parts,
    reps: Number(values.reps),
    genReps: Number(values["gen-reps"]),
    steps: values.steps ? Number(values.steps) : undefined,
    maxTokens: Number(values["max-tokens"]),
    seedOffset: Number(values["seed-offset"]),
    reasoner: values.reasoner,
    generator: values.generator,
  };
  if (values.addons) {
    // the children get every option but --addons / --rounds / --parts
    const args = process.argv.slice(2).filter((a, i, all) =>
      !["--addons", "--rounds", "--parts"].includes(a) && !["--addons", "--rounds", "--parts"].includes(all[i - 1]) &&
      !/^--(addons|rounds|parts)=/.test(a)
    );
    await compareAddons(values.addons, args, o, Number(values.rounds));
    return;
  }
  if (parts.includes("reason")) await benchReason(o);
  if (parts.includes("generate")) await benchGenerate(o);
}

await main();
