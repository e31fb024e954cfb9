/**
 * Streaming text for `reason()`: tokens appear as they arrive in ONE output updated in place,
 * with the reasoning (Cosmos explicit reasoning: `<think>…</think>`, or a separate
 * `reasoning` channel) shown apart from the final answer.
 *
 * @example
 * ```ts
 * import { streamText } from "./stream.ts";
 * const s = streamText({ title: "Caption" });
 * for (const t of ["<think>", "A robot", "…</think>", "The arm picks the cup."]) s.push(t);
 * await s.done();
 * // with reason(): await reason(req, { onToken: s.onToken }); await s.done();
 * ```
 * @module
 */
import process from "node:process";
import { LiveDisplay } from "./live.ts";
import { hasRichDisplay } from "./runtime.ts";
import { escapeHtml, type MimeBundle } from "./mime.ts";

/** A streamed piece of text on a channel (the shape `reason()`'s `onToken` reports). */
export interface StreamToken {
  text: string;
  channel: "reasoning" | "answer";
}

/** Reasoning and answer split from raw model output. */
export interface ThinkSplit {
  reasoning: string;
  answer: string;
  /** True while a `<think>` is open (reasoning still streaming). */
  thinking: boolean;
}

/**
 * Splits raw output into reasoning and answer: the text inside `<think>…</think>` (also when
 * only `</think>` appears, the opening tag being part of the prompt) and the text after it.
 * @example
 * ```ts
 * import { splitThink } from "./stream.ts";
 * splitThink("<think>hmm</think>\nYes."); // { reasoning: "hmm", answer: "Yes.", thinking: false }
 * ```
 */
export function splitThink(raw: string): ThinkSplit {
  const open = raw.indexOf("<think>");
  const close = raw.indexOf("</think>");
  if (open < 0 && close < 0) return { reasoning: "", answer: raw.trim(), thinking: false };
  if (close < 0) return { reasoning: raw.slice(open + 7).trim(), answer: raw.slice(0, open).trim(), thinking: true };
  const start = open >= 0 && open < close ? open + 7 : 0;
  return { reasoning: raw.slice(start, close).trim(), answer: raw.slice(close + 8).trim(), thinking: false };
}

/** What a stream display shows. */
export interface StreamState {
  title?: string;
  reasoning: string;
  answer: string;
  /** Still receiving tokens. */
  streaming: boolean;
  thinking?: boolean;
  tokens?: number;
}

/**
 * The MIME bundle of a stream's state: the reasoning in a `<details>` block, the answer below.
 * @example
 * ```ts
 * import { streamBundle } from "./stream.ts";
 * streamBundle({ reasoning: "r", answer: "a", streaming: false })["text/plain"]; // "Reasoning:\nr\n\nAnswer:\na"
 * ```
 */
export function streamBundle(s: StreamState): MimeBundle {
  const pre = "white-space:pre-wrap;font:13px/1.45 ui-monospace,monospace;margin:4px 0";
  const reasoning = s.reasoning || s.thinking
    ? `<details class="cosmos-reasoning" open style="border-left:3px solid #bbb;padding-left:8px;color:#555">` +
      `<summary style="cursor:pointer;font:12px sans-serif">Reasoning${s.thinking ? " …" : ""}</summary>` +
      `<div style="${pre}">${escapeHtml(s.reasoning)}</div></details>`
    : "";
  const status = s.streaming
    ? `<div class="cosmos-stream-status" style="font:11px sans-serif;color:#888">streaming…${
      s.tokens ? ` ${s.tokens} tokens` : ""
    }</div>`
    : "";
  const title = s.title ? `<div style="font:bold 13px sans-serif">${escapeHtml(s.title)}</div>` : "";
  const html = `<div class="cosmos-stream" data-streaming="${s.streaming}">${title}${reasoning}` +
    `<div class="cosmos-answer" style="${pre};font-family:sans-serif;font-size:14px">${
      escapeHtml(s.answer)
    }</div>${status}</div>`;
  const plain = [
    s.title ? `${s.title}\n` : "",
    s.reasoning ? `Reasoning:\n${s.reasoning}\n\n` : "",
    s.reasoning ? `Answer:\n${s.answer}` : s.answer,
    s.streaming ? " …" : "",
  ].join("");
  return { "text/html": html, "text/plain": plain };
}

/** Options of {@link streamText}. */
export interface StreamTextOptions {
  title?: string;
  /** Minimum time between two updates in milliseconds (default 80). */
  throttleMs?: number;
}

/** A live text output: `push()` tokens, then `done()`. */
export interface TextStream {
  /** Appends a token: a raw string (`<think>` tags parsed) or a channel token. */
  push(token: string | StreamToken): void;
  /** `push` bound to this stream, ready for `reason(req, { onToken })`. */
  readonly onToken: (token: StreamToken) => void;
  /** Renders the final state (optionally replaced by the final result) and waits for it. */
  done(final?: { reasoning?: string; answer: string }): Promise<void>;
  /** The text so far. */
  readonly reasoning: string;
  readonly answer: string;
  /** The display id of the output (for tests and custom updates). */
  readonly displayId: string;
  /** Messages sent so far (first display + updates). */
  readonly messages: number;
}

/**
 * Starts a streaming text output. In a notebook it is one output updated in place; in a
 * plain script the tokens are written to stdout as they come.
 * @example
 * ```ts
 * import { streamText } from "./stream.ts";
 * const s = streamText();
 * s.push({ channel: "reasoning", text: "The cup is left of the plate." });
 * s.push({ channel: "answer", text: "left" });
 * await s.done();
 * ```
 */
export function streamText(o: StreamTextOptions = {}): TextStream {
  let raw = "";
  let chReasoning = "";
  let chAnswer = "";
  let tokens = 0;
  let streaming = true;
  let final: { reasoning?: string; answer: string } | undefined;
  const plain = !hasRichDisplay();
  let plainChannel: "reasoning" | "answer" | undefined;

  const state = (): StreamState => {
    if (final) return { title: o.title, reasoning: final.reasoning ?? "", answer: final.answer, streaming, tokens };
    const split = splitThink(raw);
    const join = (a: string, b: string) => [a, b].filter(Boolean).join("\n");
    return {
      title: o.title,
      reasoning: join(chReasoning.trim(), split.reasoning),
      answer: join(chAnswer.trim(), split.answer),
      thinking: split.thinking,
      streaming,
      tokens,
    };
  };
  const live = new LiveDisplay(() => streamBundle(state()), { throttleMs: o.throttleMs ?? 80 });

  const push = (token: string | StreamToken): void => {
    tokens++;
    if (typeof token === "string") raw += token;
    else if (token.channel === "reasoning") chReasoning += token.text;
    else chAnswer += token.text;
    if (plain) {
      const text = typeof token === "string" ? token : token.text;
      const ch = typeof token === "string" ? undefined : token.channel;
      if (ch && ch !== plainChannel) process.stdout.write(`${plainChannel ? "\n" : ""}[${ch}] `);
      plainChannel = ch ?? plainChannel;
      process.stdout.write(text);
      return;
    }
    live.schedule();
  };
  return {
    push,
    onToken: (t: StreamToken) => push(t),
    async done(f) {
      streaming = false;
      final = f;
      if (plain) {
        process.stdout.write("\n");
        return;
      }
      await live.flush();
    },
    get reasoning() {
      return state().reasoning;
    },
    get answer() {
      return state().answer;
    },
    displayId: live.displayId,
    get messages() {
      return live.sent;
    },
  };
}
