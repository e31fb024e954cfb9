/**
 * Shrinks data folders written by `world_data.ts --frames-png` to what the GPU machine's trainer
 * reads (tools/train/train_reasoner.py), so that they fit in the device's 64 MiB carry: of each
 * Reasoner clip it keeps only the frames the Qwen3-VL video processor samples (the same
 * `qwenVideoPlan` the native engine uses on the mp4, with the fixture checkpoint's processor
 * settings), deletes the mp4s (the device has no video decoder) and writes `video_frames.json`
 * (`{indices, fps, totalFrames}`) for the trainer's video metadata.
 *
 * @example
 * ```sh
 * node --import tsx tools/train/pack_for_device.ts .dev/train/w0000 .dev/train/w0100
 * ```
 * @module
 */
import { readdir, readFile, rm, writeFile } from "node:fs/promises";
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { qwenVideoPlan } from "../../src/media/qwen_vision.ts";

/** The video-processor settings of test/fixtures/qwen3vl-tiny/processor_config.json, which the mini checkpoint copies. */
const VIDEO_SETTINGS = { fps: 2, minFrames: 4, maxFrames: 64 };

/** Packs one data folder in place; returns the kept frame indices. */
export async function packFolder(dir: string): Promise<number[]> {
  const manifest = JSON.parse(await readFile(join(dir, "manifest.json"), "utf8"));
  const { frames, fps } = manifest.reasoner as { frames: number; fps: number };
  const { width, height } = manifest.size as { width: number; height: number };
  const plan = qwenVideoPlan({ totalFrames: frames, fps, width, height }, {}, VIDEO_SETTINGS);
  const keep = new Set(plan.indices.map((k) => `${String(k).padStart(3, "0")}.png`));
  for (const seed of await readdir(join(dir, "media"))) {
    const media = join(dir, "media", seed);
    await rm(join(media, "reasoner.mp4"), { force: true });
    const framesDir = join(media, "reasoner");
    const names = await readdir(framesDir).catch(() => [] as string[]);
    await Promise.all(names.filter((n) => !keep.has(n)).map((n) => rm(join(framesDir, n))));
  }
  await writeFile(join(dir, "video_frames.json"), JSON.stringify({ indices: plan.indices, fps, totalFrames: frames }));
  return plan.indices;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === resolve(process.argv[1])) {
  for (const dir of process.argv.slice(2)) console.log(dir, await packFolder(dir));
}
