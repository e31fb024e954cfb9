// The guidance interval (vLLM-Omni's guidance_interval: CFG only at steps whose scheduler timestep is in [lo, hi],
// pipeline_cosmos3.py:2476-2481, :2643-2687) on the native engine (CPU) with the tiny Cosmos 3 Generator fixture:
//  - the diffusers t2i run (test/fixtures/cosmos3-tiny-reference/pipeline_t2i.safetensors: guidance 3, 3 steps at
//    timesteps 999, 857, 600, CFG on every step: diffusers has no interval): with every step inside the interval
//    the step latents are diffusers' within 1e-3 and the unconditional forwards are 3. The fixture tests
//    (native_generate.test.ts) plan GeneratorRuns without an interval, which guide every step; the server's
//    text-to-image default [400, 1000] also holds all three of this fixture's timesteps;
//  - an interval that holds none of the timesteps is the guidance-1 run bitwise, with no unconditional forward; one
//    that holds only step 0 (or all but step 0) has step 0's latents bitwise the CFG run's (the guidance-1 run's)
//    and 1 (2) unconditional forwards;
//  - every step of a run against that step taken alone: with a FlowMatchEuler scheduler (a copy of the fixture
//    whose scheduler/ says so; its step has no history), each step of a run with an interval that leaves out its
//    first and last steps is re-run as a run of its own, from the latents before it on its explicit sigmas [σ_i,
//    σ_i+1] (shift 1: unchanged): an excluded step equals a guidance-1 step from the same latents, an included
//    step the guidance-3 step, bitwise. (UniPC's history across guided and unguided steps is checked against the
//    loop written out by hand in native/test/flow_sampler_cpu_test.cc.)
//  - generate() at the text-to-image defaults reports [400, 1000] in effective.
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { mkdirSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { generate } from "../../src/api/generate.ts";
import { generatorInputs, type GeneratorRun, planGeneration } from "../../src/generator/mod.ts";
import { type Cosmos3GeneratorSession, openCosmos3Generator } from "../../src/native/generator.ts";
import { f32, maxAbsDiff, readSafetensors } from "../multimodal/_fixture.ts";
import { pipelineRun } from "../generator/_cosmos3_reference.ts";
import { nativeGeneratorFixture } from "./_native_generator_fixture.ts";

const { CKPT, REF, OUT, pipelines } = nativeGeneratorFixture("cosmos-guidance-", "cosmos3-tiny");
const spec = pipelines().t2i;
const store = readSafetensors(join(REF, "pipeline_t2i.safetensors"));
const noise = f32(store.get("noise.vision"), "noise.vision");

/** One latents-only run of `run` from `from` (the fixture's noise by default), every step's latents kept. */
async function runLatents(
  s: Cosmos3GeneratorSession,
  run: GeneratorRun,
  opts: { from?: Float32Array; sigmas?: number[] } = {},
) {
  let plan = planGeneration(run, s.model);
  if (opts.sigmas) {
    plan = {
      ...plan,
      sampler: { ...plan.sampler, numInferenceSteps: opts.sigmas.length, flowShift: 1, sigmas: opts.sigmas },
    };
  }
  const inputs = generatorInputs(plan, s.tokenizer, s.model);
  return await s.run({ plan, inputs, noise: opts.from ?? noise, keepStepLatents: true, decode: false });
}

const same = (a: Float32Array, b: Float32Array) => a.length === b.length && maxAbsDiff(a, b) === 0;

describe("guidance interval on the native engine (tiny fixture, CPU)", () => {
  test("UniPC, the diffusers t2i run: every step inside = diffusers (1e-3), none = guidance 1, a part = the runs it follows", async () => {
    const s = await openCosmos3Generator(CKPT);
    const base = pipelineRun(spec);
    const every = await runLatents(s, { ...base, guidanceInterval: [0, 1000] });
    assert.deepEqual(Array.from(every.timesteps), [999, 857, 600]);
    assert.equal(every.uncondPasses, 3);
    for (let i = 0; i < spec.steps; i++) {
      const d = maxAbsDiff(every.stepLatents[i], f32(store.get(`step.${i}.vision`), `step.${i}.vision`));
      assert.ok(d <= 1e-3, `step ${i} vs diffusers: ${d}`);
    }
    // No interval in the run (the fixture tests' GeneratorRuns) and the server's t2i default both guide all three.
    const plain = await runLatents(s, base);
    const serverDefault = await runLatents(s, { ...base, guidanceInterval: [400, 1000] });
    for (const r of [plain, serverDefault]) {
      assert.equal(r.uncondPasses, 3);
      assert.ok(r.stepLatents.every((x, i) => same(x, every.stepLatents[i])));
    }

    const g1 = await runLatents(s, { ...base, guidanceScale: 1 });
    assert.equal(g1.uncondPasses, 0);
    const none = await runLatents(s, { ...base, guidanceInterval: [0, 100] });
    assert.equal(none.uncondPasses, 0);
    assert.ok(none.stepLatents.every((x, i) => same(x, g1.stepLatents[i])), "no step inside = guidance 1, bitwise");

    const first = await runLatents(s, { ...base, guidanceInterval: [900, 1000] });
    assert.equal(first.uncondPasses, 1);
    assert.ok(same(first.stepLatents[0], every.stepLatents[0]), "step 0 (t 999) guided: the CFG run's");
    assert.ok(maxAbsDiff(first.stepLatents[1], every.stepLatents[1]) > 1e-3, "step 1 (t 857) unguided: not CFG's");
    const rest = await runLatents(s, { ...base, guidanceInterval: [0, 900] });
    assert.equal(rest.uncondPasses, 2);
    assert.ok(same(rest.stepLatents[0], g1.stepLatents[0]), "step 0 (t 999) unguided: the guidance-1 run's");
    assert.ok(maxAbsDiff(rest.stepLatents[1], g1.stepLatents[1]) > 1e-3, "step 1 (t 857) guided: not guidance 1's");
  });

  test("FlowMatchEuler: each step = that step alone from the same latents, guidance 1 outside the interval, 3 inside", async () => {
    // The fixture with a deterministic FlowMatchEuler scheduler (no sampler history: a step is a function of the
    // latents before it, its sigmas and its velocity).
    const dir = join(OUT, "cosmos3-tiny-euler");
    mkdirSync(join(dir, "scheduler"), { recursive: true });
    for (const part of ["transformer", "vae", "text_tokenizer", "model_index.json", "cosmos-ts.json"]) {
      symlinkSync(join(CKPT, part), join(dir, part));
    }
    writeFileSync(
      join(dir, "scheduler", "scheduler_config.json"),
      JSON.stringify({ _class_name: "FlowMatchEulerDiscreteScheduler", num_train_timesteps: 1000, shift: 1.0 }),
    );
    const s = await openCosmos3Generator(dir);
    const run: GeneratorRun = { ...pipelineRun(spec), numInferenceSteps: 4, guidanceInterval: [500, 900] };
    const full = await runLatents(s, run);
    const t = Array.from(full.timesteps);
    const inside = t.map((ti) => ti >= 500 && ti <= 900);
    assert.deepEqual(inside, [false, true, true, false], `timesteps ${t}`);
    assert.equal(full.uncondPasses, 2);
    const sigmas = Array.from(full.sigmas);
    for (let i = 0; i < 4; i++) {
      const from = i === 0 ? noise : full.stepLatents[i - 1];
      // The step alone: σ_i → σ_i+1 (the last step's σ_i+1 is the final 0, a 1-step run's too).
      const alone = await runLatents(s, { ...run, guidanceScale: inside[i] ? 3 : 1, guidanceInterval: [0, 1000] }, {
        from,
        sigmas: i < 3 ? [sigmas[i], sigmas[i + 1]] : [sigmas[i]],
      });
      assert.equal(alone.timesteps[0], full.timesteps[i]);
      assert.equal(alone.uncondPasses, inside[i] ? alone.stepLatents.length : 0);
      assert.ok(
        same(alone.stepLatents[0], full.stepLatents[i]),
        `step ${i} (t ${t[i]}): ${maxAbsDiff(alone.stepLatents[0], full.stepLatents[i])}`,
      );
      // The other choice is not the same step: the check can tell them apart.
      const other = await runLatents(s, { ...run, guidanceScale: inside[i] ? 1 : 3, guidanceInterval: [0, 1000] }, {
        from,
        sigmas: i < 3 ? [sigmas[i], sigmas[i + 1]] : [sigmas[i]],
      });
      assert.ok(maxAbsDiff(other.stepLatents[0], full.stepLatents[i]) > 1e-4, `step ${i}: guided or not matters`);
    }
  });

  test("generate() text-to-image at the defaults: effective.guidanceInterval [400, 1000], listed as defaulted", async () => {
    const r = await generate({
      prompt: "A cube.",
      output: "image",
      resolution: "256p",
      aspectRatio: "1:1",
      numInferenceSteps: 2,
      outputPath: join(OUT, "t2i.png"),
    }, { backend: { kind: "native", checkpoint: CKPT } });
    assert.deepEqual(r.effective?.guidanceInterval, [400, 1000]);
    assert.ok(r.effective?.defaulted.includes("guidanceInterval"));
  });
});
