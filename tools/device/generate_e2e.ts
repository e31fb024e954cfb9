// The native Cosmos 3 Generator on the device machine: the t2i, t2v, i2v, v2v and t2v-with-sound runs of
// test/fixtures/cosmos3-tiny-reference through the session (src/native/generator.ts) with diffusers' noise
// injected, on the backend COSMOS_DEVICE picks, each printed as one JSON line: max |diff| of the step latents,
// the final latents and the decoded frames against Cosmos3OmniPipeline's (sound runs: also the sound latents
// after every step and the AVAE's decoded wave), the run's wall time, and the bytes of the device models run on
// (nativeMemory(): the CUDA pools on the GPU, where the latents, velocities and sampler history now live) still
// in use after the run compared with before it (0: every block the run took was given back). Bundled and run by
// tools/device/generate_e2e.sh. Then one line for the guidance interval (below).
import { readFileSync } from "node:fs";
import { join, resolve } from "node:path";
import process from "node:process";
import sharp from "sharp";
import { conditioningPixels } from "../../src/api/native_generate.ts";
import { generatorInputs, type GeneratorRun, planGeneration } from "../../src/generator/mod.ts";
import { nativeDeviceInfo, nativeMemory } from "../../src/native/mod.ts";
import { openCosmos3Generator } from "../../src/native/generator.ts";
import { f32, maxAbsDiff, readSafetensors } from "../../test/multimodal/_fixture.ts";
import {
  distilledRun,
  type DistilledRuns,
  pipelineFrames,
  type PipelineRun,
  pipelineRun,
} from "../../test/generator/_cosmos3_reference.ts";

const root = resolve(process.argv[2] ?? ".");
const CKPT = join(root, "test/fixtures/cosmos3-tiny");
const REF = join(root, "test/fixtures/cosmos3-tiny-reference");
const DISTILLED = join(root, "test/fixtures/cosmos3-tiny-distilled");

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

const reference = JSON.parse(readFileSync(join(REF, "reference.json"), "utf8")).pipelines as Record<
  string,
  PipelineRun
>;
/** The fixture's conditioning pixels for a mode: i2v the first frame, v2v the five-frame clip, none otherwise. */
async function condition(plan: ReturnType<typeof planGeneration>, mode: string) {
  return await conditioningPixels(plan, {
    image: mode === "i2v" ? await png("frame_00.png") : undefined,
    frames: mode === "v2v" ? await Promise.all([0, 1, 2, 3, 4].map((i) => png(`frame_0${i}.png`))) : undefined,
  });
}

/**
 * Runs a request twice: the first run's wall time, and the device bytes the second leaves in use (the first may leave
 * an op's lazily made workspace in a pool; the second must leave nothing behind).
 */
async function runTwice<T>(run: () => Promise<T>) {
  const t0 = performance.now();
  const first = await run();
  const ms = Math.round(performance.now() - t0);
  const inUseBefore = nativeMemory().bytesInUse;
  const second = await run();
  const mem = nativeMemory();
  return { first, second, ms, bytesLeft: mem.bytesInUse - inUseBefore, peakBytes: mem.peakBytes };
}

const s = await openCosmos3Generator(CKPT);
for (const mode of ["t2i", "t2v", "i2v", "v2v", "t2v_sound"]) {
  const spec = reference[mode];
  const store = readSafetensors(join(REF, `pipeline_${mode}.safetensors`));
  const plan = planGeneration(pipelineRun(spec), s.model);
  const condVideo = await condition(plan, mode);
  const run = () =>
    s.run({
      plan,
      inputs: generatorInputs(plan, s.tokenizer, s.model),
      condVideo,
      noise: f32(store.get("noise.vision")),
      soundNoise: plan.sound ? f32(store.get("noise.sound")) : undefined,
      keepStepLatents: true,
    });
  const { first, second: r, ms, bytesLeft, peakBytes } = await runTwice(run);
  const want = f32(store.get("out.video"));
  const got = pipelineFrames(r, want.length);
  console.log(JSON.stringify({
    mode,
    backend: (s.raw.info() as { backend?: string }).backend,
    device: nativeDeviceInfo().modelBackend,
    steps: r.stepLatents.map((x, i) => maxAbsDiff(x, f32(store.get(`step.${i}.vision`)))),
    final: maxAbsDiff(r.latents, f32(store.get("final.vision"))),
    video: maxAbsDiff(got, want),
    ...(plan.sound
      ? {
        sound: r.stepSounds.map((x, i) => maxAbsDiff(x, f32(store.get(`step.${i}.sound`)))),
        wave: r.soundWave ? maxAbsDiff(r.soundWave, f32(store.get("out.sound_wave"))) : null,
      }
      : {}),
    ms,
    bytesLeft,
    repeat: maxAbsDiff(r.latents, first.latents),
    peakBytes,
  }));
}
// The guidance interval (CFG only at steps whose timestep is in [lo, hi]; the uncond forward skipped elsewhere) on the
// fixture's t2i run (timesteps 999, 857, 600): [0, 900] leaves step 0 unguided (its latents = a guidance-1 run's),
// [900, 1000] guides step 0 alone (its latents = diffusers' CFG step 0); the uncond forwards counted. `head`: the
// first final latents of the [0, 900] run, compared across backends by generate_e2e.sh.
{
  const spec = reference.t2i;
  const store = readSafetensors(join(REF, "pipeline_t2i.safetensors"));
  const go = (over: Partial<GeneratorRun>) => {
    const plan = planGeneration({ ...pipelineRun(spec), ...over }, s.model);
    const inputs = generatorInputs(plan, s.tokenizer, s.model);
    return s.run({ plan, inputs, noise: f32(store.get("noise.vision")), keepStepLatents: true, decode: false });
  };
  const g1 = await go({ guidanceScale: 1 });
  const rest = await go({ guidanceInterval: [0, 900] });
  const first = await go({ guidanceInterval: [900, 1000] });
  console.log(JSON.stringify({
    mode: "t2i_interval",
    backend: (s.raw.info() as { backend?: string }).backend,
    uncondPasses: [g1.uncondPasses, rest.uncondPasses, first.uncondPasses],
    unguidedStep0VsGuidance1: maxAbsDiff(rest.stepLatents[0], g1.stepLatents[0]),
    guidedStep1VsGuidance1: maxAbsDiff(rest.stepLatents[1], g1.stepLatents[1]),
    guidedStep0VsDiffusers: maxAbsDiff(first.stepLatents[0], f32(store.get("step.0.vision"))),
    head: Array.from(rest.latents.subarray(0, 64)),
  }));
}
await s.free();

// The distilled checkpoint (4 FlowMatchEuler steps with re-noising, guidance 1) on this backend, against
// Cosmos3DistilledModularPipeline's runs with its initial and per-step noise injected: one line per mode, as above,
// for t2i, i2v and v2v.
{
  const d = await openCosmos3Generator(DISTILLED);
  const runs = (JSON.parse(readFileSync(join(REF, "distilled.json"), "utf8")) as DistilledRuns).runs;
  for (const mode of ["t2i", "i2v", "v2v"] as const) {
    const spec = runs[mode];
    if (!spec) throw new Error(`distilled.json has no runs.${mode} beside pipeline_distilled_${mode}.safetensors`);
    const store = readSafetensors(join(REF, `pipeline_distilled_${mode}.safetensors`));
    const plan = planGeneration(distilledRun(spec, d.model.distilled!.shift), d.model);
    const noise = f32(store.get("noise.vision"));
    const steps = spec.distilled_sigmas.length;
    const stepNoise = new Float32Array(steps * noise.length);
    for (let i = 0; i < steps; i++) stepNoise.set(f32(store.get(`step.${i}.noise`)), i * noise.length);
    const condVideo = await condition(plan, mode);
    const run = () =>
      d.run({
        plan,
        inputs: generatorInputs(plan, d.tokenizer, d.model),
        condVideo,
        noise,
        stepNoise,
        keepStepLatents: true,
      });
    const { second: r, ms, bytesLeft } = await runTwice(run);
    const want = f32(store.get("out.video"));
    console.log(JSON.stringify({
      mode: `distilled_${mode}`,
      backend: (d.raw.info() as { backend?: string }).backend,
      steps: r.stepLatents.map((x, i) => maxAbsDiff(x, f32(store.get(`step.${i}.vision`)))),
      final: maxAbsDiff(r.latents, f32(store.get("final.vision"))),
      video: maxAbsDiff(pipelineFrames(r, want.length), want),
      ms,
      bytesLeft,
    }));
  }
  await d.free();
}
