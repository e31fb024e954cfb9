/**
 * Everything the Generator engine takes for one run, per CFG branch: the prompt ids, the packed
 * layout, the [3, L] positions and the noisy-token mask (what `Cosmos3OmniTransformer.forward`
 * takes as `input_ids`, `position_ids`, `und_len`, `sequence_length` and the `*_mse_loss_indexes`).
 * The uncond branch exists only with classifier-free guidance (guidance ≠ 1: `do_classifier_free_guidance`).
 *
 * @example
 * ```ts
 * import { generatorInputs, loadGeneratorTextTokenizer, planGeneration } from "./mod.ts";
 * const tok = await loadGeneratorTextTokenizer("test/fixtures/qwen3vl-tiny");
 * const plan = planGeneration({
 *   task: "t2v", prompt: "Waves.", width: 96, height: 64, numFrames: 9, fps: 24,
 *   numInferenceSteps: 3, guidanceScale: 6, flowShift: 10,
 * });
 * const inputs = generatorInputs(plan, tok);
 * inputs.cond.length === inputs.cond.inputIds.length + plan.visionTokens; // true
 * ```
 * @module
 */
import { DEFAULT_GENERATOR_MODEL, type GeneratorModelConfig } from "./config.ts";
import { type BranchLayout, branchLayout, type GeneratorPlan } from "./plan.ts";
import { type GeneratorPrompts, generatorPrompts, type GeneratorTextTokenizer } from "./prompt.ts";

/** One CFG branch: its prompt ids and layout. */
export interface BranchInputs extends BranchLayout {
  inputIds: number[];
}

/** Both branches of a run (uncond only with CFG). */
export interface GeneratorInputs {
  prompts: GeneratorPrompts;
  cond: BranchInputs;
  uncond?: BranchInputs;
}

/** The prompt ids and per-branch layouts of a planned run. */
export function generatorInputs(
  plan: GeneratorPlan,
  tok: GeneratorTextTokenizer,
  model: GeneratorModelConfig = DEFAULT_GENERATOR_MODEL,
): GeneratorInputs {
  const prompts = generatorPrompts(tok, plan.prompt);
  const branch = (ids: number[]): BranchInputs => ({ ...branchLayout(plan, ids.length, model), inputIds: ids });
  return {
    prompts,
    cond: branch(prompts.cond),
    uncond: plan.sampler.cfg ? branch(prompts.uncond) : undefined,
  };
}
