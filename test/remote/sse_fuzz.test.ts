/**
 * Seeded fuzz of the SSE parser and the chat-chunk reader (deterministic: the same seed gives
 * the same cases in CI). Random streams built from SSE's own pieces (fields, comments, CR / LF
 * / CRLF mixes, multi-line data, non-ASCII, NUL) and from random bytes (invalid UTF-8
 * included) are parsed whole and at random chunk boundaries (inside UTF-8 characters and CRLF
 * pairs too). Checked: the events match an independent reading of the spec, chunk boundaries
 * never change them, and the only errors are RemoteErrors.
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { RemoteError } from "../../src/errors.ts";
import { ChatChunk, chatChunks, type SseEvent, sseEvents, SseParser } from "../../src/remote/sse.ts";
import { rng } from "./_fuzz.ts";

const SEED = 20261129;

const PIECES = [
  "data",
  "data:",
  "data: ",
  "data:  ",
  "event:",
  "event: message",
  "event: error",
  "id: 7",
  "id:",
  "id: a\0b",
  "retry: 300",
  ":",
  ": keep-alive",
  "field",
  "dat",
  "x",
  " ",
  "é",
  "漢字",
  "🤖",
  "\r",
  "\n",
  "\r\n",
  "\r\n",
  "\n\n",
  "\r\r",
  "[DONE]",
  '{"a":1}',
  "\0",
  "\t",
  ":data",
  "data:data:",
  "\uFEFF",
];

function randomText(r: () => number): string {
  const n = Math.floor(r() * 40);
  let s = "";
  for (let i = 0; i < n; i++) {
    const k = r();
    s += k < 0.85 ? PIECES[Math.floor(r() * PIECES.length)] : String.fromCharCode(32 + Math.floor(r() * 95));
  }
  return s;
}

function randomBytes(r: () => number): Uint8Array {
  const n = Math.floor(r() * 80);
  const b = new Uint8Array(n);
  for (let i = 0; i < n; i++) {
    const k = r();
    // Line breaks and ':' often, so the bytes still make lines and fields.
    b[i] = k < 0.1 ? 10 : k < 0.17 ? 13 : k < 0.22 ? 58 : Math.floor(r() * 256);
  }
  return b;
}

/** Random cuts of `bytes` (anywhere, inside UTF-8 sequences and CRLF pairs included). */
function randomSplit(bytes: Uint8Array, r: () => number): Uint8Array[] {
  const out: Uint8Array[] = [];
  let at = 0;
  while (at < bytes.length) {
    const len = r() < 0.3 ? 1 : 1 + Math.floor(r() * 9);
    out.push(bytes.slice(at, at + len));
    at += len;
  }
  if (r() < 0.2) out.splice(Math.floor(r() * (out.length + 1)), 0, new Uint8Array()); // empty chunks happen
  return out;
}

/** The spec's reading of a whole decoded stream, written independently of SseParser. */
function reference(text: string): SseEvent[] {
  const events: SseEvent[] = [];
  let data: string[] = [];
  let hasData = false;
  let event: string | undefined;
  let id: string | undefined;
  const line = (l: string) => {
    if (l === "") {
      if (hasData) {
        events.push({
          data: data.join("\n"),
          ...(event !== undefined ? { event } : {}),
          ...(id !== undefined ? { id } : {}),
        });
      }
      data = [];
      hasData = false;
      event = undefined;
      return;
    }
    if (l[0] === ":") return;
    const c = l.indexOf(":");
    const name = c < 0 ? l : l.slice(0, c);
    const value = c < 0 ? "" : l.slice(c + 1).replace(/^ /, "");
    if (name === "data") {
      data.push(value);
      hasData = true;
    } else if (name === "event") event = value;
    else if (name === "id" && !value.includes("\0")) id = value;
  };
  for (const l of text.split(/\r\n|\r|\n/)) line(l);
  line("");
  return events;
}

/** Events of a whole string (one push), or the error. */
function whole(text: string, maxLineChars?: number): SseEvent[] | Error {
  try {
    const p = new SseParser({ maxLineChars });
    return [...p.push(text), ...p.end()];
  } catch (e) {
    return e as Error;
  }
}

async function chunked(chunks: Uint8Array[], maxLineChars?: number): Promise<SseEvent[] | Error> {
  const out: SseEvent[] = [];
  try {
    for await (const ev of sseEvents(chunks, { maxLineChars })) out.push(ev);
    return out;
  } catch (e) {
    return e as Error;
  }
}

describe("SSE parser fuzz (seeded)", () => {
  test("2000 random SSE-piece streams: whole == reference == any chunking; errors are RemoteErrors", async () => {
    const r = rng(SEED);
    const enc = new TextEncoder();
    let events = 0;
    for (let i = 0; i < 2000; i++) {
      const text = randomText(r);
      const want = reference(text);
      const got = whole(text);
      assert.ok(!(got instanceof Error), `case ${i}: ${got}`);
      assert.deepEqual(got, want, `case ${i}: ${JSON.stringify(text)}`);
      // Bytes go through the UTF-8 decoder, which drops one leading BOM, as the SSE spec says to.
      const split = await chunked(randomSplit(enc.encode(text), r));
      assert.deepEqual(split, reference(text.replace(/^\uFEFF/, "")), `case ${i} split: ${JSON.stringify(text)}`);
      events += want.length;
    }
    assert.ok(events > 700, `the cases hold events (${events})`);
  });

  test("1000 random byte streams (invalid UTF-8 too): chunk boundaries never change the events", async () => {
    const r = rng(SEED + 1);
    for (let i = 0; i < 1000; i++) {
      const bytes = randomBytes(r);
      const once = await chunked([bytes]);
      const split = await chunked(randomSplit(bytes, r));
      const oneByOne = await chunked(Array.from(bytes, (b) => new Uint8Array([b])));
      assert.ok(!(once instanceof Error), `case ${i}: ${once}`);
      assert.deepEqual(split, once, `case ${i}`);
      assert.deepEqual(oneByOne, once, `case ${i} byte by byte`);
      assert.deepEqual(once, reference(new TextDecoder().decode(bytes)), `case ${i} vs reference`);
    }
  });

  test("1000 cases under a tiny line cap: the cap throws a RemoteError whatever the chunking, or nothing changes", async () => {
    const r = rng(SEED + 2);
    const enc = new TextEncoder();
    let capped = 0;
    for (let i = 0; i < 1000; i++) {
      const text = randomText(r).replace(/^\uFEFF/, ""); // the decoder would drop it (see above)
      const max = 4 + Math.floor(r() * 30);
      const a = whole(text, max);
      const b = await chunked(randomSplit(enc.encode(text), r), max);
      if (a instanceof Error || b instanceof Error) {
        assert.ok(a instanceof RemoteError, `case ${i}: ${a}`);
        assert.ok(b instanceof RemoteError, `case ${i} split: ${b}`);
        assert.match(a.message, /not a server-sent event stream/);
        capped++;
      } else {
        assert.deepEqual(b, a, `case ${i}`);
        assert.deepEqual(a, reference(text));
      }
    }
    assert.ok(capped > 100 && capped < 1000, `some cases hit the cap (${capped})`);
  });
});

/** A random JSON-ish payload: sometimes a chat chunk, often something else. */
function randomPayload(r: () => number, depth = 0): unknown {
  const k = r();
  const text = () => ["Hi", "", "é", "</think>", "[DONE]"][Math.floor(r() * 5)];
  if (depth > 2 || k < 0.15) return [null, 0, -1, 1.5, true, "x", NaN][Math.floor(r() * 7)];
  if (k < 0.45) {
    const choice = () => ({
      ...(r() < 0.8 ? { index: r() < 0.9 ? 0 : randomPayload(r, depth + 1) } : {}),
      ...(r() < 0.8
        ? {
          delta: r() < 0.8
            ? { content: r() < 0.85 ? text() : randomPayload(r, depth + 1) }
            : randomPayload(r, depth + 1),
        }
        : {}),
      ...(r() < 0.3 ? { finish_reason: r() < 0.8 ? "stop" : randomPayload(r, depth + 1) } : {}),
    });
    return {
      ...(r() < 0.8 ? { id: r() < 0.9 ? "c" : 5 } : {}),
      choices: r() < 0.85 ? Array.from({ length: Math.floor(r() * 3) }, choice) : randomPayload(r, depth + 1),
      ...(r() < 0.2
        ? { usage: r() < 0.7 ? { prompt_tokens: 3, completion_tokens: 2 } : randomPayload(r, depth + 1) }
        : {}),
    };
  }
  if (k < 0.55) return { error: r() < 0.5 ? { message: "boom", code: 400 } : randomPayload(r, depth + 1) };
  if (k < 0.75) return Array.from({ length: Math.floor(r() * 3) }, () => randomPayload(r, depth + 1));
  return Object.fromEntries(
    Array.from({ length: Math.floor(r() * 3) }, (_, i) => [`k${i}`, randomPayload(r, depth + 1)]),
  );
}

describe("chatChunks fuzz (seeded)", () => {
  test("2000 random event sequences: chunks that come out are chat chunks; every error is a RemoteError", async () => {
    const r = rng(SEED + 3);
    const enc = new TextEncoder();
    let yielded = 0;
    let failed = 0;
    for (let i = 0; i < 2000; i++) {
      let stream = "";
      const n = Math.floor(r() * 5);
      for (let j = 0; j < n; j++) {
        const k = r();
        const data = k < 0.1 ? "not json <html>" : k < 0.15 ? "[DONE]" : JSON.stringify(randomPayload(r)) ?? "null";
        stream += `${r() < 0.1 ? "event: error\n" : ""}data: ${data}\n\n`;
      }
      if (r() < 0.1) stream = r() < 0.5 ? '{"choices": []}' : "<html><body>Bad gateway</body></html>";
      try {
        for await (const c of chatChunks(sseEvents(randomSplit(enc.encode(stream), r)))) {
          assert.ok(ChatChunk.safeParse(c).success, `case ${i}: ${JSON.stringify(c)}`);
          yielded++;
        }
      } catch (e) {
        assert.ok(e instanceof RemoteError, `case ${i}: ${e}`);
        assert.ok(e.hint, `case ${i}: a hint`);
        failed++;
      }
    }
    assert.ok(yielded > 200 && failed > 200, `both outcomes occur (${yielded} chunks, ${failed} errors)`);
  });
});
