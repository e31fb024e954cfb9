/**
 * The image and video preprocessing settings of a Qwen3-VL checkpoint: pixel bounds, frame
 * sampling rate and frame limits, as transformers' `Qwen2VLImageProcessor` /
 * `Qwen3VLVideoProcessor` read them. transformers 5 saves both in `processor_config.json`
 * (`image_processor`, `video_processor`); released Qwen3-VL checkpoints have
 * `preprocessor_config.json` (image) and `video_preprocessor_config.json` (video). `size`
 * `{shortest_edge, longest_edge}` bounds height × width (video: frames × height × width);
 * older configs give `min_pixels` / `max_pixels`. Missing values keep the checkpoint defaults
 * of {@link QWEN3_VL_IMAGE_DEFAULTS} / {@link QWEN3_VL_VIDEO_DEFAULTS}.
 *
 * @example
 * ```ts
 * import { loadProcessorSettings } from "./processor.ts";
 * const s = await loadProcessorSettings("test/fixtures/qwen3vl-tiny");
 * s.image.maxPixels; // 262144
 * s.video.fps; // 2
 * ```
 * @module
 */
import { join } from "node:path";
import { z } from "zod";
import { QWEN3_VL_IMAGE_DEFAULTS, QWEN3_VL_VIDEO_DEFAULTS, type QwenVideoSettings } from "../media/qwen_vision.ts";
import { parseJsonValue, readJsonFile } from "./json.ts";

const PosInt = z.number().int().positive();
const Size = z.looseObject({ shortest_edge: PosInt.optional(), longest_edge: PosInt.optional() });

/** One processor section of a config file (the fields we use; others are kept). */
export const ProcessorSectionJson = z.looseObject({
  size: Size.nullish(),
  min_pixels: PosInt.nullish(),
  max_pixels: PosInt.nullish(),
  patch_size: PosInt.optional(),
  merge_size: PosInt.optional(),
  temporal_patch_size: PosInt.optional(),
  fps: z.number().positive().nullish(),
  min_frames: PosInt.nullish(),
  max_frames: PosInt.nullish(),
});
/** @see {@link ProcessorSectionJson} */
export type ProcessorSectionJson = z.infer<typeof ProcessorSectionJson>;

/** Preprocessing settings of a checkpoint. */
export interface ProcessorSettings {
  image: { factor: number; minPixels: number; maxPixels: number };
  video: QwenVideoSettings;
  /** Files the settings came from (empty: all defaults). */
  sources: string[];
}

function pixels(s: ProcessorSectionJson, fallback: { minPixels: number; maxPixels: number }) {
  return {
    minPixels: s.size?.shortest_edge ?? s.min_pixels ?? fallback.minPixels,
    maxPixels: s.size?.longest_edge ?? s.max_pixels ?? fallback.maxPixels,
  };
}

function factorOf(s: ProcessorSectionJson, fallback: number): number {
  return s.patch_size && s.merge_size ? s.patch_size * s.merge_size : fallback;
}

/**
 * Reads the preprocessing settings of the checkpoint folder `dir`.
 * @throws {CheckpointError} when a config file exists but a field has the wrong type.
 * @example
 * ```ts
 * import { loadProcessorSettings } from "./processor.ts";
 * (await loadProcessorSettings("test/fixtures/qwen3vl-tiny")).video.maxPixels; // 1048576
 * ```
 */
export async function loadProcessorSettings(dir: string): Promise<ProcessorSettings> {
  const sources: string[] = [];
  let image: ProcessorSectionJson = {};
  let video: ProcessorSectionJson = {};
  const combinedPath = join(dir, "processor_config.json");
  const combined = await readJsonFile(combinedPath, true);
  if (combined !== undefined) {
    const c = parseJsonValue(
      combinedPath,
      combined,
      z.looseObject({
        image_processor: ProcessorSectionJson.optional(),
        video_processor: ProcessorSectionJson.optional(),
      }),
    );
    if (c.image_processor) image = c.image_processor;
    if (c.video_processor) video = c.video_processor;
    sources.push(combinedPath);
  }
  for (
    const [name, set] of [
      ["preprocessor_config.json", (v: ProcessorSectionJson) => (image = { ...image, ...v })],
      ["video_preprocessor_config.json", (v: ProcessorSectionJson) => (video = { ...video, ...v })],
    ] as const
  ) {
    const path = join(dir, name);
    const json = await readJsonFile(path, true);
    if (json === undefined) continue;
    set(parseJsonValue(path, json, ProcessorSectionJson));
    sources.push(path);
  }
  const v = QWEN3_VL_VIDEO_DEFAULTS;
  return {
    image: { factor: factorOf(image, QWEN3_VL_IMAGE_DEFAULTS.factor), ...pixels(image, QWEN3_VL_IMAGE_DEFAULTS) },
    video: {
      ...v,
      factor: factorOf(video, v.factor),
      temporalPatchSize: video.temporal_patch_size ?? v.temporalPatchSize,
      ...pixels(video, v),
      fps: video.fps ?? v.fps,
      minFrames: video.min_frames ?? v.minFrames,
      maxFrames: video.max_frames ?? v.maxFrames,
    },
    sources,
  };
}
