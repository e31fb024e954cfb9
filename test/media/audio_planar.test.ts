// The Generator's sound comes back channel-first ([2, N], 48 kHz): pcmFromPlanar interleaves it, and
// encodeVideo muxes it as AAC into the MP4 with the channels in order (real ffmpeg: left tone, right silence).
import { after, describe, test } from "node:test";
import assert from "node:assert/strict";
import { join } from "node:path";
import { pcmFromPlanar, rms } from "../../src/media/audio.ts";
import { decodeAudio, encodeVideo, probeVideo } from "../../src/media/video.ts";
import { MediaError } from "../../src/errors.ts";
import { solid, tempDir } from "./_helpers.ts";

const tmp = tempDir();
after(() => tmp.cleanup());

describe("pcmFromPlanar", () => {
  test("[channels, n] -> interleaved frames, 48 kHz stereo by default", () => {
    const pcm = pcmFromPlanar(new Float32Array([1, 2, 3, 10, 20, 30]));
    assert.deepEqual([pcm.sampleRate, pcm.channels], [48000, 2]);
    assert.deepEqual([...pcm.samples], [1, 10, 2, 20, 3, 30]);
    assert.deepEqual([...pcmFromPlanar(new Float32Array([1, 2, 3, 4, 5, 6]), 3, 100).samples], [1, 3, 5, 2, 4, 6]);
  });

  test("a length that is not a whole number of channel rows, or a bad rate, is a MediaError", () => {
    assert.throws(() => pcmFromPlanar(new Float32Array(5)), MediaError);
    assert.throws(() => pcmFromPlanar(new Float32Array(4), 0), MediaError);
    assert.throws(() => pcmFromPlanar(new Float32Array(4), 2, 0.5), MediaError);
  });

  test("frames + planar stereo -> MP4 with a 48 kHz stereo AAC track, left and right kept apart", async () => {
    const rate = 48000, seconds = 2, n = rate * seconds;
    const planar = new Float32Array(2 * n); // left: 440 Hz at 0.5, right: silence
    for (let i = 0; i < n; i++) planar[i] = 0.5 * Math.sin((2 * Math.PI * 440 * i) / rate);
    const frames = Array.from({ length: 2 * 16 }, (_, i) => solid(64, 48, [8 * i, 100, 50]));
    const pcm = pcmFromPlanar(planar);
    const out = join(tmp.dir, "with_sound.mp4");
    const r = await encodeVideo(frames, {
      output: out,
      fps: 16,
      width: 64,
      height: 48,
      audio: { pcm: pcm.samples, sampleRate: pcm.sampleRate, channels: pcm.channels },
    });
    assert.equal(r.hasAudio, true);
    const info = await probeVideo(out);
    assert.deepEqual([info.audio?.codec, info.audio?.sampleRate, info.audio?.channels], ["aac", 48000, 2]);
    const back = await decodeAudio(out);
    const left = back.samples.filter((_, i) => i % 2 === 0), right = back.samples.filter((_, i) => i % 2 === 1);
    assert.ok(Math.abs(left.length / rate - seconds) < 0.1, `${left.length / rate} s`);
    assert.ok(Math.abs(rms(left) - 0.5 / Math.SQRT2) < 0.05, `left rms ${rms(left)}`);
    assert.ok(rms(right) < 0.01, `right rms ${rms(right)}`);
  });
});
