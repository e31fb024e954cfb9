/**
 * Reads an image or a video the way the Qwen3-VL processor will see it: frames sampled
 * and resized by the rules of qwen_vision.ts, bicubic, to the exact smart-resized size.
 * The pixels come from sharp/ffmpeg, so they are close to, not bit-identical with,
 * torchvision's bicubic resize in transformers; sizes, frame choice and timestamps match.
 *
 * @example
 * ```ts
 * import { prepareQwenVideo } from "./qwen_media.ts";
 * const { frames, plan } = await prepareQwenVideo("assets/videos/pick_place.mp4", { fps: 2 });
 * console.log(frames.length, plan.height, plan.width, plan.timestampLabels);
 * ```
 * @module
 */
import { readImage, type ReadImageOptions, resizeImage, type RgbImage } from "./images.ts";
import { probeFile, type VideoInfo } from "./probe.ts";
import type { ProcessOptions } from "./process.ts";
import {
  type QwenImagePlan,
  qwenImagePlan,
  type QwenVideoPlan,
  qwenVideoPlan,
  type QwenVideoSettings,
  type SmartResizeOptions,
} from "./qwen_vision.ts";
import { materialize, type MediaSource } from "./source.ts";
import { decodeLocalVideo, type VideoFrame } from "./video_decode.ts";

/** An image resized as the Qwen3-VL image processor resizes it. */
export async function prepareQwenImage(
  input: MediaSource,
  opts: SmartResizeOptions & ReadImageOptions = {},
): Promise<{ image: RgbImage; plan: QwenImagePlan; source: { width: number; height: number } }> {
  const src = await readImage(input, opts);
  const plan = qwenImagePlan(src.height, src.width, opts);
  const image = plan.width === src.width && plan.height === src.height ? src : {
    ...(await resizeImage(src, { width: plan.width, height: plan.height, fit: "fill", kernel: "cubic" })),
    format: src.format,
  };
  return { image, plan, source: { width: src.width, height: src.height } };
}

/**
 * The frames of a video as the Qwen3-VL video processor samples and resizes them, with the
 * plan (indices, size, grid, timestamps, token count). `sampling` is fps or numFrames
 * (default: the processor's 2 fps).
 */
export async function prepareQwenVideo(
  input: MediaSource,
  sampling: { fps?: number; numFrames?: number } = {},
  settings: Partial<QwenVideoSettings> = {},
  opts: ProcessOptions = {},
): Promise<{ frames: VideoFrame[]; plan: QwenVideoPlan; info: VideoInfo }> {
  // one local file for the probe and the decode: bytes are written once, and the decode's own
  // probe of the same file is answered by probeFile's cache
  const file = await materialize(input, ".mp4");
  try {
    const info = await probeFile(file.path, file.label, opts);
    const plan = qwenVideoPlan(
      { totalFrames: info.frameCount, fps: info.fps, height: info.height, width: info.width },
      sampling,
      settings,
    );
    const frames: VideoFrame[] = [];
    for await (
      const f of decodeLocalVideo(file, {
        ...opts,
        frameIndices: plan.indices,
        width: plan.width,
        height: plan.height,
        fit: "fill",
      })
    ) frames.push(f);
    return { frames, plan, info };
  } finally {
    await file.cleanup();
  }
}
