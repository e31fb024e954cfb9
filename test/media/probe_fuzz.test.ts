/**
 * Seeded fuzz of the media probe (deterministic cases in CI): ffprobe-shaped JSON with random
 * values through fromFfprobeJson; the real `ffmpeg -i` report of a real clip, mutated at
 * random, through parseFfmpegInfo; and a real MP4 with random bytes flipped or cut, through
 * the real ffprobe and the ffmpeg fallback. Every outcome is a VideoInfo whose fields have
 * their types, or a MediaError; parsing a report stays fast (no regex blow-up).
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { MediaError } from "../../src/errors.ts";
import { resolveFfmpeg } from "../../src/media/ffmpeg_path.ts";
import { fromFfprobeJson, parseFfmpegInfo, probeVideo, type VideoInfo } from "../../src/media/probe.ts";
import { pick, rng } from "../remote/_fuzz.ts";
import { makeVideo, tempDir } from "./_helpers.ts";

const SEED = 3_15_2026;

function checkInfo(info: VideoInfo, label: string): void {
  for (const k of ["width", "height", "rotation", "fps", "durationS", "frameCount"] as const) {
    assert.equal(typeof info[k], "number", `${label}: ${k}`);
  }
  assert.ok(
    Number.isInteger(info.width) && Number.isInteger(info.height),
    `${label}: size ${info.width}x${info.height}`,
  );
  assert.equal(typeof info.hasAudio, "boolean");
  assert.equal(typeof info.codec, "string");
  assert.equal(typeof info.format, "string");
  if (info.audio) assert.equal(typeof info.audio.sampleRate, "number");
}

const RATES = ["24/1", "30000/1001", "0/0", "24", "0", "-5/2", "1/0", "N/A", "", "1e400/1", "abc", "25/abc"];
const NUMS = ["2.000000", "0", "-1", "N/A", "", "1e9", "NaN", "Infinity", "42", "3.5"];

/** An ffprobe `-print_format json` object with random (but ffprobe-typed) values. */
function randomProbeJson(r: () => number): Parameters<typeof fromFfprobeJson>[0] {
  const stream = (type: string) => ({
    codec_type: r() < 0.9 ? type : pick(r, ["data", "subtitle", "attachment"]),
    ...(r() < 0.9 ? { codec_name: pick(r, ["h264", "hevc", "aac", "", "mjpeg"]) } : {}),
    ...(r() < 0.85 ? { width: pick(r, [64, 0, 1, 16384, 100000, 1280]), height: pick(r, [48, 0, 1, 720, 99999]) } : {}),
    ...(r() < 0.85 ? { avg_frame_rate: pick(r, RATES) } : {}),
    ...(r() < 0.6 ? { r_frame_rate: pick(r, RATES) } : {}),
    ...(r() < 0.7 ? { nb_frames: pick(r, NUMS) } : {}),
    ...(r() < 0.7 ? { nb_read_packets: pick(r, NUMS) } : {}),
    ...(r() < 0.7 ? { duration: pick(r, NUMS) } : {}),
    ...(r() < 0.4 ? { sample_rate: pick(r, ["48000", "0", "", "N/A"]) } : {}),
    ...(r() < 0.4 ? { channels: pick(r, [1, 2, 0, 6]) } : {}),
    ...(r() < 0.2 ? { tags: { rotate: pick(r, ["90", "-90", "180", "x", ""]) } } : {}),
    ...(r() < 0.2 ? { side_data_list: [{ rotation: pick(r, [90, -90, 270, 0, 45]) }, {}] } : {}),
  });
  return {
    streams: Array.from({ length: Math.floor(r() * 3) }, () => stream(pick(r, ["video", "audio"]))),
    ...(r() < 0.8
      ? {
        format: {
          format_name: pick(r, ["mov,mp4,m4a,3gp,3g2,mj2", "matroska,webm", ""]),
          ...(r() < 0.7 ? { duration: pick(r, NUMS) } : {}),
        },
      }
      : {}),
  };
}

/** `text` with a few random edits: a character changed, a span cut, a line repeated, bytes inserted. */
function mutate(text: string, r: () => number): string {
  let s = text;
  const edits = 1 + Math.floor(r() * 4);
  for (let e = 0; e < edits; e++) {
    const at = Math.floor(r() * (s.length + 1));
    const k = r();
    if (k < 0.3) {
      s = s.slice(0, at) +
        pick(r, ["0", "9", ":", ",", " ", "x", "\n", "/", ".", "-", "Video: ", "Audio: ", "fps", "Hz", "Stream #0:1"]) +
        s.slice(at + 1);
    } else if (k < 0.5) s = s.slice(0, at) + s.slice(at + Math.floor(r() * 200));
    else if (k < 0.7) {
      const lines = s.split("\n");
      const i = Math.floor(r() * lines.length);
      lines.splice(i, 0, ...Array(1 + Math.floor(r() * 50)).fill(lines[i] ?? ""));
      s = lines.join("\n");
    } else {s = s.slice(0, at) +
        pick(r, ["9".repeat(400), " ".repeat(3000), "frame=".repeat(200), "1x1 ".repeat(300)]) + s.slice(at);}
  }
  return s;
}

describe("media probe fuzz (seeded)", () => {
  let dir: ReturnType<typeof tempDir>;
  let clip: string;
  let report: string;
  before(() => {
    dir = tempDir("cosmos-probe-fuzz-");
    clip = makeVideo(join(dir.dir, "clip.mp4"), { width: 64, height: 48, fps: 24, seconds: 1, audio: true });
    // The real report parseFfmpegInfo reads (the same command probe.ts runs without ffprobe).
    report = spawnSync(resolveFfmpeg(), [
      "-hide_banner",
      "-nostdin",
      "-nostats",
      "-progress",
      "pipe:2",
      "-i",
      clip,
      "-map",
      "0:v:0?",
      "-c",
      "copy",
      "-f",
      "null",
      "-",
    ], { encoding: "utf8" }).stderr;
  });
  after(() => dir.cleanup());

  test("3000 random ffprobe objects: a VideoInfo with typed fields, or a MediaError", () => {
    const r = rng(SEED);
    let infos = 0;
    let errors = 0;
    for (let i = 0; i < 3000; i++) {
      const json = randomProbeJson(r);
      try {
        checkInfo(fromFfprobeJson(json, "clip.mp4"), `case ${i}`);
        infos++;
      } catch (e) {
        if (e instanceof assert.AssertionError) throw e;
        assert.ok(e instanceof MediaError, `case ${i}: ${e}\n${JSON.stringify(json)}`);
        errors++;
      }
    }
    assert.ok(infos > 500 && errors > 300, `${infos} infos, ${errors} errors`);
  });

  test("the unmutated report parses to the clip's real settings", () => {
    const info = parseFfmpegInfo(report, "clip.mp4");
    assert.equal(info.width, 64);
    assert.equal(info.height, 48);
    assert.equal(info.fps, 24);
    assert.equal(info.frameCount, 24);
    assert.equal(info.hasAudio, true);
  });

  test("2000 mutated ffmpeg reports: a VideoInfo with typed fields or a MediaError, each in under 200 ms (a regex blow-up takes seconds)", () => {
    const r = rng(SEED + 1);
    let slowest = 0;
    for (let i = 0; i < 2000; i++) {
      const text = mutate(report, r);
      const t0 = performance.now();
      try {
        checkInfo(parseFfmpegInfo(text, "clip.mp4"), `case ${i}`);
      } catch (e) {
        if (e instanceof assert.AssertionError) throw e;
        assert.ok(e instanceof MediaError, `case ${i}: ${e}`);
      }
      slowest = Math.max(slowest, performance.now() - t0);
    }
    assert.ok(slowest < 200, `slowest parse ${slowest.toFixed(1)} ms`);
  });

  test("8 real MP4s with random bytes changed or cut: real ffprobe and the ffmpeg fallback give a VideoInfo or a MediaError", async () => {
    const r = rng(SEED + 2);
    const bytes = new Uint8Array(readFileSync(clip));
    let errors = 0;
    for (let i = 0; i < 8; i++) {
      const b = bytes.slice(0, r() < 0.3 ? Math.floor(r() * bytes.length) : bytes.length);
      for (let k = 0; k < 1 + Math.floor(r() * 20); k++) b[Math.floor(r() * b.length)] = Math.floor(r() * 256);
      try {
        checkInfo(await probeVideo(b, { useFfprobe: i % 2 === 0 }), `case ${i}`);
      } catch (e) {
        if (e instanceof assert.AssertionError) throw e;
        assert.ok(e instanceof MediaError, `case ${i}: ${e}`);
        assert.ok(e.hint, `case ${i}: a hint`);
        errors++;
      }
    }
    assert.ok(errors > 0, "some corrupt files are refused");
  });
});
