// The engine's vision tower (native/src/models/qwen3_vision, CPU, through the addon) against
// transformers' Qwen3VLVisionModel: merged embeddings and deepstack features, fp32, max-abs-diff <= 1e-3, on
//  - the tower-only fixture (test/multimodal/fixtures/vision-tiny.*: image + 3-frame video in one batch,
//    depth 3, deepstack [0, 2], out 48),
//  - the full checkpoint fixture (test/fixtures/qwen3vl-tiny*: weights under model.visual.*, the image
//    prompt's grid [1,4,6] and the video prompt's grid [4,6,4]).
// Plus the tower's input checks (bad grids / lengths reject before any work, with the ARGUMENT class).
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { f32, FIXTURE_DIR, maxAbsDiff, readSafetensors, visionMeta } from "../multimodal/_fixture.ts";
import { loadVisionTower } from "../../src/native/vision.ts";
import { CheckpointError, ValidationError } from "../../src/errors.ts";

const FULL = fileURLToPath(new URL("../fixtures/", import.meta.url));

function assertClose(got: Float32Array, ref: Float32Array, what: string): number {
  assert.equal(got.length, ref.length, `${what}: length`);
  const d = maxAbsDiff(got, ref);
  assert.ok(d <= 1e-3, `${what} max-abs-diff ${d}`);
  return d;
}

describe("vision tower (CPU) vs transformers", () => {
  test("tower-only fixture: embeds and deepstack features match to 1e-3", async () => {
    const meta = visionMeta();
    const st = readSafetensors(FIXTURE_DIR + "vision-tiny.safetensors");
    const tower = await loadVisionTower(FIXTURE_DIR + "vision-tiny.safetensors", {
      configJson: readFileSync(FIXTURE_DIR + "vision-tiny.json", "utf8"), // has a vision_config
    });
    try {
      const grids = meta.vision_grid_thw as [number, number, number][];
      const r = await tower.run(f32(st.get("vision.pixel_values")), grids);
      const d0 = assertClose(await r.embeds.toHost(), f32(st.get("vision.embeds")), "embeds");
      assert.equal(r.deepstack.length, meta.vision_config.deepstack_visual_indexes.length);
      for (const [k, g] of r.deepstack.entries()) {
        assertClose(await g.toHost(), f32(st.get(`vision.deepstack.${k}`)), `deepstack ${k}`);
      }
      console.log(`vision-tiny embeds max-abs-diff ${d0.toExponential(2)}`);
    } finally {
      tower.free();
    }
  });

  const ref = JSON.parse(readFileSync(FULL + "qwen3vl-tiny-reference.json", "utf8")) as Record<
    "image" | "video",
    { grid_thw: [number, number, number][]; pixel_values_tensor: string }
  >;
  const st = readSafetensors(FULL + "qwen3vl-tiny-reference.safetensors");
  for (const kind of ["image", "video"] as const) {
    test(`qwen3vl-tiny checkpoint, ${kind} grid ${JSON.stringify(ref[kind].grid_thw)}: embeds and deepstack match to 1e-3`, async () => {
      const tower = await loadVisionTower(join(FULL, "qwen3vl-tiny"));
      try {
        const r = await tower.run(f32(st.get(ref[kind].pixel_values_tensor)), ref[kind].grid_thw);
        assert.deepEqual(r.embeds.shape, [r.tokens, r.outDim]);
        const d0 = assertClose(await r.embeds.toHost(), f32(st.get(`${kind}.vision_embeds`)), `${kind} embeds`);
        assert.equal(r.deepstack.length, 2);
        const dk: number[] = [];
        for (const [k, g] of r.deepstack.entries()) {
          dk.push(assertClose(await g.toHost(), f32(st.get(`${kind}.deepstack.${k}`)), `${kind} deepstack ${k}`));
        }
        console.log(
          `qwen3vl-tiny ${kind}: embeds max-abs-diff ${d0.toExponential(2)}, deepstack ${
            dk.map((d) => d.toExponential(2)).join(", ")
          }`,
        );
      } finally {
        tower.free();
      }
    });
  }

  test("bad inputs reject with a ValidationError; a config that does not fit the weights with a CheckpointError", async () => {
    const tower = await loadVisionTower(join(FULL, "qwen3vl-tiny"));
    try {
      const info = tower.info();
      assert.equal(info.patchDim, 1536);
      assert.equal(info.outHiddenSize, 64);
      // 24 rows given, the grid needs 4*6 = 24 rows: off by one row.
      await assert.rejects(tower.run(new Float32Array(23 * 1536), [[1, 4, 6]]), ValidationError);
      // h not divisible by the merge size.
      await assert.rejects(tower.run(new Float32Array(15 * 1536), [[1, 3, 5]]), ValidationError);
    } finally {
      tower.free();
    }
    const cfg = JSON.parse(readFileSync(join(FULL, "qwen3vl-tiny/config.json"), "utf8")) as {
      vision_config: { hidden_size: number };
    };
    cfg.vision_config.hidden_size = 48;
    await assert.rejects(
      loadVisionTower(join(FULL, "qwen3vl-tiny"), { configJson: JSON.stringify(cfg) }),
      CheckpointError,
    );
  });
});
