/**
 * Quality of a mini Generator checkpoint through our own native engine (`generate()` / `rollout()`
 * with the checkpoint folder as backend, CPU), on held-out seeds of the procedural world
 * (`src/world`, eval split), checked by colour segmentation (`src/world/segment.ts`):
 *
 * - text-to-video: eval seeds whose clip has a push ("the red cube slides to the left"); the prompt
 *   is the world's generator prompt of that seed (as in training; saying where each object stands when the checkpoint's
 *   cosmos-ts.json notes `prompt_places`, or with `--layout`); generate() runs it as the checkpoint says
 *   (cosmos-ts.json `text_to_video`: the committed mini Generator's "first_frame_anchored" is two passes, each row's
 *   `recipe` says which ran); the video is generated at 320×192,
 *   17 frames, 10 fps, decoded from the MP4 and the pushed object's colour tracked: a sample passes
 *   when the object moves at least {@link MIN_SHIFT_PX} along the prompted direction (left / right in
 *   x, away / towards in y: perspective turns an away push diagonal, so the prompted axis is read, not
 *   the dominant one — see {@link followsDirection}).
 * - forward dynamics: the seed's first frame and its 16-row action chunk → video; the gripper's
 *   centroid per frame against the simulated clip's, as a fraction of the frame width
 *   ({@link pathError}; a frame where the predicted gripper is not found counts half the width), next to
 *   the baseline of the first frame held still.
 * - policy / inverse dynamics: the predicted 16 × 10 chunk against the simulated one — the mean distance
 *   of the TCP position (columns 0–2, metres) and the mean absolute gripper error (column 9, 1 open … 0
 *   closed, Cosmos 3's convention; a checkpoint trained on data from before commit 92e9261, 0 open, reads
 *   near the truth's mean |1 − 2g| instead of its own error), next to the baseline of the mean chunk of 200 training seeds
 *   ({@link chunkError}).
 * - image-to-video (`--modes i2v`): text-to-video's seeds, prompts and checker with the true clip's first frame
 *   given, so the scene is drawn and only the named object's motion is judged.
 * - the VAE's ceiling for text-to-video (`--modes vae`): the same push seeds' true clips (H.264, as every input
 *   video) through the checkpoint's VAE alone — video-to-video with the clip's latent frames kept clean, so its
 *   frames are decode(encode(clip)) — and the same checker: what a transformer that drew the latents exactly would
 *   score.
 * - timing: seconds per call on this machine (the target: a mini text-to-video ≤ 60 s on a
 *   2-core CPU).
 *
 * Prints one JSON line per sample and a final `{"summary": …}` line.
 *
 * @example
 * ```sh
 * node --import tsx bench/mini_generator_eval.ts --checkpoint checkpoints/mini-generator --count 20
 * node --import tsx bench/mini_generator_eval.ts --checkpoint <ckpt> --modes fdyn --count 10 --steps 20
 * node --import tsx bench/mini_generator_eval.ts --checkpoint <ckpt> --quantization fp8   # the fp8 load option
 * node --import tsx bench/mini_generator_eval.ts --checkpoint <ckpt> --modes t2v --layout   # prompts with places
 * node --import tsx bench/mini_generator_eval.ts --checkpoint <ckpt> --modes t2v --plain    # without (the default
 * #   is the checkpoint's cosmos-ts.json prompt_places; generate() then writes its own places in)
 * ```
 * @module
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { generate, rollout } from "../src/api/mod.ts";
import type { BackendSpec, FirstFrameCheckResult } from "../src/schema/results.ts";
import { readCheckpointNotes, type TextToVideoRecipe } from "../src/native/mod.ts";
import { decodeVideoFrames } from "../src/media/mod.ts";
import {
  type Direction,
  generatorPrompt,
  makeSample,
  motionOf,
  type ObjectColor,
  pngOf,
  renderClip,
  type RgbBuffer,
  seedsOf,
  trackColors,
  type WorldSample,
  writeClip,
} from "../src/world/mod.ts";

/** Smallest displacement (pixels at 320×192) along the prompted direction that counts as a move. */
export const MIN_SHIFT_PX = 4;
/**
 * An object is one coherent thing over the clip: its centroid never jumps more than this between two frames
 * it shows in (the world's true pushes: at most 19.8 px over 97 held-out clips, when the fingers cover part of
 * it; colour blotches of an untrained model's noise jump 100+ px) ...
 */
export const MAX_JUMP_PX = 30;
/** ... and it covers at least this many pixels in every frame it shows in (true pushes: 66 and more). */
export const MIN_OBJECT_PX = 30;

/** What a text-to-video prompt of the seed asks for: the pushed object's colour and the direction. */
export interface SlideTarget {
  color: ObjectColor;
  direction: Direction;
  /** The event's words, e.g. "the red cube slides to the left". */
  label: string;
}

/** The push of a sample (undefined when its clip has none). */
export function slideTarget(sample: WorldSample): SlideTarget | undefined {
  const e = sample.events.find((ev) => ev.kind === "pushed" && ev.direction);
  if (!e?.direction) return undefined;
  return { color: sample.scene.objects[e.object].color, direction: e.direction, label: e.label };
}

/** The verdict of the text-to-video checker on one clip. */
export interface MotionVerdict {
  ok: boolean;
  /** Centroid displacement (pixels) from the first to the last frame the colour shows in, or undefined. */
  dx?: number;
  dy?: number;
  /** The displacement along the prompted direction (pixels; negative: the opposite way). */
  along?: number;
  /** Frames the colour shows in. */
  seen: number;
  reason: string;
}

/**
 * Does the object of `color` move `direction` in these frames? Yes when it shows in at least half the
 * frames as one coherent object ({@link MIN_OBJECT_PX}, {@link MAX_JUMP_PX}) and its centroid moves at
 * least `minShift` pixels along the direction's image axis: left / right along x, away (up the image) /
 * towards (down) along y.
 */
export function followsDirection(
  frames: readonly RgbBuffer[],
  color: ObjectColor,
  direction: Direction,
  minShift = MIN_SHIFT_PX,
): MotionVerdict {
  const track = trackColors(frames);
  const m = motionOf(track, color);
  if (!m) return { ok: false, seen: 0, reason: `the ${color} object is not found in two frames` };
  const segs = track.map((f) => f[color]).filter((x) => x !== undefined);
  const smallest = Math.min(...segs.map((x) => x.pixels));
  let jump = 0;
  for (let k = 1; k < segs.length; k++) {
    const [a, b] = [segs[k - 1].centroid, segs[k].centroid];
    jump = Math.max(jump, Math.hypot(b[0] - a[0], b[1] - a[1]));
  }
  const along = direction === "left" ? -m.dx : direction === "right" ? m.dx : direction === "away" ? -m.dy : m.dy;
  const base = { dx: m.dx, dy: m.dy, along, seen: m.seen };
  if (m.seen < frames.length / 2) {
    return { ...base, ok: false, reason: `the ${color} object shows in ${m.seen} of ${frames.length} frames` };
  }
  if (smallest < MIN_OBJECT_PX || jump > MAX_JUMP_PX) {
    return {
      ...base,
      ok: false,
      reason: `not one coherent ${color} object (smallest ${smallest} px, largest jump ${jump.toFixed(1)} px)`,
    };
  }
  if (along < minShift) {
    return { ...base, ok: false, reason: `moves ${along.toFixed(1)} px ${direction} (< ${minShift})` };
  }
  return { ...base, ok: true, reason: `moves ${along.toFixed(1)} px ${direction}` };
}

/** How far a predicted gripper path is from the simulated one. */
export interface PathError {
  /** Mean over frames of the centroid distance over the frame width (a missing frame counts 0.5). */
  meanFraction: number;
  /** The largest per-frame distance over the width. */
  maxFraction: number;
  /** Frames where the predicted gripper was not found. */
  missing: number;
  frames: number;
}

/**
 * The gripper's centroid in each predicted frame against the same frame of the reference clip (both
 * segmented the same way), as a fraction of the frame width. Frames where the reference shows no
 * gripper are skipped; where only the prediction misses it, the frame counts 0.5.
 */
export function pathError(predicted: readonly RgbBuffer[], reference: readonly RgbBuffer[]): PathError {
  const n = Math.min(predicted.length, reference.length);
  const p = trackColors(predicted.slice(0, n));
  const r = trackColors(reference.slice(0, n));
  const width = reference[0].width;
  const errs: number[] = [];
  let missing = 0;
  for (let k = 0; k < n; k++) {
    const ref = r[k].gripper;
    if (!ref) continue;
    const got = p[k].gripper;
    if (!got) {
      missing++;
      errs.push(0.5);
      continue;
    }
    errs.push(Math.hypot(got.centroid[0] - ref.centroid[0], got.centroid[1] - ref.centroid[1]) / width);
  }
  const mean = errs.length ? errs.reduce((a, b) => a + b, 0) / errs.length : 1;
  return { meanFraction: mean, maxFraction: errs.length ? Math.max(...errs) : 1, missing, frames: errs.length };
}

/** How far a predicted action chunk is from the simulated one. */
export interface ChunkError {
  /** Mean over rows of the TCP position distance (metres). */
  position: number;
  /** Mean over rows of |gripper error| (column 9). */
  gripper: number;
}

/** Row-by-row error of a predicted chunk (rows of the single-arm 10D layout) against the reference. */
export function chunkError(
  predicted: readonly (readonly number[])[],
  reference: readonly (readonly number[])[],
): ChunkError {
  const n = reference.length;
  let position = 0, gripper = 0;
  for (let k = 0; k < n; k++) {
    const p = predicted[k] ?? predicted[predicted.length - 1];
    const r = reference[k];
    position += Math.hypot(p[0] - r[0], p[1] - r[1], p[2] - r[2]);
    gripper += Math.abs(p[9] - r[9]);
  }
  return { position: position / n, gripper: gripper / n };
}

/** The mean chunk of `count` training seeds, row by row (the baseline a policy must beat). */
export function meanTrainChunk(count = 200): number[][] {
  const chunks = seedsOf("train", count, 0).map((seed) => makeSample(seed, { frames: 17, fps: 10 }).actions);
  return chunks[0].map((row, k) => row.map((_, c) => chunks.reduce((a, ch) => a + ch[k][c], 0) / chunks.length));
}

/** The first `count` frames of an MP4 as the world's segmentation reads them (RGB, 3 channels). */
export async function framesOf(path: string, count: number): Promise<RgbBuffer[]> {
  const decoded = await decodeVideoFrames(path, { frameIndices: Array.from({ length: count }, (_, k) => k) });
  return decoded.map((f) => ({ data: f.data, width: f.width, height: f.height, channels: 3 as const }));
}

/**
 * How an evaluation call runs: the checkpoint folder (the backend, or its spec with `quantization: "fp8"`),
 * denoising steps, and where outputs go.
 */
export interface EvalSettings {
  backend: string | BackendSpec;
  steps: number;
  /** Text-to-video's guidance scale (the action modes run at the rollout default, 1). */
  guidance: number;
  out: string;
  /**
   * Text-to-video's prompts say where each object stands in the first frame (`generatorPrompt`'s `layout`), for a
   * checkpoint trained on such prompts (`generator_data.ts --layout-share`, `cosmos-ts.json` `prompt_places`; the
   * command line's default is that note). Default false: the plain prompt, which generate() gives places by its own
   * rule on such a checkpoint (the row's `upsampled`).
   */
  layout?: boolean;
  /** Called with each sample's row as soon as it is measured (the CLI prints it: a long run's partial results). */
  onRow?: (row: object) => void;
}

/** Appends a measured row and hands it to `o.onRow`. */
function keep<R extends object>(rows: R[], row: R, o: EvalSettings): void {
  rows.push(row);
  o.onRow?.(row);
}

/**
 * One text-to-video (or image-to-video) sample: the seed, what was prompted, the seconds of the call and the
 * checker's verdict.
 */
export type T2vRow =
  & {
    mode: "t2v" | "i2v";
    seed: number;
    target: string;
    seconds: number;
    /** How generate() ran text-to-video on the checkpoint (its cosmos-ts.json; "direct": the pipeline's one pass). */
    recipe: TextToVideoRecipe;
    /** The prompt said where each object stands ({@link EvalSettings}'s `layout`). */
    layout?: true;
    /** generate() wrote places into the plain prompt (the checkpoint's `prompt_places`; GenerateResult `upsampledPrompt`). */
    upsampled?: true;
    /** The checkpoint's first-frame check, when it has one (cosmos-ts.json `first_frame_check`). */
    firstFrame?:
      & Pick<FirstFrameCheckResult, "candidates" | "chosen" | "accepted" | "found" | "located" | "byColor">
      & { misplaced?: string[] };
  }
  & MotionVerdict;

/** A held-out push: its seed, its 17-frame sample at 10 fps and what text-to-video is judged on. */
export interface PushSample {
  seed: number;
  sample: WorldSample;
  target: SlideTarget;
}

/** The first `count` eval seeds from `offset` whose clip has a push (about a third of the seeds), in order. */
export function pushSamples(count: number, offset: number): PushSample[] {
  const out: PushSample[] = [];
  for (const seed of seedsOf("eval", count * 6, offset)) {
    if (out.length >= count) break;
    const sample = makeSample(seed, { frames: 17, fps: 10 });
    const target = slideTarget(sample);
    if (target) out.push({ seed, sample, target });
  }
  return out;
}

/**
 * One text-to-video call as the evaluation makes it: 320×192 × 17 frames at 10 fps, `o`'s steps and guidance,
 * the noise seeded from the world seed; the MP4 written to `outputPath`.
 */
export function generateT2v(prompt: string, seed: number, outputPath: string, o: EvalSettings, image?: string) {
  return generate({
    prompt,
    output: "video",
    image,
    resolution: "256p",
    aspectRatio: "16:9",
    numFrames: 17,
    fps: 10,
    numInferenceSteps: o.steps,
    guidanceScale: o.guidance,
    seed: seed % 1000,
    outputPath,
  }, { backend: o.backend });
}

/**
 * Text-to-video on the first `count` {@link pushSamples} from `offset`: the world's prompt of the seed, then
 * {@link followsDirection} on the decoded MP4. With `mode` "i2v", image-to-video: the same prompt with the true
 * clip's first frame, so the scene is given and the figure measures the motion alone (text-to-video's misses
 * split into drawing the scene and moving the named object).
 */
export async function evalT2v(
  count: number,
  offset: number,
  o: EvalSettings,
  mode: "t2v" | "i2v" = "t2v",
): Promise<T2vRow[]> {
  const rows: T2vRow[] = [];
  for (const { seed, sample, target } of pushSamples(count, offset)) {
    const image = mode === "i2v" ? (await heldOutSample(seed, o.out)).image : undefined;
    const t0 = performance.now();
    const prompt = generatorPrompt(sample, { layout: o.layout });
    const r = await generateT2v(prompt, seed, join(o.out, `${mode}_${seed}.mp4`), o, image);
    const seconds = +((performance.now() - t0) / 1000).toFixed(1);
    const verdict = followsDirection(await framesOf(r.media.path, 17), target.color, target.direction);
    const recipe = r.textToVideoRecipe ?? "direct";
    const check = r.firstFrameCheck;
    const firstFrame = check && {
      candidates: check.candidates,
      chosen: check.chosen,
      accepted: check.accepted,
      found: check.found,
      ...(check.misplaced.length ? { misplaced: check.misplaced } : {}),
      located: check.located,
      ...(check.byColor ? { byColor: check.byColor } : {}),
    };
    keep(
      rows,
      {
        mode,
        seed,
        target: target.label,
        seconds,
        recipe,
        ...(o.layout ? { layout: true } : {}),
        ...(r.upsampledPrompt ? { upsampled: true } : {}),
        ...(firstFrame ? { firstFrame } : {}),
        ...verdict,
      },
      o,
    );
  }
  return rows;
}

/**
 * One VAE-ceiling sample: the checker on the true clip (`trueOk`, the world's own motion) and on its reconstruction
 * through the checkpoint's VAE (the verdict's fields).
 */
export type VaeRow = { mode: "vae"; seed: number; target: string; seconds: number; trueOk: boolean } & MotionVerdict;

/**
 * The VAE's ceiling on the first `count` {@link pushSamples} from `offset`: the true clip written as an MP4 (crf 20,
 * as the cookbooks' inputs), then video-to-video of 21 frames with the 5 latent frames of the clip's 17 kept clean
 * (`conditionFrameIndexes` [0..4]: the sampler leaves them as encoded; the engine needs one noisy latent, the sixth;
 * the causal VAE decodes frames 0-16 from latents 0-4 alone, so those frames are the VAE's reconstruction), one step,
 * no guidance; {@link followsDirection} on the true clip and on frames 0-16 of the output.
 */
export async function evalVaeCeiling(count: number, offset: number, o: EvalSettings): Promise<VaeRow[]> {
  const rows: VaeRow[] = [];
  for (const { seed, sample, target } of pushSamples(count, offset)) {
    const clip = renderClip(sample);
    const { video } = await writeClip(clip, sample, { dir: o.out, video: `true_${seed}.mp4` });
    const trueOk = followsDirection(clip.frames, target.color, target.direction).ok;
    const t0 = performance.now();
    const r = await generate({
      prompt: generatorPrompt(sample, { layout: o.layout }),
      output: "video",
      video,
      conditionFrameIndexes: [0, 1, 2, 3, 4],
      resolution: "256p",
      aspectRatio: "16:9",
      numFrames: 21,
      fps: 10,
      numInferenceSteps: 1,
      guidanceScale: 1,
      seed: seed % 1000,
      outputPath: join(o.out, `vae_${seed}.mp4`),
    }, { backend: o.backend });
    const seconds = +((performance.now() - t0) / 1000).toFixed(1);
    const verdict = followsDirection(await framesOf(r.media.path, 17), target.color, target.direction);
    keep(rows, { mode: "vae", seed, target: target.label, seconds, trueOk, ...verdict }, o);
  }
  return rows;
}

/** An eval seed's 17-frame clip at 10 fps, rendered, and its first frame written as `frame0_<seed>.png` in `out`. */
async function heldOutSample(seed: number, out: string) {
  const sample = makeSample(seed, { frames: 17, fps: 10 });
  const clip = renderClip(sample);
  const image = join(out, `frame0_${seed}.png`);
  writeFileSync(image, await pngOf(clip.frames[0]));
  return { sample, clip, image };
}

/** One forward-dynamics sample: the path error of the predicted clip and of the first frame held still. */
export type FdynRow = { mode: "fdyn"; seed: number; seconds: number; stillFraction: number } & PathError;

/** Forward dynamics on `count` eval seeds from `offset`: the seed's first frame and 16-row chunk → video. */
export async function evalFdyn(count: number, offset: number, o: EvalSettings): Promise<FdynRow[]> {
  const rows: FdynRow[] = [];
  for (const seed of seedsOf("eval", count, offset)) {
    const { sample, clip, image } = await heldOutSample(seed, o.out);
    const t0 = performance.now();
    const r = await rollout({
      mode: "forward_dynamics",
      embodiment: "droid",
      prompt: sample.scenario.instruction,
      image,
      actions: sample.actions,
      resolution: "256p",
      fps: 10,
      numInferenceSteps: o.steps,
      seed: seed % 1000,
      outputPath: join(o.out, `fdyn_${seed}.mp4`),
    }, { backend: o.backend });
    const seconds = +((performance.now() - t0) / 1000).toFixed(1);
    const e = pathError(await framesOf(r.video!.path, 17), clip.frames);
    // the baseline a model must beat: the first frame held still (the gripper never moves)
    const stillFraction = pathError(clip.frames.map(() => clip.frames[0]), clip.frames).meanFraction;
    keep(rows, { mode: "fdyn", seed, seconds, ...e, stillFraction }, o);
  }
  return rows;
}

/** One policy / inverse-dynamics sample: the chunk's error and the mean training chunk's. */
export type ChunkRow = { mode: "policy" | "idyn"; seed: number; seconds: number; baseline: ChunkError } & ChunkError;

/**
 * Policy (first frame → chunk) or inverse dynamics (the true clip → chunk) on `count` eval seeds from `offset`,
 * each chunk against the simulated one and the baseline of {@link meanTrainChunk}.
 */
export async function evalChunks(
  mode: "policy" | "idyn",
  count: number,
  offset: number,
  o: EvalSettings,
): Promise<ChunkRow[]> {
  const baseline = meanTrainChunk();
  const rows: ChunkRow[] = [];
  for (const seed of seedsOf("eval", count, offset)) {
    const { sample, clip, image } = await heldOutSample(seed, o.out);
    const media = mode === "policy"
      ? { image }
      : { video: (await writeClip(clip, sample, { dir: o.out, video: `truth_${seed}.mp4` })).video! };
    const t0 = performance.now();
    const r = await rollout({
      mode: mode === "policy" ? "policy" : "inverse_dynamics",
      embodiment: "droid",
      prompt: sample.scenario.instruction,
      ...media,
      actionChunkSize: 16,
      resolution: "256p",
      fps: 10,
      numInferenceSteps: o.steps,
      seed: seed % 1000,
      outputPath: join(o.out, `${mode}_${seed}.mp4`),
    }, { backend: o.backend });
    const seconds = +((performance.now() - t0) / 1000).toFixed(1);
    keep(rows, {
      mode,
      seed,
      seconds,
      ...chunkError(r.actions ?? [], sample.actions),
      baseline: chunkError(baseline, sample.actions),
    }, o);
  }
  return rows;
}

const mean = (v: readonly number[]) => v.length ? v.reduce((a, b) => a + b, 0) / v.length : NaN;
const secondsOf = (rows: readonly { seconds: number }[]) => mean(rows.map((r) => r.seconds));

/** Text-to-video's (or image-to-video's) summary: the fraction of samples whose object moved the prompted way. */
export function summarizeT2v(rows: readonly T2vRow[]) {
  return { samples: rows.length, follows: mean(rows.map((r) => r.ok ? 1 : 0)), secondsPerCall: secondsOf(rows) };
}

/** The VAE ceiling's summary: the fraction that follows after the VAE, and the true clips' own. */
export function summarizeVae(rows: readonly VaeRow[]) {
  return {
    samples: rows.length,
    follows: mean(rows.map((r) => r.ok ? 1 : 0)),
    trueFollows: mean(rows.map((r) => r.trueOk ? 1 : 0)),
    secondsPerCall: secondsOf(rows),
  };
}

/** Forward dynamics' summary: mean path error, the still first frame's, and the fraction within 10% of the width. */
export function summarizeFdyn(rows: readonly FdynRow[]) {
  return {
    samples: rows.length,
    meanPathError: mean(rows.map((r) => r.meanFraction)),
    stillFrameBaseline: mean(rows.map((r) => r.stillFraction)),
    within10pct: mean(rows.map((r) => r.meanFraction <= 0.1 ? 1 : 0)),
    secondsPerCall: secondsOf(rows),
  };
}

/** Policy's or inverse dynamics' summary: mean TCP and gripper errors, and the mean training chunk's. */
export function summarizeChunks(rows: readonly ChunkRow[]) {
  return {
    samples: rows.length,
    positionErrorM: mean(rows.map((r) => r.position)),
    gripperError: mean(rows.map((r) => r.gripper)),
    baselinePositionErrorM: mean(rows.map((r) => r.baseline.position)),
    baselineGripperError: mean(rows.map((r) => r.baseline.gripper)),
    secondsPerCall: secondsOf(rows),
  };
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      checkpoint: { type: "string" },
      count: { type: "string", default: "20" },
      offset: { type: "string", default: "0" },
      modes: { type: "string", default: "t2v,fdyn" },
      steps: { type: "string", default: "30" },
      guidance: { type: "string", default: "4" },
      quantization: { type: "string", default: "none" },
      layout: { type: "boolean" },
      plain: { type: "boolean", default: false },
      out: { type: "string" },
    },
  });
  if (!values.checkpoint) throw new Error("--checkpoint: required");
  const quantization = values.quantization;
  if (quantization !== "none" && quantization !== "fp8") throw new Error("--quantization: none or fp8");
  const count = Number(values.count);
  const offset = Number(values.offset);
  if (values.layout && values.plain) throw new Error("--layout and --plain: one or the other");
  // Prompts with places when the checkpoint reads them (cosmos-ts.json prompt_places), unless --plain.
  const layout = values.layout ??
    (!values.plain && (await readCheckpointNotes(resolve(values.checkpoint))).promptPlaces);
  const o: EvalSettings = {
    backend: { kind: "native", checkpoint: resolve(values.checkpoint), quantization },
    steps: Number(values.steps),
    guidance: Number(values.guidance),
    layout,
    out: values.out ?? mkdtempSync(join(tmpdir(), "mini-generator-eval-")),
  };
  mkdirSync(o.out, { recursive: true });
  const summary: Record<string, Record<string, number>> = {};
  const modes = values.modes!.split(",");
  o.onRow = (row) => console.log(JSON.stringify(row));
  if (modes.includes("t2v")) summary.t2v = summarizeT2v(await evalT2v(count, offset, o));
  if (modes.includes("i2v")) summary.i2v = summarizeT2v(await evalT2v(count, offset, o, "i2v"));
  if (modes.includes("vae")) summary.vae = summarizeVae(await evalVaeCeiling(count, offset, o));
  if (modes.includes("fdyn")) summary.fdyn = summarizeFdyn(await evalFdyn(count, offset, o));
  for (const mode of (["policy", "idyn"] as const).filter((m) => modes.includes(m))) {
    summary[mode] = summarizeChunks(await evalChunks(mode, count, offset, o));
  }
  const checkpoint = resolve(values.checkpoint);
  console.log(JSON.stringify({ summary, checkpoint, quantization, steps: o.steps, guidance: o.guidance, out: o.out }));
  if (!values.out) rmSync(o.out, { recursive: true, force: true });
}

if (process.argv[1] && fileURLToPath(import.meta.url) === resolve(process.argv[1])) await main();
