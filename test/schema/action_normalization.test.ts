// Action normalisation (issue 13 item 3): cosmos-framework's formulas (action_normalization.py),
// checked against the formulas written out by hand on the framework's own Bridge statistics
// (normalizer_stats/bridge_orig_lerobot_stats.json, copied as test data), the request's checks
// (row and column of a bad value, statistics of the wrong width) and the stats file reader.
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, test } from "node:test";
import { MediaError, ValidationError } from "../../src/errors.ts";
import { readActionStats } from "../../src/media/actions.ts";
import { denormalizeActions, normalizeActions, statsIssues } from "../../src/schema/action_normalization.ts";
import { RolloutRequest } from "../../src/schema/rollout_request.ts";
import { parseWith } from "../../src/schema/validate.ts";

// cosmos-framework normalizer_stats/bridge_orig_lerobot_stats.json (10D: pos 3, rot6d 6, gripper 1).
const BRIDGE = {
  q01: [-0.038884, -0.028667, -0.03784, 0.976292, -0.163098, -0.081545, -0.160193, 0.976322, -0.078872, 0],
  q99: [0.039722, 0.029068, 0.026702, 1, 0.160195, 0.081655, 0.163227, 1, 0.095189, 1],
};

function close(a: number[][], b: number[][], tol = 1e-12) {
  assert.equal(a.length, b.length);
  a.forEach((row, t) =>
    row.forEach((x, d) => assert.ok(Math.abs(x - b[t][d]) <= tol, `[${t}][${d}] ${x} vs ${b[t][d]}`))
  );
}

function catchValidation(f: () => unknown): ValidationError {
  try {
    f();
  } catch (e) {
    if (e instanceof ValidationError) return e;
    throw e;
  }
  assert.fail("expected a ValidationError");
}

describe("normalise / denormalise (cosmos-framework's formulas)", () => {
  test("quantile: q01 → −1, q99 → +1, the midpoint → 0, each column by hand", () => {
    const mid = BRIDGE.q01.map((lo, d) => (lo + BRIDGE.q99[d]) / 2);
    close(normalizeActions([BRIDGE.q01, BRIDGE.q99, mid], "quantile", BRIDGE), [
      Array(10).fill(-1),
      Array(10).fill(1),
      Array(10).fill(0),
    ]);
    const raw = [[0.01, -0.02, 0.005, 0.99, 0.1, -0.05, 0.02, 0.995, 0.03, 1]];
    const byHand = [raw[0].map((a, d) => 2 * (a - BRIDGE.q01[d]) / (BRIDGE.q99[d] - BRIDGE.q01[d]) - 1)];
    close(normalizeActions(raw, "quantile", BRIDGE), byHand);
    close(denormalizeActions(byHand, "quantile", BRIDGE), raw, 1e-15);
  });
  test("meanstd and minmax, and their inverses", () => {
    const stats = { mean: [1, -2], std: [0.5, 4], min: [0, -10], max: [2, 10] };
    close(normalizeActions([[2, 2]], "meanstd", stats), [[2, 1]]);
    close(denormalizeActions([[2, 1]], "meanstd", stats), [[2, 2]]);
    close(normalizeActions([[1, 5]], "minmax", stats), [[0, 0.5]]);
    close(denormalizeActions([[0, 0.5]], "minmax", stats), [[1, 5]]);
  });
  test("a constant column (q01 = q99) stays finite: the denominator is clamped to 1e-8 as in the framework", () => {
    const [[n]] = normalizeActions([[1 + 1e-9]], "quantile", { q01: [1], q99: [1] });
    assert.ok(Number.isFinite(n));
    assert.ok(Math.abs(n - (2 * 1e-9 / 1e-8 - 1)) < 1e-6);
  });
  test("statsIssues names a missing or mis-sized entry", () => {
    assert.deepEqual(statsIssues(BRIDGE, "quantile", 10), []);
    assert.deepEqual(statsIssues(BRIDGE, "meanstd", 10).map(([k]) => k), ["mean", "std"]);
    assert.match(statsIssues(BRIDGE, "quantile", 9)[0][1], /"q01" has 10 values; the actions have 9 columns/);
  });
});

describe("rollout request: action rows and statistics", () => {
  const base = { mode: "forward_dynamics", embodiment: "bridge", image: "o.png" } as const;
  const row = () => Array(10).fill(0);

  test("NaN / Infinity name the row and the column; a wrong width names the row; all at once", () => {
    const actions = [row(), [...row().slice(0, 3), NaN, ...row().slice(4)], row().slice(1), [
      ...row().slice(0, 9),
      Infinity,
    ]];
    const e = catchValidation(() => parseWith(RolloutRequest, { ...base, actions }, "request"));
    assert.deepEqual(e.issues.map((i) => i.field), ["request.actions.1.3", "request.actions.2", "request.actions.3.9"]);
    assert.deepEqual(e.issues.map((i) => i.message), [
      "row 1, column 3 is NaN",
      "row 2 has 9 values, expected 10 (bridge)",
      "row 3, column 9 is Infinity",
    ]);
    assert.match(e.issues[1].allowed, /10 numbers per row \(bridge\)/);
  });
  test("inline statistics must fit the embodiment and the method", () => {
    const ok = RolloutRequest.parse({ ...base, actions: [row()], normalization: { stats: BRIDGE } });
    assert.deepEqual([ok.normalization?.method, ok.normalization?.input], ["quantile", "raw"]);
    const short = { q01: BRIDGE.q01.slice(1), q99: BRIDGE.q99 };
    const e = catchValidation(() =>
      parseWith(RolloutRequest, { ...base, actions: [row()], normalization: { stats: short } }, "request")
    );
    assert.equal(e.issues[0].field, "request.normalization.stats.q01");
    assert.match(e.issues[0].message, /9 values; the actions have 10 columns/);
    const m = catchValidation(() =>
      parseWith(
        RolloutRequest,
        { ...base, actions: [row()], normalization: { method: "minmax", stats: BRIDGE } },
        "request",
      )
    );
    assert.deepEqual(m.issues.map((i) => i.field), [
      "request.normalization.stats.min",
      "request.normalization.stats.max",
    ]);
    const nan = catchValidation(() =>
      parseWith(RolloutRequest, { ...base, actions: [row()], normalization: { stats: { ...BRIDGE, q99: [NaN] } } }, "r")
    );
    assert.equal(nan.issues[0].field, "r.normalization.stats.q99.0");
  });
});

describe("readActionStats", () => {
  const dir = mkdtempSync(join(tmpdir(), "cosmos-stats-"));
  after(() => rmSync(dir, { recursive: true, force: true }));

  test("reads a cosmos-framework stats file (extra keys ignored) and checks its width", async () => {
    const file = join(dir, "bridge.json");
    writeFileSync(file, JSON.stringify({ ...BRIDGE, note: "ignored" }));
    const stats = await readActionStats(file, { dim: 10, method: "quantile" });
    assert.deepEqual(stats, BRIDGE);
    const e = await readActionStats(file, { dim: 9, method: "quantile" }).catch((x) => x);
    assert.ok(e instanceof ValidationError);
    assert.deepEqual(e.issues.map((i: { field: string }) => i.field), [
      "normalization.stats.q01",
      "normalization.stats.q99",
    ]);
  });
  test("a missing file or one that is not JSON is a MediaError that does not quote the file", async () => {
    const missing = await readActionStats(join(dir, "none.json"), { dim: 10, method: "quantile" }).catch((x) => x);
    assert.ok(missing instanceof MediaError);
    const secret = join(dir, "secret.txt");
    writeFileSync(secret, "password=hunter2\n");
    const bad = await readActionStats(secret, { dim: 10, method: "quantile" }).catch((x) => x);
    assert.ok(bad instanceof MediaError);
    assert.doesNotMatch(bad.message, /hunter2/);
  });
});
