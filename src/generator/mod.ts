/**
 * Request planning for the native Cosmos 3 Generator (pure TypeScript): a validated `generate()` /
 * `rollout()` request becomes what the engine runs, mirroring diffusers' `Cosmos3OmniPipeline`:
 *
 * - {@link planGeneration} (plan.ts): latent / token shapes, clean vs noisy frames and action tokens,
 *   conditioning geometry, sound length, action rows, sampler settings, the checkpoint's rules;
 *   {@link generateRun} / {@link rolloutRun} turn validated requests into its input;
 * - {@link generatorPrompts} (prompt.ts): the cond / uncond prompt ids;
 * - {@link packedPositions} (positions.ts): the unified 3D mRoPE positions;
 * - {@link generatorInputs} (inputs.ts): both CFG branches' ids, layouts, positions and noisy masks;
 * - {@link conditioningClip} (conditioning.ts): the pixel clip the VAE encodes (i2v, v2v, action runs);
 * - {@link loadGeneratorModelConfig} (config.ts): what planning reads from a checkpoint.
 *
 * @example
 * ```ts
 * import { GenerateRequest } from "../schema/mod.ts";
 * import { generateRun, planGeneration } from "./mod.ts";
 * const plan = planGeneration(generateRun(GenerateRequest.parse({ prompt: "Waves.", resolution: "720p" })));
 * plan.visionTokens; // 44160
 * ```
 * @module
 */
export * from "./config.ts";
export * from "./inputs.ts";
export * from "./plan.ts";
export * from "./positions.ts";
export * from "./prompt.ts";
export * from "./python_format.ts";
export * from "./conditioning.ts";
export * from "./distilled.ts";
