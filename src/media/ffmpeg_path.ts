/**
 * Finds the ffmpeg executable: `FFMPEG_BIN`, then the optional `ffmpeg-static`
 * package's binary, then `ffmpeg` on PATH (Debian's `ffmpeg` package).
 *
 * @example
 * ```ts
 * import { resolveFfmpeg } from "./ffmpeg_path.ts";
 * console.log(resolveFfmpeg()); // e.g. "/usr/bin/ffmpeg"
 * ```
 * @module
 */
import { accessSync, constants } from "node:fs";
import { createRequire } from "node:module";
import { delimiter, join } from "node:path";
import process from "node:process";
import { MediaError } from "../errors.ts";

function isExecutable(path: string): boolean {
  try {
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

function fromPath(name: string): string | undefined {
  for (const dir of (process.env.PATH ?? "").split(delimiter)) {
    if (dir && isExecutable(join(dir, name))) return join(dir, name);
  }
  return undefined;
}

function fromFfmpegStatic(): string | undefined {
  try {
    const require = createRequire(import.meta.url);
    const path: unknown = require("ffmpeg-static");
    return typeof path === "string" && isExecutable(path) ? path : undefined;
  } catch {
    return undefined; // optional dependency: its download fails offline, which is expected
  }
}

let cached: string | undefined;

/**
 * Path of the ffmpeg binary to run, resolved once per process.
 * Order: `FFMPEG_BIN` → `ffmpeg-static` → `ffmpeg` on PATH.
 * @throws {MediaError} when none is found, naming what to install.
 */
export function resolveFfmpeg(): string {
  if (cached) return cached;
  const env = process.env.FFMPEG_BIN;
  if (env) {
    if (!isExecutable(env)) {
      throw new MediaError(`FFMPEG_BIN is set to "${env}", which is not an executable file.`, {
        hint: "Point FFMPEG_BIN at an ffmpeg binary or unset it.",
      });
    }
    return (cached = env);
  }
  const found = fromFfmpegStatic() ?? fromPath("ffmpeg");
  if (!found) {
    throw new MediaError("No ffmpeg found (FFMPEG_BIN unset, ffmpeg-static absent, no ffmpeg on PATH).", {
      hint: "Install it with `apt-get install ffmpeg`, or set FFMPEG_BIN to an ffmpeg binary.",
    });
  }
  return (cached = found);
}

/**
 * Path of ffprobe: `FFPROBE_BIN`, then the `ffprobe` beside the resolved ffmpeg, then PATH.
 * Returns `undefined` when there is none (ffmpeg-static ships no ffprobe); callers then
 * probe with `ffmpeg -i`.
 */
export function resolveFfprobe(): string | undefined {
  const env = process.env.FFPROBE_BIN;
  if (env && isExecutable(env)) return env;
  try {
    const beside = resolveFfmpeg().replace(/ffmpeg([^/]*)$/, "ffprobe$1");
    if (isExecutable(beside)) return beside;
  } catch {
    // fall through to PATH
  }
  return fromPath("ffprobe");
}

/** Forgets the cached resolution (tests change FFMPEG_BIN). */
export function resetFfmpegResolution(): void {
  cached = undefined;
}
