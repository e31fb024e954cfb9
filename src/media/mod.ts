/**
 * Media I/O of cosmos-ts: images (sharp), video and audio (ffmpeg through pipes), the
 * Qwen3-VL vision preprocessing rules, and JSON action chunks.
 *
 * @example
 * ```ts
 * import { decodeVideoFrames, qwenVideoPlan, probeVideo, readImage } from "./mod.ts";
 * const info = await probeVideo("assets/videos/pick_place.mp4");
 * const plan = qwenVideoPlan({ totalFrames: info.frameCount, fps: info.fps, height: info.height, width: info.width }, { fps: 2 });
 * const frames = await decodeVideoFrames("assets/videos/pick_place.mp4", { frameIndices: plan.indices, width: plan.width, height: plan.height });
 * ```
 * @module
 */
export { resetFfmpegResolution, resolveFfmpeg, resolveFfprobe } from "./ffmpeg_path.ts";
export * from "./limits.ts";
export { type MediaSource, parseDataUri, toDataUri } from "./source.ts";
export * from "./images.ts";
export * from "./video.ts";
export * from "./audio.ts";
export * from "./qwen_vision.ts";
export * from "./actions.ts";
export { DEFAULT_IDLE_TIMEOUT_MS, type ProcessOptions } from "./process.ts";
export * from "./qwen_media.ts";
