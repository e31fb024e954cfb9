/**
 * Wire compatibility with the official `openai` npm client:
 * - the official client, pointed at the local test server (which follows the seed's
 *   documented API; it is not a real server), reads the same text our client reads;
 * - the official client's own SSE parser (`Stream.fromSSEResponse`) and ours yield the
 *   same chunks from the identical byte stream, split at many boundaries;
 * - `extra_body` of the official client produces the same top-level body fields
 *   (`media_io_kwargs`, `mm_processor_kwargs`) as our request builder.
 */
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import OpenAI from "openai";
import { Stream } from "openai/streaming";
import { chatRequestBody, remoteReason } from "../../src/remote/reasoner_client.ts";
import { chatChunks, sseEvents } from "../../src/remote/sse.ts";
import { buildMessages } from "../../src/reasoner/messages.ts";
import { ReasonRequest } from "../../src/schema/reason_request.ts";
import { type ChatScript, chatSse, startTestServer, type TestServer } from "./_server.ts";

const SCRIPT: ChatScript = {
  content:
    "<think>\nThe gripper closes; the cube rises \u2014 \u00e9\u00e8 \ud83e\udd16.\n</think>\n\nThe robot lifts the red cube.",
  chunkChars: 5,
  usage: { prompt_tokens: 321, completion_tokens: 45, total_tokens: 366 },
};

function bodyStream(chunks: Uint8Array[]): ReadableStream<Uint8Array> {
  let i = 0;
  return new ReadableStream({
    pull(ctrl) {
      if (i < chunks.length) ctrl.enqueue(chunks[i++]);
      else ctrl.close();
    },
  });
}

describe("openai npm client compatibility", () => {
  let srv: TestServer;
  before(async () => {
    srv = await startTestServer({ chat: SCRIPT });
  });
  after(() => srv.close());

  test("the official client and remoteReason read the same streamed text from the test server", async () => {
    const client = new OpenAI({ baseURL: `${srv.url}/v1`, apiKey: "not-used", maxRetries: 0 });
    const stream = await client.chat.completions.create({
      model: "nvidia/cosmos3-nano-reasoner",
      messages: [{ role: "user", content: "Describe." }],
      stream: true,
      stream_options: { include_usage: true },
    });
    let theirs = "";
    let theirUsage: unknown;
    for await (const chunk of stream) {
      theirs += chunk.choices[0]?.delta?.content ?? "";
      if (chunk.usage) theirUsage = chunk.usage;
    }
    const ours = await remoteReason(ReasonRequest.parse({ task: "custom", prompt: "Describe." }), { url: srv.url }, {
      timeoutMs: 10_000,
    });
    assert.equal(theirs, SCRIPT.content);
    assert.equal(ours.text, theirs);
    assert.deepEqual(theirUsage, SCRIPT.usage);
    assert.deepEqual(ours.usage, { promptTokens: 321, completionTokens: 45, totalTokens: 366 });

    const whole = await client.chat.completions.create({
      model: "m",
      messages: [{ role: "user", content: "x" }],
      stream: false,
    });
    const oursWhole = await remoteReason(ReasonRequest.parse({ task: "custom", prompt: "x", stream: false }), {
      url: srv.url,
      model: "m",
    }, {});
    assert.equal(oursWhole.text, whole.choices[0].message.content);
  });

  test("the official SSE parser and ours agree chunk for chunk on the same bytes, at any split", async () => {
    const bytes = new TextEncoder().encode(chatSse(SCRIPT, "m").join(""));
    const splits = [
      [],
      [1],
      [17],
      [bytes.length - 3],
      [5, 40, 41, 200],
      Array.from({ length: 60 }, (_, k) => k * 7 + 3),
    ];
    for (const cuts of splits) {
      const pieces: Uint8Array[] = [];
      let prev = 0;
      for (const c of cuts.filter((c) => c < bytes.length)) {
        pieces.push(bytes.slice(prev, c));
        prev = c;
      }
      pieces.push(bytes.slice(prev));
      const theirs: unknown[] = [];
      const official = Stream.fromSSEResponse<unknown>(
        new Response(bodyStream(pieces), { headers: { "content-type": "text/event-stream" } }),
        new AbortController(),
      );
      for await (const c of official) theirs.push(c);
      const ours: unknown[] = [];
      for await (const c of chatChunks(sseEvents(bodyStream(pieces)))) ours.push(c);
      assert.deepEqual(ours, theirs, `cuts ${cuts.join(",")}`);
      assert.equal(ours.length, Math.ceil(SCRIPT.content.length / 5) + 3);
    }
  });

  test("the stream the test server emits is what the official client's parser accepts", async () => {
    const res = await fetch(`${srv.url}/v1/chat/completions`, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ model: "m", messages: [{ role: "user", content: "x" }], stream: true }),
    });
    let text = "";
    for await (
      const c of Stream.fromSSEResponse<{ choices: { delta: { content?: string } }[] }>(res, new AbortController())
    ) {
      text += c.choices[0]?.delta?.content ?? "";
    }
    assert.equal(text, SCRIPT.content);
  });

  test("extra_body puts media_io_kwargs / mm_processor_kwargs at the top level, as our body does", async () => {
    srv.requests.length = 0;
    const req = ReasonRequest.parse({
      task: "caption",
      video: "https://example.com/v.mp4",
      videoSampling: { fps: 4 },
      imageSize: { shortestEdge: 1568, longestEdge: 262144 },
      stream: false,
    });
    const messages = await buildMessages(req);
    const ours = chatRequestBody(req, messages, "m");
    const client = new OpenAI({ baseURL: `${srv.url}/v1`, apiKey: "not-used", maxRetries: 0 });
    // openai-python's `extra_body=` merges extra fields into the JSON body; openai-node sends
    // unknown params as-is, which is the same wire shape.
    const params = {
      model: "m",
      messages: messages as unknown as OpenAI.ChatCompletionMessageParam[],
      stream: false as const,
      temperature: 0.7,
      top_p: 0.8,
      presence_penalty: 1.5,
      max_tokens: 4096,
      top_k: 20,
      repetition_penalty: 1.0,
      media_io_kwargs: { video: { fps: 4 } },
      mm_processor_kwargs: { size: { shortest_edge: 1568, longest_edge: 262144 } },
    };
    await client.chat.completions.create(params);
    const sent = srv.requests.find((r) => r.path === "/v1/chat/completions")!.json as Record<string, unknown>;
    assert.deepEqual(sent.media_io_kwargs, ours.media_io_kwargs);
    assert.deepEqual(sent.mm_processor_kwargs, ours.mm_processor_kwargs);
    assert.deepEqual(sent.messages, ours.messages);
    for (
      const k of ["temperature", "top_p", "top_k", "repetition_penalty", "presence_penalty", "max_tokens", "stream"]
    ) {
      assert.deepEqual(sent[k], ours[k], k);
    }
  });
});
