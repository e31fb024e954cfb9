/**
 * The mini Generator's training data, raw (issue 16): per seed the world's clip as uint8 RGB frames
 * and one JSON line (prompt, policy instruction, 10D action chunk, events). No ffmpeg, no sharp, no
 * PNG: the GPU machine has no video decoder, and a bundled copy of this file (esbuild) runs there
 * under a carried `node`, one process per core (`tools/device/train_mini_generator.sh`).
 *
 * The prompt and the action chunk are the ones `world_data.ts` writes in `generator.jsonl`
 * (`generatorPrompt`, `sample.actions`): the same world, the same seeds, only the container differs. Each line
 * says the chunk's gripper convention (`gripper`: "1 open, 0 closed", Cosmos 3's; lines without it were written
 * before commit 92e9261 and have the reverse).
 *
 * ```sh
 * node --import tsx tools/train/generator_data.ts --out /tmp/g0 --split train --offset 0 --count 100
 * # --layout-share 0.8: four prompts in five say where each object stands ("a red cube on the left near the camera")
 * # /tmp/g0/frames.u8: count × frames × height × width × 3 bytes; /tmp/g0/samples.jsonl: one line per seed
 * ```
 *
 * @module
 */
import { closeSync, mkdirSync, openSync, writeFileSync, writeSync } from "node:fs";
import { join } from "node:path";
import { makeSample, renderClip } from "../../src/world/sample.ts";
import { seedsOf } from "../../src/world/seeds.ts";
import { generatorEvents, generatorPrompt } from "../../src/world/tasks.ts";
import { Prng, subSeed } from "../../src/world/prng.ts";
import { GRIPPER_CONVENTION } from "../../src/world/gripper.ts";
import { EMBODIMENTS } from "../../src/schema/embodiments.ts";

/** Parsed command line (every option is `--name value`). */
export interface GeneratorDataOptions {
  out: string;
  split: "train" | "eval";
  offset: number;
  count: number;
  frames: number;
  fps: number;
  width: number;
  height: number;
  /**
   * The share of seeds (0–1, default 0) whose prompt says where each object stands in the first frame
   * (`generatorPrompt`'s `layout`); which seeds, from each seed. The line's `layout` says which prompt it has.
   */
  layoutShare?: number;
}

function parseArgs(argv: readonly string[]): GeneratorDataOptions {
  const o: GeneratorDataOptions = {
    out: "",
    split: "train",
    offset: 0,
    count: 10,
    frames: 17,
    fps: 10,
    width: 320,
    height: 192,
    layoutShare: 0,
  };
  for (let i = 0; i < argv.length; i += 2) {
    const key = argv[i].replace(/^--/, "");
    const value = argv[i + 1];
    if (value === undefined) throw new Error(`--${key}: missing value`);
    if (key === "out") o.out = value;
    else if (key === "split") {
      if (value !== "train" && value !== "eval") throw new Error(`--split: train or eval, not ${value}`);
      o.split = value;
    } else if (key === "size") {
      const m = /^(\d+)x(\d+)$/.exec(value);
      if (!m) throw new Error(`--size: WIDTHxHEIGHT, not ${value}`);
      o.width = Number(m[1]);
      o.height = Number(m[2]);
    } else if (key === "layout-share") o.layoutShare = Number(value);
    else if (["offset", "count", "frames", "fps"].includes(key)) {
      const n = Number(value);
      if (!Number.isFinite(n) || n < 0) throw new Error(`--${key}: a non-negative number, not ${value}`);
      (o as unknown as Record<string, number>)[key] = n;
    } else throw new Error(`unknown option --${key}`);
  }
  if (!o.out) throw new Error("--out: required");
  return o;
}

/** Writes `frames.u8` and `samples.jsonl` for `count` seeds of the split from `offset`. */
export function writeGeneratorData(o: GeneratorDataOptions): { seeds: number; seconds: number } {
  const t0 = performance.now();
  const share = o.layoutShare ?? 0;
  if (!(share >= 0 && share <= 1)) throw new Error(`--layout-share: a share in [0, 1], not ${o.layoutShare}`);
  mkdirSync(o.out, { recursive: true });
  const seeds = seedsOf(o.split, o.count, o.offset);
  const fd = openSync(join(o.out, "frames.u8"), "w");
  const lines: string[] = [];
  try {
    for (const seed of seeds) {
      const sample = makeSample(seed, { frames: o.frames, fps: o.fps });
      const clip = renderClip(sample, { width: o.width, height: o.height });
      for (const frame of clip.frames) writeSync(fd, frame.data);
      const layout = share > 0 && new Prng(subSeed(seed, "prompt-layout")).chance(share);
      lines.push(JSON.stringify({
        seed,
        split: o.split,
        prompt: generatorPrompt(sample, { layout }),
        layout,
        instruction: sample.scenario.instruction,
        actions: sample.actions,
        gripper: GRIPPER_CONVENTION,
        domainName: EMBODIMENTS.droid.domainName,
        frames: o.frames,
        fps: o.fps,
        width: o.width,
        height: o.height,
        events: generatorEvents(sample),
      }));
    }
  } finally {
    closeSync(fd);
  }
  writeFileSync(join(o.out, "samples.jsonl"), lines.join("\n") + "\n");
  return { seeds: seeds.length, seconds: (performance.now() - t0) / 1000 };
}

if (import.meta.url === `file://${process.argv[1]}` || process.env.GENERATOR_DATA_MAIN === "1") {
  const r = writeGeneratorData(parseArgs(process.argv.slice(2)));
  process.stderr.write(`[generator_data] ${r.seeds} seeds in ${r.seconds.toFixed(1)} s\n`);
}
