// generate() requests on a distilled checkpoint (src/generator/distilled.ts, the distilled branch of config.ts and
// plan.ts) with test/fixtures/cosmos3-tiny-distilled: the schedule read from its modular_model_index.json, the
// effective settings (steps = len(distilled_sigmas), guidance 1, the scheduler's shift), what a request set that does
// not apply listed in effective.ignored, a step count other than the schedule's refused as diffusers refuses it, and
// the plan carrying the sigmas (no CFG pass, the system prompt on as the distilled text step has it).
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { ValidationError } from "../../src/errors.ts";
import { distilledGenerateRequest } from "../../src/generator/distilled.ts";
import { generateRun, loadGeneratorModelConfig, planGeneration } from "../../src/generator/mod.ts";
import { GenerateRequest } from "../../src/schema/generate_request.ts";
import { FIXTURES } from "../native/_reference.ts";

const DISTILLED = join(FIXTURES, "cosmos3-tiny-distilled");
const modular = JSON.parse(readFileSync(join(DISTILLED, "modular_model_index.json"), "utf8"));
const scheduler = JSON.parse(readFileSync(join(DISTILLED, "scheduler", "scheduler_config.json"), "utf8"));

describe("distilled checkpoints: effective settings and plan", () => {
  test("the planning config carries the fixture's schedule; a base checkpoint has none", async () => {
    const model = await loadGeneratorModelConfig(DISTILLED);
    assert.deepEqual(model.distilled, {
      sigmas: modular.distilled_sigmas,
      shift: scheduler.shift,
      stochastic: scheduler.stochastic_sampling,
    });
    assert.equal(model.defaultUseSystemPrompt, true);
    assert.equal((await loadGeneratorModelConfig(join(FIXTURES, "cosmos3-tiny"))).distilled, undefined);
  });

  test("defaults: steps = len(distilled_sigmas), guidance 1, the scheduler's shift, nothing ignored", async () => {
    const { distilled } = await loadGeneratorModelConfig(DISTILLED);
    const req = GenerateRequest.parse({ prompt: "A cube.", output: "image", resolution: "256p", aspectRatio: "1:1" });
    assert.equal(req.effective.numInferenceSteps, 50, "the base text-to-image default before");
    const d = distilledGenerateRequest(req, distilled!);
    assert.equal(d.effective.numInferenceSteps, modular.distilled_sigmas.length);
    assert.equal(d.effective.guidanceScale, 1);
    assert.equal(d.effective.flowShift, scheduler.shift);
    assert.deepEqual(d.effective.distilled, { sigmas: modular.distilled_sigmas, stochastic: true });
    assert.deepEqual(d.effective.ignored, []);
    assert.deepEqual([d.effective.width, d.effective.height], [req.effective.width, req.effective.height]);
  });

  test("guidance, negative prompt and flow shift of the request are dropped and listed as ignored", async () => {
    const { distilled } = await loadGeneratorModelConfig(DISTILLED);
    const req = GenerateRequest.parse({
      prompt: "A cube.",
      negativePrompt: "blurry",
      guidanceScale: 6,
      flowShift: 10,
      numInferenceSteps: 4,
    });
    const d = distilledGenerateRequest(req, distilled!);
    assert.deepEqual(d.effective.ignored.map((i) => [i.field, i.value]), [
      ["guidanceScale", 6],
      ["negativePrompt", "blurry"],
      ["flowShift", 10],
    ]);
    assert.ok(d.effective.ignored.every((i) => i.reason.length > 20));
    assert.equal(d.negativePrompt, undefined);
    assert.equal(d.effective.guidanceScale, 1);
    // guidance 1 asked for is not "ignored"
    const one = distilledGenerateRequest(GenerateRequest.parse({ prompt: "A cube.", guidanceScale: 1 }), distilled!);
    assert.deepEqual(one.effective.ignored, []);
  });

  test("another step count is a ValidationError naming the schedule's", async () => {
    const { distilled } = await loadGeneratorModelConfig(DISTILLED);
    assert.throws(
      () => distilledGenerateRequest(GenerateRequest.parse({ prompt: "A cube.", numInferenceSteps: 10 }), distilled!),
      (e: unknown) =>
        e instanceof ValidationError && e.field === "numInferenceSteps" && /4 or left out/.test(e.message) &&
        /distilled_sigmas/.test(e.message),
    );
  });

  test("the plan takes the sigmas, no CFG pass, the system prompt; base-style runs and action modes are refused", async () => {
    const model = await loadGeneratorModelConfig(DISTILLED);
    const req = distilledGenerateRequest(
      GenerateRequest.parse({ prompt: "A cube.", resolution: "256p", numFrames: 9 }),
      model.distilled!,
    );
    const plan = planGeneration(generateRun(req), model);
    assert.deepEqual(plan.sampler, {
      numInferenceSteps: 4,
      guidanceScale: 1,
      flowShift: 1,
      cfg: false,
      guidanceInterval: [0, 1000],
      sigmas: modular.distilled_sigmas,
    });
    assert.equal(plan.prompt.useSystemPrompt, true);
    const base = generateRun(GenerateRequest.parse({ prompt: "A cube.", resolution: "256p", numFrames: 9 }));
    assert.throws(
      () => planGeneration(base, model),
      (e: unknown) => e instanceof ValidationError && e.field === "numInferenceSteps",
    );
    assert.throws(
      () => planGeneration({ ...base, numInferenceSteps: 4, guidanceScale: 3 }, model),
      (e: unknown) => e instanceof ValidationError && e.field === "guidanceScale",
    );
    assert.throws(
      () => planGeneration({ ...base, numInferenceSteps: 4, guidanceScale: 1, task: "policy" }, model),
      (e: unknown) => e instanceof ValidationError && e.field === "task" && /vision modes only/.test(e.message),
    );
    // The base checkpoint plans without sigmas.
    const basePlan = planGeneration(base, await loadGeneratorModelConfig(join(FIXTURES, "cosmos3-tiny")));
    assert.equal(basePlan.sampler.sigmas, undefined);
  });
});
