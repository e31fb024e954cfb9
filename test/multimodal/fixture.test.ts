// Checks against HF transformers (test/multimodal/fixtures/vision-tiny.*, made on the device
// by fixtures/make_vision_tiny.py): processor pixel_values and get_rope_index positions.
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { getRopeIndex, patchify, type PatchifyFrame } from "../../src/multimodal/mod.ts";
import { f32, FIXTURE_DIR, maxAbsDiff, readSafetensors, visionMeta } from "./_fixture.ts";

const meta = visionMeta();
const st = readSafetensors(FIXTURE_DIR + "vision-tiny.safetensors");

function frames(name: string): PatchifyFrame[] {
  const t = st.get(name)!;
  assert.equal(t.dtype, "U8");
  const [n, h, w] = t.shape.length === 3 ? [1, t.shape[0], t.shape[1]] : [t.shape[0], t.shape[1], t.shape[2]];
  const size = h * w * 3;
  return Array.from(
    { length: n },
    (_, i) => ({ width: w, height: h, channels: 3 as const, data: t.bytes.subarray(i * size, (i + 1) * size) }),
  );
}

describe(`patchify vs transformers ${meta.transformers}`, () => {
  test("image pixel_values (Qwen2VLImageProcessor)", () => {
    const p = patchify(frames("frames.image"));
    assert.deepEqual([p.gridThw], meta["pixel_values.image.grid_thw"]);
    const ref = f32(st.get("pixel_values.image"));
    assert.equal(p.pixelValues.length, ref.length);
    assert.ok(maxAbsDiff(p.pixelValues, ref) <= 1e-5, `max-abs-diff ${maxAbsDiff(p.pixelValues, ref)}`);
  });

  test("video pixel_values (Qwen3VLVideoProcessor; 3 frames padded to 4)", () => {
    const p = patchify(frames("frames.video"));
    assert.deepEqual([p.gridThw], meta.video_grid_thw);
    const ref = f32(st.get("pixel_values.video"));
    assert.ok(maxAbsDiff(p.pixelValues, ref) <= 1e-5, `max-abs-diff ${maxAbsDiff(p.pixelValues, ref)}`);
  });
});

describe(`getRopeIndex vs transformers ${meta.transformers}`, () => {
  for (const [name, c] of Object.entries(meta.rope_cases)) {
    test(`${name}: position ids and rope delta are identical`, () => {
      const r = getRopeIndex(c.input_ids, {
        imageGridThw: (c.image_grid_thw ?? []) as [number, number, number][],
        videoGridThw: (c.video_grid_thw ?? []) as [number, number, number][],
        tokenIds: {
          imageTokenId: meta.token_ids.image,
          videoTokenId: meta.token_ids.video,
          visionStartTokenId: meta.token_ids.vision_start,
        },
      });
      const L = c.input_ids.length;
      assert.deepEqual([0, 1, 2].map((a) => Array.from(r.positions.subarray(a * L, (a + 1) * L))), c.position_ids);
      assert.equal(r.ropeDelta, c.rope_delta);
    });
  }
});
