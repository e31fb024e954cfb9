/**
 * Sampling parameters and the seed's presets: the Reasoner with and without
 * explicit reasoning, and the Generator's prompt upsampling.
 *
 * @example
 * ```ts
 * import { reasonerSampling } from "./sampling.ts";
 * reasonerSampling(true).temperature; // 0.6
 * ```
 * @module
 */
import { z } from "zod";

/** Token sampling parameters (OpenAI / vLLM names). */
export const SamplingParams = z.object({
  temperature: z.number().min(0).max(2),
  top_p: z.number().gt(0).max(1),
  top_k: z.number().int().min(-1),
  repetition_penalty: z.number().gt(0).max(2),
  presence_penalty: z.number().min(-2).max(2),
  /**
   * The token limit. In a `reason()` request it is the same knob as `maxTokens` (give either, or
   * both equal; two different values are a `ValidationError`); after validation it lives in `maxTokens`.
   */
  max_tokens: z.number().int().min(1).max(131072).optional(),
  seed: z.number().int().min(0).optional(),
}).strict();
export type SamplingParams = z.infer<typeof SamplingParams>;

/** Reasoner sampling without explicit reasoning (seed, Reasoner table). */
export const REASONER_SAMPLING: Readonly<SamplingParams> = Object.freeze({
  top_p: 0.8,
  top_k: 20,
  repetition_penalty: 1.0,
  presence_penalty: 1.5,
  temperature: 0.7,
});

/** Reasoner sampling with explicit reasoning (seed, Reasoner table). */
export const REASONER_SAMPLING_WITH_REASONING: Readonly<SamplingParams> = Object.freeze({
  top_p: 0.95,
  top_k: 20,
  repetition_penalty: 1.0,
  presence_penalty: 0.0,
  temperature: 0.6,
});

/** Generator prompt upsampling defaults (seed, Generator table). */
export const PROMPT_UPSAMPLING_SAMPLING: Readonly<SamplingParams> = Object.freeze({
  max_tokens: 20000,
  temperature: 0.7,
  top_p: 0.8,
  top_k: 20,
  repetition_penalty: 1.0,
  presence_penalty: 1.5,
  seed: 3407,
});

/** The preset for a Reasoner call. */
export function reasonerSampling(reasoning: boolean): SamplingParams {
  return { ...(reasoning ? REASONER_SAMPLING_WITH_REASONING : REASONER_SAMPLING) };
}

/**
 * The format instruction appended to the user prompt for explicit reasoning.
 * The seed's copy lost its angle-bracket tags in HTML rendering ("Write your final
 * answer immediately after the tag."); Cosmos/Qwen3 reasoning uses `<think>…</think>`,
 * which is restored here.
 */
export const REASONING_INSTRUCTION =
  "Answer the question using the following format:\n<think>\nYour reasoning.\n</think>\n\nWrite your final answer immediately after the </think> tag.";

/** Appends {@link REASONING_INSTRUCTION} to a prompt (once). */
export function withReasoningInstruction(prompt: string): string {
  return prompt.includes(REASONING_INSTRUCTION) ? prompt : `${prompt.trimEnd()}\n\n${REASONING_INSTRUCTION}`;
}
