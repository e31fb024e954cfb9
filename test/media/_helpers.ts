// Shared helpers of the media tests: temp folders, test inputs made with ffmpeg's lavfi
// sources (testsrc2, sine, color) and a check that no ffmpeg child is left running.
import { spawnSync } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import process from "node:process";
import { resolveFfmpeg } from "../../src/media/ffmpeg_path.ts";

/** A fresh temp folder; `cleanup()` removes it. */
export function tempDir(prefix = "cosmos-media-test-"): { dir: string; cleanup: () => void } {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

/** Runs ffmpeg synchronously (test set-up only); throws with its stderr on failure. */
export function ffmpegSync(args: string[]): void {
  const r = spawnSync(resolveFfmpeg(), ["-hide_banner", "-nostdin", "-v", "error", "-y", ...args], {
    encoding: "utf8",
  });
  if (r.status !== 0) throw new Error(`ffmpeg ${args.join(" ")} failed: ${r.stderr}`);
}

/** Options of {@link makeVideo}. */
export interface MakeVideo {
  width?: number;
  height?: number;
  fps?: number;
  seconds?: number;
  audio?: boolean;
  faststart?: boolean;
}

/** Writes a testsrc2 H.264 MP4 (with a 48 kHz stereo 440 Hz sine when `audio`). */
export function makeVideo(path: string, o: MakeVideo = {}): string {
  const { width = 64, height = 48, fps = 24, seconds = 2 } = o;
  ffmpegSync([
    "-f",
    "lavfi",
    "-i",
    `testsrc2=s=${width}x${height}:r=${fps}:d=${seconds}`,
    ...(o.audio ? ["-f", "lavfi", "-i", `sine=f=440:r=48000:d=${seconds}`] : []),
    "-c:v",
    "libx264",
    "-preset",
    "ultrafast",
    "-pix_fmt",
    "yuv420p",
    ...(o.audio ? ["-c:a", "aac", "-ac", "2", "-ar", "48000"] : []),
    ...(o.faststart === false ? [] : ["-movflags", "+faststart"]),
    path,
  ]);
  return path;
}

/** Pids of running processes whose command line contains `marker` (Linux /proc). */
export function processesMentioning(marker: string): number[] {
  const pids: number[] = [];
  for (const name of readdirSync("/proc")) {
    if (!/^\d+$/.test(name) || Number(name) === process.pid) continue;
    try {
      const cmd = readFileSync(`/proc/${name}/cmdline`, "utf8");
      const state = readFileSync(`/proc/${name}/stat`, "utf8").split(") ")[1]?.[0];
      if (cmd.includes(marker) && state !== "Z") pids.push(Number(name));
    } catch {
      // process ended meanwhile
    }
  }
  return pids;
}

/** Mean of every byte of a frame (a brightness proxy). */
export function mean(data: Uint8Array): number {
  let s = 0;
  for (let i = 0; i < data.length; i++) s += data[i];
  return s / data.length;
}

/** Mean R, G, B of a frame. */
export function meanRgb(data: Uint8Array): [number, number, number] {
  const s = [0, 0, 0];
  for (let i = 0; i < data.length; i += 3) {
    s[0] += data[i];
    s[1] += data[i + 1];
    s[2] += data[i + 2];
  }
  const n = data.length / 3;
  return [s[0] / n, s[1] / n, s[2] / n];
}

/** A solid RGB frame. */
export function solid(width: number, height: number, rgb: [number, number, number]): Uint8Array {
  const out = new Uint8Array(width * height * 3);
  for (let i = 0; i < out.length; i += 3) out.set(rgb, i);
  return out;
}

/** Files in a folder whose names end with `.partial` (leftovers of atomic writes). */
export function partialFiles(dir: string): string[] {
  return readdirSync(dir).filter((f) => f.endsWith(".partial"));
}
