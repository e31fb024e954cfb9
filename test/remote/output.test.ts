// Where generated files go (COSMOS_OUTPUT_DIR, default ./outputs beside the process's cwd, never
// the OS temp folder) and that a failed or aborted write leaves nothing behind: real sharp,
// real ffmpeg/ffprobe, real files.
import { after, describe, test } from "node:test";
import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, realpathSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import process from "node:process";
import { AbortError, RemoteError } from "../../src/errors.ts";
import {
  defaultOutputPath,
  OUTPUT_DIR_ENV,
  outputDir,
  writeImageOutput,
  writeVideoOutput,
} from "../../src/remote/output.ts";
import { makeMp4, makePng } from "./_media.ts";

// realpath: macOS-style /tmp symlinks would make cwd-based paths differ from the literal one.
const root = realpathSync(mkdtempSync(join(tmpdir(), "cosmos-output-")));
after(() => rmSync(root, { recursive: true, force: true }));

/** Runs `fn` with the cwd at `dir` and COSMOS_OUTPUT_DIR set to `env` (unset when undefined). */
async function inCwd<T>(dir: string, env: string | undefined, fn: () => Promise<T> | T): Promise<T> {
  const cwd = process.cwd();
  const saved = process.env[OUTPUT_DIR_ENV];
  mkdirSync(dir, { recursive: true });
  process.chdir(dir);
  if (env === undefined) delete process.env[OUTPUT_DIR_ENV];
  else process.env[OUTPUT_DIR_ENV] = env;
  try {
    return await fn();
  } finally {
    process.chdir(cwd);
    if (saved === undefined) delete process.env[OUTPUT_DIR_ENV];
    else process.env[OUTPUT_DIR_ENV] = saved;
  }
}

describe("the outputs folder", () => {
  test("default: ./outputs in the current working directory, not the OS temp folder", async () => {
    const nb = join(root, "notebook-a");
    await inCwd(nb, undefined, async () => {
      assert.equal(outputDir(), join(nb, "outputs"));
      const path = defaultOutputPath("text-to-image", "png");
      assert.match(path, /^.*\/outputs\/text-to-image-\d+-[0-9a-f]{8}\.png$/);
      assert.ok(path.startsWith(join(nb, "outputs") + "/"), path);
      assert.notEqual(defaultOutputPath("text-to-image", "png"), path, "each call gets a fresh name");
      const file = await writeImageOutput(await makePng(), path);
      assert.equal(file.path, path);
      assert.deepEqual(readdirSync(join(nb, "outputs")), [path.split("/").pop()]);
    });
  });

  test("an empty COSMOS_OUTPUT_DIR counts as unset", async () => {
    const nb = join(root, "notebook-b");
    await inCwd(nb, "", () => assert.equal(outputDir(), join(nb, "outputs")));
  });

  test("COSMOS_OUTPUT_DIR: absolute, or relative to the cwd; the folder is made on first write", async () => {
    const abs = join(root, "elsewhere", "renders");
    await inCwd(join(root, "notebook-c"), abs, async () => {
      assert.equal(outputDir(), abs);
      const file = await writeVideoOutput(makeMp4(5), defaultOutputPath("text-to-video", "mp4"));
      assert.ok(file.path.startsWith(abs + "/"), file.path);
      assert.equal(file.numFrames, 5);
      assert.deepEqual(readdirSync(abs), [file.path.split("/").pop()]);
    });
    const nb = join(root, "notebook-d");
    await inCwd(nb, "results/run1", () => assert.equal(outputDir(), join(nb, "results", "run1")));
  });
});

describe("no partial file is left behind", () => {
  const dir = join(root, "failures");
  mkdirSync(dir, { recursive: true });
  const listing = () => readdirSync(dir).sort();

  test("bytes that are not an image: RemoteError, no file, no .partial", async () => {
    await assert.rejects(
      writeImageOutput(new TextEncoder().encode("<html>502 Bad Gateway</html>"), join(dir, "img.png")),
      (e: unknown) => e instanceof RemoteError && /image could not be read/.test(e.message),
    );
    assert.deepEqual(listing(), []);
  });

  test("bytes that are not a video: RemoteError, no file, no .partial", async () => {
    await assert.rejects(
      writeVideoOutput(new Uint8Array(4096).fill(7), join(dir, "vid.mp4")),
      (e: unknown) => e instanceof RemoteError && /video could not be read/.test(e.message),
    );
    assert.deepEqual(listing(), []);
  });

  test("an aborted write: AbortError, no file, no .partial", async () => {
    const ac = new AbortController();
    ac.abort();
    await assert.rejects(writeVideoOutput(makeMp4(5), join(dir, "aborted.mp4"), ac.signal), AbortError);
    assert.deepEqual(listing(), []);
  });

  test("a failed write keeps the file already at the destination as it was", async () => {
    const dest = join(dir, "keep.png");
    writeFileSync(dest, "previous result");
    await assert.rejects(writeImageOutput(new TextEncoder().encode("not an image"), dest), RemoteError);
    assert.equal(readFileSync(dest, "utf8"), "previous result");
    assert.deepEqual(listing(), ["keep.png"]);
  });
});
