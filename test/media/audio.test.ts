// 48 kHz stereo PCM helpers: WAV encode/parse round trips and the checks on bad input.
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { COSMOS_CHANNELS, COSMOS_SAMPLE_RATE, encodeWav, parseWav, rms, sineWave } from "../../src/media/audio.ts";
import { MediaError } from "../../src/errors.ts";

describe("WAV", () => {
  test("Cosmos 3 sound is 48 kHz stereo", () => assert.deepEqual([COSMOS_SAMPLE_RATE, COSMOS_CHANNELS], [48000, 2]));
  test("sineWave: 0.5 s at 48 kHz stereo = 48000 interleaved samples, RMS = A / sqrt 2", () => {
    const s = sineWave({ frequency: 1000, seconds: 0.5, amplitude: 0.8 });
    assert.equal(s.length, 48000);
    assert.equal(s[0], s[1]); // same on both channels
    assert.ok(Math.abs(rms(s) - 0.8 / Math.SQRT2) < 1e-3);
  });
  test("16-bit round trip within one quantisation step; header fields", () => {
    const s = sineWave({ frequency: 440, seconds: 0.1 });
    const wav = encodeWav(s);
    assert.equal(wav.length, 44 + s.length * 2);
    const v = new DataView(wav.buffer);
    assert.deepEqual([v.getUint16(20, true), v.getUint16(22, true), v.getUint32(24, true), v.getUint16(34, true)], [
      1,
      2,
      48000,
      16,
    ]);
    const back = parseWav(wav);
    assert.deepEqual([back.sampleRate, back.channels, back.samples.length], [48000, 2, s.length]);
    for (let i = 0; i < s.length; i++) assert.ok(Math.abs(back.samples[i] - s[i]) <= 1 / 32767, `sample ${i}`);
  });
  test("32-bit float round trip is exact; out-of-range samples are clipped", () => {
    const s = new Float32Array([0.25, -0.5, 2, -3]);
    const back = parseWav(encodeWav(s, 48000, 2, "f32"));
    assert.deepEqual([...back.samples], [0.25, -0.5, 1, -1]);
  });
  test("bad input", () => {
    assert.throws(() => encodeWav(new Float32Array(3), 48000, 2), /do not split into 2 channels/);
    assert.throws(() => encodeWav(new Float32Array(2), 0, 2), MediaError);
    assert.throws(() => parseWav(new TextEncoder().encode("not a wav file")), /no RIFF\/WAVE header/);
    assert.throws(() => parseWav(encodeWav(new Float32Array(4)).subarray(0, 36)), /no data chunk/);
  });
});
