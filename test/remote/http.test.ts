/**
 * HTTP helpers (base URLs, Retry-After, server messages, hints, abortable sleep) and the
 * request() transport against real servers on 127.0.0.1: gzip, redirects, bad URLs, a body cut short.
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import { gzipSync } from "node:zlib";
import { AbortError, RemoteError, ValidationError } from "../../src/errors.ts";
import {
  apiBase,
  boundIssues,
  formatMs,
  hintFor,
  MAX_REDIRECTS,
  MAX_TIMEOUT_MS,
  readBytes,
  readJson,
  request,
  retryAfterMs,
  serverMessageOf,
  sleep,
} from "../../src/remote/http.ts";

describe("http helpers", () => {
  for (
    const [url, want] of [
      ["http://h:8000", "http://h:8000/v1"],
      ["http://h:8000/", "http://h:8000/v1"],
      ["http://h:8000/v1", "http://h:8000/v1"],
      ["http://h:8000/v1/", "http://h:8000/v1"],
      ["https://proxy.example/cosmos/v1", "https://proxy.example/cosmos/v1"],
    ]
  ) test(`apiBase ${url}`, () => assert.equal(apiBase(url), want));

  test("retryAfterMs: seconds, HTTP date, junk", () => {
    assert.equal(retryAfterMs("3"), 3000);
    assert.equal(retryAfterMs("0.5"), 500);
    assert.equal(retryAfterMs(new Date(10_000).toUTCString(), 4_000), 6000);
    assert.equal(retryAfterMs("soon"), undefined);
    assert.equal(retryAfterMs(null), undefined);
  });

  for (
    const [body, want] of [
      ['{"error": {"message": "bad model", "type": "NotFoundError"}}', "bad model"],
      ['{"object": "error", "message": "vllm style", "type": "BadRequestError", "code": 400}', "vllm style"],
      ['{"detail": "Video not found"}', "Video not found"],
      ['{"detail": [{"loc": ["body", "prompt"], "msg": "Field required"}]}', "body.prompt: Field required"],
      ['{"error": "plain"}', "plain"],
      ["Internal Server Error", "Internal Server Error"],
      ["", ""],
    ]
  ) test(`serverMessageOf ${body.slice(0, 30)}`, () => assert.equal(serverMessageOf(body), want));

  test("hints name the next step", () => {
    assert.match(
      hintFor(400, "Cannot load local files without --allowed-local-media-path"),
      /--allowed-local-media-path/,
    );
    assert.match(hintFor(401, ""), /API key/);
    assert.match(hintFor(404, "The model `x` does not exist"), /model/);
    assert.match(hintFor(404, "Not Found"), /server URL/);
    assert.match(hintFor(500, "boom"), /log/);
  });

  test("sleep is cut short by abort", async () => {
    const ctrl = new AbortController();
    const t0 = Date.now();
    setTimeout(() => ctrl.abort(), 10);
    await assert.rejects(sleep(5000, ctrl.signal), AbortError);
    assert.ok(Date.now() - t0 < 1000);
  });
});

/** A server on 127.0.0.1 that records what it gets and answers with `handler`. */
async function serve(handler: (req: IncomingMessage, res: ServerResponse, body: string) => void) {
  const seen: { method: string; url: string; auth?: string; body: string }[] = [];
  const srv = createServer((req, res) => {
    let body = "";
    req.on("data", (c) => (body += c));
    req.on("end", () => {
      seen.push({ method: req.method ?? "", url: req.url ?? "", auth: req.headers.authorization, body });
      handler(req, res, body);
    });
  });
  await new Promise<void>((r) => srv.listen(0, "127.0.0.1", r));
  return {
    url: `http://127.0.0.1:${(srv.address() as { port: number }).port}`,
    seen,
    close: () => {
      srv.closeAllConnections?.();
      return new Promise<void>((r) => srv.close(() => r()));
    },
  };
}

describe("request(): the node:http transport", () => {
  test("formatMs and the bound checks", () => {
    assert.equal(formatMs(150), "150 ms");
    assert.equal(formatMs(30_000), "30 s");
    assert.equal(formatMs(600_000), "10 min");
    assert.deepEqual(boundIssues({ timeoutMs: 5, idleTimeoutMs: undefined }), []);
    assert.deepEqual(boundIssues({ connectTimeoutMs: -1, downloadTimeoutMs: "1" }).map((i) => i.field), [
      "options.connectTimeoutMs",
      "options.downloadTimeoutMs",
    ]);
    assert.equal(boundIssues({ timeoutMs: MAX_TIMEOUT_MS + 1 }).length, 1);
  });

  test("a gzip body is decoded (as fetch would)", async () => {
    const s = await serve((_q, res) => {
      res.writeHead(200, { "Content-Type": "application/json", "Content-Encoding": "gzip" });
      res.end(gzipSync('{"ok": true}'));
    });
    try {
      assert.deepEqual(await readJson(await request(s.url, { method: "GET" }, { what: "x" }), "x"), { ok: true });
    } finally {
      await s.close();
    }
  });

  test("redirects: 303 turns a POST into a GET; a cross-origin hop drops the Authorization header; a same-origin one keeps it", async () => {
    const b = await serve((_q, res) => res.end("B"));
    const a = await serve((q, res) => {
      if (q.url === "/see-other") res.writeHead(303, { Location: "/done" });
      else if (q.url === "/elsewhere") res.writeHead(307, { Location: `${b.url}/there` });
      else if (q.url === "/done") res.writeHead(200);
      res.end();
    });
    try {
      await (await request(`${a.url}/see-other`, { method: "POST", body: "payload" }, { what: "x", apiKey: "k" }))
        .text();
      assert.deepEqual(a.seen.map((s) => [s.method, s.url, s.auth, s.body]), [[
        "POST",
        "/see-other",
        "Bearer k",
        "payload",
      ], ["GET", "/done", "Bearer k", ""]]);
      const res = await request(`${a.url}/elsewhere`, { method: "POST", body: "again" }, { what: "x", apiKey: "k" });
      assert.equal(await res.text(), "B");
      assert.deepEqual(b.seen.map((s) => [s.method, s.url, s.auth, s.body]), [["POST", "/there", undefined, "again"]]);
    } finally {
      await a.close();
      await b.close();
    }
  });

  test("a redirect loop ends with a RemoteError after MAX_REDIRECTS hops", async () => {
    const s = await serve((_q, res) => {
      res.writeHead(302, { Location: "/again" });
      res.end();
    });
    try {
      const err = await request(`${s.url}/start`, { method: "GET" }, { what: "Looping" }).catch((e) => e);
      assert.ok(err instanceof RemoteError, String(err));
      assert.equal(err.status, 302);
      assert.equal(s.seen.length, MAX_REDIRECTS + 1);
    } finally {
      await s.close();
    }
  });

  test("a URL that is not http(s) is a ValidationError naming it", async () => {
    for (const url of ["ftp://example.com/x", "not a url", "file:///etc/passwd"]) {
      const err = await request(url, { method: "GET" }, { what: "x" }).catch((e) => e);
      assert.ok(err instanceof ValidationError, `${url}: ${err}`);
      assert.equal(err.field, "url");
    }
  });

  test("a connection the server drops mid-body is a RemoteError, not a raw error", async () => {
    const s = await serve((_q, res) => {
      res.writeHead(200, { "Content-Type": "application/octet-stream", "Content-Length": "1000" });
      res.write("only a part");
      setTimeout(() => res.socket?.destroy(), 20);
    });
    try {
      const err = await readBytes(await request(s.url, { method: "GET" }, { what: "x" })).catch((e) => e);
      assert.ok(err instanceof RemoteError, String(err));
      assert.match(err.message, /connection .* broke/);
    } finally {
      await s.close();
    }
  });
});
