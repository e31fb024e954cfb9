// The native Cosmos 3 Generator on the device machine: the t2i, t2v, i2v and v2v runs of
// test/fixtures/cosmos3-tiny-reference through the session (src/native/generator.ts) with diffusers' noise
// injected, on the backend COSMOS_DEVICE picks, each printed as one JSON line: max |diff| of the step latents,
// the final latents and the decoded frames against Cosmos3OmniPipeline's, and the run's wall time. Bundled and
// run by tools/device/generate_e2e.sh.
import { readFileSync } from "node:fs";
import { join, resolve } from "node:path";
import process from "node:process";
import sharp from "sharp";
import { conditioningPixels } from "../../src/api/native_generate.ts";
import { generatorInputs, type GeneratorTask, planGeneration } from "../../src/generator/mod.ts";
import { nativeDeviceInfo } from "../../src/native/mod.ts";
import { openCosmos3Generator } from "../../src/native/generator.ts";

const root = resolve(process.argv[2] ?? ".");
const CKPT = join(root, "test/fixtures/cosmos3-tiny");
const REF = join(root, "test/fixtures/cosmos3-tiny-reference");

function tensors(path: string): Map<string, { dtype: string; data: Uint8Array }> {
  const buf = readFileSync(path);
  const n = Number(buf.readBigUInt64LE(0));
  const header = JSON.parse(buf.subarray(8, 8 + n).toString("utf8")) as Record<
    string,
    { dtype: string; data_offsets: [number, number] }
  >;
  const out = new Map<string, { dtype: string; data: Uint8Array }>();
  for (const [k, v] of Object.entries(header)) {
    if (k === "__metadata__") continue;
    out.set(k, {
      dtype: v.dtype,
      data: new Uint8Array(buf.subarray(8 + n + v.data_offsets[0], 8 + n + v.data_offsets[1])),
    });
  }
  return out;
}
const f32 = (t: { data: Uint8Array } | undefined) => new Float32Array(t!.data.slice().buffer);
const maxDiff = (a: ArrayLike<number>, b: ArrayLike<number>) => {
  let m = a.length === b.length ? 0 : Infinity;
  for (let i = 0; i < Math.min(a.length, b.length); i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
};
// On the device the fixture's PNGs come pre-decoded by `bundle` (RGB bytes + size in GEN_E2E_MEDIA): sharp's
// libvips (18 MB) would not fit the device call's 64 MiB carry next to node and the tree.
async function png(name: string) {
  const predecoded = process.env.GEN_E2E_MEDIA;
  if (predecoded) {
    const { width, height } = JSON.parse(readFileSync(join(predecoded, `${name}.json`), "utf8"));
    return { width, height, channels: 3 as const, data: new Uint8Array(readFileSync(join(predecoded, `${name}.rgb`))) };
  }
  const { data, info } = await sharp(join(REF, "media", name)).removeAlpha().raw().toBuffer({
    resolveWithObject: true,
  });
  return { width: info.width, height: info.height, channels: 3 as const, data: new Uint8Array(data) };
}

const reference = JSON.parse(readFileSync(join(REF, "reference.json"), "utf8")).pipelines;
const s = await openCosmos3Generator(CKPT);
for (const mode of ["t2i", "t2v", "i2v", "v2v"]) {
  const spec = reference[mode];
  const store = tensors(join(REF, `pipeline_${mode}.safetensors`));
  const plan = planGeneration({
    task: mode as GeneratorTask,
    prompt: spec.prompt,
    negativePrompt: spec.negative ?? undefined,
    width: spec.width,
    height: spec.height,
    numFrames: spec.num_frames,
    fps: spec.fps,
    numInferenceSteps: spec.steps,
    guidanceScale: spec.guidance,
    flowShift: spec.flow_shift,
    addResolutionTemplate: true,
    addDurationTemplate: true,
    image: mode === "i2v" ? { width: 96, height: 64 } : undefined,
    video: mode === "v2v" ? { width: 96, height: 64, frames: 5 } : undefined,
    conditionFrameIndexes: spec.condition_frame_indexes_vision,
  }, s.model);
  const condVideo = await conditioningPixels(plan, {
    image: mode === "i2v" ? await png("frame_00.png") : undefined,
    frames: mode === "v2v" ? await Promise.all([0, 1, 2, 3, 4].map((i) => png(`frame_0${i}.png`))) : undefined,
  });
  const t0 = performance.now();
  const r = await s.run({
    plan,
    inputs: generatorInputs(plan, s.tokenizer, s.model),
    condVideo,
    noise: f32(store.get("noise.vision")),
    keepStepLatents: true,
  });
  const ms = performance.now() - t0;
  const want = f32(store.get("out.video"));
  const F = r.frames, H = r.height, W = r.width;
  const kept = want.length / (H * W * 3) === F ? [...Array(F).keys()] : [0, F - 1];
  const got = new Float32Array(want.length);
  kept.forEach((f, k) => {
    for (let i = 0; i < H * W; i++) {
      for (let c = 0; c < 3; c++) {
        got[(k * H * W + i) * 3 + c] = Math.min(1, Math.max(0, r.video![(c * F + f) * H * W + i] / 2 + 0.5));
      }
    }
  });
  console.log(JSON.stringify({
    mode,
    backend: (s.raw.info() as { backend?: string }).backend,
    device: nativeDeviceInfo().modelBackend,
    steps: r.stepLatents.map((x, i) => maxDiff(x, f32(store.get(`step.${i}.vision`)))),
    final: maxDiff(r.latents, f32(store.get("final.vision"))),
    video: maxDiff(got, want),
    ms: Math.round(ms),
  }));
}
await s.free();
