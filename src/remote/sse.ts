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
import { RemoteError } from "../errors.ts";

/** One dispatched event. */
export interface SseEvent {
  event?: string;
  data: string;
  id?: string;
}

/** Incremental SSE parser: feed text, get the events it completes. */
export class SseParser {
  #buf = "";
  #data: string[] = [];
  #event: string | undefined;
  #id: string | undefined;
  #hasData = false;

  /** Feeds decoded text. */
  push(text: string): SseEvent[] {
    this.#buf += text;
    const out: SseEvent[] = [];
    for (;;) {
      const m = /\r\n|\r|\n/.exec(this.#buf);
      if (!m) break;
      // A lone "\r" at the very end may be the first half of "\r\n": wait for more.
      if (m[0] === "\r" && m.index === this.#buf.length - 1) break;
      const line = this.#buf.slice(0, m.index);
      this.#buf = this.#buf.slice(m.index + m[0].length);
      const ev = this.#line(line);
      if (ev) out.push(ev);
    }
    return out;
  }

  /** Ends the stream: a last event without its blank line is still dispatched. */
  end(): SseEvent[] {
    const out: SseEvent[] = [];
    if (this.#buf) {
      const ev = this.#line(this.#buf.replace(/\r$/, ""));
      this.#buf = "";
      if (ev) out.push(ev);
    }
    const last = this.#line("");
    if (last) out.push(last);
    return out;
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
      this.#hasData = false;
      this.#event = undefined;
      return ev;
    }
    if (line.startsWith(":")) return undefined; // comment / keep-alive
    const colon = line.indexOf(":");
    const field = colon < 0 ? line : line.slice(0, colon);
    let value = colon < 0 ? "" : line.slice(colon + 1);
    if (value.startsWith(" ")) value = value.slice(1);
    if (field === "data") {
      this.#data.push(value);
      this.#hasData = true;
    } else if (field === "event") this.#event = value;
    else if (field === "id") this.#id = value;
    return undefined;
  }
}

/** Events of a byte stream (a fetch body or any iterable of chunks). */
export async function* sseEvents(
  body: ReadableStream<Uint8Array> | AsyncIterable<Uint8Array> | Iterable<Uint8Array>,
): AsyncGenerator<SseEvent> {
  const decoder = new TextDecoder("utf-8");
  const parser = new SseParser();
  for await (const chunk of body as AsyncIterable<Uint8Array>) {
    yield* parser.push(decoder.decode(chunk, { stream: true }));
  }
  yield* parser.push(decoder.decode());
  yield* parser.end();
}

/** One chat-completions stream chunk (the fields we read). */
export interface ChatChunk {
  id?: string;
  model?: string;
  choices?: {
    index?: number;
    delta?: { role?: string; content?: string | null; reasoning_content?: string | null; reasoning?: string | null };
    finish_reason?: string | null;
  }[];
  usage?: { prompt_tokens?: number; completion_tokens?: number; total_tokens?: number } | null;
}

/**
 * Chat-completion chunks of an SSE stream, up to `[DONE]`.
 * @throws {RemoteError} for an `{"error": …}` event or a chunk that is not JSON.
 */
export async function* chatChunks(events: AsyncIterable<SseEvent>): AsyncGenerator<ChatChunk> {
  for await (const ev of events) {
    if (ev.data === "[DONE]") return;
    let json: unknown;
    try {
      json = JSON.parse(ev.data);
    } catch (e) {
      throw new RemoteError(`The server sent a stream event that is not JSON: ${ev.data.slice(0, 200)}`, {
        hint: "Check that the URL points at an OpenAI-compatible server (vLLM or NIM).",
        cause: e,
      });
    }
    const obj = json as Record<string, unknown>;
    if (ev.event === "error" || (obj && typeof obj === "object" && obj.error)) {
      const err = obj.error as Record<string, unknown> | string | undefined;
      const message = typeof err === "string" ? err : typeof err?.message === "string" ? err.message : ev.data;
      const code = typeof err === "object" && typeof err?.code === "number" ? err.code : undefined;
      throw new RemoteError(`The server stopped the stream with an error: ${message}`, {
        status: code,
        serverMessage: message,
        hint: "The server's log says more; shorten the request or lower max tokens if it ran out of context.",
      });
    }
    yield json as ChatChunk;
  }
}
