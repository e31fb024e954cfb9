/**
 * Writes a rendered world clip to files through src/media: PNG frames (lossless, so colours stay
 * exact), an H.264 MP4 (ffmpeg) and the action chunk as JSON (checked as single-arm 10D).
 *
 * @example
 * ```ts
 * import { makeSample, renderClip } from "./sample.ts";
 * import { writeClip } from "./io.ts";
 * const sample = makeSample(9, { frames: 17, fps: 10 });
 * await writeClip(renderClip(sample), sample, { dir: "/tmp/world9", video: "clip.mp4", firstFrame: "frame0.png", actions: "actions.json" });
 * ```
 * @module
 */
import { join } from "node:path";
import { mkdir } from "node:fs/promises";
import { encodeImage, encodeVideo, writeActionChunk, writeImage } from "../media/mod.ts";
import { EMBODIMENTS } from "../schema/embodiments.ts";
import type { RgbBuffer } from "./raster.ts";
import type { RenderedClip, WorldSample } from "./sample.ts";

/** What {@link writeClip} writes (file names relative to `dir`; leave one out to skip it). */
export interface WriteClipOptions {
  dir: string;
  /** MP4 of every frame. */
  video?: string;
  /** PNG of frame 0. */
  firstFrame?: string;
  /** A PNG per frame: the name with `{k}` replaced by the frame index (e.g. "frames/{k}.png"). */
  framePattern?: string;
  /** The action chunk (JSON, rows of 10). */
  actions?: string;
  /** x264 quality (default 20: small files, colours within a few levels). */
  crf?: number;
  signal?: AbortSignal;
}

/** PNG bytes of a frame (deterministic: same pixels, same bytes). */
export function pngOf(frame: RgbBuffer): Promise<Uint8Array> {
  return encodeImage(frame, { format: "png" });
}

/** Writes the parts of a clip asked for; returns the absolute paths by part. */
export async function writeClip(
  clip: RenderedClip,
  sample: WorldSample,
  opts: WriteClipOptions,
): Promise<Record<string, string>> {
  await mkdir(opts.dir, { recursive: true });
  const out: Record<string, string> = {};
  if (opts.firstFrame) {
    out.firstFrame = await writeImage(clip.frames[0], join(opts.dir, opts.firstFrame), {
      format: "png",
      signal: opts.signal,
    });
  }
  if (opts.framePattern) {
    for (let k = 0; k < clip.frames.length; k++) {
      const path = join(opts.dir, opts.framePattern.replace("{k}", String(k).padStart(3, "0")));
      await mkdir(join(path, ".."), { recursive: true });
      await writeImage(clip.frames[k], path, { format: "png", signal: opts.signal });
    }
    out.frames = join(opts.dir, opts.framePattern);
  }
  if (opts.video) {
    const r = await encodeVideo(clip.frames, {
      output: join(opts.dir, opts.video),
      fps: sample.fps,
      width: clip.size.width,
      height: clip.size.height,
      crf: opts.crf ?? 20,
      preset: "fast",
      signal: opts.signal,
    });
    out.video = r.path;
  }
  if (opts.actions) {
    out.actions = await writeActionChunk(join(opts.dir, opts.actions), sample.actions, {
      dim: EMBODIMENTS.droid.actionDim,
    });
  }
  return out;
}
