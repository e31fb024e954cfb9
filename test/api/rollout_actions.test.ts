// rollout() with raw actions and statistics (issue 13 item 3), end to end against the scripted
// vLLM-Omni test server: the server is sent model-space (normalised) rows, the result holds both
// spaces and says which the chart shows; predicted actions come back denormalised as well.
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { rollout } from "../../src/api/rollout.ts";
import { makeMp4, makePng } from "../remote/_media.ts";
import { type Recorded, scriptedAction, startTestServer, type TestServer } from "../remote/_server.ts";

const FAST = { retryBaseMs: 5, timeoutMs: 20_000, pollIntervalMs: 5 };
const STATS = { q01: [-2, 0, 10, -1, -1, -1, -1, -1, -1], q99: [2, 4, 20, 1, 1, 1, 1, 1, 1] };

function extraOf(rec: Recorded): Record<string, unknown> {
  const part = rec.form?.find((p) => p.name === "extra_params");
  return JSON.parse(part!.text) as Record<string, unknown>;
}

describe("rollout(): raw actions and statistics", () => {
  let srv: TestServer;
  let dir: string;
  before(async () => {
    srv = await startTestServer({ models: ["nvidia/Cosmos3-Nano"], png: await makePng(32, 32), mp4: makeMp4(3) });
    dir = mkdtempSync(join(tmpdir(), "cosmos-roll-norm-"));
    writeFileSync(join(dir, "obs.png"), await makePng(32, 32));
  });
  after(async () => {
    await srv.close();
    rmSync(dir, { recursive: true, force: true });
  });

  test("forward dynamics: raw rows from a file are normalised with a stats file before the server sees them", async () => {
    srv.requests.length = 0;
    const raw = [[0, 2, 15, 0, 0, 0, 0, 0, 1], [2, 4, 20, 1, -1, 0, 0, 0, 0]];
    writeFileSync(join(dir, "raw.json"), JSON.stringify(raw));
    writeFileSync(join(dir, "stats.json"), JSON.stringify(STATS));
    const r = await rollout({
      mode: "forward_dynamics",
      embodiment: "av",
      image: join(dir, "obs.png"),
      actions: join(dir, "raw.json"),
      normalization: { stats: join(dir, "stats.json") },
      outputPath: join(dir, "fd.mp4"),
    }, { ...FAST, backend: srv.url });
    // 2(a − q01)/(q99 − q01) − 1 per column, by hand
    const normalized = [[0, 0, 0, 0, 0, 0, 0, 0, 1], [1, 1, 1, 1, -1, 0, 0, 0, 0]];
    assert.deepEqual(extraOf(srv.requests[0]).action, normalized);
    assert.deepEqual(r.actionSpaces, {
      role: "given",
      normalized,
      raw,
      charted: "raw",
      normalization: { method: "quantile", stats: join(dir, "stats.json") },
    });
  });

  test("forward dynamics with normalised rows and no statistics: sent as given, charted normalised", async () => {
    srv.requests.length = 0;
    const rows = [[0.5, 0, 0, 0, 0, 0, 0, 0, 0]];
    const r = await rollout(
      { mode: "forward_dynamics", embodiment: "av", image: join(dir, "obs.png"), actions: rows },
      { ...FAST, backend: srv.url },
    );
    assert.deepEqual(extraOf(srv.requests[0]).action, rows);
    assert.deepEqual(r.actionSpaces, { role: "given", normalized: rows, charted: "normalized" });
  });

  test("policy: the predicted chunk comes back in both spaces (denormalised with inline statistics)", async () => {
    srv.requests.length = 0;
    const r = await rollout({
      mode: "policy",
      embodiment: "camera_pose",
      image: join(dir, "obs.png"),
      prompt: "Pan left.",
      actionChunkSize: 2,
      normalization: { stats: STATS },
      outputPath: join(dir, "policy.mp4"),
    }, { ...FAST, backend: srv.url });
    const predicted = scriptedAction(2, 9);
    assert.deepEqual(r.actions, predicted);
    assert.equal(extraOf(srv.requests[0]).action, undefined);
    const raw = predicted.map((row) => row.map((n, d) => (n + 1) / 2 * (STATS.q99[d] - STATS.q01[d]) + STATS.q01[d]));
    assert.equal(r.actionSpaces?.charted, "raw");
    assert.equal(r.actionSpaces?.role, "predicted");
    assert.deepEqual(r.actionSpaces?.normalized, predicted);
    r.actionSpaces!.raw!.forEach((row, t) => row.forEach((x, d) => assert.ok(Math.abs(x - raw[t][d]) < 1e-12)));
  });

  test("inputs already normalised plus statistics: the raw chunk is the denormalised one", async () => {
    srv.requests.length = 0;
    const rows = [[1, -1, 0, 0, 0, 0, 0, 0, 0]];
    const r = await rollout({
      mode: "forward_dynamics",
      embodiment: "av",
      image: join(dir, "obs.png"),
      actions: rows,
      normalization: { stats: STATS, input: "normalized" },
    }, { ...FAST, backend: srv.url });
    assert.deepEqual(extraOf(srv.requests[0]).action, rows);
    assert.deepEqual(r.actionSpaces?.raw, [[2, 0, 15, 0, 0, 0, 0, 0, 0]]);
  });
});
