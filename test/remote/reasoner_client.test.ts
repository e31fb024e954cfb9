/**
 * remoteReason against the local test server (test/remote/_server.ts, which follows the
 * seed's and vLLM-Omni's documented API; it is not a real server): exact request bodies,
 * model discovery, streaming tokens, reasoning channels, usage, abort, retries and errors.
 */
import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { after, before, describe, test } from "node:test";
import { createServer } from "node:http";
import { AbortError, RemoteError, ValidationError } from "../../src/errors.ts";
import { remoteReason } from "../../src/remote/reasoner_client.ts";
import { ReasonRequest, type ReasonRequestInput } from "../../src/schema/reason_request.ts";
import { REASONING_INSTRUCTION } from "../../src/schema/sampling.ts";
import type { TokenEvent } from "../../src/schema/results.ts";
import { makePng } from "./_media.ts";
import { startTestServer, type TestServer } from "./_server.ts";

const FAST = { retryBaseMs: 5, timeoutMs: 10_000 };
const parse = (r: ReasonRequestInput) => ReasonRequest.parse(r);

describe("remoteReason", () => {
  let srv: TestServer;
  let dir: string;
  let png: Uint8Array;
  before(async () => {
    srv = await startTestServer();
    dir = mkdtempSync(join(tmpdir(), "cosmos-reason-test-"));
    png = await makePng(40, 30);
    writeFileSync(join(dir, "robot.png"), png);
    writeFileSync(join(dir, "clip.mp4"), new Uint8Array([0, 0, 0, 24, 102, 116, 121, 112]));
  });
  after(async () => {
    await srv.close();
    rmSync(dir, { recursive: true, force: true });
  });

  test("asks GET /v1/models for the model, then POSTs the exact chat body (image as data URI, reasoning preset, mm_processor_kwargs)", async () => {
    srv.requests.length = 0;
    srv.behaviour.chat = {
      content: '<think>\nTwo cups.\n</think>\n\n[{"bbox_2d": [10, 20, 300, 400], "label": "cup"}]',
    };
    const req = parse({
      task: "grounding_2d",
      prompt: "Locate every cup; answer as JSON.",
      image: join(dir, "robot.png"),
      reasoning: true,
      imageSize: { shortestEdge: 1568, longestEdge: 262144 },
      stop: ["<|im_end|>"],
      sampling: { seed: 7 },
      maxTokens: 512,
    });
    const r = await remoteReason(req, { url: srv.url + "/", apiKey: "k-123" }, FAST);
    assert.deepEqual(srv.requests.map((x) => `${x.method} ${x.path}`), ["GET /v1/models", "POST /v1/chat/completions"]);
    const post = srv.requests[1];
    assert.equal(post.headers.authorization, "Bearer k-123");
    assert.equal(srv.requests[0].headers.authorization, "Bearer k-123");
    const dataUri = `data:image/png;base64,${Buffer.from(png).toString("base64")}`;
    assert.deepEqual(post.json, {
      model: "nvidia/cosmos3-nano-reasoner",
      messages: [
        { role: "system", content: [{ type: "text", text: "You are a helpful assistant." }] },
        {
          role: "user",
          content: [
            { type: "image_url", image_url: { url: dataUri } },
            { type: "text", text: `Locate every cup; answer as JSON.\n\n${REASONING_INSTRUCTION}` },
          ],
        },
      ],
      temperature: 0.6,
      top_p: 0.95,
      top_k: 20,
      repetition_penalty: 1.0,
      presence_penalty: 0.0,
      max_tokens: 512,
      seed: 7,
      stop: ["<|im_end|>"],
      mm_processor_kwargs: { size: { shortest_edge: 1568, longest_edge: 262144 } },
      stream: true,
      stream_options: { include_usage: true },
    });
    assert.equal(r.reasoning, "Two cups.");
    assert.deepEqual(r.parsed, { kind: "boxes", boxes: [{ label: "cup", box: [10, 20, 300, 400] }] });
    assert.equal(r.text, srv.behaviour.chat.content);
    assert.deepEqual(r.usage, { promptTokens: 10, completionTokens: 5, totalTokens: 15 });
    assert.equal(r.finishReason, "stop");
    assert.match(r.backend, /^remote:http:\/\/127\.0\.0\.1:\d+\/ \(nvidia\/cosmos3-nano-reasoner\)$/);
  });

  test("video under allowedLocalMediaPath goes as file://, fps / num_frames as media_io_kwargs, preset without reasoning", async () => {
    srv.requests.length = 0;
    srv.behaviour.chat = { content: "A robot arm picks up a red cube." };
    const clip = join(dir, "clip.mp4");
    for (
      const [videoSampling, kwargs] of [[{ fps: 4 }, { video: { fps: 4 } }], [{ numFrames: 16 }, {
        video: { num_frames: 16 },
      }]] as const
    ) {
      await remoteReason(
        parse({ task: "caption", video: clip, videoSampling, stream: false }),
        { url: srv.url + "/v1", model: "my-model", allowedLocalMediaPath: dir },
        FAST,
      );
      const body = srv.requests.at(-1)!.json as Record<string, unknown>;
      assert.deepEqual(body.media_io_kwargs, kwargs);
      assert.equal(body.model, "my-model");
      assert.equal(body.stream, false);
      assert.equal("stream_options" in body, false);
      assert.equal(body.temperature, 0.7);
      assert.equal(body.presence_penalty, 1.5);
      assert.equal(body.top_p, 0.8);
      assert.equal(body.max_tokens, 4096);
      const user = (body.messages as { content: { type: string; video_url?: { url: string }; text?: string }[] }[])[1];
      assert.deepEqual(user.content[0], { type: "video_url", video_url: { url: pathToFileURL(clip).href } });
      assert.equal(user.content[1].text, "Describe this video in detail.");
    }
    assert.equal(srv.requests.some((x) => x.path === "/v1/models"), false, "a given model skips GET /v1/models");
  });

  test("a remote video URL is passed through unchanged", async () => {
    srv.requests.length = 0;
    await remoteReason(parse({ task: "caption", video: "https://example.com/v.mp4", stream: false }), {
      url: srv.url,
      model: "m",
    }, FAST);
    const body = srv.requests[0].json as { messages: { content: unknown[] }[] };
    assert.deepEqual(body.messages[1].content[0], {
      type: "video_url",
      video_url: { url: "https://example.com/v.mp4" },
    });
  });

  test("streams tokens on the reasoning and answer channels; their text adds up to the output", async () => {
    const content = "<think>\nThe cube is lifted;\nthen it is placed.\n</think>\n\nPlausible.";
    for (const chunkChars of [1, 2, 3, 7, 100]) {
      srv.behaviour.chat = {
        content,
        chunkChars,
        finishReason: "stop",
        usage: { prompt_tokens: 100, completion_tokens: 20, total_tokens: 120 },
      };
      const events: TokenEvent[] = [];
      const r = await remoteReason(
        parse({ task: "physical_plausibility", video: "https://example.com/v.mp4", reasoning: true }),
        { url: srv.url, model: "m" },
        { ...FAST, onToken: (e) => events.push(e) },
      );
      const joined = (ch: string) => events.filter((e) => e.channel === ch).map((e) => e.text).join("");
      assert.equal(joined("reasoning").trim(), "The cube is lifted;\nthen it is placed.", `chunkChars ${chunkChars}`);
      assert.equal(joined("answer"), "Plausible.");
      assert.ok(events.every((e) => !e.text.includes("<think>") && !e.text.includes("</think>")));
      assert.equal(r.answer, "Plausible.");
      assert.deepEqual(r.parsed, { kind: "label", label: "plausible" });
      assert.deepEqual(r.usage, { promptTokens: 100, completionTokens: 20, totalTokens: 120 });
    }
  });

  test("server-side reasoning_content deltas go to the reasoning channel, content to the answer", async () => {
    srv.behaviour.chat = { content: "It falls off the table.", reasoningContent: "The cup is near the edge." };
    const events: TokenEvent[] = [];
    const r = await remoteReason(
      parse({
        task: "common_sense",
        prompt: "What happens next?",
        video: "https://example.com/v.mp4",
        reasoning: true,
      }),
      { url: srv.url, model: "m" },
      { ...FAST, onToken: (e) => events.push(e) },
    );
    assert.equal(
      events.filter((e) => e.channel === "reasoning").map((e) => e.text).join(""),
      "The cup is near the edge.",
    );
    assert.equal(events.filter((e) => e.channel === "answer").map((e) => e.text).join(""), "It falls off the table.");
    assert.equal(r.reasoning, "The cup is near the edge.");
    assert.equal(r.answer, "It falls off the table.");
    assert.ok(r.text.includes("The cup is near the edge.") && r.text.includes("It falls off the table."));
    // Non-streaming returns the same.
    const n = await remoteReason(
      parse({
        task: "common_sense",
        prompt: "What happens next?",
        video: "https://example.com/v.mp4",
        reasoning: true,
        stream: false,
      }),
      { url: srv.url, model: "m" },
      FAST,
    );
    assert.equal(n.reasoning, r.reasoning);
    assert.equal(n.answer, r.answer);
  });

  test("truncated output (finish_reason length) with reasoning keeps it all as reasoning", async () => {
    srv.behaviour.chat = { content: "The robot reaches toward the", finishReason: "length" };
    const r = await remoteReason(
      parse({
        task: "embodied_reasoning",
        prompt: "Next action?",
        video: "https://example.com/v.mp4",
        reasoning: true,
      }),
      { url: srv.url, model: "m" },
      FAST,
    );
    assert.equal(r.finishReason, "length");
    assert.equal(r.answer, "");
    assert.equal(r.reasoning, "The robot reaches toward the");
  });

  test("abort mid-stream throws AbortError", async () => {
    srv.behaviour.chat = { content: "x".repeat(200), chunkChars: 1, delayMs: 5 };
    const ctrl = new AbortController();
    let n = 0;
    await assert.rejects(
      remoteReason(parse({ task: "custom", prompt: "Hi" }), { url: srv.url, model: "m" }, {
        ...FAST,
        signal: ctrl.signal,
        onToken: () => {
          if (++n === 5) ctrl.abort();
        },
      }),
      AbortError,
    );
    assert.ok(n >= 5 && n < 200, `stopped after ${n} tokens`);
  });

  test("an already-aborted signal sends nothing", async () => {
    srv.requests.length = 0;
    const ctrl = new AbortController();
    ctrl.abort();
    await assert.rejects(
      remoteReason(parse({ task: "custom", prompt: "Hi" }), { url: srv.url, model: "m" }, { signal: ctrl.signal }),
      AbortError,
    );
    assert.equal(srv.requests.length, 0);
  });

  test("retries 429 (Retry-After) and 503, then succeeds", async () => {
    srv.requests.length = 0;
    srv.behaviour.chat = { content: "ok" };
    srv.behaviour.faults.push(
      {
        match: "POST /v1/chat",
        status: 429,
        body: '{"error":{"message":"rate limited"}}',
        headers: { "Retry-After": "0" },
      },
      { match: "POST /v1/chat", status: 503, body: '{"detail":"loading"}' },
    );
    const r = await remoteReason(
      parse({ task: "custom", prompt: "Hi", stream: false }),
      { url: srv.url, model: "m" },
      FAST,
    );
    assert.equal(r.answer, "ok");
    assert.equal(srv.requests.length, 3);
  });

  test("Retry-After is honoured over the (shorter) backoff", async () => {
    srv.behaviour.chat = { content: "ok" };
    srv.behaviour.faults.push({ match: "POST /v1/chat", status: 429, body: "{}", headers: { "Retry-After": "0.3" } });
    const t0 = Date.now();
    await remoteReason(parse({ task: "custom", prompt: "Hi", stream: false }), { url: srv.url, model: "m" }, FAST);
    assert.ok(Date.now() - t0 >= 280, `waited ${Date.now() - t0} ms`);
  });

  test("gives up after the retries, with the server's message", async () => {
    srv.requests.length = 0;
    for (let i = 0; i < 3; i++) {
      srv.behaviour.faults.push({ match: "POST /v1/chat", status: 503, body: '{"detail":"model is loading"}' });
    }
    const err = await remoteReason(parse({ task: "custom", prompt: "Hi" }), { url: srv.url, model: "m" }, {
      ...FAST,
      retries: 2,
    }).catch((e) => e);
    assert.ok(err instanceof RemoteError);
    assert.equal(err.status, 503);
    assert.equal(err.serverMessage, "model is loading");
    assert.equal(srv.requests.length, 3);
  });

  for (
    const [status, body, message] of [
      [
        400,
        '{"object":"error","message":"bad","type":"BadRequestError","error":{"message":"Cannot load local files without --allowed-local-media-path"}}',
        "Cannot load local files without --allowed-local-media-path",
      ],
      [500, '{"detail":"CUDA out of memory"}', "CUDA out of memory"],
      [
        404,
        '{"error":{"message":"The model `nope` does not exist.","type":"NotFoundError","code":404}}',
        "The model `nope` does not exist.",
      ],
      [
        422,
        '{"detail":[{"loc":["body","messages"],"msg":"field required","type":"missing"}]}',
        "body.messages: field required",
      ],
    ] as const
  ) {
    test(`no retry on ${status}; the error carries the server's message and a hint`, async () => {
      srv.requests.length = 0;
      srv.behaviour.faults.push({ match: "POST /v1/chat", status, body });
      const err = await remoteReason(parse({ task: "custom", prompt: "Hi" }), { url: srv.url, model: "m" }, FAST).catch(
        (e) => e,
      );
      assert.ok(err instanceof RemoteError, String(err));
      assert.equal(err.status, status);
      assert.equal(err.serverMessage, message);
      assert.ok(err.message.includes(message));
      assert.ok(err.hint && err.hint.length > 10);
      if (status === 400) assert.match(err.hint!, /--allowed-local-media-path/);
      assert.equal(srv.requests.length, 1);
    });
  }

  test("an error event inside the stream becomes a RemoteError", async () => {
    const { createServer } = await import("node:http");
    const s = createServer((_req, res) => {
      res.writeHead(200, { "Content-Type": "text/event-stream" });
      res.write(
        'data: {"id":"x","object":"chat.completion.chunk","created":0,"model":"m","choices":[{"index":0,"delta":{"content":"Hel"},"finish_reason":null}]}\n\n',
      );
      res.end(
        'data: {"error":{"object":"error","message":"context length exceeded","type":"BadRequestError","code":400}}\n\n',
      );
    });
    await new Promise<void>((r) => s.listen(0, "127.0.0.1", r));
    try {
      const port = (s.address() as { port: number }).port;
      const err = await remoteReason(parse({ task: "custom", prompt: "Hi" }), {
        url: `http://127.0.0.1:${port}`,
        model: "m",
      }, FAST).catch((e) => e);
      assert.ok(err instanceof RemoteError);
      assert.equal(err.serverMessage, "context length exceeded");
    } finally {
      await new Promise<void>((r) => s.close(() => r()));
    }
  });

  test("an unreachable server gives a RemoteError saying so", async () => {
    const { createServer } = await import("node:net");
    const s = createServer();
    await new Promise<void>((r) => s.listen(0, "127.0.0.1", r));
    const port = (s.address() as { port: number }).port;
    await new Promise<void>((r) => s.close(() => r()));
    const err = await remoteReason(parse({ task: "custom", prompt: "Hi" }), {
      url: `http://127.0.0.1:${port}`,
      model: "m",
    }, FAST).catch((e) => e);
    assert.ok(err instanceof RemoteError);
    assert.match(err.message, /cannot reach/);
    assert.match(err.hint!, /server started/);
  });
});

/** A one-purpose server on 127.0.0.1 for the bad-answer cases below. */
async function withServer(
  handler: Parameters<typeof createServer>[1],
  run: (url: string) => Promise<void>,
): Promise<void> {
  const s = createServer(handler);
  const sockets = new Set<import("node:net").Socket>();
  s.on("connection", (c) => {
    sockets.add(c);
    c.on("close", () => sockets.delete(c));
  });
  await new Promise<void>((r) => s.listen(0, "127.0.0.1", r));
  try {
    await run(`http://127.0.0.1:${(s.address() as { port: number }).port}`);
  } finally {
    for (const c of sockets) c.destroy();
    await new Promise<void>((r) => s.close(() => r()));
  }
}

const sse = (body: string) => (_q: unknown, res: import("node:http").ServerResponse) => {
  res.writeHead(200, { "Content-Type": "text/event-stream" });
  res.end(body);
};
const json200 = (body: string) => (_q: unknown, res: import("node:http").ServerResponse) => {
  res.writeHead(200, { "Content-Type": "application/json" });
  res.end(body);
};
const delta = (content: unknown, finish: string | null = null) =>
  `data: ${
    JSON.stringify({
      id: "c",
      object: "chat.completion.chunk",
      model: "m",
      choices: [{ index: 0, delta: { content }, finish_reason: finish }],
    })
  }\n\n`;

async function rejectsRemote(url: string, r: ReasonRequestInput, pattern: RegExp): Promise<RemoteError> {
  const err = await remoteReason(parse(r), { url, model: "m" }, FAST).catch((e) => e);
  assert.ok(err instanceof RemoteError, `expected a RemoteError, got ${err}`);
  assert.ok(!(err instanceof ValidationError));
  assert.doesNotMatch(err.message, /Invalid request/);
  assert.match(err.message, pattern);
  assert.ok(err.hint, "with a hint");
  return err;
}

describe("remoteReason: bad answers are RemoteErrors ('the server returned …'), never an empty answer", () => {
  for (
    const [name, body, pattern] of [
      [
        "a JSON body sent as text/event-stream",
        '{"choices":[{"message":{"content":"hi"}}]}',
        /not a server-sent event stream; it starts with "\{\\"choices/,
      ],
      [
        "an HTML page sent as text/event-stream",
        "<html><body><h1>502 Bad Gateway</h1></body></html>\n",
        /not a server-sent event stream; it starts with "<html>/,
      ],
      ["an empty event stream", "", /empty event stream/],
      ["a stream cut before finish_reason and [DONE]", delta("Hel") + delta("lo"), /ended before the server finished/],
      [
        "a chunk whose content is a number",
        delta(42) + "data: [DONE]\n\n",
        /the server returned a stream chunk .*choices\.0\.delta\.content/i,
      ],
      [
        "a chunk whose choices is not a list",
        'data: {"choices": {"0": 1}}\n\ndata: [DONE]\n\n',
        /the server returned a stream chunk .*choices/i,
      ],
      ["an event that is not JSON", "data: <b>oops</b>\n\n", /the server returned a stream event that is not JSON/i],
    ] as const
  ) {
    test(`stream: ${name}`, () =>
      withServer(sse(body), (url) => rejectsRemote(url, { task: "custom", prompt: "Hi" }, pattern).then(() => {})));
  }

  for (
    const [name, body, pattern] of [
      [
        "no choices",
        '{"id":"x","object":"chat.completion"}',
        /the server returned a body that is not a chat completion \(choices: /,
      ],
      ["empty choices", '{"choices":[]}', /not a chat completion \(choices: /],
      [
        "content not a string",
        '{"choices":[{"message":{"content":{"text":"hi"}},"finish_reason":"stop"}]}',
        /choices\.0\.message\.content/,
      ],
      ["message missing", '{"choices":[{"finish_reason":"stop"}]}', /choices\.0\.message/],
      ["a JSON array", "[1,2]", /not a chat completion/],
      ["JSON null", "null", /not a chat completion/],
      [
        "usage of the wrong type",
        '{"choices":[{"message":{"content":"hi"}}],"usage":{"prompt_tokens":"many"}}',
        /usage\.prompt_tokens/,
      ],
      [
        "not JSON",
        "<html>Service unavailable</html>",
        /the server returned something other than JSON: "<html>Service unavailable/,
      ],
      ["an empty body", "", /the server returned something other than JSON: an empty body/],
    ] as const
  ) {
    test(`non-streamed: ${name}`, () =>
      withServer(
        json200(body),
        (url) => rejectsRemote(url, { task: "custom", prompt: "Hi", stream: false }, pattern).then(() => {}),
      ));
  }

  test("a stream past maxTokens is cut by the client at maxTokens, and the result says so", async () => {
    let closedEarly = false;
    await withServer((_q, res) => {
      res.writeHead(200, { "Content-Type": "text/event-stream" });
      let i = 0;
      const timer = setInterval(() => {
        if (i === 200) {
          clearInterval(timer);
          return res.end(delta("", "stop") + "data: [DONE]\n\n");
        }
        res.write(delta(`t${i++} `));
      }, 2);
      res.on("close", () => {
        clearInterval(timer);
        if (i < 200) closedEarly = true;
      });
    }, async (url) => {
      const tokens: TokenEvent[] = [];
      const r = await remoteReason(parse({ task: "custom", prompt: "Hi", maxTokens: 5 }), { url, model: "m" }, {
        ...FAST,
        onToken: (t) => tokens.push(t),
      });
      assert.equal(r.text, "t0 t1 t2 t3 t4 ");
      assert.equal(r.answer, "t0 t1 t2 t3 t4");
      assert.equal(tokens.map((t) => t.text).join("").trim(), "t0 t1 t2 t3 t4");
      assert.equal(r.finishReason, "length");
      assert.deepEqual(r.truncatedByClient, { maxTokens: 5 });
      await new Promise((res) => setTimeout(res, 50));
      assert.ok(closedEarly, "the client closed the connection");
    });
  });

  test("a server that stops at maxTokens itself is not marked as cut", async () => {
    await withServer(sse(delta("a") + delta("b") + delta("", "length") + "data: [DONE]\n\n"), async (url) => {
      const r = await remoteReason(parse({ task: "custom", prompt: "Hi", maxTokens: 2 }), { url, model: "m" }, FAST);
      assert.equal(r.answer, "ab");
      assert.equal(r.finishReason, "length");
      assert.equal(r.truncatedByClient, undefined);
    });
  });

  test("connection refused: a RemoteError whose hint asks whether the server runs at that URL", async () => {
    const { createServer: net } = await import("node:net");
    const s = net();
    await new Promise<void>((r) => s.listen(0, "127.0.0.1", r));
    const port = (s.address() as { port: number }).port;
    await new Promise<void>((r) => s.close(() => r()));
    const err = await remoteReason(parse({ task: "custom", prompt: "Hi" }), {
      url: `http://127.0.0.1:${port}`,
      model: "m",
    }, FAST).catch((e) => e);
    assert.ok(err instanceof RemoteError);
    assert.match(err.message, /connection refused/);
    assert.ok(err.hint!.includes(`listening at http://127.0.0.1:${port}?`), err.hint);
    assert.ok(!(err.cause instanceof TypeError) || !/fetch failed/.test(String(err.message)));
  });

  test("an unknown host name: a RemoteError naming the host", async () => {
    const err = await remoteReason(parse({ task: "custom", prompt: "Hi" }), {
      url: "http://no-such-host.invalid:8000",
      model: "m",
    }, FAST).catch((e) => e);
    assert.ok(err instanceof RemoteError, String(err));
    assert.match(err.message, /no-such-host\.invalid/);
  });
});
