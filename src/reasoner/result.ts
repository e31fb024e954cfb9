/**
 * Assembles a {@link ReasonResult} from the raw model output: reasoning vs answer, the
 * workflow's parsed form, and the raw text kept as-is.
 *
 * @example
 * ```ts
 * import { reasonResult } from "./result.ts";
 * const r = reasonResult({ task: "physical_plausibility", reasoning: false, subjects: undefined }, "Implausible.", { backend: "test" });
 * r.parsed; // { kind: "label", label: "implausible" }
 * ```
 * @module
 */
import type { ReasonRequest } from "../schema/reason_request.ts";
import type { ReasonResult, Usage } from "../schema/results.ts";
import { parseAnswer } from "./parse.ts";
import { splitThink } from "./think.ts";

/** Builds the result of one Reasoner call. */
export function reasonResult(
  req: Pick<ReasonRequest, "task" | "reasoning" | "subjects">,
  text: string,
  extra: { backend: string; usage?: Usage; finishReason?: string; reasoning?: string },
): ReasonResult {
  const split = extra.reasoning !== undefined
    ? { reasoning: extra.reasoning.trim(), answer: splitThink(text).answer }
    : splitThink(text, { expectReasoning: req.reasoning, truncated: extra.finishReason === "length" });
  const raw = extra.reasoning !== undefined ? `<think>\n${extra.reasoning}\n</think>\n\n${text}` : text;
  return {
    task: req.task,
    text: raw,
    ...(split.reasoning !== undefined ? { reasoning: split.reasoning } : {}),
    answer: split.answer,
    parsed: parseAnswer(req.task, split.answer, { subjects: req.subjects }),
    ...(extra.usage ? { usage: extra.usage } : {}),
    ...(extra.finishReason ? { finishReason: extra.finishReason } : {}),
    backend: extra.backend,
  };
}
