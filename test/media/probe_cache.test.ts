// The probe cache of probeFile: prepareQwenVideo (probe, then decode, which probes again) runs
// ffprobe once per file and gives byte-identical frames to the uncached path on the real clips
// in assets/videos; a file changed in place misses; failures are never cached.
import { after, afterEach, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { chmodSync, copyFileSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { Buffer } from "node:buffer";
import process from "node:process";
import { MediaError } from "../../src/errors.ts";
import { resolveFfprobe } from "../../src/media/ffmpeg_path.ts";
import { clearProbeCache, probeVideo } from "../../src/media/probe.ts";
import { prepareQwenVideo } from "../../src/media/qwen_media.ts";
import { makeVideo, tempDir } from "./_helpers.ts";

const ROOT = join(import.meta.dirname!, "../..");
const CLIPS = ["world_push.mp4", "world_pick_place.mp4", "driving.mp4"].map((f) => join(ROOT, "assets/videos", f));
const tmp = tempDir();
const log = join(tmp.dir, "ffprobe_runs.log");
const saved = { bin: process.env.FFPROBE_BIN, cache: process.env.COSMOS_PROBE_CACHE };

/** ffprobe runs since the last call (the wrapper below appends a line per run). */
function probeRuns(): number {
  let n = 0;
  try {
    n = readFileSync(log, "utf8").split("\n").filter(Boolean).length;
  } catch {
    // no run yet
  }
  writeFileSync(log, "");
  return n;
}

before(() => {
  const real = resolveFfprobe();
  assert.ok(real, "these tests need ffprobe");
  const wrapper = join(tmp.dir, "ffprobe");
  writeFileSync(wrapper, `#!/bin/sh\necho run >> '${log}'\nexec '${real}' "$@"\n`);
  chmodSync(wrapper, 0o755);
  process.env.FFPROBE_BIN = wrapper;
});
afterEach(() => {
  if (saved.cache === undefined) delete process.env.COSMOS_PROBE_CACHE;
  else process.env.COSMOS_PROBE_CACHE = saved.cache;
  clearProbeCache();
});
after(() => {
  if (saved.bin === undefined) delete process.env.FFPROBE_BIN;
  else process.env.FFPROBE_BIN = saved.bin;
  tmp.cleanup();
});

describe("probe cache", () => {
  for (const clip of CLIPS) {
    test(`prepareQwenVideo probes ${clip.split("/").pop()} once; frames byte-identical to the uncached path`, async () => {
      process.env.COSMOS_PROBE_CACHE = "0";
      probeRuns();
      const old = await prepareQwenVideo(clip, { fps: 2 });
      assert.equal(probeRuns(), 2, "uncached: a probe in prepareQwenVideo and one in decodeVideo");
      delete process.env.COSMOS_PROBE_CACHE;
      clearProbeCache();
      const cur = await prepareQwenVideo(clip, { fps: 2 });
      assert.equal(probeRuns(), 1);
      assert.deepEqual(cur.info, old.info);
      assert.deepEqual(cur.plan, old.plan);
      assert.equal(cur.frames.length, old.frames.length);
      assert.ok(cur.frames.length >= 2);
      for (let i = 0; i < old.frames.length; i++) {
        const { data: a, ...ma } = old.frames[i];
        const { data: b, ...mb } = cur.frames[i];
        assert.deepEqual(mb, ma);
        assert.ok(Buffer.from(a).equals(Buffer.from(b)), `frame ${i} differs`);
      }
      // a second call (a notebook showing, then reasoning over the clip) probes no more
      await prepareQwenVideo(clip, { numFrames: 4 });
      assert.equal(probeRuns(), 0);
    });
  }

  test("bytes: prepareQwenVideo writes one temp file, probes it once, same frames as the path", async () => {
    const byPath = await prepareQwenVideo(CLIPS[1], { fps: 2 });
    probeRuns();
    const byBytes = await prepareQwenVideo(new Uint8Array(readFileSync(CLIPS[1])), { fps: 2 });
    assert.equal(probeRuns(), 1);
    assert.deepEqual(byBytes.info, byPath.info);
    assert.equal(byBytes.frames.length, byPath.frames.length);
    byPath.frames.forEach((f, i) => assert.ok(Buffer.from(f.data).equals(Buffer.from(byBytes.frames[i].data)), `${i}`));
    // a cut video as bytes: still a MediaError that names the bytes, not the temp file
    const bytes = readFileSync(CLIPS[1]);
    await assert.rejects(
      prepareQwenVideo(new Uint8Array(bytes.subarray(0, bytes.length >> 1)), { fps: 2 }),
      (e) => e instanceof MediaError && /media bytes/.test(e.message) && !/cosmos-|\.mp4/.test(e.message),
    );
  });

  test("a file replaced in place (same path) is probed again", async () => {
    const path = join(tmp.dir, "swap.mp4");
    makeVideo(path, { width: 64, height: 48, fps: 24, seconds: 1 });
    assert.equal((await probeVideo(path)).frameCount, 24);
    makeVideo(join(tmp.dir, "other.mp4"), { width: 64, height: 48, fps: 24, seconds: 2 });
    copyFileSync(join(tmp.dir, "other.mp4"), path);
    probeRuns();
    assert.equal((await probeVideo(path)).frameCount, 48);
    assert.equal(probeRuns(), 1);
  });

  test("a result edited by the caller does not change the cached one", async () => {
    const a = await probeVideo(CLIPS[0]);
    const fps = a.fps;
    a.fps = -1;
    if (a.audio) a.audio.sampleRate = -1;
    const b = await probeVideo(CLIPS[0]);
    assert.equal(b.fps, fps);
    assert.notEqual(b.audio?.sampleRate, -1);
  });

  test("failures are not cached: a cut file keeps failing with a MediaError, each time from ffprobe", async () => {
    const path = join(tmp.dir, "cut.mp4");
    const bytes = readFileSync(CLIPS[1]);
    writeFileSync(path, bytes.subarray(0, Math.floor(bytes.length / 2)));
    probeRuns();
    for (let i = 0; i < 2; i++) await assert.rejects(probeVideo(path), MediaError);
    assert.equal(probeRuns(), 2);
    // a good probe, then the file cut in place: the cut file fails (its size and times changed)
    writeFileSync(path, bytes);
    await probeVideo(path);
    writeFileSync(path, bytes.subarray(0, Math.floor(bytes.length / 2)));
    await assert.rejects(probeVideo(path), MediaError);
    await assert.rejects(prepareQwenVideo(path, { fps: 2 }), MediaError);
  });
});
