/**
 * Every error is typed: through the public calls (reason / generate / rollout on a remote
 * backend), bad references, missing files, unreachable servers and odd answers end as a
 * ValidationError / MediaError / RemoteError with a hint — never a raw `TypeError: fetch
 * failed`, `DOMException`, `URIError`, `ENOENT` or `SyntaxError` — and an error never prints
 * the content of a file it could not use.
 */
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createServer, type Server } from "node:http";
import { createServer as createNetServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { after, before, describe, test } from "node:test";
import { generate } from "../../src/api/generate.ts";
import { reason } from "../../src/api/reason.ts";
import { rollout } from "../../src/api/rollout.ts";
import { CosmosError, MediaError, RemoteError, ValidationError } from "../../src/errors.ts";
import { parseActionJson, readActionChunk } from "../../src/media/actions.ts";

const RAW = /^(TypeError|SyntaxError|URIError|RangeError|DOMException|Error)$/;

/** The error `p` rejects with, checked to be typed: a CosmosError of `cls`, with a hint when asked, no raw name inside. */
async function typed<T extends CosmosError>(
  p: Promise<unknown>,
  cls: new (...a: never[]) => T,
  hint = true,
): Promise<T> {
  const err = await p.then(() => undefined, (e) => e);
  assert.ok(err instanceof CosmosError, `expected a typed error, got ${err?.name}: ${err?.message}`);
  assert.ok(err instanceof cls, `expected ${cls.name}, got ${err.name}: ${err.message}`);
  assert.doesNotMatch(err.name, RAW);
  assert.doesNotMatch(
    err.message,
    /fetch failed|ENOENT|EACCES|URIError|DOMException|Unexpected token|is not valid JSON:/,
  );
  if (hint && !(err instanceof ValidationError)) assert.ok(err.hint && err.hint.length > 10, `a hint: ${err.message}`);
  return err as T;
}

describe("typed errors through the public calls", () => {
  let dir: string;
  let closedUrl: string;
  let srv: Server;
  let url: string;
  before(async () => {
    dir = mkdtempSync(join(tmpdir(), "cosmos-typed-errors-"));
    // A port nothing listens on: connection refused.
    const probe = createNetServer();
    await new Promise<void>((r) => probe.listen(0, "127.0.0.1", r));
    closedUrl = `http://127.0.0.1:${(probe.address() as { port: number }).port}`;
    await new Promise<void>((r) => probe.close(() => r()));
    // A server that answers 200 with an HTML page, whatever is asked.
    srv = createServer((_q, res) => {
      res.writeHead(200, { "Content-Type": "text/html" });
      res.end("<html><body>Welcome to nginx!</body></html>");
    });
    await new Promise<void>((r) => srv.listen(0, "127.0.0.1", r));
    url = `http://127.0.0.1:${(srv.address() as { port: number }).port}`;
  });
  after(async () => {
    rmSync(dir, { recursive: true, force: true });
    srv.closeAllConnections?.();
    await new Promise<void>((r) => srv.close(() => r()));
  });

  const remote = () => ({ kind: "remote" as const, url: closedUrl, model: "m" });

  test("connection refused -> RemoteError asking whether the server runs at that URL (reason, generate, rollout)", async () => {
    for (
      const call of [
        () => reason({ task: "custom", prompt: "Hi" }, { backend: remote() }),
        () => generate({ prompt: "A robot.", output: "image" }, { backend: closedUrl }),
        () =>
          rollout(
            { mode: "policy", embodiment: "droid", image: `data:image/png;base64,iVBORw0KGgo=`, prompt: "Pick." },
            { backend: closedUrl },
          ),
      ]
    ) {
      const err = await typed(call(), RemoteError);
      assert.match(err.message, /cannot reach http:\/\/127\.0\.0\.1:\d+ \(connection refused\)/);
      assert.ok(err.hint!.includes(`listening at ${closedUrl}?`), err.hint);
    }
  });

  test("an unknown host -> RemoteError naming the host", async () => {
    const err = await typed(
      reason({ task: "custom", prompt: "Hi" }, {
        backend: { kind: "remote", url: "http://cosmos.invalid:8000", model: "m" },
      }),
      RemoteError,
    );
    assert.match(err.message, /cosmos\.invalid/);
  });

  test("a 200 that is not JSON -> RemoteError 'the server returned …' (reason, generate image, model listing)", async () => {
    for (
      const call of [
        () => reason({ task: "custom", prompt: "Hi", stream: false }, { backend: { kind: "remote", url, model: "m" } }),
        () => reason({ task: "custom", prompt: "Hi", stream: false }, { backend: { kind: "remote", url } }),
        () => generate({ prompt: "A robot.", output: "image" }, { backend: url }),
      ]
    ) {
      const err = await typed(call(), RemoteError);
      assert.match(err.message, /the server returned something other than JSON: "<html><body>Welcome to nginx!/);
    }
  });

  test("a malformed file:// URL -> ValidationError naming the field (host, encoded slash)", async () => {
    for (const image of ["file://some-host/tmp/robot.png", "file:///tmp/a%2Fb.png"]) {
      const err = await typed(
        reason({ task: "custom", prompt: "Describe.", image }, { backend: remote() }),
        ValidationError,
      );
      assert.equal(err.field, "request.image");
      assert.match(err.message, /malformed file:\/\/ URL/);
    }
    const v = await typed(
      reason({ task: "caption", video: "file://host/clip.mp4" }, { backend: remote() }),
      ValidationError,
    );
    assert.equal(v.field, "request.video");
    const g = await typed(
      generate({ prompt: "A robot.", image: "file://host/x.png" }, { backend: closedUrl }),
      ValidationError,
    );
    assert.equal(g.field, "request.image");
  });

  test("malformed percent-encoding in a data URI -> ValidationError naming the field", async () => {
    const bad = "data:image/png,%E0%A4%A";
    const err = await typed(
      reason({
        task: "describe_anything",
        prompt: "Describe the marked regions.",
        image: bad,
        subjects: [{ box: [0, 0, 500, 500] }],
      }, { backend: remote() }),
      ValidationError,
    );
    assert.equal(err.field, "request.image");
    assert.match(err.message, /percent-encoding/);
    const g = await typed(
      generate({ prompt: "A robot.", image: "data:image/png,100%" }, { backend: closedUrl }),
      ValidationError,
    );
    assert.equal(g.field, "request.image");
  });

  test("a missing local file -> MediaError naming the field, in words (no ENOENT)", async () => {
    const missing = join(dir, "nope", "robot.png");
    const err = await typed(
      reason({ task: "custom", prompt: "Describe.", image: missing }, { backend: remote() }),
      MediaError,
    );
    assert.match(err.message, /^request\.image: the file ".*robot\.png" does not exist\./);
    const v = await typed(
      reason({ task: "caption", video: pathToFileURL(join(dir, "clip.mp4")).href }, { backend: remote() }),
      MediaError,
    );
    assert.match(v.message, /^request\.video: .* does not exist/);
    const g = await typed(generate({ prompt: "A robot.", image: missing }, { backend: closedUrl }), MediaError);
    assert.match(g.message, /^request\.image: .* does not exist/);
    const f = await typed(
      reason({ task: "custom", prompt: "Describe.", image: join(dir) + "/" + ".png" }, { backend: remote() }),
      MediaError,
    );
    assert.match(f.message, /does not exist|is a folder/);
  });

  test("an actions path that is not JSON -> MediaError that does not print the file's content", async () => {
    const secret = join(dir, "notes.json");
    writeFileSync(secret, "password=hunter2; api_key=sk-SECRET-1234\nmore private text");
    const err = await typed(
      rollout({
        mode: "forward_dynamics",
        embodiment: "droid",
        image: "data:image/png;base64,iVBORw0KGgo=",
        actions: secret,
      }, { backend: closedUrl }),
      MediaError,
    );
    assert.doesNotMatch(err.message, /hunter2|SECRET|password|private/);
    assert.match(err.message, /actions: the action file is not valid JSON \(it does not start with \[ or \{\)/);
    // The same rule in the parser itself, for any bad JSON.
    for (const text of ["[[1, 2], [3, oops]]", '{"actions": [[1,2]', "secret text"]) {
      const e = (() => {
        try {
          parseActionJson(text, { dim: 2 });
        } catch (x) {
          return x as Error;
        }
      })();
      assert.ok(e instanceof MediaError, String(e));
      assert.doesNotMatch(e.message, /oops|secret/);
    }
  });

  test("a missing actions file or a malformed actions URL -> MediaError / ValidationError naming actions", async () => {
    const m = await typed(readActionChunk(join(dir, "missing.json"), { dim: 10 }), MediaError);
    assert.match(m.message, /^actions: the action file ".*missing\.json" does not exist\./);
    const v = await typed(readActionChunk("file://host/a.json", { dim: 10 }), ValidationError);
    assert.equal(v.field, "actions");
    const d = await typed(readActionChunk("data:application/json,%E0%A4%A", { dim: 10 }), ValidationError);
    assert.equal(d.field, "actions");
    const r = await typed(
      rollout({
        mode: "forward_dynamics",
        embodiment: "droid",
        image: "data:image/png;base64,iVBORw0KGgo=",
        actions: join(dir, "gone.json"),
      }, { backend: closedUrl }),
      MediaError,
    );
    assert.match(r.message, /does not exist/);
  });

  test("an API key a header cannot carry -> ValidationError naming apiKey (the key is not echoed)", async () => {
    const err = await typed(
      reason({ task: "custom", prompt: "Hi" }, {
        backend: { kind: "remote", url, model: "m", apiKey: "sk-abc\nX-Evil: 1" },
      }),
      ValidationError,
    );
    assert.equal(err.field, "apiKey");
    assert.doesNotMatch(err.message, /sk-abc/);
  });

  test("odd answers of a server: a model list that is not a list, a redirect to a bad URL -> RemoteError", async () => {
    const odd = createServer((q, res) => {
      if (q.url === "/v1/models") {
        res.writeHead(200, { "Content-Type": "application/json" });
        return res.end('{"object":"list","data":{"id":"m"}}');
      }
      res.writeHead(302, { Location: "http://[::1" });
      res.end();
    });
    await new Promise<void>((r) => odd.listen(0, "127.0.0.1", r));
    const oddUrl = `http://127.0.0.1:${(odd.address() as { port: number }).port}`;
    try {
      const m = await typed(
        reason({ task: "custom", prompt: "Hi" }, { backend: { kind: "remote", url: oddUrl } }),
        RemoteError,
      );
      assert.match(m.message, /the server returned a body without a "data" list of models/);
      const r = await typed(
        reason({ task: "custom", prompt: "Hi" }, { backend: { kind: "remote", url: oddUrl, model: "m" } }),
        RemoteError,
      );
      assert.match(r.message, /redirected to an unusable URL/);
    } finally {
      odd.closeAllConnections?.();
      await new Promise<void>((r) => odd.close(() => r()));
    }
  });

  test("bad options -> ValidationError naming the option (not a TypeError)", async () => {
    const err = await typed(reason({ task: "custom", prompt: "Hi" }, null as never), ValidationError);
    assert.equal(err.field, "options");
  });
});
