// ffmpeg resolution: FFMPEG_BIN first, then ffmpeg-static, then PATH; a clear MediaError
// when none is found. Restores the environment after each test.
import { afterEach, describe, test } from "node:test";
import assert from "node:assert/strict";
import process from "node:process";
import { resetFfmpegResolution, resolveFfmpeg, resolveFfprobe } from "../../src/media/ffmpeg_path.ts";
import { MediaError } from "../../src/errors.ts";
import { runFfmpeg } from "../../src/media/process.ts";

const saved = { FFMPEG_BIN: process.env.FFMPEG_BIN, FFPROBE_BIN: process.env.FFPROBE_BIN, PATH: process.env.PATH };
function restore() {
  for (const [k, v] of Object.entries(saved)) {
    if (v === undefined) delete process.env[k];
    else process.env[k] = v;
  }
  resetFfmpegResolution();
}
afterEach(restore);

describe("resolveFfmpeg", () => {
  test("finds an executable ffmpeg that runs", async () => {
    const bin = resolveFfmpeg();
    assert.match(bin, /ffmpeg/);
    const r = await runFfmpeg(["-hide_banner", "-version"], { what: "ffmpeg -version" });
    assert.match(new TextDecoder().decode(r.stdout), /ffmpeg version/);
  });
  test("FFMPEG_BIN wins, and a bad one is a MediaError naming it", () => {
    const real = resolveFfmpeg();
    resetFfmpegResolution();
    process.env.FFMPEG_BIN = real;
    assert.equal(resolveFfmpeg(), real);
    resetFfmpegResolution();
    process.env.FFMPEG_BIN = "/nonexistent/ffmpeg";
    assert.throws(
      () => resolveFfmpeg(),
      (e: unknown) => e instanceof MediaError && /FFMPEG_BIN is set to "\/nonexistent\/ffmpeg"/.test(e.message),
    );
  });
  test("nothing found -> MediaError that says what to install", () => {
    delete process.env.FFMPEG_BIN;
    process.env.PATH = "/nonexistent";
    resetFfmpegResolution();
    let err: unknown;
    try {
      resolveFfmpeg();
    } catch (e) {
      err = e;
    }
    // ffmpeg-static is optional; when it is installed it is found without PATH
    if (err !== undefined) {
      assert.ok(err instanceof MediaError);
      assert.match(err.message, /apt-get install ffmpeg/);
    }
  });
  test("ffprobe sits beside ffmpeg or on PATH; FFPROBE_BIN overrides", () => {
    const probe = resolveFfprobe();
    assert.ok(probe === undefined || /ffprobe/.test(probe));
    if (probe) {
      process.env.FFPROBE_BIN = probe;
      assert.equal(resolveFfprobe(), probe);
    }
  });
});
