/** Small media files made for the remote tests with ffmpeg and sharp. */
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import sharp from "sharp";
import { resolveFfmpeg } from "../../src/media/ffmpeg_path.ts";

/** A tiny H.264 MP4 (64x48, `frames` frames at 24 fps), with a 48 kHz stereo AAC track when `sound`. */
export function makeMp4(frames = 5, sound = false): Uint8Array<ArrayBuffer> {
  const dir = mkdtempSync(join(tmpdir(), "cosmos-remote-test-"));
  try {
    const out = join(dir, "v.mp4");
    const args = ["-v", "error", "-f", "lavfi", "-i", `testsrc=size=64x48:rate=24`];
    if (sound) args.push("-f", "lavfi", "-i", "anullsrc=r=48000:cl=stereo");
    args.push("-frames:v", String(frames), "-pix_fmt", "yuv420p", "-c:v", "libx264");
    if (sound) args.push("-c:a", "aac", "-shortest");
    args.push("-y", out);
    execFileSync(resolveFfmpeg(), args);
    return new Uint8Array(readFileSync(out));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** A PNG of the given size. */
export async function makePng(width = 32, height = 24): Promise<Uint8Array<ArrayBuffer>> {
  return new Uint8Array(
    await sharp({ create: { width, height, channels: 3, background: "#3366cc" } }).png().toBuffer(),
  );
}
