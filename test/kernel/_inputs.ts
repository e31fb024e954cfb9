// Inputs of the kernel notebook tests, made here (never downloaded): an H.264 MP4 with an AAC
// track from ffmpeg's testsrc2 + sine, a WAV tone, a sharp-drawn scene with two known shapes,
// and generated trajectories / events / tokens in inputs.json.
import { spawnSync } from "node:child_process";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import sharp from "sharp";
import { resolveFfmpeg } from "../../src/media/ffmpeg_path.ts";

/** The scene: 320x240, red square at pixels (32,48)-(128,144), blue disc centred (240,120) r 40. */
export const SCENE = { width: 320, height: 240 };

function ffmpeg(args: string[]): void {
  const r = spawnSync(resolveFfmpeg(), ["-hide_banner", "-nostdin", "-v", "error", "-y", ...args], {
    encoding: "utf8",
  });
  if (r.status !== 0) throw new Error(`ffmpeg failed: ${r.stderr}`);
}

/** What inputs.json holds. */
export interface KernelInputs {
  boxes: { label: string; box: [number, number, number, number] }[];
  subjects: { box: [number, number, number, number]; label: string; description: string }[];
  events: { start: number; end: number; label: string }[];
  duration: number;
  trajectories: { predicted: number[][]; given: number[][]; waypoints: [number, number][] };
  tokens: (string | { channel: "reasoning" | "answer"; text: string })[];
}

/** Writes clip.mp4, tone.wav, scene.png and inputs.json into `dir`; returns inputs.json's content. */
export async function makeInputs(dir: string): Promise<KernelInputs> {
  ffmpeg([
    "-f",
    "lavfi",
    "-i",
    "testsrc2=s=160x120:r=24:d=2",
    "-f",
    "lavfi",
    "-i",
    "sine=f=440:r=48000:d=2",
    "-c:v",
    "libx264",
    "-preset",
    "ultrafast",
    "-pix_fmt",
    "yuv420p",
    "-c:a",
    "aac",
    "-ac",
    "2",
    "-movflags",
    "+faststart",
    "-shortest",
    join(dir, "clip.mp4"),
  ]);
  ffmpeg(["-f", "lavfi", "-i", "sine=f=660:r=16000:d=1", "-c:a", "pcm_s16le", join(dir, "tone.wav")]);
  const svg = `<svg xmlns="http://www.w3.org/2000/svg" width="320" height="240">
    <rect width="320" height="240" fill="#dddddd"/>
    <rect x="32" y="48" width="96" height="96" fill="#ff0000"/>
    <circle cx="240" cy="120" r="40" fill="#0000ff"/></svg>`;
  await sharp(Buffer.from(svg)).png().toFile(join(dir, "scene.png"));
  // Boxes on the Qwen3-VL 0–1000 grid: red square = (100,200)-(400,600), disc = (625,333)-(875,667).
  const n = 30;
  const predicted: number[][] = [];
  const given: number[][] = [];
  for (let i = 0; i < n; i++) {
    const t = i / (n - 1);
    predicted.push([0.3 * Math.cos(3 * t), 0.3 * Math.sin(3 * t), 0.1 + 0.2 * t, 0, 0, 0, t > 0.5 ? 1 : 0]);
    given.push([0.3 * Math.cos(3 * t) + 0.02, 0.3 * Math.sin(3 * t) - 0.01, 0.1 + 0.19 * t, 0, 0, 0, t > 0.45 ? 1 : 0]);
  }
  const inputs: KernelInputs = {
    boxes: [
      { label: "red square", box: [100, 200, 400, 600] },
      { label: "blue disc", box: [625, 333, 875, 667] },
    ],
    subjects: [
      { box: [100, 200, 400, 600], label: "square", description: "a red square on a grey background" },
      { box: [625, 333, 875, 667], label: "disc", description: "a blue disc" },
    ],
    events: [
      { start: 0, end: 0.8, label: "pattern scrolls" },
      { start: 0.5, end: 1.5, label: "tone" },
      { start: 1.6, end: 2, label: "end" },
    ],
    duration: 2,
    trajectories: {
      predicted,
      given,
      waypoints: Array.from({ length: 12 }, (_, i) => [0.05 * i * i, 2 * i] as [number, number]),
    },
    tokens: [
      "<think>",
      "The clip ",
      "shows a ",
      "test pattern",
      ".</think>",
      "\n",
      "A colour ",
      "test ",
      "pattern ",
      "with a tone.",
    ],
  };
  writeFileSync(join(dir, "inputs.json"), JSON.stringify(inputs));
  return inputs;
}
