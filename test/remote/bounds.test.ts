/**
 * Nothing hangs: every network phase has a bound, and an expired one is a TimeoutError that
 * names the phase and the option raising it. Each case runs against a real server on
 * 127.0.0.1 that stalls in that phase (a listener whose accept queue is full; a server that
 * accepts and never answers; headers and no body; some SSE events, then silence; a slow
 * trickle), with small bounds so each case takes well under 2 s.
 */
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { connect, type Socket } from "node:net";
import { after, before, describe, test } from "node:test";
import { generate } from "../../src/api/generate.ts";
import { reason } from "../../src/api/reason.ts";
import { rollout } from "../../src/api/rollout.ts";
import { AbortError, CosmosError, MediaError, RemoteError, TimeoutError, ValidationError } from "../../src/errors.ts";
import { mediaBytes } from "../../src/reasoner/messages.ts";
import { filePartOf } from "../../src/remote/form.ts";
import {
  DEFAULT_CONNECT_TIMEOUT_MS,
  DEFAULT_DOWNLOAD_TIMEOUT_MS,
  DEFAULT_IDLE_TIMEOUT_MS,
  DEFAULT_POLL_TIMEOUT_MS,
  DEFAULT_TIMEOUT_MS,
  downloadMedia,
  readJson,
  request,
} from "../../src/remote/http.ts";
import { runVideoJob } from "../../src/remote/jobs.ts";
import { videoForm } from "../../src/remote/form.ts";
import { remoteReason } from "../../src/remote/reasoner_client.ts";
import { ReasonRequest } from "../../src/schema/reason_request.ts";
import type { TokenEvent } from "../../src/schema/results.ts";

type Handler = (req: IncomingMessage, res: ServerResponse) => void;

/** A node:http server on 127.0.0.1 whose behaviour each test sets; close() cuts every socket. */
async function stallServer(): Promise<{ url: string; handle: (h: Handler) => void; close: () => Promise<void> }> {
  let handler: Handler = () => {};
  const sockets = new Set<Socket>();
  const srv: Server = createServer((req, res) => handler(req, res));
  srv.on("connection", (s) => {
    sockets.add(s);
    s.on("close", () => sockets.delete(s));
  });
  await new Promise<void>((r) => srv.listen(0, "127.0.0.1", r));
  const port = (srv.address() as { port: number }).port;
  return {
    url: `http://127.0.0.1:${port}`,
    handle: (h) => (handler = h),
    close: async () => {
      for (const s of sockets) s.destroy();
      await new Promise<void>((r) => srv.close(() => r()));
    },
  };
}

const chunk = (content: string, finish: string | null = null) =>
  `data: ${
    JSON.stringify({
      id: "c",
      object: "chat.completion.chunk",
      model: "m",
      choices: [{ index: 0, delta: { content }, finish_reason: finish }],
    })
  }\n\n`;

const req = (r: Record<string, unknown>) => ReasonRequest.parse({ task: "custom", prompt: "Hi", ...r });

/** Runs `p`, checks it is a TimeoutError of `phase` naming `option`, and that it came within `maxMs`. */
async function expectTimeout(p: Promise<unknown>, phase: string, option: string, maxMs = 1500): Promise<TimeoutError> {
  const t0 = Date.now();
  const err = await p.then(() => undefined, (e) => e);
  const ms = Date.now() - t0;
  assert.ok(err instanceof TimeoutError, `expected a TimeoutError, got ${err}`);
  assert.ok(err instanceof RemoteError && err instanceof CosmosError);
  assert.equal(err.phase, phase);
  assert.equal(err.option, option);
  assert.equal(err.code, "timeout");
  assert.match(err.message, /timed out after \d+ ms/);
  assert.ok(err.hint?.includes(option), err.hint);
  assert.ok(ms < maxMs, `took ${ms} ms`);
  return err;
}

describe("bounds", () => {
  let srv: Awaited<ReturnType<typeof stallServer>>;
  before(async () => {
    srv = await stallServer();
  });
  after(() => srv.close());

  test("the defaults are documented constants", () => {
    assert.equal(DEFAULT_CONNECT_TIMEOUT_MS, 30_000);
    assert.equal(DEFAULT_TIMEOUT_MS, 600_000);
    assert.equal(DEFAULT_IDLE_TIMEOUT_MS, 120_000);
    assert.equal(DEFAULT_DOWNLOAD_TIMEOUT_MS, 1_800_000);
    assert.equal(DEFAULT_POLL_TIMEOUT_MS, 60_000);
  });

  test("connect: a listener that never accepts (full accept queue) -> TimeoutError 'connect' / connectTimeoutMs", async () => {
    // A child node process listens with a backlog of 1 and then blocks its event loop, so it
    // never accepts: once its accept queue is full, the kernel drops further SYNs.
    const child = spawn("node", [
      "-e",
      `
      const s = require("node:net").createServer();
      s.listen({ port: 0, host: "127.0.0.1", backlog: 1 }, () => {
        console.log(s.address().port);
        Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 15000);
      });`,
    ], { stdio: ["ignore", "pipe", "inherit"] });
    const fillers: Socket[] = [];
    try {
      const port = await new Promise<number>((r) => child.stdout!.once("data", (d) => r(Number(String(d).trim()))));
      // Fill the queue: connect until one connection stays pending.
      let pending = false;
      for (let i = 0; i < 16 && !pending; i++) {
        const s = connect(port, "127.0.0.1");
        s.on("error", () => {});
        fillers.push(s);
        const done = await new Promise<boolean>((r) => {
          s.once("connect", () => r(true));
          setTimeout(() => r(false), 150);
        });
        pending = !done;
      }
      assert.ok(pending, "the accept queue never filled");
      const err = await expectTimeout(
        reason({ task: "custom", prompt: "Hi", stream: false }, {
          backend: { kind: "remote", url: `http://127.0.0.1:${port}`, model: "m" },
          connectTimeoutMs: 300,
          timeoutMs: 1000,
        }),
        "connect",
        "connectTimeoutMs",
      );
      assert.match(err.message, /opening the connection/);
    } finally {
      for (const s of fillers) s.destroy();
      child.kill();
    }
  });

  test("first byte: a server that accepts and never answers -> TimeoutError 'first_byte' / timeoutMs (reason())", async () => {
    srv.handle(() => {});
    const err = await expectTimeout(
      reason({ task: "custom", prompt: "Hi", stream: false }, {
        backend: { kind: "remote", url: srv.url, model: "m" },
        timeoutMs: 300,
      }),
      "first_byte",
      "timeoutMs",
    );
    assert.match(err.message, /first byte/);
  });

  test("idle: headers and never a body -> TimeoutError 'idle' / idleTimeoutMs", async () => {
    srv.handle((_q, res) => {
      res.writeHead(200, { "Content-Type": "application/json" });
      res.flushHeaders();
    });
    await expectTimeout(
      reason({ task: "custom", prompt: "Hi", stream: false }, {
        backend: { kind: "remote", url: srv.url, model: "m" },
        idleTimeoutMs: 300,
      }),
      "idle",
      "idleTimeoutMs",
    );
  });

  test("idle: some SSE events, then silence -> TimeoutError 'idle', after the tokens that came", async () => {
    srv.handle((_q, res) => {
      res.writeHead(200, { "Content-Type": "text/event-stream" });
      res.write(chunk("Hel"));
      res.write(chunk("lo"));
    });
    const tokens: TokenEvent[] = [];
    await expectTimeout(
      reason({ task: "custom", prompt: "Hi" }, {
        backend: { kind: "remote", url: srv.url, model: "m" },
        idleTimeoutMs: 300,
        onToken: (t) => tokens.push(t),
      }),
      "idle",
      "idleTimeoutMs",
    );
    assert.equal(tokens.map((t) => t.text).join(""), "Hello");
  });

  test("download: a stream that trickles keep-alives forever -> TimeoutError 'download' / downloadTimeoutMs", async () => {
    let timer: ReturnType<typeof setInterval> | undefined;
    srv.handle((_q, res) => {
      res.writeHead(200, { "Content-Type": "text/event-stream" });
      timer = setInterval(() => res.write(": keep-alive\n"), 30);
      res.on("close", () => clearInterval(timer));
    });
    try {
      await expectTimeout(
        reason({ task: "custom", prompt: "Hi" }, {
          backend: { kind: "remote", url: srv.url, model: "m" },
          idleTimeoutMs: 200,
          downloadTimeoutMs: 500,
        }),
        "download",
        "downloadTimeoutMs",
      );
    } finally {
      clearInterval(timer);
    }
  });

  test("a slow reader is not an idle server: backpressure does not count as an idle gap", async () => {
    const big = new Uint8Array(4 << 20).fill(120);
    srv.handle((_q, res) => {
      res.writeHead(200, { "Content-Type": "application/octet-stream" });
      res.end(big);
    });
    const res = await request(`${srv.url}/big`, { method: "GET" }, { what: "Reading slowly", idleTimeoutMs: 150 });
    const reader = res.body!.getReader();
    let n = 0;
    const first = await reader.read();
    n += first.value?.length ?? 0;
    await new Promise((r) => setTimeout(r, 400)); // longer than the idle bound, on our side
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      n += value.length;
    }
    assert.equal(n, big.length);
  });

  test("native-path download of an http(s) image: each phase bounded (mediaBytes, filePartOf, downloadMedia)", async () => {
    srv.handle(() => {});
    await expectTimeout(
      mediaBytes(`${srv.url}/robot.png`, undefined, { field: "image", timeoutMs: 200 }),
      "first_byte",
      "timeoutMs",
    );
    srv.handle((_q, res) => {
      res.writeHead(200, { "Content-Type": "image/png" });
      res.write("\x89PNG");
    });
    await expectTimeout(filePartOf(`${srv.url}/robot.png`, undefined, { idleTimeoutMs: 200 }), "idle", "idleTimeoutMs");
    let timer: ReturnType<typeof setInterval> | undefined;
    srv.handle((_q, res) => {
      res.writeHead(200, { "Content-Type": "video/mp4" });
      timer = setInterval(() => res.write("x"), 20);
      res.on("close", () => clearInterval(timer));
    });
    try {
      await expectTimeout(
        downloadMedia(`${srv.url}/clip.mp4`, { field: "video", idleTimeoutMs: 200, downloadTimeoutMs: 400 }),
        "download",
        "downloadTimeoutMs",
      );
    } finally {
      clearInterval(timer);
    }
  });

  test("a download that ends works, follows a redirect, and a 404 is a MediaError naming the field", async () => {
    srv.handle((q, res) => {
      if (q.url === "/old.png") {
        res.writeHead(302, { Location: "/robot.png" });
        return res.end();
      }
      if (q.url === "/robot.png") {
        res.writeHead(200, { "Content-Type": "image/png" });
        return res.end("PNGDATA");
      }
      res.writeHead(404, { "Content-Type": "text/plain" });
      res.end("no such file");
    });
    assert.equal(
      new TextDecoder().decode(await mediaBytes(`${srv.url}/old.png`, undefined, { field: "image" })),
      "PNGDATA",
    );
    const err = await mediaBytes(`${srv.url}/gone.png`, undefined, { field: "image" }).catch((e) => e);
    assert.ok(err instanceof MediaError, String(err));
    assert.match(err.message, /^image: cannot download .*HTTP 404/);
    assert.ok(err.hint);
  });

  test("generate() and rollout() hand the bounds on: a sync video that never sends its body, a stalled observation download", async () => {
    srv.handle((_q, res) => {
      res.writeHead(200, { "Content-Type": "video/mp4" });
      res.flushHeaders();
    });
    await expectTimeout(
      generate({ prompt: "A robot moves a box." }, { backend: srv.url, idleTimeoutMs: 300 }),
      "idle",
      "idleTimeoutMs",
    );
    srv.handle(() => {});
    await expectTimeout(
      rollout({ mode: "policy", embodiment: "droid", image: `${srv.url}/obs.png`, prompt: "Pick up the cup." }, {
        backend: srv.url,
        timeoutMs: 300,
      }),
      "first_byte",
      "timeoutMs",
    );
  });

  test("job polling: a status request that never answers is bounded per request", async () => {
    srv.handle((q, res) => {
      if (q.method === "POST") {
        res.writeHead(200, { "Content-Type": "application/json" });
        return res.end(JSON.stringify({ id: "job-1", status: "queued" }));
      }
      if (q.method === "DELETE") {
        res.writeHead(200, { "Content-Type": "application/json" });
        return res.end("{}");
      }
      // GET /v1/videos/job-1: never answers
    });
    await expectTimeout(
      runVideoJob(`${srv.url}/v1`, videoForm([["prompt", "x"]]), {
        what: "Policy rollout",
        timeoutMs: 250,
        pollIntervalMs: 5,
        retryBaseMs: 5,
      }),
      "first_byte",
      "timeoutMs",
    );
  });

  test("abort is still AbortError in every phase, never a TimeoutError", async () => {
    srv.handle(() => {});
    const ctrl = new AbortController();
    setTimeout(() => ctrl.abort(), 100);
    await assert.rejects(
      remoteReason(req({ stream: false }), { url: srv.url, model: "m" }, { signal: ctrl.signal, timeoutMs: 5000 }),
      AbortError,
    );
    srv.handle((_q, res) => {
      res.writeHead(200, { "Content-Type": "text/event-stream" });
      res.write(chunk("a"));
    });
    const c2 = new AbortController();
    setTimeout(() => c2.abort(), 150);
    await assert.rejects(
      remoteReason(req({}), { url: srv.url, model: "m" }, { signal: c2.signal, idleTimeoutMs: 5000 }),
      AbortError,
    );
  });

  test("bounds are validated: a clear ValidationError naming the option", async () => {
    for (
      const [key, value] of [
        ["timeoutMs", -1],
        ["connectTimeoutMs", 0],
        ["idleTimeoutMs", "5"],
        ["downloadTimeoutMs", Infinity],
        ["jobTimeoutMs", 2 ** 40],
        ["pollIntervalMs", NaN],
      ] as const
    ) {
      const err = await reason({ task: "custom", prompt: "Hi" }, {
        backend: { kind: "remote", url: srv.url, model: "m" },
        [key]: value,
      }).catch((e) => e);
      assert.ok(err instanceof ValidationError, `${key}: ${err}`);
      assert.equal(err.field, `options.${key}`);
      assert.match(err.allowed, /milliseconds/);
    }
    const r = await request(srv.url, { method: "GET" }, { what: "x", timeoutMs: -5 }).catch((e) => e);
    assert.ok(r instanceof ValidationError);
    await assert.rejects(
      rollout({ mode: "policy", embodiment: "droid", image: "x.png", prompt: "p" }, {
        backend: srv.url,
        jobTimeoutMs: -1,
      }),
      ValidationError,
    );
  });

  test("retries, retryBaseMs and videoJob are typed options, validated by name", async () => {
    for (
      const [key, value, allowed] of [["retries", -1, /0-10/], ["retries", 2.5, /0-10/], [
        "retryBaseMs",
        0,
        /milliseconds/,
      ], ["videoJob", "yes", /true \| false/]] as const
    ) {
      const err = await reason({ task: "custom", prompt: "Hi" }, {
        backend: { kind: "remote", url: srv.url, model: "m" },
        [key]: value,
      }).catch((e) => e);
      assert.ok(err instanceof ValidationError, `${key}: ${err}`);
      assert.equal(err.field, `options.${key}`);
      assert.match(err.allowed, allowed);
    }
  });

  test("a bound given but not expired changes nothing: the answer arrives", async () => {
    srv.handle((_q, res) => {
      res.writeHead(200, { "Content-Type": "application/json" });
      setTimeout(
        () => res.end(JSON.stringify({ choices: [{ message: { content: "ok" }, finish_reason: "stop" }] })),
        50,
      );
    });
    const r = await reason({ task: "custom", prompt: "Hi", stream: false }, {
      backend: { kind: "remote", url: srv.url, model: "m" },
      connectTimeoutMs: 1000,
      timeoutMs: 1000,
      idleTimeoutMs: 1000,
      downloadTimeoutMs: 1000,
    });
    assert.equal(r.answer, "ok");
    const json = await readJson(await request(srv.url, { method: "GET" }, { what: "x" }), "x");
    assert.ok(json && typeof json === "object");
  });
});
