// Bad video input must end in a MediaError that quotes ffmpeg, never a hang; abort and
// early exit kill the ffmpeg child and leave no output file behind.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import { execFileSync } from "node:child_process";
import { existsSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { decodeVideo, decodeVideoFrames, encodeVideo, probeVideo } from "../../src/media/video.ts";
import { AbortError, MediaError } from "../../src/errors.ts";
import { ffmpegSync, makeVideo, partialFiles, processesMentioning, solid, tempDir } from "./_helpers.ts";

const tmp = tempDir("cosmos-media-bad-");
const p = (name: string) => join(tmp.dir, name);
let good = "";

before(() => {
  good = makeVideo(p("good.mp4"), { width: 64, height: 48, fps: 24, seconds: 2, audio: true });
  const bytes = readFileSync(good);
  // truncated with the index first (+faststart): the header promises 48 frames, the data stops early
  writeFileSync(p("trunc_faststart.mp4"), bytes.subarray(0, Math.floor(bytes.length * 0.6)));
  // truncated with the index last: no moov atom at all
  makeVideo(p("moov_last.mp4"), { faststart: false });
  const late = readFileSync(p("moov_last.mp4"));
  writeFileSync(p("trunc_no_moov.mp4"), late.subarray(0, Math.floor(late.length * 0.5)));
  // random bytes named .mp4
  const rnd = new Uint8Array(4096);
  for (let i = 0; i < rnd.length; i++) rnd[i] = (i * 2654435761) >>> 24;
  writeFileSync(p("random.mp4"), rnd);
  // not a video: a WAV file and a text file named .mp4
  ffmpegSync(["-f", "lavfi", "-i", "sine=d=0.5", "-f", "wav", p("audio_only.mp4")]);
  writeFileSync(p("text.mp4"), "hello, not a video\n");
  // zero frames: an MP4 whose video track ended up empty, and one whose 10 frames are all zeroed out
  ffmpegSync([
    "-f",
    "lavfi",
    "-i",
    "testsrc2=s=64x48:r=10:d=1",
    "-frames:v",
    "0",
    "-c:v",
    "libx264",
    "-pix_fmt",
    "yuv420p",
    p("zero_frames.mp4"),
  ]);
  makeVideo(p("small.mp4"), { fps: 10, seconds: 1 });
  const small = new Uint8Array(readFileSync(p("small.mp4")));
  const mdat = Buffer.from(small).indexOf("mdat");
  small.fill(0, mdat + 4);
  writeFileSync(p("undecodable.mp4"), small);
  // huge: 16400 px wide (Motion JPEG in MP4: H.264 refuses that size)
  ffmpegSync(["-f", "lavfi", "-i", "color=s=16400x16:r=1:d=1", "-c:v", "mjpeg", "-pix_fmt", "yuvj420p", p("huge.mp4")]);
  writeFileSync(p("empty.mp4"), "");
});
after(() => tmp.cleanup());

async function mediaError(pr: Promise<unknown>, pattern: RegExp): Promise<MediaError> {
  try {
    await pr;
  } catch (e) {
    assert.ok(e instanceof MediaError, `expected MediaError, got ${e}`);
    assert.match(e.message, pattern);
    return e;
  }
  assert.fail("expected a MediaError");
}

describe("bad input -> MediaError quoting ffmpeg", () => {
  const cases: [string, RegExp][] = [
    ["trunc_faststart.mp4", /truncated.*(partial file|Invalid)/s],
    ["trunc_no_moov.mp4", /ffprobe says:.*moov atom not found/],
    ["random.mp4", /ffprobe says:.*(moov atom not found|Invalid data)/],
    ["audio_only.mp4", /no video stream/],
    ["text.mp4", /ffprobe says:.*Invalid data/],
    ["zero_frames.mp4", /no video stream|no frames/],
    ["undecodable.mp4", /ffmpeg says:.*(Invalid NAL|Invalid data|Error)/],
    ["huge.mp4", /16400x16 px, above the limit/],
    ["empty.mp4", /ffprobe says:.*Invalid data/],
    ["missing.mp4", /Cannot read/],
  ];
  for (const [name, pattern] of cases) {
    test(`decode ${name}`, async () => {
      await mediaError(decodeVideoFrames(p(name)), pattern);
    });
  }
  for (
    const [name, pattern] of [
      ["trunc_no_moov.mp4", /ffmpeg says:.*moov atom not found/],
      ["random.mp4", /ffmpeg says:/],
      ["audio_only.mp4", /no (readable )?video stream/],
      ["huge.mp4", /16400x16/],
    ] as const
  ) {
    test(`probe ${name} without ffprobe`, async () => {
      await mediaError(probeVideo(p(name), { useFfprobe: false }), pattern);
    });
  }
  test("the undecodable file still probes (the header is fine) but decodes to nothing", async () => {
    assert.equal((await probeVideo(p("undecodable.mp4"))).frameCount, 10);
  });
  test("bytes of a truncated file fail the same way", async () => {
    await mediaError(decodeVideoFrames(new Uint8Array(readFileSync(p("trunc_no_moov.mp4")))), /moov atom not found/);
  });
  test("a pipe that never delivers data times out instead of hanging", async () => {
    const fifo = p("never.mp4");
    execFileSync("mkfifo", [fifo]);
    const t0 = Date.now();
    await mediaError(probeVideo(fifo, { idleTimeoutMs: 400 }), /no progress for 400 ms/);
    assert.ok(Date.now() - t0 < 5000);
    assert.deepEqual(processesMentioning(fifo), []);
  });
});

describe("encode errors leave no output", () => {
  test("a frame of the wrong size", async () => {
    const out = p("enc/wrong.mp4");
    await mediaError(
      encodeVideo([solid(32, 32, [1, 2, 3]), new Uint8Array(10)], { output: out, fps: 24, width: 32, height: 32 }),
      /Frame 1 holds 10 bytes, expected 3072/,
    );
    assert.equal(existsSync(out), false);
    assert.deepEqual(partialFiles(p("enc")), []);
  });
  test("zero frames", async () => {
    const out = p("enc/none.mp4");
    await mediaError(encodeVideo([], { output: out, fps: 24, width: 32, height: 32 }), /No frames/);
    assert.equal(existsSync(out), false);
  });
  test("huge or zero frame size is refused before ffmpeg starts", async () => {
    await mediaError(encodeVideo([], { output: p("enc/h.mp4"), fps: 24, width: 20000, height: 8 }), /above the limit/);
    await mediaError(encodeVideo([], { output: p("enc/z.mp4"), fps: 24, width: 0, height: 8 }), /invalid size/);
  });
  test("a frame source that throws mid-stream: its error surfaces, the child dies, nothing is written", async () => {
    const dir = p("enc_throw");
    async function* frames() {
      yield solid(32, 32, [1, 1, 1]);
      yield solid(32, 32, [2, 2, 2]);
      throw new Error("model crashed");
    }
    await assert.rejects(
      encodeVideo(frames(), { output: join(dir, "o.mp4"), fps: 24, width: 32, height: 32 }),
      /model crashed/,
    );
    assert.deepEqual(readdirSync(dir), []);
    assert.deepEqual(processesMentioning(dir), []);
  });
  test("an unreadable soundtrack fails with ffmpeg's words, and keeps an existing output untouched", async () => {
    const out = p("enc/keep.mp4");
    writeFileSync(out, "old");
    writeFileSync(p("bad.wav"), "RIFF....nonsense");
    await mediaError(
      encodeVideo([solid(32, 32, [0, 0, 0])], {
        output: out,
        fps: 24,
        width: 32,
        height: 32,
        audio: { path: p("bad.wav") },
      }),
      /ffmpeg says:/,
    );
    assert.equal(readFileSync(out, "utf8"), "old");
    assert.deepEqual(partialFiles(p("enc")), []);
  });
});

describe("abort and early exit kill ffmpeg", () => {
  test("aborting an encode mid-stream: AbortError, child gone, no output, no temp file", async () => {
    const dir = p("abort_enc");
    const out = join(dir, "out.mp4");
    const ac = new AbortController();
    async function* frames() {
      for (let i = 0; i < 1000; i++) {
        if (i === 5) {
          // the child is running now: it writes our temp file in `dir`
          assert.ok(processesMentioning(dir).length > 0, "ffmpeg should be running");
          ac.abort();
        }
        yield solid(64, 48, [i % 255, 0, 0]);
        await new Promise((r) => setTimeout(r, 5));
      }
    }
    await assert.rejects(
      encodeVideo(frames(), { output: out, fps: 24, width: 64, height: 48, signal: ac.signal }),
      AbortError,
    );
    assert.equal(existsSync(out), false);
    assert.deepEqual(readdirSync(dir), []);
    assert.deepEqual(processesMentioning(dir), []);
  });
  test("aborting a decode mid-stream: AbortError and the child is gone", async () => {
    const ac = new AbortController();
    const seen: number[] = [];
    await assert.rejects(
      (async () => {
        for await (const f of decodeVideo(good, { signal: ac.signal })) {
          seen.push(f.index);
          if (f.index === 3) ac.abort();
        }
      })(),
      AbortError,
    );
    assert.deepEqual(seen, [0, 1, 2, 3]);
    assert.deepEqual(processesMentioning(good), []);
  });
  test("breaking out of a decode loop kills the child", async () => {
    const it = decodeVideo(good);
    const first = await it.next();
    assert.equal(first.done, false);
    assert.ok(processesMentioning(good).length > 0, "ffmpeg should be running while frames are pending");
    await it.return(undefined);
    assert.deepEqual(processesMentioning(good), []);
  });
  test("abort while the frame source is stalled still ends the encode at once", async () => {
    const dir = p("abort_stalled");
    const ac = new AbortController();
    async function* frames() {
      yield solid(32, 32, [0, 0, 0]);
      await new Promise(() => {}); // a producer that never delivers again
    }
    setTimeout(() => ac.abort(), 200);
    const t0 = Date.now();
    await assert.rejects(
      encodeVideo(frames(), { output: join(dir, "o.mp4"), fps: 24, width: 32, height: 32, signal: ac.signal }),
      AbortError,
    );
    assert.ok(Date.now() - t0 < 3000);
    assert.deepEqual(readdirSync(dir), []);
    assert.deepEqual(processesMentioning(dir), []);
  });
  test("an already aborted signal starts nothing", async () => {
    const ac = new AbortController();
    ac.abort();
    await assert.rejects(decodeVideoFrames(good, { signal: ac.signal }), AbortError);
    await assert.rejects(
      encodeVideo([solid(8, 8, [0, 0, 0])], {
        output: p("never.mp4x"),
        fps: 1,
        width: 8,
        height: 8,
        signal: ac.signal,
      }),
      AbortError,
    );
    assert.equal(existsSync(p("never.mp4x")), false);
  });
});
