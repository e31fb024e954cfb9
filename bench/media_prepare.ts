/**
 * What a video reason() call spends reading its clip: `prepareQwenVideo` (probe + decode + resize) on the clip of
 * `bench/cpu_mini.ts --parts reason` (the held-out world sample's 4 s 320×192 temporal-localization clip, rendered
 * here) with the mini Reasoner's video settings, in one process, three ways in turn each round:
 *
 * - `uncached`: `COSMOS_PROBE_CACHE=0`, what every call did before the probe cache (ffprobe twice: once in
 *   prepareQwenVideo, once more in decodeVideo, then the ffmpeg decode);
 * - `cold`: the cache emptied first (a first call on a file: ffprobe once, then the decode);
 * - `warm`: the file already probed (a notebook that showed or probed the clip, or a second reason() on it: the
 *   decode alone).
 *
 * Prints one JSON line per call and a `"summary"` line with the medians; asserts the three give the same frames.
 *
 * @example
 * ```sh
 * node --import tsx bench/media_prepare.ts --reps 5
 * ```
 * @module
 */
import { mkdtempSync, rmSync } from "node:fs";
import { loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { Buffer } from "node:buffer";
import process from "node:process";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { loadProcessorSettings } from "../src/checkpoint/processor.ts";
import { clearProbeCache } from "../src/media/probe.ts";
import { prepareQwenVideo } from "../src/media/qwen_media.ts";
import { writeWorldData } from "../tools/train/world_data.ts";
import { readEvalRecords } from "./mini_reasoner_eval.ts";

const ROOT = fileURLToPath(new URL("../", import.meta.url));
const MODES = ["uncached", "cold", "warm"] as const;

const { values } = parseArgs({
  options: {
    reps: { type: "string", default: "5" },
    "seed-offset": { type: "string", default: "0" },
    reasoner: { type: "string", default: join(ROOT, "checkpoints/mini-reasoner") },
  },
});

const median = (v: number[]) => {
  const s = [...v].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

const data = mkdtempSync(join(tmpdir(), "cosmos-media-prepare-"));
try {
  await writeWorldData({
    out: data,
    split: "eval",
    count: 1,
    offset: Number(values["seed-offset"]),
    tasks: ["temporal_localization"],
  });
  const [rec] = await readEvalRecords(data, "temporal_localization", 1);
  const clip = join(data, rec.media.video!);
  const settings = (await loadProcessorSettings(values.reasoner)).video;
  const times: Record<string, number[]> = { uncached: [], cold: [], warm: [] };
  let reference: Uint8Array[] | undefined;
  for (let rep = 0; rep < Number(values.reps); rep++) {
    for (const mode of MODES) {
      if (mode === "uncached") process.env.COSMOS_PROBE_CACHE = "0";
      else delete process.env.COSMOS_PROBE_CACHE;
      if (mode === "cold") clearProbeCache();
      const t0 = performance.now();
      const { frames } = await prepareQwenVideo(clip, {}, settings);
      const s = (performance.now() - t0) / 1000;
      times[mode].push(s);
      reference ??= frames.map((f) => f.data);
      if (frames.length !== reference.length || frames.some((f, i) => !Buffer.from(f.data).equals(reference![i]))) {
        throw new Error(`${mode}: the frames differ from the first call's`);
      }
      console.log(JSON.stringify({ bench: "media_prepare", mode, rep, seconds: Number(s.toFixed(3)) }));
    }
  }
  console.log(JSON.stringify({
    bench: "media_prepare",
    summary: Object.fromEntries(MODES.map((m) => [m, Number(median(times[m]).toFixed(3))])),
    reps: Number(values.reps),
    load: loadavg().map((x) => Number(x.toFixed(2))),
  }));
} finally {
  rmSync(data, { recursive: true, force: true });
}
