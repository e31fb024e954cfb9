/**
 * The pixel clip the Generator's VAE encodes for a planned run ({@link GeneratorPlan}): [3, F, H, W]
 * float32 in [-1, 1], built from decoded RGB frames with src/media's resize (sharp). What each task
 * encodes (diffusers 58eb52c0 `pipeline_cosmos3_omni.py` `prepare_latents` 757-997):
 *
 * - i2v: the image resized to cover the output (bilinear), centre-cropped (`_preprocess_conditioning_image`
 *   55-94: `round()`ed, then `x / 127.5 − 1`), repeated over every frame;
 * - v2v: the source frames stretched to the output size (PIL bilinear in `VideoProcessor.preprocess_video`,
 *   then `2 · (x / 255) − 1`), placed by the plan's frame map (the tail repeats the last one);
 * - action runs: the observation stretched to whole multiples of 16, scaled to its content size
 *   (bicubic, never up), padded right / bottom (reflect or replicate, as `F.pad`) to the canvas,
 *   repeated or cut to the clip (`_prepare_action_video_conditioning` 698-746);
 * - t2i / t2v: nothing (the pipeline encodes zeros it never uses: every latent frame is noisy).
 *
 * When no resize is needed the values equal the pipeline's bit for bit (its float32 steps are
 * reproduced); a resize is sharp's, close to but not the same as torch / PIL's filters.
 *
 * @example
 * ```ts
 * import { conditioningClip, planGeneration } from "./mod.ts";
 * const plan = planGeneration({
 *   task: "i2v", prompt: "x", width: 32, height: 32, numFrames: 5, fps: 24, image: { width: 32, height: 32 },
 *   numInferenceSteps: 1, guidanceScale: 1, flowShift: 10,
 * });
 * const image = { width: 32, height: 32, channels: 3 as const, data: new Uint8Array(32 * 32 * 3).fill(255) };
 * const clip = await conditioningClip(plan, { image });
 * clip?.frames; // 5 (all values 1)
 * ```
 * @module
 */
import { ValidationError } from "../errors.ts";
import { resizeImage } from "../media/images.ts";
import type { RgbFrame } from "../media/video_decode.ts";
import type { GeneratorPlan, MediaSize } from "./plan.ts";

/** A clip for the VAE encoder: [3, frames, height, width] float32 in [-1, 1]. */
export interface VaeClip {
  data: Float32Array;
  frames: number;
  height: number;
  width: number;
}

/** How 0..255 maps to [-1, 1] on each path (the float32 steps differ, so the last bit does). */
type UnitMap = (x: number) => number;
/** `_preprocess_conditioning_image`: `x / 127.5 − 1` in float32. */
const IMAGE_UNIT: UnitMap = (x) => Math.fround(Math.fround(x / 127.5) - 1);
/** `VaeImageProcessor`: `x / 255` (numpy float32), then `2x − 1` (torch float32). */
const PROCESSOR_UNIT: UnitMap = (x) => Math.fround(2 * Math.fround(x / 255) - 1);

/** A window of a frame (`frame[top:top+h, left:left+w]`). */
export function cropFrame(frame: RgbFrame, left: number, top: number, size: MediaSize): RgbFrame {
  const data = new Uint8Array(size.width * size.height * 3);
  for (let y = 0; y < size.height; y++) {
    const from = ((top + y) * frame.width + left) * 3;
    data.set(frame.data.subarray(from, from + size.width * 3), y * size.width * 3);
  }
  return { width: size.width, height: size.height, channels: 3, data };
}

/**
 * Pads a frame on the right and bottom as torch's `F.pad` does: "replicate" repeats the edge pixel,
 * "reflect" mirrors without repeating it (so a pad must be smaller than the side).
 */
export function padFrame(frame: RgbFrame, right: number, bottom: number, mode: "reflect" | "replicate"): RgbFrame {
  const width = frame.width + right;
  const height = frame.height + bottom;
  if (mode === "reflect" && (right >= frame.width || bottom >= frame.height)) {
    throw new ValidationError([{
      field: "padMode",
      value: mode,
      allowed: "replicate",
      message: `a reflect pad of ${right}x${bottom} needs a frame larger than ${frame.width}x${frame.height}`,
    }]);
  }
  const source = (i: number, n: number) => i < n ? i : mode === "replicate" ? n - 1 : 2 * (n - 1) - i;
  const data = new Uint8Array(width * height * 3);
  for (let y = 0; y < height; y++) {
    const sy = source(y, frame.height);
    for (let x = 0; x < width; x++) {
      const from = (sy * frame.width + source(x, frame.width)) * 3;
      data.set(frame.data.subarray(from, from + 3), (y * width + x) * 3);
    }
  }
  return { width, height, channels: 3, data };
}

async function resized(frame: RgbFrame, size: MediaSize, kernel: "linear" | "cubic", signal?: AbortSignal) {
  if (frame.width === size.width && frame.height === size.height) return frame;
  return await resizeImage(frame, { ...size, fit: "fill", kernel, signal });
}

function assemble(frames: readonly RgbFrame[], frameMap: readonly number[], unit: UnitMap): VaeClip {
  const { width, height } = frames[0];
  const plane = width * height;
  const data = new Float32Array(3 * frameMap.length * plane);
  frameMap.forEach((source, t) => {
    const px = frames[source].data;
    for (let c = 0; c < 3; c++) {
      const out = (c * frameMap.length + t) * plane;
      for (let i = 0; i < plane; i++) data[out + i] = unit(px[i * 3 + c]);
    }
  });
  return { data, frames: frameMap.length, height, width };
}

function need<T>(value: T | undefined, field: string, message: string): T {
  if (value === undefined) throw new ValidationError([{ field, value, allowed: "decoded frames", message }]);
  return value;
}

/**
 * The clip the VAE encodes for `plan` (undefined for t2i / t2v). `media.image` is the i2v image or an
 * action run's observation; `media.frames` the v2v source or an action run's video frames.
 */
export async function conditioningClip(
  plan: GeneratorPlan,
  media: { image?: RgbFrame; frames?: readonly RgbFrame[] },
  opts: { signal?: AbortSignal } = {},
): Promise<VaeClip | undefined> {
  const size = { width: plan.width, height: plan.height };
  if (plan.image) {
    const image = need(media.image, "image", "image-to-video needs the decoded image");
    const cover = await resized(image, plan.image.resized, "linear", opts.signal);
    const crop = cropFrame(cover, plan.image.left, plan.image.top, size);
    return assemble([crop], new Array(plan.numFrames).fill(0), IMAGE_UNIT);
  }
  if (plan.video) {
    const frames = need(media.frames, "video", "video-to-video needs the decoded source frames");
    const used = [...new Set(plan.video.frameMap)];
    const prepared: RgbFrame[] = [];
    for (const i of used) prepared[i] = await resized(frames[i], size, "linear", opts.signal);
    return assemble(prepared, plan.video.frameMap, PROCESSOR_UNIT);
  }
  const canvas = plan.actionCanvas;
  if (canvas) {
    const frames = media.frames ?? (media.image ? [media.image] : undefined);
    const clip = need(frames, "image", "an action run needs its observation");
    const prepared: RgbFrame[] = [];
    for (const i of new Set(canvas.frameMap)) {
      const stretched = await resized(clip[i], canvas.source, "linear", opts.signal);
      const fitted = await resized(stretched, canvas.content, "cubic", opts.signal);
      prepared[i] = canvas.padMode === "none"
        ? fitted
        : padFrame(fitted, canvas.padRight, canvas.padBottom, canvas.padMode);
    }
    return assemble(prepared, canvas.frameMap, PROCESSOR_UNIT);
  }
  return undefined;
}
