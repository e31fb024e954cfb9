/**
 * Splits Reasoner output into the `<think>…</think>` reasoning and the final answer —
 * on the whole text ({@link splitThink}) and incrementally while tokens stream in
 * ({@link ThinkStreamSplitter}). The opening tag is often missing (the chat template
 * puts it in the prompt) and the output may be cut off before `</think>`.
 *
 * @example
 * ```ts
 * import { splitThink } from "./think.ts";
 * splitThink("<think>\nThe cup tips.\n</think>\n\nIt falls."); // { reasoning: "The cup tips.", answer: "It falls." }
 * ```
 * @module
 */
import type { TokenEvent } from "../schema/results.ts";

/** Opening reasoning tag of Cosmos 3 / Qwen3 output. */
export const THINK_OPEN = "<think>";
/** Closing reasoning tag; the answer follows it. */
export const THINK_CLOSE = "</think>";

/** Options of {@link splitThink}. */
export interface SplitThinkOptions {
  /** The request asked for explicit reasoning. */
  expectReasoning?: boolean;
  /** The output was cut off (finish reason `length`). */
  truncated?: boolean;
}

/** Reasoning and answer of a full output. */
export interface ThinkSplit {
  reasoning?: string;
  answer: string;
}

/**
 * Splits a full output. With `</think>`: everything before it (less a leading `<think>`)
 * is reasoning. With only `<think>` (cut off): all of it is reasoning and the answer is
 * empty. With no tag: all answer — unless reasoning was expected and the output was
 * truncated, in which case the model never reached its answer and all of it is reasoning.
 */
export function splitThink(text: string, opts: SplitThinkOptions = {}): ThinkSplit {
  const close = text.indexOf(THINK_CLOSE);
  if (close >= 0) {
    const before = stripOpen(text.slice(0, close));
    return { reasoning: before.trim(), answer: text.slice(close + THINK_CLOSE.length).trim() };
  }
  const open = text.indexOf(THINK_OPEN);
  if (open >= 0 && text.slice(0, open).trim() === "") {
    return { reasoning: text.slice(open + THINK_OPEN.length).trim(), answer: "" };
  }
  if (opts.expectReasoning && opts.truncated) return { reasoning: text.trim(), answer: "" };
  return { answer: text.trim() };
}

function stripOpen(s: string): string {
  const i = s.indexOf(THINK_OPEN);
  return i >= 0 && s.slice(0, i).trim() === "" ? s.slice(i + THINK_OPEN.length) : s;
}

/**
 * Routes streamed text to the `reasoning` or `answer` channel without ever emitting a
 * tag (tags split across chunks are held back until they are complete).
 *
 * When reasoning is expected, text before `</think>` goes to `reasoning` even without an
 * opening tag. Otherwise it goes to `answer` unless the output starts with `<think>`.
 */
export class ThinkStreamSplitter {
  #channel: TokenEvent["channel"];
  #pending = "";
  #started = false;
  #closed = false;
  #answerStarted = false;

  constructor(expectReasoning: boolean) {
    this.#channel = expectReasoning ? "reasoning" : "answer";
  }

  /** Feeds one chunk; returns the events it completes. */
  push(text: string): TokenEvent[] {
    this.#pending += text;
    const out: TokenEvent[] = [];
    for (;;) {
      if (!this.#started) {
        const trimmed = this.#pending.trimStart();
        if (trimmed.length === 0) return out;
        if (THINK_OPEN.startsWith(trimmed) && trimmed.length < THINK_OPEN.length) return out; // maybe "<thi"
        this.#started = true;
        if (trimmed.startsWith(THINK_OPEN)) {
          this.#channel = "reasoning";
          this.#pending = trimmed.slice(THINK_OPEN.length);
        }
        continue;
      }
      if (this.#closed) {
        if (!this.#answerStarted) {
          this.#pending = this.#pending.replace(/^\s+/, "");
          if (!this.#pending) return out;
          this.#answerStarted = true;
        }
        if (this.#pending) out.push({ text: this.#pending, channel: "answer" });
        this.#pending = "";
        return out;
      }
      const i = this.#pending.indexOf(THINK_CLOSE);
      if (i >= 0) {
        if (i > 0) out.push({ text: this.#pending.slice(0, i), channel: this.#channel });
        this.#pending = this.#pending.slice(i + THINK_CLOSE.length);
        this.#closed = true;
        this.#channel = "answer";
        continue;
      }
      const keep = partialSuffix(this.#pending, THINK_CLOSE);
      const emit = this.#pending.slice(0, this.#pending.length - keep);
      if (emit) out.push({ text: emit, channel: this.#channel });
      this.#pending = this.#pending.slice(emit.length);
      return out;
    }
  }

  /** Flushes what is held back at the end of the stream. */
  end(): TokenEvent[] {
    const rest = this.#pending;
    this.#pending = "";
    return rest ? [{ text: rest, channel: this.#closed ? "answer" : this.#channel }] : [];
  }
}

/** Length of the longest suffix of `s` that is a proper prefix of `tag`. */
function partialSuffix(s: string, tag: string): number {
  for (let n = Math.min(tag.length - 1, s.length); n > 0; n--) {
    if (s.endsWith(tag.slice(0, n))) return n;
  }
  return 0;
}
