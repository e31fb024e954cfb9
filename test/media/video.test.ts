// Video round trips on inputs made here with ffmpeg (lavfi testsrc2/sine) and frames made
// in memory: probe, decode by fps / count / index, resize, encode with an AAC track.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import {
  decodeAudio,
  decodeVideo,
  decodeVideoFrames,
  encodeVideo,
  extractAudio,
  probeVideo,
} from "../../src/media/video.ts";
import { parseWav, rms, sineWave } from "../../src/media/audio.ts";
import { toDataUri } from "../../src/media/source.ts";
import { ffmpegSync, makeVideo, mean, meanRgb, partialFiles, solid, tempDir } from "./_helpers.ts";

const tmp = tempDir();
let clip = ""; // 64x48, 24 fps, 2 s, AAC 48 kHz stereo
before(() => {
  clip = makeVideo(join(tmp.dir, "clip.mp4"), { width: 64, height: 48, fps: 24, seconds: 2, audio: true });
});
after(() => tmp.cleanup());

describe("probe", () => {
  test("ffprobe: size, fps, frames, duration, audio", async () => {
    const i = await probeVideo(clip);
    assert.equal(i.probedWith, "ffprobe");
    assert.deepEqual([i.width, i.height, i.fps, i.frameCount, i.codec], [64, 48, 24, 48, "h264"]);
    assert.ok(Math.abs(i.durationS - 2) < 0.05, String(i.durationS));
    assert.equal(i.hasAudio, true);
    assert.equal(i.audio?.sampleRate, 48000);
    assert.equal(i.audio?.channels, 2);
  });
  test("the `ffmpeg -i` fallback finds the same", async () => {
    const a = await probeVideo(clip);
    const b = await probeVideo(clip, { useFfprobe: false });
    assert.equal(b.probedWith, "ffmpeg");
    for (const k of ["width", "height", "fps", "frameCount", "codec", "hasAudio"] as const) assert.equal(b[k], a[k], k);
    assert.equal(b.audio?.sampleRate, 48000);
    assert.equal(b.audio?.channels, 2);
    assert.ok(Math.abs(b.durationS - a.durationS) < 0.05);
  });
  test("bytes and data URIs are probed too", async () => {
    const bytes = new Uint8Array(readFileSync(clip));
    assert.equal((await probeVideo(bytes)).frameCount, 48);
    assert.equal((await probeVideo(toDataUri(bytes, "video/mp4"))).width, 64);
    assert.equal((await probeVideo({ data: bytes, mimeType: "video/mp4" })).height, 48);
  });
});

describe("decode", () => {
  test("all frames at the native rate, RGB HWC", async () => {
    const frames = await decodeVideoFrames(clip);
    assert.equal(frames.length, 48);
    assert.deepEqual([frames[0].width, frames[0].height, frames[0].channels], [64, 48, 3]);
    assert.equal(frames[0].data.length, 64 * 48 * 3);
    assert.ok(Math.abs(frames[47].timestampS - 47 / 24) < 1e-9);
    assert.notDeepEqual(frames[0].data, frames[24].data); // testsrc2 moves
  });
  test("at a requested fps: 2 s at 5 fps = 10 frames, t = i / 5", async () => {
    const frames = await decodeVideoFrames(clip, { fps: 5 });
    assert.equal(frames.length, 10);
    assert.deepEqual(frames.map((f) => f.index), [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    assert.ok(Math.abs(frames[3].timestampS - 0.6) < 1e-9);
  });
  test("a frame count, evenly spaced: linspace(0, 47, 5) = 0, 11.75, 23.5, 35.25, 47 -> 0, 12, 24, 35, 47", async () => {
    const frames = await decodeVideoFrames(clip, { numFrames: 5 });
    assert.deepEqual(frames.map((f) => f.sourceIndex), [0, 12, 24, 35, 47]);
    const all = await decodeVideoFrames(clip);
    for (const f of frames) assert.deepEqual(f.data, all[f.sourceIndex!].data, `frame ${f.sourceIndex}`);
  });
  test("explicit indices keep the caller's order and repeats", async () => {
    const frames = await decodeVideoFrames(clip, { frameIndices: [30, 2, 30] });
    assert.deepEqual(frames.map((f) => f.sourceIndex), [30, 2, 30]);
    assert.deepEqual(frames[0].data, frames[2].data);
    assert.notEqual(frames[0].data, frames[2].data); // a copy, not the same buffer
    assert.ok(Math.abs(frames[0].timestampS - 30 / 24) < 1e-9);
  });
  test("index out of range names the frame count", async () => {
    await assert.rejects(decodeVideoFrames(clip, { frameIndices: [48] }), /outside 0\.\.47/);
  });
  test("resize: fill, cover and contain give the requested size", async () => {
    for (const fit of ["fill", "cover", "contain"] as const) {
      const [f] = await decodeVideoFrames(clip, { numFrames: 1, width: 32, height: 32, fit });
      assert.deepEqual([f.width, f.height, f.data.length], [32, 32, 32 * 32 * 3], fit);
    }
    // contain letterboxes 64x48 into 32x32: rows 0..islands are black padding
    const [c] = await decodeVideoFrames(clip, { numFrames: 1, width: 32, height: 32, fit: "contain" });
    assert.ok(mean(c.data.subarray(0, 32 * 3 * 3)) < 2, "top rows are black");
  });
  test("a quarter-turn display rotation is applied: 64x48 stored -> 48x64 frames, pixels rotated", async () => {
    const base = makeVideo(join(tmp.dir, "base.mp4"), { width: 64, height: 48, fps: 10, seconds: 0.5 });
    const rot = join(tmp.dir, "rot.mp4");
    try {
      ffmpegSync(["-display_rotation", "90", "-i", base, "-c", "copy", rot]); // ffmpeg >= 6.1
    } catch {
      ffmpegSync(["-i", base, "-c", "copy", "-metadata:s:v:0", "rotate=90", rot]); // older ffmpeg
    }
    for (const useFfprobe of [true, false]) {
      const i = await probeVideo(rot, { useFfprobe });
      assert.deepEqual([i.width, i.height, Math.abs(i.rotation)], [48, 64, 90], `ffprobe ${useFfprobe}`);
    }
    const [a] = await decodeVideoFrames(base, { numFrames: 1 });
    const [b] = await decodeVideoFrames(rot, { numFrames: 1 });
    assert.deepEqual([b.width, b.height], [48, 64]);
    // b is a 90° turn of a, one way or the other: b(x, y) = a(y, 47 - x) or a(63 - y, x)
    const px = (
      f: typeof a,
      x: number,
      y: number,
    ) => [...f.data.subarray((y * f.width + x) * 3, (y * f.width + x) * 3 + 3)];
    const ccw = (x: number, y: number) => px(a, 63 - y, x);
    const cw = (x: number, y: number) => px(a, y, 47 - x);
    const turn = JSON.stringify(px(b, 5, 9)) === JSON.stringify(ccw(5, 9)) ? ccw : cw;
    for (const [x, y] of [[0, 0], [47, 63], [10, 50], [30, 5]]) {
      assert.deepEqual(px(b, x, y), turn(x, y), `pixel ${x},${y}`);
    }
  });
  test("streaming: breaking out after 2 frames stops early", async () => {
    let n = 0;
    for await (const _f of decodeVideo(clip)) if (++n === 2) break;
    assert.equal(n, 2);
  });
});

describe("encode", () => {
  test("frame count, fps, size, order and colour survive a round trip; 48 kHz stereo AAC muxed", async () => {
    const out = join(tmp.dir, "enc", "ramp.mp4");
    // frame i is solid grey 20 + 6 i, so decode order can be checked
    const frames = Array.from({ length: 30 }, (_, i) => solid(64, 48, [20 + 6 * i, 20 + 6 * i, 20 + 6 * i]));
    const r = await encodeVideo(frames, {
      output: out,
      fps: 10,
      width: 64,
      height: 48,
      audio: { pcm: sineWave({ frequency: 440, seconds: 3 }), sampleRate: 48000, channels: 2 },
    });
    assert.deepEqual([r.frames, r.width, r.height, r.hasAudio], [30, 64, 48, true]);
    const i = await probeVideo(out);
    assert.deepEqual([i.frameCount, i.fps, i.width, i.height], [30, 10, 64, 48]);
    assert.equal(i.audio?.codec, "aac");
    assert.equal(i.audio?.sampleRate, 48000);
    assert.equal(i.audio?.channels, 2);
    const back = await decodeVideoFrames(out);
    assert.equal(back.length, 30);
    back.forEach((f, k) => assert.ok(Math.abs(mean(f.data) - (20 + 6 * k)) < 3, `frame ${k}: ${mean(f.data)}`));
    const pcm = await decodeAudio(out);
    assert.ok(Math.abs(pcm.samples.length / 2 / 48000 - 3) < 0.1);
    assert.ok(Math.abs(rms(pcm.samples) - 0.5 / Math.SQRT2) < 0.05, `rms ${rms(pcm.samples)}`);
    assert.deepEqual(partialFiles(join(tmp.dir, "enc")), []);
  });
  test("a colour round trip stays within a few levels (BT.709 tagged)", async () => {
    const out = join(tmp.dir, "red.mp4");
    await encodeVideo([solid(32, 32, [200, 50, 30]), solid(32, 32, [200, 50, 30])], {
      output: out,
      fps: 24,
      width: 32,
      height: 32,
    });
    const [f] = await decodeVideoFrames(out);
    const [r, g, b] = meanRgb(f.data);
    assert.ok(Math.abs(r - 200) < 4 && Math.abs(g - 50) < 4 && Math.abs(b - 30) < 4, `${r},${g},${b}`);
  });
  test("odd sizes are padded to even", async () => {
    const out = join(tmp.dir, "odd.mp4");
    const r = await encodeVideo([solid(33, 25, [250, 250, 250])], { output: out, fps: 24, width: 33, height: 25 });
    assert.deepEqual([r.width, r.height], [34, 26]);
    const i = await probeVideo(out);
    assert.deepEqual([i.width, i.height], [34, 26]);
  });
  test("shorter audio is padded to the video length; longer audio is cut", async () => {
    for (const seconds of [0.5, 4]) {
      const out = join(tmp.dir, `a${seconds}.mp4`);
      await encodeVideo(Array.from({ length: 20 }, () => solid(32, 32, [9, 9, 9])), {
        output: out,
        fps: 10,
        width: 32,
        height: 32,
        audio: { pcm: sineWave({ frequency: 220, seconds }), sampleRate: 48000, channels: 2 },
      });
      const i = await probeVideo(out);
      assert.ok(Math.abs(i.audio!.durationS - 2) < 0.1, `audio ${seconds}s -> ${i.audio!.durationS}`);
    }
  });
  test("re-encode straight from the decode iterator (pipe to pipe), mono WAV file as audio", async () => {
    const wav = join(tmp.dir, "mono.wav");
    await extractAudio(clip, { output: wav, channels: 1 });
    const out = join(tmp.dir, "re.mp4");
    const r = await encodeVideo(decodeVideo(clip, { fps: 12 }), {
      output: out,
      fps: 12,
      width: 64,
      height: 48,
      audio: { path: wav },
    });
    assert.equal(r.frames, 24);
    const i = await probeVideo(out);
    assert.equal(i.frameCount, 24);
    assert.equal(i.audio?.channels, 2); // always stereo out
  });
});

describe("extract audio", () => {
  test("to WAV: 48 kHz stereo 16-bit with the 440 Hz tone", async () => {
    const path = await extractAudio(clip, { output: join(tmp.dir, "x", "clip.wav") });
    const pcm = parseWav(new Uint8Array(readFileSync(path)));
    assert.equal(pcm.sampleRate, 48000);
    assert.equal(pcm.channels, 2);
    assert.ok(Math.abs(pcm.samples.length / 2 / 48000 - 2) < 0.1);
    // 440 Hz: count zero crossings of channel 0 over 1 s ~ 880
    let z = 0;
    for (let i = 2; i < 48000 * 2; i += 2) if ((pcm.samples[i - 2] < 0) !== (pcm.samples[i] < 0)) z++;
    assert.ok(Math.abs(z - 880) < 10, `${z} crossings`);
  });
  test("to M4A (AAC)", async () => {
    const path = await extractAudio(clip, { output: join(tmp.dir, "clip.m4a") });
    const i = await probeVideo(path, { requireFrames: false }).catch((e) => e as Error);
    // an audio-only file has no video stream; decodeAudio reads it back
    assert.ok(i instanceof Error && /no (readable )?video stream/.test(i.message));
    const pcm = await decodeAudio(path);
    assert.ok(pcm.samples.length / 2 / 48000 > 1.9);
  });
  test("a video without audio is refused", async () => {
    const silent = makeVideo(join(tmp.dir, "silent.mp4"), { seconds: 0.5 });
    await assert.rejects(extractAudio(silent, { output: join(tmp.dir, "s.wav") }), /no audio track/);
  });
});
