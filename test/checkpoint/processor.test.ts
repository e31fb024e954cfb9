// Preprocessing settings read from a checkpoint: transformers 5's processor_config.json (the
// fixture), released Qwen3-VL's preprocessor_config.json + video_preprocessor_config.json, older
// min_pixels / max_pixels, defaults when nothing is there, and a wrong type naming file and field.
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { loadProcessorSettings } from "../../src/checkpoint/processor.ts";
import { CheckpointError } from "../../src/errors.ts";
import { QWEN3_VL_IMAGE_DEFAULTS, QWEN3_VL_VIDEO_DEFAULTS } from "../../src/media/qwen_vision.ts";

const CKPT = fileURLToPath(new URL("../fixtures/qwen3vl-tiny", import.meta.url));

function folder(files: Record<string, unknown>): string {
  const dir = mkdtempSync(join(tmpdir(), "cosmos-processor-"));
  for (const [name, json] of Object.entries(files)) {
    writeFileSync(join(dir, name), typeof json === "string" ? json : JSON.stringify(json));
  }
  return dir;
}

describe("loadProcessorSettings", () => {
  test("the fixture's processor_config.json (transformers 5 layout)", async () => {
    const s = await loadProcessorSettings(CKPT);
    assert.deepEqual(s.image, { factor: 32, minPixels: 4096, maxPixels: 262144 });
    assert.equal(s.video.minPixels, 4096);
    assert.equal(s.video.maxPixels, 1048576);
    assert.equal(s.video.fps, 2);
    assert.equal(s.video.minFrames, 4);
    assert.equal(s.video.maxFrames, 64);
    assert.equal(s.sources.length, 1);
  });

  test("released layout: preprocessor_config.json + video_preprocessor_config.json", async () => {
    const dir = folder({
      "preprocessor_config.json": {
        size: { shortest_edge: 65536, longest_edge: 16777216 },
        patch_size: 16,
        merge_size: 2,
      },
      "video_preprocessor_config.json": {
        size: { shortest_edge: 4096, longest_edge: 25165824 },
        fps: 2,
        patch_size: 16,
        merge_size: 2,
      },
    });
    try {
      const s = await loadProcessorSettings(dir);
      assert.deepEqual(s.image, { factor: 32, minPixels: 65536, maxPixels: 16777216 });
      assert.equal(s.video.maxPixels, 25165824);
      assert.equal(s.sources.length, 2);
    } finally {
      rmSync(dir, { recursive: true });
    }
  });

  test("min_pixels / max_pixels and a Qwen2-VL patch grid (14 x 2 = 28)", async () => {
    const dir = folder({
      "preprocessor_config.json": { min_pixels: 3136, max_pixels: 1003520, patch_size: 14, merge_size: 2 },
    });
    try {
      assert.deepEqual((await loadProcessorSettings(dir)).image, { factor: 28, minPixels: 3136, maxPixels: 1003520 });
    } finally {
      rmSync(dir, { recursive: true });
    }
  });

  test("no config files: Qwen3-VL checkpoint defaults", async () => {
    const dir = folder({});
    try {
      const s = await loadProcessorSettings(dir);
      assert.deepEqual(s.image, { ...QWEN3_VL_IMAGE_DEFAULTS });
      assert.deepEqual(s.video, { ...QWEN3_VL_VIDEO_DEFAULTS });
      assert.deepEqual(s.sources, []);
    } finally {
      rmSync(dir, { recursive: true });
    }
  });

  test("a wrong type names the file and the field", async () => {
    const dir = folder({ "processor_config.json": { image_processor: { size: { longest_edge: "big" } } } });
    try {
      await assert.rejects(
        loadProcessorSettings(dir),
        (e: unknown) =>
          e instanceof CheckpointError && e.message.includes("processor_config.json") &&
          e.message.includes("longest_edge"),
      );
    } finally {
      rmSync(dir, { recursive: true });
    }
  });
});
