/**
 * The three calls of cosmos-ts.
 *
 * @example
 * ```ts
 * import { reason } from "./mod.ts";
 * const r = await reason({ task: "custom", prompt: "Describe a warehouse." }, { backend: "test/fixtures/qwen3vl-tiny" });
 * ```
 * @module
 */
export { reason } from "./reason.ts";
export { generate } from "./generate.ts";
export { rollout } from "./rollout.ts";
