// The C++ vision tower (native/src/vision, CPU) against transformers' Qwen3VLVisionModel:
// merged embeddings and deepstack features, fp32, max-abs-diff <= 1e-3, on
//  - the tower-only fixture (test/multimodal/fixtures/vision-tiny.*: image + 3-frame video batch),
//  - the full checkpoint fixture (test/fixtures/qwen3vl-tiny*: weights under model.visual.*,
//    the image prompt's grid [1,4,6] and the video prompt's grid [4,6,4]).
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
const FULL = join(root, "test/fixtures/");

let cliPath: string | undefined;
function cli(): string {
  cliPath ??= execFileSync("bash", [join(root, "native/src/vision/build_cli.sh")], { encoding: "utf8" }).trim().split("\n").pop()!;
  return cliPath;
}

/** Runs the tower CLI (config: a JSON file with a vision_config); returns merged embeds and deepstack features. */
function runTower(model: string, config: string, pv: Float32Array, grids: number[][]): { embeds: Float32Array; deepstack: Float32Array[] } {
  const dir = mkdtempSync(join(tmpdir(), "vision-"));
  try {
    writeFileSync(join(dir, "pv.f32"), new Uint8Array(pv.buffer, pv.byteOffset, pv.byteLength));
    const out = execFileSync(cli(), [model, config, join(dir, "pv.f32"), grids.map((g) => g.join(",")).join(";"), dir], {
      encoding: "utf8",
      env: { ...process.env, COSMOS_THREADS: "2" },
    });
    const info = JSON.parse(out) as { tokens: number; out_dim: number; deepstack: number };
    const embeds = readF32(join(dir, "embeds.f32"));
    assert.equal(embeds.length, info.tokens * info.out_dim);
    const deepstack = Array.from({ length: info.deepstack }, (_, k) => readF32(join(dir, `deepstack_${k}.f32`)));
    return { embeds, deepstack };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

function assertClose(got: Float32Array, ref: Float32Array, what: string): number {
  assert.equal(got.length, ref.length, `${what}: length`);
  const d = maxAbsDiff(got, ref);
  assert.ok(d <= 1e-3, `${what} max-abs-diff ${d}`);
  return d;
}

describe("vision tower (CPU) vs transformers", () => {
  test("tower-only fixture: embeds and deepstack features match to 1e-3", () => {
    const meta = visionMeta();
    const st = readSafetensors(FIXTURE_DIR + "vision-tiny.safetensors");
    const c = meta.vision_config;
    const r = runTower(FIXTURE_DIR + "vision-tiny.safetensors", FIXTURE_DIR + "vision-tiny.json", f32(st.get("vision.pixel_values")), meta.vision_grid_thw);
    const d0 = assertClose(r.embeds, f32(st.get("vision.embeds")), "embeds");
    assert.equal(r.deepstack.length, c.deepstack_visual_indexes.length);
    r.deepstack.forEach((g, k) => assertClose(g, f32(st.get(`vision.deepstack.${k}`)), `deepstack ${k}`));
    console.log(`vision-tiny embeds max-abs-diff ${d0.toExponential(2)}`);
  });

  const config = JSON.parse(readFileSync(FULL + "qwen3vl-tiny/config.json", "utf8")) as { vision_config: { deepstack_visual_indexes: number[] } };
  const ref = JSON.parse(readFileSync(FULL + "qwen3vl-tiny-reference.json", "utf8")) as Record<"image" | "video", { grid_thw: number[][]; pixel_values_tensor: string }>;
  const st = readSafetensors(FULL + "qwen3vl-tiny-reference.safetensors");
  for (const kind of ["image", "video"] as const) {
    test(`qwen3vl-tiny checkpoint, ${kind} grid ${JSON.stringify(ref[kind].grid_thw)}: embeds and deepstack match to 1e-3`, () => {
      const c = config.vision_config;
      const r = runTower(FULL + "qwen3vl-tiny", FULL + "qwen3vl-tiny/config.json", f32(st.get(ref[kind].pixel_values_tensor)), ref[kind].grid_thw);
      const d0 = assertClose(r.embeds, f32(st.get(`${kind}.vision_embeds`)), `${kind} embeds`);
      assert.equal(r.deepstack.length, c.deepstack_visual_indexes.length);
      const dk = r.deepstack.map((g, k) => assertClose(g, f32(st.get(`${kind}.deepstack.${k}`)), `${kind} deepstack ${k}`));
      console.log(`qwen3vl-tiny ${kind}: embeds max-abs-diff ${d0.toExponential(2)}, deepstack ${dk.map((d) => d.toExponential(2)).join(", ")}`);
    });
  }
});
