/**
 * Video I/O: probe, decode to RGB frames, encode to MP4 with an optional AAC track,
 * extract audio. One module per step; this file gathers them.
 *
 * @example
 * ```ts
 * import { decodeVideo, encodeVideo, probeVideo } from "./video.ts";
 * const info = await probeVideo("assets/videos/pick_place.mp4");
 * await encodeVideo(decodeVideo("assets/videos/pick_place.mp4", { fps: 8 }), { output: "/tmp/out.mp4", fps: 8, width: info.width, height: info.height });
 * ```
 * @module
 */
export * from "./probe.ts";
export * from "./video_decode.ts";
export * from "./video_encode.ts";
export { decodeAudio, extractAudio, type ExtractAudioOptions } from "./audio_io.ts";
