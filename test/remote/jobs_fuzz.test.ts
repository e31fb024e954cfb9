/**
 * Seeded fuzz of the vLLM-Omni job parsers and the multipart builder (deterministic cases in
 * CI): random and mutated job objects through parseVideoJob / actionChunkOf; whole jobs run
 * against a real server on 127.0.0.1 that answers each poll with a random status, body or
 * HTTP status; and random form fields (CRLF, boundary look-alikes, non-ASCII) through
 * videoForm and back through a multipart reader. Every outcome is a result of the right
 * shape or a typed error (RemoteError, TimeoutError); nothing hangs.
 */
import assert from "node:assert/strict";
import { createServer, type Server } from "node:http";
import { after, before, describe, test } from "node:test";
import { CosmosError, RemoteError } from "../../src/errors.ts";
import { videoForm } from "../../src/remote/form.ts";
import { actionChunkOf, parseVideoJob, runVideoJob } from "../../src/remote/jobs.ts";
import { parseMultipart } from "./_server.ts";
import { maybe, pick, randomJson, rng } from "./_fuzz.ts";

const SEED = 15_2026;
const STATUSES = ["queued", "in_progress", "completed", "failed", "cancelled", "", "COMPLETED", "running"];

/** A job object, mostly well-formed, with random fields replaced by random JSON. */
function randomJob(r: () => number): unknown {
  const t = 1 + Math.floor(r() * 3);
  const d = 1 + Math.floor(r() * 4);
  const rows = Array.from(
    { length: t },
    () => Array.from({ length: d }, () => (r() < 0.05 ? maybe(r, "x", 1) : r() * 2 - 1)),
  );
  const shape = r() < 0.7 ? [t, d] : r() < 0.5 ? [1, t, d] : [t + 1, d];
  const job: Record<string, unknown> = {
    id: maybe(r, `video-${Math.floor(r() * 1000)}`),
    object: "video",
    status: maybe(r, pick(r, STATUSES)),
    ...(r() < 0.5 ? { progress: maybe(r, Math.floor(r() * 100)) } : {}),
    ...(r() < 0.3 ? { error: maybe(r, { code: pick(r, [400, 500, "bad"]), message: "boom" }) } : {}),
    ...(r() < 0.5
      ? { action: maybe(r, { data: shape.length === 3 ? [rows] : rows, shape: maybe(r, shape), raw_action_dim: d }) }
      : {}),
  };
  return r() < 0.1 ? randomJson(r) : job;
}

describe("job parsers fuzz (seeded)", () => {
  test("4000 random job objects: parseVideoJob / actionChunkOf give a job and a [T, D] chunk, or a RemoteError", () => {
    const r = rng(SEED);
    let parsed = 0;
    let chunks = 0;
    let rejected = 0;
    for (let i = 0; i < 4000; i++) {
      const v = randomJob(r);
      let job;
      try {
        job = parseVideoJob(v, "Fuzz");
      } catch (e) {
        assert.ok(e instanceof RemoteError, `case ${i}: ${e}`);
        assert.match(e.message, /the server returned a job object/);
        rejected++;
        continue;
      }
      parsed++;
      assert.equal(typeof job.id, "string");
      assert.ok(job.id.length > 0);
      assert.equal(typeof job.status, "string");
      try {
        const chunk = actionChunkOf(job);
        if (chunk) {
          chunks++;
          assert.ok(chunk.length > 0 || job.action?.shape[0] === 0);
          const width = chunk[0]?.length;
          for (const row of chunk) {
            assert.equal(row.length, width, `case ${i}: ragged`);
            for (const x of row) assert.equal(typeof x, "number", `case ${i}`);
          }
        }
      } catch (e) {
        assert.ok(e instanceof RemoteError, `case ${i}: ${e}`);
      }
    }
    assert.ok(
      parsed > 1000 && rejected > 300 && chunks > 300,
      `parsed ${parsed}, rejected ${rejected}, chunks ${chunks}`,
    );
  });
});

describe("runVideoJob against a server answering at random (seeded)", () => {
  let srv: Server;
  let base: string;
  let script: (method: string, path: string) => { status: number; body: string; type?: string } | "stall";
  before(async () => {
    srv = createServer((q, res) => {
      q.resume();
      q.on("end", () => {
        const a = script(q.method ?? "GET", (q.url ?? "/").split("?")[0]);
        if (a === "stall") return;
        res.writeHead(a.status, { "Content-Type": a.type ?? "application/json" });
        res.end(a.body);
      });
    });
    await new Promise<void>((r) => srv.listen(0, "127.0.0.1", r));
    base = `http://127.0.0.1:${(srv.address() as { port: number }).port}/v1`;
  });
  after(async () => {
    srv.closeAllConnections?.();
    await new Promise<void>((r) => srv.close(() => r()));
  });

  test("120 jobs: each ends with a video and a job, or a typed error, within its bounds", async () => {
    const r = rng(SEED + 1);
    let ok = 0;
    let failed = 0;
    for (let i = 0; i < 120; i++) {
      let polls = 0;
      script = (method, path) => {
        if (method === "DELETE") return { status: 200, body: "{}" };
        if (path.endsWith("/content")) {
          return r() < 0.9
            ? { status: 200, body: "MP4BYTES", type: "video/mp4" }
            : { status: pick(r, [404, 500]), body: '{"detail":"gone"}' };
        }
        if (method === "POST") {
          return r() < 0.85
            ? { status: 200, body: JSON.stringify({ id: "job-1", status: "queued" }) }
            : { status: 200, body: JSON.stringify(randomJob(r)) };
        }
        polls++;
        const k = r();
        if (k < 0.02) return "stall";
        if (k < 0.06) {
          return {
            status: pick(r, [404, 500, 429, 503, 400]),
            body: pick(r, ['{"detail":"no"}', "<html>err</html>", ""]),
          };
        }
        if (k < 0.09) {
          return { status: 200, body: pick(r, ["<html>ok</html>", "", "{", "[]", "null"]), type: "text/html" };
        }
        if (k < 0.2) return { status: 200, body: JSON.stringify(randomJob(r)) };
        // Otherwise a well-behaved server: in progress, then completed.
        return {
          status: 200,
          body: JSON.stringify(
            polls >= 2 ? { id: "job-1", status: "completed" } : { id: "job-1", status: "in_progress", progress: 40 },
          ),
        };
      };
      const t0 = Date.now();
      try {
        const out = await runVideoJob(base, videoForm([["prompt", "x"]]), {
          what: "Fuzz job",
          pollIntervalMs: 1,
          jobTimeoutMs: 300,
          timeoutMs: 150,
          idleTimeoutMs: 150,
          retries: 1,
          retryBaseMs: 1,
        });
        assert.equal(out.job.status, "completed");
        assert.ok(out.video instanceof Uint8Array);
        ok++;
      } catch (e) {
        assert.ok(e instanceof CosmosError, `case ${i}: ${e}`);
        assert.ok(e instanceof RemoteError, `case ${i}: ${(e as Error).name}: ${(e as Error).message}`);
        failed++;
      }
      assert.ok(Date.now() - t0 < 5000, `case ${i} took ${Date.now() - t0} ms`);
    }
    assert.ok(ok > 10 && failed > 10, `${ok} completed, ${failed} typed errors`);
  });
});

describe("multipart builder fuzz (seeded)", () => {
  const PIECES = [
    "\r\n",
    "\n",
    "\r",
    "--",
    "----cosmos-ts-",
    '; name="x"',
    '"',
    "é",
    "🤖",
    "\0",
    " ",
    "a",
    "Content-Disposition: form-data",
    "\r\n\r\n",
  ];

  test("800 random forms: every field and the file come back byte for byte", () => {
    const r = rng(SEED + 2);
    const enc = new TextEncoder();
    for (let i = 0; i < 800; i++) {
      const fields: [string, string][] = Array.from({ length: 1 + Math.floor(r() * 4) }, (_, j) => [
        `f${j}`,
        Array.from({ length: Math.floor(r() * 12) }, () => pick(r, PIECES)).join(""),
      ]);
      const file = r() < 0.5
        ? {
          data: Uint8Array.from({ length: Math.floor(r() * 200) }, () => Math.floor(r() * 256)),
          filename: "in.png",
          mimeType: "image/png",
        }
        : undefined;
      const form = videoForm(fields, file);
      const parts = parseMultipart(form.body, form.contentType);
      assert.deepEqual(parts.filter((p) => p.filename === undefined).map((p) => [p.name, p.text]), fields, `case ${i}`);
      for (const [k, p] of parts.filter((p) => p.filename === undefined).entries()) {
        assert.deepEqual(p.data, enc.encode(fields[k][1]), `case ${i} bytes`);
      }
      if (file) assert.deepEqual(parts.find((p) => p.name === "input_reference")?.data, file.data, `case ${i} file`);
    }
  });
});
