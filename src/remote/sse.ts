/**
 * Server-sent events (the WHATWG event-stream format) parsed from a byte stream, safe
 * across any chunk boundary — inside a UTF-8 character, a `\r\n` pair or a field name —
 * and the OpenAI chat-completions stream on top of it (`data: {json}` chunks ending
 * with `data: [DONE]`).
 *
 * @example
 * ```ts
 * import { sseEvents } from "./sse.ts";
 * const bytes = new TextEncoder().encode('data: {"a":1}\n\ndata: [DONE]\n\n');
 * for await (const ev of sseEvents([bytes])) console.log(ev.data); // '{"a":1}', '[DONE]'
 * ```
 * @module
 */
import { z } from "zod";
import { RemoteError } from "../errors.ts";

/** One dispatched event. */
export interface SseEvent {
  event?: string;
  data: string;
  id?: string;
}

/**
 * The longest line, and the most data one event may gather, in characters: 16 MiB. A
 * chat-completions chunk is a few hundred bytes; a stream that goes on for megabytes
 * without a line break is not SSE, and buffering it would only grow memory.
 */
export const MAX_SSE_LINE_CHARS = 16 * 1024 * 1024;

/** Options of {@link SseParser} and {@link sseEvents}. */
export interface SseOptions {
  /** Longest line and most data of one event, in characters (default {@link MAX_SSE_LINE_CHARS}). */
  maxLineChars?: number;
}

/** What a parser has seen so far (to tell an empty stream from one that is not SSE). */
export interface SseStats {
  /** Events dispatched. */
  events: number;
  /** Non-blank lines that are neither a known field (`data`, `event`, `id`, `retry`) nor a comment. */
  foreignLines: number;
  /** The first such line, cut at 120 characters. */
  firstForeignLine?: string;
}

/**
 * Incremental SSE parser: feed text, get the events it completes. Linear in the input: each
 * character is scanned once, and an unfinished line is kept as a list of pieces joined
 * once, when its line break arrives.
 * @throws {RemoteError} when a line or an event's data passes `maxLineChars`.
 */
export class SseParser {
  #pending: string[] = [];
  #pendingChars = 0;
  /** The last piece ended in "\r": a "\n" starting the next piece belongs to it. */
  #afterCR = false;
  #data: string[] = [];
  #dataChars = 0;
  #event: string | undefined;
  #id: string | undefined;
  #hasData = false;
  readonly #max: number;
  readonly stats: SseStats = { events: 0, foreignLines: 0 };

  constructor(opts: SseOptions = {}) {
    this.#max = opts.maxLineChars ?? MAX_SSE_LINE_CHARS;
  }

  /** Feeds decoded text. */
  push(text: string): SseEvent[] {
    const out: SseEvent[] = [];
    let start = 0;
    if (this.#afterCR && text.length > 0) {
      this.#afterCR = false;
      if (text.charCodeAt(0) === 10) start = 1;
    }
    const re = /[\r\n]/g; // a fresh lastIndex per call
    re.lastIndex = start;
    for (let m = re.exec(text); m; m = re.exec(text)) {
      const at = m.index;
      this.#grow(at - start);
      const piece = text.slice(start, at);
      const line = this.#pending.length ? this.#pending.join("") + piece : piece;
      this.#pending = [];
      this.#pendingChars = 0;
      start = at + 1;
      if (text.charCodeAt(at) === 13) {
        if (at + 1 < text.length) {
          if (text.charCodeAt(at + 1) === 10) start++;
        } else this.#afterCR = true;
      }
      re.lastIndex = start;
      const ev = this.#line(line);
      if (ev) out.push(ev);
    }
    if (start < text.length) {
      this.#grow(text.length - start);
      this.#pending.push(text.slice(start));
    }
    return out;
  }

  /** Ends the stream: a last event without its blank line is still dispatched. */
  end(): SseEvent[] {
    const out: SseEvent[] = [];
    if (this.#pending.length) {
      const ev = this.#line(this.#pending.join(""));
      this.#pending = [];
      this.#pendingChars = 0;
      if (ev) out.push(ev);
    }
    const last = this.#line("");
    if (last) out.push(last);
    return out;
  }

  #grow(chars: number): void {
    this.#pendingChars += chars;
    if (this.#pendingChars > this.#max) throw tooLong(`a line longer than ${this.#max} characters`);
  }

  #line(line: string): SseEvent | undefined {
    if (line === "") {
      if (!this.#hasData) {
        this.#event = undefined;
        return undefined;
      }
      const ev: SseEvent = { data: this.#data.join("\n") };
      if (this.#event !== undefined) ev.event = this.#event;
      if (this.#id !== undefined) ev.id = this.#id;
      this.#data = [];
      this.#dataChars = 0;
      this.#hasData = false;
      this.#event = undefined;
      this.stats.events++;
      return ev;
    }
    if (line.charCodeAt(0) === 58) return undefined; // ":" comment / keep-alive
    const colon = line.indexOf(":");
    const field = colon < 0 ? line : line.slice(0, colon);
    let value = colon < 0 ? "" : line.slice(colon + 1);
    if (value.charCodeAt(0) === 32) value = value.slice(1);
    if (field === "data") {
      this.#dataChars += value.length + 1;
      if (this.#dataChars > this.#max) throw tooLong(`an event with more than ${this.#max} characters of data`);
      this.#data.push(value);
      this.#hasData = true;
    } else if (field === "event") this.#event = value;
    else if (field === "id") {
      if (!value.includes("\0")) this.#id = value;
    } else if (field !== "retry") {
      if (this.stats.foreignLines++ === 0) this.stats.firstForeignLine = line.slice(0, 120);
    }
    return undefined;
  }
}

function tooLong(what: string): RemoteError {
  return new RemoteError(`The server sent ${what}; that is not a server-sent event stream.`, {
    hint:
      `Check that the URL points at an OpenAI-compatible server (vLLM or NIM). Lines are capped at MAX_SSE_LINE_CHARS (${MAX_SSE_LINE_CHARS}).`,
  });
}

/**
 * Events of a byte stream (a fetch body or any iterable of chunks). Pass `stats` to learn,
 * once the stream ends, whether it held any event at all.
 * @throws {RemoteError} when a line passes the cap (reading stops there: memory stays bounded).
 */
export async function* sseEvents(
  body: ReadableStream<Uint8Array> | AsyncIterable<Uint8Array> | Iterable<Uint8Array>,
  opts: SseOptions & { stats?: (stats: SseStats) => void } = {},
): AsyncGenerator<SseEvent> {
  // The spec drops one leading BOM. We drop it ourselves: Deno's streaming decoder also drops
  // a BOM that merely starts a later chunk (found by test/remote/sse_fuzz.test.ts).
  const decoder = new TextDecoder("utf-8", { ignoreBOM: true });
  const parser = new SseParser(opts);
  opts.stats?.(parser.stats);
  let first = true;
  const decode = (text: string): string => {
    if (!first || text === "") return text;
    first = false;
    return text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
  };
  for await (const chunk of body as AsyncIterable<Uint8Array>) {
    yield* parser.push(decode(decoder.decode(chunk, { stream: true })));
  }
  yield* parser.push(decode(decoder.decode()));
  yield* parser.end();
}

const OptionalText = z.string().nullish();

/** One chat-completions stream chunk: the fields we read (a chunk is checked against them, and passed on whole). */
export const ChatChunk = z.object({
  id: z.string().optional(),
  model: z.string().optional(),
  choices: z.array(z.object({
    index: z.number().int().optional(),
    delta: z.object({
      role: OptionalText,
      content: OptionalText,
      reasoning_content: OptionalText,
      reasoning: OptionalText,
    }).nullish(),
    finish_reason: OptionalText,
  })).nullish(),
  usage: z.object({
    prompt_tokens: z.number().optional(),
    completion_tokens: z.number().optional(),
    total_tokens: z.number().optional(),
  }).nullish(),
});
export type ChatChunk = z.infer<typeof ChatChunk>;

/** Options of {@link chatChunks}. */
export interface ChatChunksOptions {
  /** The SSE parser's stats (see {@link sseEvents}), to say what a stream without events held. */
  stats?: () => SseStats | undefined;
}

const OPENAI_HINT = "Check that the URL points at an OpenAI-compatible server (vLLM or NIM), and its log.";

/** `"starts with …"` of a piece of server output, for messages (short, quoted). */
function preview(text: string): string {
  const t = text.trim();
  return JSON.stringify(t.length > 120 ? t.slice(0, 120) + "…" : t);
}

/**
 * Chat-completion chunks of an SSE stream, up to `[DONE]`.
 * @throws {RemoteError} for an `{"error": …}` event, a chunk that is not JSON or not a chat
 * chunk, a stream with no event at all (an empty body, or JSON / HTML sent as an event
 * stream), and a stream that ends before the server finished (no `finish_reason`, no `[DONE]`).
 */
export async function* chatChunks(
  events: AsyncIterable<SseEvent>,
  opts: ChatChunksOptions = {},
): AsyncGenerator<ChatChunk> {
  let count = 0;
  let finished = false;
  for await (const ev of events) {
    count++;
    if (ev.data === "[DONE]") return;
    let json: unknown;
    let isJson = true;
    try {
      json = JSON.parse(ev.data);
    } catch (e) {
      if (ev.event !== "error") {
        throw new RemoteError(`The server returned a stream event that is not JSON: ${preview(ev.data)}`, {
          hint: OPENAI_HINT,
          cause: e,
        });
      }
      isJson = false;
    }
    const obj = json && typeof json === "object" ? json as Record<string, unknown> : undefined;
    if (ev.event === "error" || obj?.error) {
      const err = obj?.error as Record<string, unknown> | string | undefined;
      const message = typeof err === "string"
        ? err
        : typeof err === "object" && err && typeof err.message === "string"
        ? err.message
        : isJson && typeof obj?.message === "string"
        ? obj.message
        : ev.data;
      const code = typeof err === "object" && err && typeof err.code === "number" ? err.code : undefined;
      throw new RemoteError(`The server stopped the stream with an error: ${message}`, {
        status: code,
        serverMessage: message,
        hint: "The server's log says more; shorten the request or lower max tokens if it ran out of context.",
      });
    }
    const chunk = ChatChunk.safeParse(json);
    if (!chunk.success) {
      const issue = chunk.error.issues[0];
      throw new RemoteError(
        `The server returned a stream chunk that is not a chat completion chunk (${
          issue.path.join(".") || "(chunk)"
        }: ${issue.message}): ${preview(ev.data)}`,
        { hint: OPENAI_HINT },
      );
    }
    if (chunk.data.choices?.some((c) => c.finish_reason)) finished = true;
    yield json as ChatChunk; // as sent: the fields we do not read stay for callers that do
  }
  if (count === 0) {
    const stats = opts.stats?.();
    throw new RemoteError(
      stats?.foreignLines
        ? `The server returned a body that is not a server-sent event stream; it starts with ${
          preview(stats.firstForeignLine ?? "")
        }.`
        : "The server returned an empty event stream.",
      { hint: OPENAI_HINT },
    );
  }
  if (!finished) {
    throw new RemoteError("The stream ended before the server finished its answer (no finish_reason and no [DONE]).", {
      hint: "The server may have crashed or been restarted mid-answer (its log says why); retry.",
    });
  }
}
