/**
 * Media benchmark: decode and encode 189 frames at 1280x720 (the seed's default clip
 * length at the 720p tier) through the ffmpeg pipes of src/media, and print frames/s.
 *
 * Run: `node --import tsx bench/media_decode_encode.ts [--reps 3]`
 *
 * - decode: MP4 (H.264 yuv420p) -> RGB24 frames through `decodeVideo` (streamed).
 * - encode: 189 in-memory RGB24 frames -> MP4 H.264 yuv420p (+faststart) through
 *   `encodeVideo`, at the default preset (medium, crf 18) and at `veryfast`.
 * - encode + AAC: the same with a 48 kHz stereo soundtrack muxed in.
 * - transcode: decode piped straight into encode (default preset).
 * The source clip is made first with ffmpeg's testsrc2 (not timed).
 * @module
 */
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { cpus, tmpdir } from "node:os";
import { join } from "node:path";
import process from "node:process";
import { resolveFfmpeg } from "../src/media/ffmpeg_path.ts";
import { decodeVideo, type EncodeOptions, encodeVideo, probeVideo } from "../src/media/video.ts";
import { sineWave } from "../src/media/audio.ts";

const FRAMES = 189;
const W = 1280;
const H = 720;
const FPS = 24;
const repsArg = process.argv.indexOf("--reps");
const REPS = repsArg > 0 ? Number(process.argv[repsArg + 1]) : 3;

const dir = mkdtempSync(join(tmpdir(), "cosmos-bench-media-"));
const src = join(dir, "src.mp4");
const made = spawnSync(resolveFfmpeg(), [
  "-hide_banner",
  "-v",
  "error",
  "-y",
  "-f",
  "lavfi",
  "-i",
  `testsrc2=s=${W}x${H}:r=${FPS}`,
  "-frames:v",
  String(FRAMES),
  "-c:v",
  "libx264",
  "-preset",
  "medium",
  "-crf",
  "18",
  "-pix_fmt",
  "yuv420p",
  "-movflags",
  "+faststart",
  src,
], { encoding: "utf8" });
if (made.status !== 0) throw new Error(made.stderr);

interface Row {
  step: string;
  runsS: number[];
}
const rows: Row[] = [];
const median = (a: number[]) => [...a].sort((x, y) => x - y)[Math.floor(a.length / 2)];

async function time(step: string, reps: number, fn: () => Promise<number>) {
  const runsS: number[] = [];
  for (let i = 0; i < reps; i++) {
    const t0 = performance.now();
    const n = await fn();
    runsS.push((performance.now() - t0) / 1000);
    if (n !== FRAMES) throw new Error(`${step}: ${n} frames, expected ${FRAMES}`);
  }
  rows.push({ step, runsS });
  const m = median(runsS);
  console.log(
    `${step.padEnd(34)} ${(FRAMES / m).toFixed(1).padStart(7)} frames/s  (median ${m.toFixed(2)} s of ${reps})`,
  );
}

try {
  const info = await probeVideo(src);
  console.log(
    `source: ${info.width}x${info.height} ${info.fps} fps, ${info.frameCount} frames, ${cpus().length} CPU cores (${
      cpus()[0]?.model ?? "?"
    })`,
  );
  // keep the decoded frames for the encode runs (189 x 2.76 MB = 522 MB)
  let frames: Uint8Array[] = [];
  await time("decode MP4 -> RGB24", REPS, async () => {
    frames = [];
    for await (const f of decodeVideo(src)) frames.push(f.data);
    return frames.length;
  });
  const enc = (o: Partial<EncodeOptions>, name: string) => async () =>
    (await encodeVideo(frames, { output: join(dir, name), fps: FPS, width: W, height: H, ...o })).frames;
  await time("encode RGB24 -> MP4 (medium, crf 18)", REPS, enc({}, "medium.mp4"));
  await time("encode RGB24 -> MP4 (veryfast)", REPS, enc({ preset: "veryfast" }, "veryfast.mp4"));
  const pcm = sineWave({ frequency: 440, seconds: FRAMES / FPS });
  await time(
    "encode + 48 kHz stereo AAC (medium)",
    1,
    enc({ audio: { pcm, sampleRate: 48000, channels: 2 } }, "av.mp4"),
  );
  await time(
    "transcode decode->encode (medium)",
    1,
    async () =>
      (await encodeVideo(decodeVideo(src), { output: join(dir, "tc.mp4"), fps: FPS, width: W, height: H })).frames,
  );
  console.log(JSON.stringify({
    bench: "media_decode_encode",
    frames: FRAMES,
    width: W,
    height: H,
    cores: cpus().length,
    results: rows.map((r) => ({
      step: r.step,
      framesPerS: +(FRAMES / median(r.runsS)).toFixed(1),
      runsS: r.runsS.map((s) => +s.toFixed(3)),
    })),
  }));
} finally {
  rmSync(dir, { recursive: true, force: true });
}
