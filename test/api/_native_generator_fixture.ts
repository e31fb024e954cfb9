// Test helper: what every native Generator test file of test/api opens — the tiny Cosmos 3 checkpoint (or its
// distilled twin), diffusers' reference runs beside it, a temp folder for the files the tests write — and the
// cleanup after the file (the native sessions closed, the folder removed).
import { after } from "node:test";
import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import sharp from "sharp";
import type { RgbFrame } from "../../src/media/video_decode.ts";
import { decodeVideoFrames } from "../../src/media/video.ts";
import { closeNative } from "../../src/native/qwen3vl.ts";
import type { PipelineRun } from "../generator/_cosmos3_reference.ts";
import { FIXTURES } from "../native/_reference.ts";

/** The fixture's folders, its reference runs and a PNG reader; registers the cleanup with node:test's `after`. */
export function nativeGeneratorFixture(tmpPrefix: string, checkpoint: "cosmos3-tiny" | "cosmos3-tiny-distilled") {
  const CKPT = join(FIXTURES, checkpoint);
  const REF = join(FIXTURES, "cosmos3-tiny-reference");
  const OUT = mkdtempSync(join(tmpdir(), tmpPrefix));
  after(async () => {
    await closeNative();
    rmSync(OUT, { recursive: true, force: true });
  });
  return {
    CKPT,
    REF,
    OUT,
    /** reference.json's pipeline runs (Cosmos3OmniPipeline), by mode. */
    pipelines: (): Record<string, PipelineRun> =>
      (JSON.parse(readFileSync(join(REF, "reference.json"), "utf8")) as { pipelines: Record<string, PipelineRun> })
        .pipelines,
    /** A PNG of the reference's media folder as RGB bytes. */
    async png(name: string) {
      const { data, info } = await sharp(join(REF, "media", name)).removeAlpha().raw().toBuffer({
        resolveWithObject: true,
      });
      return { width: info.width, height: info.height, channels: 3 as const, data: new Uint8Array(data) };
    },
    /** The checkpoint's files linked into a new folder of OUT (a session of its own) with `notes` as its cosmos-ts.json. */
    withNotes(name: string, notes: unknown): string {
      const dir = join(OUT, name);
      mkdirSync(dir);
      for (const f of readdirSync(CKPT)) if (f !== "cosmos-ts.json") symlinkSync(resolve(CKPT, f), join(dir, f));
      writeFileSync(join(dir, "cosmos-ts.json"), JSON.stringify(notes));
      return dir;
    },
  };
}

/** Asserts that frames `indices` of two videos decode to the same bytes; returns the first video's frames. */
export async function assertSameFrames(a: string, b: string, indices: number[]): Promise<RgbFrame[]> {
  const [fa, fb] = await Promise.all([
    decodeVideoFrames(a, { frameIndices: indices }),
    decodeVideoFrames(b, { frameIndices: indices }),
  ]);
  for (const k of indices) assert.deepEqual(fa[k].data, fb[k].data, `frame ${k}`);
  return fa;
}
