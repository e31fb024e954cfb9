/**
 * SSE parsing across arbitrary chunk boundaries: the same stream split at every byte
 * offset (inside UTF-8 characters, CRLF pairs and field names) and byte by byte gives the
 * same events; `[DONE]` ends the chat stream and the usage chunk is read. The parser is linear
 * and caps a line (MAX_SSE_LINE_CHARS), so a stream without line breaks cannot grow memory.
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { RemoteError } from "../../src/errors.ts";
import { chatChunks, MAX_SSE_LINE_CHARS, type SseEvent, sseEvents, SseParser } from "../../src/remote/sse.ts";
import { chatSse } from "./_server.ts";

const enc = new TextEncoder();

async function collect(chunks: Uint8Array[]): Promise<SseEvent[]> {
  const out: SseEvent[] = [];
  for await (const e of sseEvents(chunks)) out.push(e);
  return out;
}

const MIXED = ": keep-alive comment\r\n" +
  'event: message\r\nid: 7\r\ndata: {"t":"caf\u00e9 \u6f22\u5b57 \ud83e\udd16"}\r\n\r\n' +
  "data: first line\ndata: second line\n\n" +
  "data:no-space\r\r" +
  "data: [DONE]\n\n";

const EXPECTED: SseEvent[] = [
  { event: "message", id: "7", data: '{"t":"caf\u00e9 \u6f22\u5b57 \ud83e\udd16"}' },
  { id: "7", data: "first line\nsecond line" },
  { id: "7", data: "no-space" },
  { id: "7", data: "[DONE]" },
];

describe("sseEvents", () => {
  test("whole stream", async () => {
    assert.deepEqual(await collect([enc.encode(MIXED)]), EXPECTED);
  });

  test("split in two at every byte offset", async () => {
    const bytes = enc.encode(MIXED);
    for (let i = 0; i <= bytes.length; i++) {
      assert.deepEqual(await collect([bytes.slice(0, i), bytes.slice(i)]), EXPECTED, `split at ${i}`);
    }
  });

  test("one byte at a time, and in three uneven pieces everywhere", async () => {
    const bytes = enc.encode(MIXED);
    assert.deepEqual(await collect(Array.from(bytes, (b) => new Uint8Array([b]))), EXPECTED);
    for (let i = 1; i < bytes.length; i += 5) {
      for (let j = i; j < bytes.length; j += 11) {
        assert.deepEqual(
          await collect([bytes.slice(0, i), bytes.slice(i, j), bytes.slice(j)]),
          EXPECTED,
          `split at ${i},${j}`,
        );
      }
    }
  });

  test("a last event without its blank line is still delivered; blank-only events are not", () => {
    const p = new SseParser();
    assert.deepEqual(p.push("\n\nevent: ping\n\ndata: a"), []);
    assert.deepEqual(p.end(), [{ data: "a" }]);
  });
});

describe("chatChunks", () => {
  const script = {
    content: '<think>\nA; B \u2014 \u00e9\n</think>\n\n[{"bbox_2d": [1, 2, 3, 4], "label": "cup"}]',
    chunkChars: 4,
    usage: { prompt_tokens: 33, completion_tokens: 21, total_tokens: 54 },
  };

  test("content, finish reason and usage from a stream split at every byte offset", async () => {
    const bytes = enc.encode(chatSse(script, "m").join("") + 'data: {"never":"read"}\n\n');
    for (let i = 0; i <= bytes.length; i += 1) {
      let text = "";
      let finish: string | null | undefined;
      let usage: unknown;
      for await (const c of chatChunks(sseEvents([bytes.slice(0, i), bytes.slice(i)]))) {
        for (const ch of c.choices ?? []) {
          text += ch.delta?.content ?? "";
          finish = ch.finish_reason ?? finish;
        }
        if (c.usage) usage = c.usage;
        assert.equal("never" in c, false, "[DONE] ends the stream");
      }
      assert.equal(text, script.content, `split at ${i}`);
      assert.equal(finish, "stop");
      assert.deepEqual(usage, script.usage);
    }
  });
});

describe("SSE parser bounds: a line cap, linear time", () => {
  /** `total` bytes of "a" with no line break, in 64 KiB chunks; counts what the parser pulled. */
  function* noNewline(total: number, pulled: { bytes: number }): Generator<Uint8Array> {
    const piece = new Uint8Array(64 * 1024).fill(97);
    for (let sent = 0; sent < total; sent += piece.length) {
      pulled.bytes += piece.length;
      yield piece;
    }
  }

  test("50 MB without a newline is rejected fast, with a RemoteError, having read no more than the cap", async () => {
    const pulled = { bytes: 0 };
    const t0 = Date.now();
    const err = await (async () => {
      for await (const _ of sseEvents(noNewline(50 << 20, pulled))) { /* none */ }
    })().catch((e) => e);
    const ms = Date.now() - t0;
    assert.ok(err instanceof RemoteError, String(err));
    assert.match(err.message, /line longer than 16777216 characters/);
    assert.ok(pulled.bytes <= MAX_SSE_LINE_CHARS + 64 * 1024, `pulled ${pulled.bytes} bytes`);
    assert.ok(ms < 3000, `took ${ms} ms`);
  });

  test("many data lines without a blank line are capped too (one event's data)", () => {
    const p = new SseParser({ maxLineChars: 1000 });
    assert.throws(() => {
      for (let i = 0; i < 100; i++) p.push("data: " + "x".repeat(20) + "\n");
    }, RemoteError);
  });

  /** Best of 5 times of parsing `chunks` (the machine is shared: the best run is the least disturbed). */
  function timeParse(chunks: string[]): number {
    let best = Infinity;
    for (let k = 0; k < 5; k++) {
      const t0 = performance.now();
      const p = new SseParser();
      let n = 0;
      for (const c of chunks) n += p.push(c).length;
      n += p.end().length;
      best = Math.min(best, performance.now() - t0);
      assert.ok(n >= 1);
    }
    return best;
  }

  const split = (s: string, size: number) =>
    Array.from({ length: Math.ceil(s.length / size) }, (_, i) => s.slice(i * size, i * size + size));

  test("one long line in small chunks: 4x the size takes about 4x the time (not 16x)", () => {
    const line = (n: number) => split("data: " + "x".repeat(n) + "\n\n", 1024);
    timeParse(line(1 << 18)); // warm-up
    const small = timeParse(line(1 << 20));
    const big = timeParse(line(1 << 22));
    assert.ok(big / Math.max(small, 2) < 8, `1 MiB ${small.toFixed(1)} ms, 4 MiB ${big.toFixed(1)} ms`);
  });

  test("many events: 4x the events take about 4x the time", () => {
    const events = (n: number) =>
      split(Array.from({ length: n }, (_, i) => `data: {"i":${i},"t":"${"y".repeat(60)}"}\r\n\r\n`).join(""), 1000);
    timeParse(events(10_000));
    const small = timeParse(events(40_000));
    const big = timeParse(events(160_000));
    // Linear gives ~4; quadratic would give ~16. The margin absorbs GC and a busy machine.
    assert.ok(big / Math.max(small, 5) < 10, `40k ${small.toFixed(1)} ms, 160k ${big.toFixed(1)} ms`);
  });
});
