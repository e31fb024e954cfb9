/**
 * What the Generator's fp8 load option (`quantization: "fp8"`) changes, on any checkpoint and either backend:
 * for each prompt, the same text-to-video run (same noise, steps, guidance) on the unquantized session and on the
 * fp8 one, compared on
 *
 * - the first step's guided velocity: `stepLatents[0] − noise` (UniPC's first step is a plain Euler step, so this
 *   is dt × the CFG-combined velocity), relative L2 of fp8 against unquantized;
 * - the final latents after every step: relative L2;
 * - the decoded video (in [−1, 1]): PSNR with a peak-to-peak of 2.
 *
 * The prompts are the procedural world's text-to-video prompts of held-out push seeds (`src/world`, as
 * bench/mini_generator_eval.ts); the default size is the mini Generator's (320×192, 17 frames at 10 fps). On the
 * GPU machine with a real checkpoint, pass its folder and the request's size (e.g. `--width 832 --height 480
 * --frames 189 --fps 24 --steps 35 --guidance 6`). Prints one JSON line per prompt and a `{"summary": …}` line.
 *
 * `--nudge E` also measures how rough each session is: the first step's velocity against the same run with the
 * noise nudged by a relative E (see {@link FidelityRow.nudgeVelocityRelL2}).
 * `--save-latents DIR` also writes each run's final latents (`<seed>.none.f32`, `<seed>.fp8.f32`, little-endian
 * f32) and first-step velocities (`<seed>.none.v0.f32`, `<seed>.fp8.v0.f32`) so that two backends' runs can be compared (tools/device/fp8_generate.sh: CUDA against the CPU twin).
 *
 * @example
 * ```sh
 * node --import tsx bench/fp8_fidelity.ts --checkpoint checkpoints/mini-generator --count 8
 * ```
 * @module
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { generatorInputs, planGeneration } from "../src/generator/mod.ts";
import { type Cosmos3GeneratorSession, openCosmos3Generator } from "../src/native/generator.ts";
import { closeNative } from "../src/native/qwen3vl.ts";
import { MODE_DEFAULTS } from "../src/schema/diffusion_defaults.ts";
import { generatorPrompt } from "../src/world/mod.ts";
import { Prng } from "../src/world/prng.ts";
import { normals } from "../tools/fixtures/random_tensors.ts";
import { pushSamples } from "./mini_generator_eval.ts";

/** ‖a − b‖ / ‖b‖. */
export function relativeL2(a: Float32Array, b: Float32Array): number {
  let num = 0, den = 0;
  for (let i = 0; i < b.length; i++) num += (a[i] - b[i]) ** 2, den += b[i] ** 2;
  return den > 0 ? Math.sqrt(num / den) : 0;
}

/** PSNR (dB) of two videos in [−1, 1] (peak-to-peak 2). */
export function psnr(a: Float32Array, b: Float32Array): number {
  let se = 0;
  for (let i = 0; i < b.length; i++) se += (a[i] - b[i]) ** 2;
  return 10 * Math.log10(4 / (se / b.length));
}

/** One prompt's comparison. */
export interface FidelityRow {
  seed: number;
  prompt: string;
  velocityRelL2: number;
  latentsRelL2: number;
  videoPsnrDb: number;
  /**
   * With a nudge: how far the first step's guided velocity moves when the input noise is scaled by 1 + nudge × u
   * (u uniform in ±0.5 per element), for each session: how rough the function is. The unquantized model moves by
   * about the nudge; e4m3 rounding flips whole ulps, so the fp8 one moves by far more (the mini Generator, CPU:
   * 2e-4 against 0.11 at a 1e-3 nudge and guidance 4). Two backends' fp8 runs can agree no better than this.
   */
  nudgeVelocityRelL2?: { none: number; fp8: number };
  seconds: { none: number; fp8: number };
}

interface RunSize {
  width: number;
  height: number;
  frames: number;
  fps: number;
  steps: number;
  guidance: number;
}

// One t2v run from the seed's standard normal noise (the world's mulberry32, Box–Muller: the same for both sessions
// of a prompt). A nudged run is read for its first step alone, so it is not decoded.
async function runOnce(s: Cosmos3GeneratorSession, prompt: string, size: RunSize, seed: number, nudge = 0) {
  const plan = planGeneration({
    task: "t2v",
    prompt,
    width: size.width,
    height: size.height,
    numFrames: size.frames,
    fps: size.fps,
    numInferenceSteps: size.steps,
    guidanceScale: size.guidance,
    flowShift: MODE_DEFAULTS.video.flowShift,
  }, s.model);
  const inputs = generatorInputs(plan, s.tokenizer, s.model);
  const L = plan.latent;
  const noise = normals(new Prng(seed), s.model.latentChannels * L.t * L.h * L.w, 1);
  if (nudge) {
    for (let i = 0; i < noise.length; i++) {
      noise[i] *= 1 + nudge * (((i * 2654435761) >>> 0) / 2 ** 32 - 0.5);
    }
  }
  const t0 = performance.now();
  const r = await s.run({ plan, inputs, noise, keepStepLatents: true, decode: !nudge });
  const seconds = (performance.now() - t0) / 1000;
  const first = r.stepLatents[0].map((v, i) => v - noise[i]);
  return { first, latents: r.latents, video: r.video, seconds };
}

/** What {@link compareFp8} does besides the comparison. */
export interface CompareOptions {
  /** Writes each run's final latents and first-step velocity there (little-endian f32). */
  saveLatents?: string;
  /** Also measures each session's first-step sensitivity to a nudge of this size (one more run per session). */
  nudge?: number;
}

/** Compares the unquantized and fp8 sessions of `checkpoint` on `count` world prompts. */
export async function compareFp8(
  checkpoint: string,
  count: number,
  size: RunSize,
  { saveLatents, nudge }: CompareOptions = {},
): Promise<FidelityRow[]> {
  const plain = await openCosmos3Generator(checkpoint);
  const fp8 = await openCosmos3Generator(checkpoint, undefined, { quantization: "fp8" });
  // Which backend each session runs on and what it loaded (`quantization` is the engine's own report).
  const info = (s: Cosmos3GeneratorSession) => {
    const { backend, quantization } = s.raw.info() as { backend?: string; quantization?: string };
    return { backend, quantization };
  };
  console.log(JSON.stringify({ sessions: { none: info(plain), fp8: info(fp8) } }));
  const rows: FidelityRow[] = [];
  for (const { seed, sample } of pushSamples(count, 0)) {
    const prompt = generatorPrompt(sample);
    const a = await runOnce(plain, prompt, size, seed);
    const b = await runOnce(fp8, prompt, size, seed);
    if (saveLatents) {
      mkdirSync(saveLatents, { recursive: true });
      const save = (name: string, v: Float32Array) =>
        writeFileSync(join(saveLatents, `${seed}.${name}.f32`), new Uint8Array(v.buffer, v.byteOffset, v.byteLength));
      save("none", a.latents);
      save("fp8", b.latents);
      // The first step's guided velocity (one CFG forward pair): where two backends' fp8 runs are compared per forward.
      save("none.v0", a.first);
      save("fp8.v0", b.first);
    }
    const row: FidelityRow = {
      seed,
      prompt,
      velocityRelL2: relativeL2(b.first, a.first),
      latentsRelL2: relativeL2(b.latents, a.latents),
      videoPsnrDb: psnr(b.video!, a.video!),
      seconds: { none: a.seconds, fp8: b.seconds },
    };
    if (nudge) {
      const an = await runOnce(plain, prompt, size, seed, nudge);
      const bn = await runOnce(fp8, prompt, size, seed, nudge);
      row.nudgeVelocityRelL2 = { none: relativeL2(an.first, a.first), fp8: relativeL2(bn.first, b.first) };
    }
    console.log(JSON.stringify(row));
    rows.push(row);
  }
  return rows;
}

/** The command line (above); exported for tools/device/fp8_generate.ts's bundle. */
export async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      checkpoint: { type: "string", default: "checkpoints/mini-generator" },
      count: { type: "string", default: "8" },
      width: { type: "string", default: "320" },
      height: { type: "string", default: "192" },
      frames: { type: "string", default: "17" },
      fps: { type: "string", default: "10" },
      steps: { type: "string", default: "30" },
      guidance: { type: "string", default: "4" },
      "save-latents": { type: "string" },
      nudge: { type: "string" },
    },
  });
  const size: RunSize = {
    width: Number(values.width),
    height: Number(values.height),
    frames: Number(values.frames),
    fps: Number(values.fps),
    steps: Number(values.steps),
    guidance: Number(values.guidance),
  };
  const checkpoint = resolve(values.checkpoint!);
  const nudge = values.nudge ? Number(values.nudge) : undefined;
  const rows = await compareFp8(checkpoint, Number(values.count), size, { saveLatents: values["save-latents"], nudge });
  const mean = (f: (r: FidelityRow) => number) => rows.reduce((t, r) => t + f(r), 0) / rows.length;
  console.log(JSON.stringify({
    summary: {
      prompts: rows.length,
      velocityRelL2: mean((r) => r.velocityRelL2),
      latentsRelL2: mean((r) => r.latentsRelL2),
      videoPsnrDb: mean((r) => r.videoPsnrDb),
      ...(nudge
        ? {
          nudge,
          nudgeVelocityRelL2: {
            none: mean((r) => r.nudgeVelocityRelL2!.none),
            fp8: mean((r) => r.nudgeVelocityRelL2!.fp8),
          },
        }
        : {}),
      secondsPerRun: { none: mean((r) => r.seconds.none), fp8: mean((r) => r.seconds.fp8) },
    },
    checkpoint,
    ...size,
  }));
  await closeNative();
}

if (process.argv[1] && fileURLToPath(import.meta.url) === resolve(process.argv[1])) await main();
