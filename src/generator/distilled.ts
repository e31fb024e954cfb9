/**
 * `generate()` requests on a distilled few-step checkpoint (Cosmos3-Super-Text2Image-4Step,
 * -Image2Video-4Step), as diffusers' `Cosmos3DistilledModularPipeline` runs them (58eb52c0
 * `modular_pipelines/cosmos`): the step count is the length of the checkpoint's `distilled_sigmas`,
 * classifier-free guidance is in the weights (scale 1, no unconditional pass, so no negative prompt),
 * the sigmas are fixed (a request's flow shift does not apply; the scheduler's own `shift` does).
 *
 * diffusers raises on `guidance_scale` other than 1 and on another step count; here a step count
 * other than the schedule's is a ValidationError as there, while guidance, negative prompt and flow
 * shift are dropped and listed in `effective.ignored`, so a request written for the base checkpoint
 * still runs and says what did not apply.
 *
 * @example
 * ```ts
 * import { distilledGenerateRequest } from "./distilled.ts";
 * import { GenerateRequest } from "../schema/generate_request.ts";
 * const req = GenerateRequest.parse({ prompt: "A cube.", output: "image", guidanceScale: 4 });
 * const d = distilledGenerateRequest(req, { sigmas: [0.999, 0.75, 0.5, 0.25], shift: 1, stochastic: true });
 * d.effective.numInferenceSteps; // 4
 * d.effective.guidanceScale; // 1
 * d.effective.ignored[0].field; // "guidanceScale"
 * ```
 * @module
 */
import type { Cosmos3DistilledSchedule } from "../checkpoint/cosmos3.ts";
import { ValidationError } from "../errors.ts";
import type { EffectiveGenerate, GenerateRequest } from "../schema/generate_request.ts";

/** A request setting a distilled checkpoint does not use, with why. */
export interface IgnoredSetting {
  field: "guidanceScale" | "negativePrompt" | "flowShift";
  value: unknown;
  reason: string;
}

/** The settings a run on a distilled checkpoint uses. */
export interface DistilledEffective extends EffectiveGenerate {
  /** The fixed schedule: one step per sigma; `stochastic`: each step re-noises (the SDE sampler). */
  distilled: { sigmas: number[]; stochastic: boolean };
  /** Settings of the request that do not apply (empty when there are none). */
  ignored: IgnoredSetting[];
}

/** A validated request as it runs on a distilled checkpoint (see the module docs). */
export type DistilledGenerateRequest = GenerateRequest & { effective: DistilledEffective };

/**
 * `req` with the distilled checkpoint's settings in `effective` (steps = the schedule's length,
 * guidance 1, the scheduler's shift) and its guidance scale, negative prompt and flow shift dropped
 * and listed in `effective.ignored`.
 * @throws {ValidationError} when the request asks for another step count than the schedule has.
 */
export function distilledGenerateRequest(
  req: GenerateRequest,
  schedule: Cosmos3DistilledSchedule,
): DistilledGenerateRequest {
  const steps = schedule.sigmas.length;
  if (req.numInferenceSteps !== undefined && req.numInferenceSteps !== steps) {
    throw new ValidationError([{
      field: "numInferenceSteps",
      value: req.numInferenceSteps,
      allowed: `${steps} or left out`,
      message: `this distilled checkpoint samples on its fixed ${steps}-step schedule (distilled_sigmas)`,
    }]);
  }
  const ignored: IgnoredSetting[] = [];
  if (req.guidanceScale !== undefined && req.guidanceScale !== 1) {
    ignored.push({
      field: "guidanceScale",
      value: req.guidanceScale,
      reason: "classifier-free guidance is distilled into the weights: the scale is 1",
    });
  }
  if (req.negativePrompt !== undefined) {
    ignored.push({
      field: "negativePrompt",
      value: req.negativePrompt,
      reason: "a distilled checkpoint runs no unconditional (negative-prompt) pass",
    });
  }
  if (req.flowShift !== undefined) {
    ignored.push({
      field: "flowShift",
      value: req.flowShift,
      reason: `the distilled sigmas are fixed; the scheduler's shift (${schedule.shift}) applies`,
    });
  }
  const effective: DistilledEffective = {
    ...req.effective,
    numInferenceSteps: steps,
    guidanceScale: 1,
    flowShift: schedule.shift,
    distilled: { sigmas: [...schedule.sigmas], stochastic: schedule.stochastic },
    ignored,
  };
  return { ...req, negativePrompt: undefined, effective };
}
