/**
 * SSE parsing across arbitrary chunk boundaries: the same stream split at every byte
 * offset (inside UTF-8 characters, CRLF pairs and field names) and byte by byte gives the
 * same events; `[DONE]` ends the chat stream and the usage chunk is read.
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { chatChunks, type SseEvent, sseEvents, SseParser } from "../../src/remote/sse.ts";
import { chatSse } from "./_server.ts";

const enc = new TextEncoder();

async function collect(chunks: Uint8Array[]): Promise<SseEvent[]> {
  const out: SseEvent[] = [];
  for await (const e of sseEvents(chunks)) out.push(e);
  return out;
}

const MIXED =
  ": keep-alive comment\r\n" +
  "event: message\r\nid: 7\r\ndata: {\"t\":\"caf\u00e9 \u6f22\u5b57 \ud83e\udd16\"}\r\n\r\n" +
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
        assert.deepEqual(await collect([bytes.slice(0, i), bytes.slice(i, j), bytes.slice(j)]), EXPECTED, `split at ${i},${j}`);
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
    content: "<think>\nA; B \u2014 \u00e9\n</think>\n\n[{\"bbox_2d\": [1, 2, 3, 4], \"label\": \"cup\"}]",
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
