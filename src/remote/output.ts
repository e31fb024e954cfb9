/**
 * Writes what a Generator server sends back — PNG images, MP4 videos — atomically
 * (temp file + rename, via src/media/atomic.ts) to the request's `outputPath` or a fresh
 * file in the outputs folder ({@link outputDir}: `COSMOS_OUTPUT_DIR`, default `./outputs`),
 * and describes it as a {@link MediaFile}. A body that is not a readable image / video is
 * rejected before anything is renamed into place, and no partial file is left behind.
 *
 * @example
 * ```ts
 * import { defaultOutputPath } from "./output.ts";
 * defaultOutputPath("text-to-video", "mp4"); // "<cwd>/outputs/text-to-video-1764427200000-1a2b3c4d.mp4"
 * ```
 * @module
 */
import { randomBytes } from "node:crypto";
import { writeFile } from "node:fs/promises";
import { join, resolve } from "node:path";
import process from "node:process";
import sharp from "sharp";
import { MediaError, RemoteError } from "../errors.ts";
import { withAtomicOutput } from "../media/atomic.ts";
import { probeFile } from "../media/probe.ts";
import type { MediaFile } from "../schema/results.ts";

/** The environment variable that names the folder generated files go to. */
export const OUTPUT_DIR_ENV = "COSMOS_OUTPUT_DIR";

/**
 * The absolute folder generated files go to: `COSMOS_OUTPUT_DIR`, or `./outputs` when it is
 * unset or empty, resolved against the current working directory at the time of the call (in
 * a notebook that is the notebook's folder). Not the OS temp folder: results are meant to be
 * kept and found again, and a temp folder would silently fill up.
 * @example
 * ```ts
 * import { outputDir } from "./output.ts";
 * outputDir(); // "/home/me/notebooks/outputs"
 * ```
 */
export function outputDir(): string {
  const fromEnv = process.env[OUTPUT_DIR_ENV];
  return resolve(fromEnv ? fromEnv : "outputs");
}

/** A fresh absolute path in {@link outputDir}: `<dir>/<name>-<time>-<rand>.<ext>`. */
export function defaultOutputPath(name: string, ext: string): string {
  return join(outputDir(), `${name}-${Date.now()}-${randomBytes(4).toString("hex")}.${ext}`);
}

/**
 * Writes image bytes (any format sharp reads) as PNG or JPEG by the path's extension.
 * @throws {RemoteError} when the bytes are not an image.
 */
export async function writeImageOutput(bytes: Uint8Array, path: string): Promise<MediaFile> {
  const jpeg = /\.jpe?g$/i.test(path);
  let width = 0;
  let height = 0;
  const abs = await withAtomicOutput(path, async (tmp) => {
    try {
      const img = sharp(bytes);
      const meta = await img.metadata();
      width = meta.width ?? 0;
      height = meta.height ?? 0;
      if (jpeg) await img.jpeg({ quality: 95 }).toFile(tmp);
      else if (meta.format === "png") await writeFile(tmp, bytes);
      else await img.png().toFile(tmp);
    } catch (e) {
      throw new RemoteError(`The server's image could not be read: ${(e as Error).message}`, {
        hint: "The server sent something other than an image; check its log.",
        cause: e,
      });
    }
  });
  return { path: abs, mimeType: jpeg ? "image/jpeg" : "image/png", width, height, hasSound: false };
}

/**
 * Writes MP4 bytes and probes them (size, frames, fps, sound).
 * @throws {RemoteError} when the bytes are not a readable video.
 */
export async function writeVideoOutput(bytes: Uint8Array, path: string, signal?: AbortSignal): Promise<MediaFile> {
  let file: Omit<MediaFile, "path"> | undefined;
  const abs = await withAtomicOutput(path, async (tmp) => {
    await writeFile(tmp, bytes);
    try {
      const info = await probeFile(tmp, "the server's video", { signal });
      file = {
        mimeType: "video/mp4",
        width: info.width,
        height: info.height,
        numFrames: info.frameCount,
        fps: info.fps,
        hasSound: info.hasAudio,
      };
    } catch (e) {
      if (!(e instanceof MediaError)) throw e;
      const head = new TextDecoder().decode(bytes.slice(0, 200));
      throw new RemoteError(
        `The server's video could not be read (${e.message.split("\n")[0]}); it starts with: ${
          JSON.stringify(head.slice(0, 80))
        }`,
        {
          hint: "The server sent something other than an MP4; check its log.",
          cause: e,
        },
      );
    }
  });
  return { path: abs, ...file! };
}
