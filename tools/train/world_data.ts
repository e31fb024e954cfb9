/**
 * The training-data writer of the mini models (issue 16): N world samples per task, written as
 * files a PyTorch trainer reads — PNG / MP4 media and one JSONL file per task whose lines hold
 * the chat-format conversation (system, user with the media and the prompt, assistant with the
 * answer in the format our parsers read) and the reference.
 *
 * Tasks: `caption`, `grounding_2d`, `temporal_localization`, `action_cot` (next action: the
 * gripper's waypoints), `physical_plausibility` (about half implausible), `describe_anything`
 * (marks drawn on the image), and `generator` (a clip, its first frame, its single-arm 10D action
 * chunk and a text prompt such as "… The red cube slides to the left.": text-to-video, forward
 * and inverse dynamics, policy). Chunks are in Cosmos 3's gripper convention, 1 open … 0 closed: the
 * records that carry a chunk and the manifest say so (`gripper`); data written before commit 92e9261
 * (manifest format 1) has the reverse.
 *
 * Seeds come from one split only (src/world/seeds.ts): `--split train` can never write a
 * held-out seed.
 *
 * @example
 * ```sh
 * node --import tsx tools/train/world_data.ts --out /tmp/world_train --split train --count 1000
 * node --import tsx tools/train/world_data.ts --out /tmp/world_eval --split eval --count 200 --tasks caption,grounding_2d
 * ```
 * @module
 */
import { mkdir, readFile, rename, writeFile } from "node:fs/promises";
import { join, relative } from "node:path";
import process from "node:process";
import { fileURLToPath } from "node:url";
import { deflateSync } from "node:zlib";
import { z } from "zod";
import { throwIfAborted, ValidationError } from "../../src/errors.ts";
import { writeImage } from "../../src/media/mod.ts";
import { qwenVideoPlan } from "../../src/media/qwen_vision.ts";
import { drawSubjectMarks } from "../../src/reasoner/marks.ts";
import { EMBODIMENTS } from "../../src/schema/embodiments.ts";
import { DEFAULT_SYSTEM_PROMPT } from "../../src/schema/messages.ts";
import type { ChatMessages } from "../../src/schema/messages.ts";
import {
  actionTask,
  assertSeedInSplit,
  captionTask,
  describeTask,
  generatorEvents,
  generatorPrompt,
  GRIPPER_CONVENTION,
  groundingTask,
  makeSample,
  PlausibilityAnswerStyle,
  plausibilityTask,
  Prng,
  renderClip,
  SEED_SPLITS,
  seedsOf,
  SeedSplit,
  subSeed,
  temporalTask,
  writeClip,
} from "../../src/world/mod.ts";
import type { RgbBuffer } from "../../src/world/mod.ts";

export const DataTask = z.enum([
  "caption",
  "grounding_2d",
  "temporal_localization",
  "action_cot",
  "physical_plausibility",
  "describe_anything",
  "generator",
]);
export type DataTask = z.infer<typeof DataTask>;

/**
 * The video-processor settings of test/fixtures/qwen3vl-tiny/processor_config.json, which the mini
 * checkpoints copy: the frames of a clip the Qwen3-VL video processor (and the native engine, from
 * the mp4) samples.
 */
export const VIDEO_SETTINGS = { fps: 2, minFrames: 4, maxFrames: 64 };

const Size = z.string().regex(/^\d+x\d+$/).transform((s) => {
  const [width, height] = s.split("x").map(Number);
  return { width, height };
});

/** Options of {@link writeWorldData} (and the command line, `--name value`). */
export const WorldDataOptions = z.object({
  out: z.string().min(1),
  split: SeedSplit,
  /** Samples (seeds) per task. */
  count: z.number().int().min(1).max(100_000),
  /** Where in the split the seeds start (to write more data later without repeating seeds). */
  offset: z.number().int().min(0).default(0),
  tasks: z.array(DataTask).min(1).default([...DataTask.options]),
  /** Image and clip size (default the smallest tier, 320x192). */
  size: Size.default({ width: 320, height: 192 }),
  /** Reasoner clips: frames and fps (4 s at 8 fps by default: events a quarter second apart). */
  reasonerFrames: z.number().int().min(2).max(300).default(33),
  reasonerFps: z.number().positive().max(60).default(8),
  /** Generator clips: 17 frames (a 16-row action chunk) at 10 fps by default. */
  generatorFrames: z.number().int().min(2).max(300).default(17),
  generatorFps: z.number().positive().max(60).default(10),
  /** Also write every frame of every clip as PNG (for trainers without a video decoder). */
  framesPng: z.boolean().default(false),
  /**
   * Write no MP4 for the Reasoner's clips, only the frames the Qwen3-VL video processor samples
   * from them (VIDEO_SETTINGS), as PNG under `media/<seed>/<clip>/<k>.png` (`reasoner/`,
   * `plausibility/`), and `video_frames.json` (`{indices, fps, totalFrames}`): what the GPU
   * machine's trainer reads, rendered and written in a fraction of the time (no ffmpeg, only the
   * frames needed). The JSONL still names the clip's `.mp4`: the trainer reads the folder of the
   * same name.
   */
  sampledFrames: z.boolean().default(false),
  /**
   * How PNGs are encoded: `sharp` (libvips, the default) or `js` (node's zlib, {@link encodePng}:
   * the same pixels, other bytes) for a machine without sharp — the GPU machine, where the trainer's
   * data is written by a bundled copy of this script. `js` needs `sampledFrames` (no ffmpeg either)
   * and cannot write describe-anything (its marks are drawn by sharp).
   */
  pngEncoder: z.enum(["sharp", "js"]).default("sharp"),
  /**
   * Grounding prompts per still (1–8): prompt variant 0 as before, then up to N - 1 further distinct
   * prompts (variants 1…, another object or every object) as extra records `grounding_2d-<seed>-<v>`
   * on the same image: more to learn from per rendered frame.
   */
  groundingPrompts: z.number().int().min(1).max(8).default(1),
  /**
   * The frame rate the physical-plausibility clips are sampled at (`videoSampling: { fps }` of the request the
   * model is then asked with; default: the processor's 2, VIDEO_SETTINGS, what every other clip task uses). At 2
   * the model sees a 4 s clip as 8 frames 0.6 s apart, between which a pushed or carried object moves as far
   * as a teleported one; 4 gives 16 frames. With `sampledFrames` the clip's frames at these indices are written
   * too, and the record carries them as `video_frames` (`{indices, fps, totalFrames}`, which the trainer
   * prefers to the folder's `video_frames.json`); every record of the task carries `videoSampling`.
   */
  plausibilityFps: z.number().positive().max(60).optional(),
  /**
   * How the physical-plausibility answers explain their label (`plausibilityTask`'s style): `short` (default, what
   * the committed mini Reasoner learnt), `timed` (the label, then each motion with its seconds and its cause, or
   * the violation with its second) or `reasoned` (that account first, then "So the motion is <label>.").
   */
  plausibilityAnswer: PlausibilityAnswerStyle.default("short"),
  /**
   * The share of seeds (0–1, default 0) whose Reasoner samples (every task but the generator's) have two objects of
   * one colour (`makeSample`'s `repeatColor`; which seeds, from each seed): a Reasoner that has seen "a red cube and a
   * red ball" locates a colour drawn twice, which the first-frame check of generated frames needs
   * (src/api/first_frame_check.ts). The generator's samples keep the world's one colour per object.
   */
  repeatColorShare: z.number().min(0).max(1).default(0),
  /**
   * The share of grounding prompts (0–1, default 0) that ask for every object of one colour that shows ("Locate every
   * red object."; `groundingTask`'s `colorShare`): with `repeatColorShare`, the mini Reasoner learns to count a colour.
   */
  colorGroundingShare: z.number().min(0).max(1).default(0),
  /** Progress lines on stderr. */
  verbose: z.boolean().default(false),
}).strict();
export type WorldDataOptions = z.input<typeof WorldDataOptions>;

/** One line of a task's JSONL file. */
export interface DataRecord {
  id: string;
  task: DataTask;
  seed: number;
  split: SeedSplit;
  /** The conversation, in the project's chat-message format (media URLs relative to the data folder). */
  messages: ChatMessages;
  /** The assistant's answer (also the last message's text). */
  answer: string;
  /** What the answer parses to (boxes, events, label, points, subjects, text), for evaluation. */
  reference: unknown;
  /** Media files, relative to the data folder. */
  media: Record<string, string>;
  /**
   * Extra fields per task: describe-anything's subjects; the generator's prompt, fps, frames, embodiment;
   * plausibility's videoSampling and video_frames (with `plausibilityFps`).
   */
  [extra: string]: unknown;
}

function conversation(mediaKind: "image" | "video", url: string, prompt: string, answer: string): ChatMessages {
  const part = mediaKind === "image"
    ? { type: "image_url" as const, image_url: { url } }
    : { type: "video_url" as const, video_url: { url } };
  return [
    { role: "system", content: [{ type: "text", text: DEFAULT_SYSTEM_PROMPT }] },
    { role: "user", content: [part, { type: "text", text: prompt }] },
    { role: "assistant", content: [{ type: "text", text: answer }] },
  ];
}

const CRC_TABLE = Uint32Array.from({ length: 256 }, (_, n) => {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  return c >>> 0;
});

function crc32(bytes: Uint8Array): number {
  let c = 0xffffffff;
  for (let i = 0; i < bytes.length; i++) c = CRC_TABLE[(c ^ bytes[i]) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

function pngChunk(type: string, body: Uint8Array): Uint8Array {
  const out = new Uint8Array(12 + body.length);
  const view = new DataView(out.buffer);
  view.setUint32(0, body.length);
  out.set(new TextEncoder().encode(type), 4);
  out.set(body, 8);
  view.setUint32(8 + body.length, crc32(out.subarray(4, 8 + body.length)));
  return out;
}

/**
 * An 8-bit RGB image as PNG bytes with node's zlib only (no sharp): every row with filter "none",
 * deflate level 1 — the flat-shaded world compresses well enough, and speed is what counts here.
 *
 * @example
 * ```ts
 * const png = encodePng({ data: new Uint8Array(2 * 2 * 3).fill(200), width: 2, height: 2, channels: 3 });
 * png.subarray(1, 4); // "PNG"
 * ```
 */
export function encodePng(img: RgbBuffer): Uint8Array {
  const stride = img.width * 3;
  const raw = new Uint8Array((stride + 1) * img.height);
  for (let y = 0; y < img.height; y++) raw.set(img.data.subarray(y * stride, (y + 1) * stride), y * (stride + 1) + 1);
  const header = new Uint8Array(13);
  const view = new DataView(header.buffer);
  view.setUint32(0, img.width);
  view.setUint32(4, img.height);
  header.set([8, 2, 0, 0, 0], 8); // 8 bits, truecolour, deflate, adaptive filtering, no interlace
  const parts = [
    Uint8Array.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    pngChunk("IHDR", header),
    pngChunk("IDAT", deflateSync(raw, { level: 1 })),
    pngChunk("IEND", new Uint8Array(0)),
  ];
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/** Writes a PNG with the chosen encoder (the `js` one atomically too: temp file + rename, as writeImage). */
async function writePng(img: RgbBuffer, path: string, encoder: "sharp" | "js", signal?: AbortSignal): Promise<string> {
  if (encoder === "sharp") return await writeImage(img, path, { format: "png", signal });
  throwIfAborted(signal);
  await writeFile(`${path}.tmp`, encodePng(img));
  await rename(`${path}.tmp`, path);
  return path;
}

/** Writes frame k (`frameAt(k)`) of each of `indices` as `<dir>/<k>.png`, k zero-padded to 3 as `framePattern`. */
async function writeSampledFrames(
  frameAt: (k: number) => RgbBuffer,
  indices: readonly number[],
  dir: string,
  encoder: "sharp" | "js",
  signal?: AbortSignal,
): Promise<void> {
  await mkdir(dir, { recursive: true });
  for (const k of indices) await writePng(frameAt(k), join(dir, `${String(k).padStart(3, "0")}.png`), encoder, signal);
}

/** What {@link writeWorldData} wrote. */
export interface WorldDataSummary {
  out: string;
  split: SeedSplit;
  seeds: { from: number; to: number };
  records: Record<string, number>;
  seconds: number;
}

/**
 * Writes the data set: `manifest.json`, `<task>.jsonl` per task and `media/<seed>/…`. Every
 * ffmpeg encode is bounded by src/media's idle timeout; `signal` stops between and within seeds.
 * @throws {ValidationError} for bad options, or a seed outside the split.
 * @throws {AbortError} when `signal` aborts (the JSONL files and manifest are then not written).
 */
export async function writeWorldData(
  options: WorldDataOptions,
  run: { signal?: AbortSignal } = {},
): Promise<WorldDataSummary> {
  const parsed = WorldDataOptions.safeParse(options);
  if (!parsed.success) {
    throw new ValidationError(parsed.error.issues.map((i) => ({
      field: i.path.join(".") || "(options)",
      value: i.path.reduce<unknown>((v, k) => (v as Record<string, unknown> | undefined)?.[k as string], options),
      allowed: "see WorldDataOptions in tools/train/world_data.ts",
      message: i.message,
    })));
  }
  const o = parsed.data;
  if (
    o.pngEncoder === "js" &&
    (!o.sampledFrames || o.tasks.includes("describe_anything") || o.tasks.includes("generator"))
  ) {
    throw new ValidationError([{
      field: "pngEncoder",
      value: o.pngEncoder,
      allowed: "js only with sampledFrames and without describe_anything or generator (they need sharp or ffmpeg)",
      message: "the js PNG encoder writes only sampled frames and stills",
    }]);
  }
  const t0 = performance.now();
  const seeds = seedsOf(o.split, o.count, o.offset);
  const tasks = new Set(o.tasks);
  await mkdir(o.out, { recursive: true });
  const lines: Record<string, string[]> = Object.fromEntries([...tasks].map((t) => [t, []]));
  const rel = (p: string) => relative(o.out, p).split("\\").join("/");
  const reasonerTasks = [...tasks].filter((t) => t !== "generator" && t !== "physical_plausibility");
  const clipMeta = { totalFrames: o.reasonerFrames, fps: o.reasonerFps, width: o.size.width, height: o.size.height };
  const sampledIndices = qwenVideoPlan(clipMeta, {}, VIDEO_SETTINGS).indices;
  // physical plausibility's own sampling (--plausibility-fps), else the same frames as the other clip tasks
  const plausibilitySampling = o.plausibilityFps === undefined ? undefined : { fps: o.plausibilityFps };
  const plausibilityIndices = plausibilitySampling
    ? qwenVideoPlan(clipMeta, plausibilitySampling, VIDEO_SETTINGS).indices
    : sampledIndices;
  const plausibilityFrames = plausibilitySampling && o.sampledFrames
    ? { video_frames: { indices: plausibilityIndices, fps: o.reasonerFps, totalFrames: o.reasonerFrames } }
    : {};
  const ascending = (a: number, b: number) => a - b;
  // the frames written under reasoner/: what the clip tasks sample, and what plausibility samples of a plausible clip
  const reasonerIndices = tasks.has("physical_plausibility")
    ? [...new Set([...sampledIndices, ...plausibilityIndices])].sort(ascending)
    : sampledIndices;
  for (const [n, seed] of seeds.entries()) {
    throwIfAborted(run.signal);
    assertSeedInSplit(o.split, seed); // belt and braces: seedsOf already draws from the split
    const dir = join(o.out, "media", String(seed));
    const base = { seed, split: o.split };
    const push = (task: DataTask, rec: Omit<DataRecord, "id" | "task" | "seed" | "split">) =>
      lines[task].push(JSON.stringify({ id: `${task}-${seed}`, task, ...base, ...rec }));
    if (reasonerTasks.length || tasks.has("physical_plausibility")) {
      const repeatColor = o.repeatColorShare > 0 &&
        new Prng(subSeed(seed, "writer:repeat-color")).chance(o.repeatColorShare);
      const sample = makeSample(seed, { frames: o.reasonerFrames, fps: o.reasonerFps, repeatColor });
      const needVideo = tasks.has("caption") || tasks.has("temporal_localization") ||
        tasks.has("physical_plausibility");
      // Grounding and describe-anything look at the first frame half the time, else at a frame
      // mid-task (objects held, moved, partly behind the arm): more varied stills to learn from.
      const frames = new Prng(subSeed(seed, "writer:stills"));
      const pickStill = (): number => frames.chance(0.5) ? 0 : frames.int(1, sample.frames - 1);
      const groundingFrame = tasks.has("grounding_2d") ? pickStill() : 0;
      const describeFrame = tasks.has("describe_anything") ? pickStill() : 0;
      // --sampled-frames renders only what is written; otherwise every frame (the MP4 needs them).
      const only = o.sampledFrames
        ? [...new Set([0, groundingFrame, describeFrame, ...(needVideo ? reasonerIndices : [])])].sort(ascending)
        : undefined;
      const clip = renderClip(sample, o.size, only);
      const at = (k: number) => only ? only.indexOf(k) : k;
      // --png-encoder js: no sharp, and --sampled-frames writes nothing but the first frame here
      const files: Record<string, string> = o.pngEncoder === "js"
        ? await mkdir(dir, { recursive: true }).then(async () => ({
          firstFrame: await writePng(clip.frames[0], join(dir, "frame0.png"), "js", run.signal),
        }))
        : await writeClip(clip, sample, {
          dir,
          firstFrame: "frame0.png",
          signal: run.signal,
          ...(needVideo && !o.sampledFrames ? { video: "reasoner.mp4" } : {}),
          ...(o.framesPng && !o.sampledFrames ? { framePattern: "reasoner/{k}.png" } : {}),
        });
      if (needVideo && o.sampledFrames) {
        const frameAt = (k: number) => clip.frames[at(k)];
        await writeSampledFrames(frameAt, reasonerIndices, join(dir, "reasoner"), o.pngEncoder, run.signal);
      }
      const image = rel(files.firstFrame);
      const video = needVideo ? rel(files.video ?? join(dir, "reasoner.mp4")) : "";
      if (tasks.has("caption")) {
        const t = captionTask(sample);
        push("caption", {
          messages: conversation("video", video, t.prompt, t.answer),
          answer: t.answer,
          reference: t.reference,
          media: { video },
        });
      }
      if (tasks.has("temporal_localization")) {
        const t = temporalTask(sample);
        push("temporal_localization", {
          messages: conversation("video", video, t.prompt, t.answer),
          answer: t.answer,
          reference: t.reference,
          media: { video },
          seconds: sample.seconds,
          fps: sample.fps,
        });
      }
      const still = async (k: number): Promise<number> => {
        if (k > 0) await writePng(clip.frames[at(k)], join(dir, `frame${k}.png`), o.pngEncoder, run.signal);
        return k;
      };
      if (tasks.has("grounding_2d")) {
        const k = await still(groundingFrame);
        const img = k === 0 ? image : rel(join(dir, `frame${k}.png`));
        const t = groundingTask(sample, clip.views[at(k)], clip.size, 0, { colorShare: o.colorGroundingShare });
        if (t.reference.length) {
          push("grounding_2d", {
            messages: conversation("image", img, t.prompt, t.answer),
            answer: t.answer,
            reference: t.reference,
            media: { image: img },
            frame: k,
          });
        }
        // distinct prompts only (variants draw "every object" or one object at random): up to 4x as many draws
        const asked = new Set([t.prompt]);
        for (let v = 1; v < 4 * o.groundingPrompts && asked.size < o.groundingPrompts && t.reference.length; v++) {
          const extra = groundingTask(sample, clip.views[at(k)], clip.size, v, { colorShare: o.colorGroundingShare });
          if (asked.has(extra.prompt)) continue;
          asked.add(extra.prompt);
          lines.grounding_2d.push(JSON.stringify({
            id: `grounding_2d-${seed}-${v}`,
            task: "grounding_2d",
            ...base,
            messages: conversation("image", img, extra.prompt, extra.answer),
            answer: extra.answer,
            reference: extra.reference,
            media: { image: img },
            frame: k,
          }));
        }
      }
      if (tasks.has("action_cot")) {
        const t = actionTask(sample, clip.size);
        push("action_cot", {
          messages: conversation("image", image, t.prompt, t.answer),
          answer: t.answer,
          reference: t.reference,
          media: { image },
          actions: sample.actions,
          gripper: GRIPPER_CONVENTION,
        });
      }
      if (tasks.has("describe_anything")) {
        const k = await still(describeFrame);
        const unmarked = k === 0 ? files.firstFrame : join(dir, `frame${k}.png`);
        const t = describeTask(sample, clip.views[at(k)], clip.size, 0, k);
        if (t.subjects.length) {
          const marked = join(dir, "marked.png");
          await writeFile(marked, await drawSubjectMarks(new Uint8Array(await readFile(unmarked)), t.subjects));
          push("describe_anything", {
            messages: conversation("image", rel(marked), t.prompt, t.answer),
            answer: t.answer,
            reference: t.reference,
            media: { image: rel(marked), unmarked: rel(unmarked) },
            subjects: t.subjects,
            frame: k,
          });
        }
      }
      if (tasks.has("physical_plausibility")) {
        const p = makeSample(seed, { frames: o.reasonerFrames, fps: o.reasonerFps, anomaly: "auto", repeatColor });
        let pv = video;
        if (p.plausibility.label === "implausible" && o.sampledFrames) {
          const pdir = join(dir, "plausibility");
          const pclip = renderClip(p, o.size, plausibilityIndices);
          const frameAt = (k: number) => pclip.frames[plausibilityIndices.indexOf(k)];
          await writeSampledFrames(frameAt, plausibilityIndices, pdir, o.pngEncoder, run.signal);
          pv = rel(join(dir, "plausibility.mp4"));
        } else if (p.plausibility.label === "implausible") {
          const f = await writeClip(renderClip(p, o.size), p, { dir, video: "plausibility.mp4", signal: run.signal });
          pv = rel(f.video);
        }
        const t = plausibilityTask(p, o.plausibilityAnswer);
        push("physical_plausibility", {
          messages: conversation("video", pv, t.prompt, t.answer),
          answer: t.answer,
          reference: t.reference,
          media: { video: pv },
          scenario: p.scenario.kind,
          ...(p.plausibility.anomaly ? { anomaly: p.plausibility.anomaly } : {}),
          ...(plausibilitySampling ? { videoSampling: plausibilitySampling, ...plausibilityFrames } : {}),
        });
      }
    }
    if (tasks.has("generator")) {
      const g = makeSample(seed, { frames: o.generatorFrames, fps: o.generatorFps });
      const f = await writeClip(renderClip(g, o.size), g, {
        dir,
        video: "generator.mp4",
        firstFrame: "generator_frame0.png",
        actions: "generator_actions.json",
        signal: run.signal,
        ...(o.framesPng ? { framePattern: "generator/{k}.png" } : {}),
      });
      const prompt = generatorPrompt(g);
      lines.generator.push(JSON.stringify({
        id: `generator-${seed}`,
        task: "generator",
        ...base,
        prompt,
        media: { video: rel(f.video), image: rel(f.firstFrame), actions: rel(f.actions) },
        embodiment: "droid",
        domainName: EMBODIMENTS.droid.domainName,
        actionDim: EMBODIMENTS.droid.actionDim,
        gripper: GRIPPER_CONVENTION,
        frames: g.frames,
        fps: g.fps,
        width: o.size.width,
        height: o.size.height,
        instruction: g.scenario.instruction,
        events: generatorEvents(g),
      }));
    }
    if (o.verbose && (n + 1) % 10 === 0) process.stderr.write(`[world_data] ${n + 1}/${seeds.length} seeds\n`);
  }
  const records: Record<string, number> = {};
  for (const [task, ls] of Object.entries(lines)) {
    await writeFile(join(o.out, `${task}.jsonl`), ls.length ? ls.join("\n") + "\n" : "");
    records[task] = ls.length;
  }
  if (o.sampledFrames) {
    const videoFrames = { indices: sampledIndices, fps: o.reasonerFps, totalFrames: o.reasonerFrames };
    await writeFile(join(o.out, "video_frames.json"), JSON.stringify(videoFrames));
  }
  const range = { from: seeds[0], to: seeds[seeds.length - 1] + 1 };
  await writeFile(
    join(o.out, "manifest.json"),
    JSON.stringify(
      {
        // 2: the action chunks' gripper column is Cosmos 3's 1 open … 0 closed (1, before commit 92e9261: 0 open)
        format: "cosmos-ts world data 2",
        gripper: GRIPPER_CONVENTION,
        split: o.split,
        seeds: range,
        seedSplits: SEED_SPLITS,
        size: o.size,
        reasoner: { frames: o.reasonerFrames, fps: o.reasonerFps },
        generator: { frames: o.generatorFrames, fps: o.generatorFps },
        records,
        note:
          "Made by tools/train/world_data.ts from src/world. Media paths are relative to this folder. Boxes and waypoints are on the Qwen3-VL 0-1000 grid.",
      },
      null,
      2,
    ) + "\n",
  );
  return { out: o.out, split: o.split, seeds: range, records, seconds: (performance.now() - t0) / 1000 };
}

/** `--name value` / `--flag` arguments → options (numbers and lists converted). */
export function parseArgs(argv: readonly string[]): WorldDataOptions {
  const raw: Record<string, unknown> = {};
  const camel = (s: string) => s.replace(/-([a-z])/g, (_, c: string) => c.toUpperCase());
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (!a.startsWith("--")) {
      throw new ValidationError([{
        field: "argv",
        value: a,
        allowed: "--name value or --flag",
        message: "unexpected argument",
      }]);
    }
    const key = camel(a.slice(2));
    if (key === "framesPng" || key === "sampledFrames" || key === "verbose") raw[key] = true;
    else {
      const v = argv[++i];
      raw[key] = key === "tasks" ? v?.split(",") : [
          "count",
          "offset",
          "reasonerFrames",
          "reasonerFps",
          "generatorFrames",
          "generatorFps",
          "groundingPrompts",
          "plausibilityFps",
          "repeatColorShare",
          "colorGroundingShare",
        ].includes(key)
        ? Number(v)
        : v;
    }
  }
  return raw as WorldDataOptions;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const opts = parseArgs(process.argv.slice(2));
  const s = await writeWorldData({ verbose: true, ...opts });
  console.log(
    `[world_data] ${s.split} seeds [${s.seeds.from}, ${s.seeds.to}): ${
      Object.entries(s.records).map(([t, n]) => `${t} ${n}`).join(", ")
    } in ${s.seconds.toFixed(1)} s → ${s.out}`,
  );
}
