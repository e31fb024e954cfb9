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
 * @example
 * ```sh
 * node --import tsx bench/fp8_fidelity.ts --checkpoint checkpoints/mini-generator --count 8
 * ```
 * @module
 */
import { resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { generatorInputs, planGeneration } from "../src/generator/mod.ts";
import { type Cosmos3GeneratorSession, openCosmos3Generator } from "../src/native/generator.ts";
import { closeNative } from "../src/native/qwen3vl.ts";
import { MODE_DEFAULTS } from "../src/schema/diffusion_defaults.ts";
import { generatorPrompt } from "../src/world/mod.ts";
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

/** Standard normal noise from a seed (mulberry32 + Box-Muller): the same for both sessions of a prompt. */
function seededNoise(n: number, seed: number): Float32Array {
  let s = seed >>> 0;
  const next = () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (((t ^ (t >>> 14)) >>> 0) + 0.5) / 4294967296;
  };
  const out = new Float32Array(n);
  for (let i = 0; i < n; i += 2) {
    const r = Math.sqrt(-2 * Math.log(next())), th = 2 * Math.PI * next();
    out[i] = r * Math.cos(th);
    if (i + 1 < n) out[i + 1] = r * Math.sin(th);
  }
  return out;
}

/** One prompt's comparison. */
export interface FidelityRow {
  seed: number;
  prompt: string;
  velocityRelL2: number;
  latentsRelL2: number;
  videoPsnrDb: number;
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

async function runOnce(s: Cosmos3GeneratorSession, prompt: string, size: RunSize, seed: number) {
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
  const noise = seededNoise(s.model.latentChannels * L.t * L.h * L.w, seed);
  const t0 = performance.now();
  const r = await s.run({ plan, inputs, noise, keepStepLatents: true });
  const seconds = (performance.now() - t0) / 1000;
  const first = r.stepLatents[0].map((v, i) => v - noise[i]);
  return { first, latents: r.latents, video: r.video!, seconds };
}

/** Compares the unquantized and fp8 sessions of `checkpoint` on `count` world prompts. */
export async function compareFp8(checkpoint: string, count: number, size: RunSize): Promise<FidelityRow[]> {
  const plain = await openCosmos3Generator(checkpoint);
  const fp8 = await openCosmos3Generator(checkpoint, undefined, { quantization: "fp8" });
  const rows: FidelityRow[] = [];
  for (const { seed, sample } of pushSamples(count, 0)) {
    const prompt = generatorPrompt(sample);
    const a = await runOnce(plain, prompt, size, seed);
    const b = await runOnce(fp8, prompt, size, seed);
    const row: FidelityRow = {
      seed,
      prompt,
      velocityRelL2: relativeL2(b.first, a.first),
      latentsRelL2: relativeL2(b.latents, a.latents),
      videoPsnrDb: psnr(b.video, a.video),
      seconds: { none: a.seconds, fp8: b.seconds },
    };
    console.log(JSON.stringify(row));
    rows.push(row);
  }
  return rows;
}

async function main(): Promise<void> {
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
  const rows = await compareFp8(checkpoint, Number(values.count), size);
  const mean = (f: (r: FidelityRow) => number) => rows.reduce((t, r) => t + f(r), 0) / rows.length;
  console.log(JSON.stringify({
    summary: {
      prompts: rows.length,
      velocityRelL2: mean((r) => r.velocityRelL2),
      latentsRelL2: mean((r) => r.latentsRelL2),
      videoPsnrDb: mean((r) => r.videoPsnrDb),
      secondsPerRun: { none: mean((r) => r.seconds.none), fp8: mean((r) => r.seconds.fp8) },
    },
    checkpoint,
    ...size,
  }));
  await closeNative();
}

if (process.argv[1] && fileURLToPath(import.meta.url) === resolve(process.argv[1])) await main();
