// The C++ vision tower (native/src/vision, CPU) against transformers' Qwen3VLVisionModel on
// the tiny random fixture (test/multimodal/fixtures/vision-tiny.*): merged embeddings and
// deepstack features of an image + 3-frame video batch, fp32, max-abs-diff <= 1e-3.
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import process from "node:process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { f32, FIXTURE_DIR, maxAbsDiff, readSafetensors, visionMeta } from "../multimodal/_fixture.ts";

function readF32(path: string): Float32Array {
  const b = readFileSync(path);
  return new Float32Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength));
}

const root = fileURLToPath(new URL("../../", import.meta.url));

describe("vision tower (CPU) vs transformers", () => {
  test("embeds and deepstack features match to 1e-3", () => {
    const cli = execFileSync("bash", [join(root, "native/src/vision/build_cli.sh")], { encoding: "utf8" }).trim().split("\n").pop()!;
    const meta = visionMeta();
    const st = readSafetensors(FIXTURE_DIR + "vision-tiny.safetensors");
    const dir = mkdtempSync(join(tmpdir(), "vision-"));
    try {
      const pv = f32(st.get("vision.pixel_values"));
      writeFileSync(join(dir, "pv.f32"), new Uint8Array(pv.buffer, pv.byteOffset, pv.byteLength));
      const c = meta.vision_config;
      const out = execFileSync(cli, [
        FIXTURE_DIR + "vision-tiny.safetensors", join(dir, "pv.f32"), meta.vision_grid_thw.map((g) => g.join(",")).join(";"), dir,
        String(c.depth), String(c.hidden_size), String(c.intermediate_size), String(c.num_heads), String(c.out_hidden_size),
        String(c.num_position_embeddings), c.deepstack_visual_indexes.join(","), String(c.patch_size), String(c.spatial_merge_size),
        String(c.temporal_patch_size),
      ], { encoding: "utf8", env: { ...process.env, OMP_NUM_THREADS: "2" } });
      const info = JSON.parse(out) as { tokens: number; out_dim: number; deepstack: number };
      const ref = f32(st.get("vision.embeds"));
      assert.equal(info.tokens * info.out_dim, ref.length);
      const got = readF32(join(dir, "embeds.f32"));
      const d0 = maxAbsDiff(got, ref);
      assert.ok(d0 <= 1e-3, `embeds max-abs-diff ${d0}`);
      assert.equal(info.deepstack, c.deepstack_visual_indexes.length);
      for (let k = 0; k < info.deepstack; k++) {
        const r = f32(st.get(`vision.deepstack.${k}`));
        const g = readF32(join(dir, `deepstack_${k}.f32`));
        const dk = maxAbsDiff(g, r);
        assert.ok(dk <= 1e-3, `deepstack ${k} max-abs-diff ${dk}`);
      }
      console.log(`vision embeds max-abs-diff ${d0.toExponential(2)} (ref max |x| ${Math.max(...Array.from(ref, Math.abs)).toFixed(3)})`);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
