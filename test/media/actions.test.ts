// JSON action chunks [T, D]: shape checks against the caller's D, ragged rows, NaN /
// Infinity, file round trips. D values used here follow the seed's embodiment table
// (single arm 10, camera 9, humanoid 29).
import { after, describe, test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { parseActionChunk, parseActionJson, readActionChunk, writeActionChunk } from "../../src/media/actions.ts";
import { toDataUri } from "../../src/media/source.ts";
import { MediaError, ValidationError } from "../../src/errors.ts";
import { partialFiles, tempDir } from "./_helpers.ts";

const tmp = tempDir("cosmos-media-act-");
after(() => tmp.cleanup());
const rows = (t: number, d: number) =>
  Array.from({ length: t }, (_, i) => Array.from({ length: d }, (_, j) => i + j / 10));

function validation(fn: () => unknown): ValidationError {
  try {
    fn();
  } catch (e) {
    if (e instanceof ValidationError) return e;
    throw e;
  }
  assert.fail("expected a ValidationError");
}

describe("parseActionChunk", () => {
  for (const d of [9, 10, 20, 29, 57]) {
    test(`accepts [16, ${d}] for D=${d}`, () => assert.equal(parseActionChunk(rows(16, d), { dim: d }).length, 16));
  }
  test("accepts { actions: [...] }", () =>
    assert.equal(parseActionChunk({ actions: rows(2, 9) }, { dim: 9 }).length, 2));
  const bad: [string, unknown, number, string, RegExp][] = [
    ["wrong D names the row", rows(3, 9), 10, "actions[0]", /row 0 has 9 values, expected 10/],
    ["ragged row", [...rows(2, 10), [1, 2, 3]], 10, "actions[2]", /row 2 has 3 values/],
    ["NaN names row and column", [[0, 0, 0], [0, NaN, 0]], 3, "actions[1][1]", /row 1, column 1 is NaN/],
    ["Infinity", [[0, 0, -Infinity]], 3, "actions[0][2]", /column 2 is -Infinity/],
    ["a string cell", [[0, "1", 0]], 3, "actions[0][1]", /the string "1"/],
    ["null cell", [[0, 0, null]], 3, "actions[0][2]", /is null/],
    ["row that is not an array", [[0, 0, 0], 5], 3, "actions[1]", /row 1 is not an array/],
    ["empty chunk", [], 3, "actions", /empty action chunk/],
    ["not an array", { foo: 1 }, 3, "actions", /not an array of action rows/],
  ];
  for (const [name, value, dim, field, msg] of bad) {
    test(name, () => {
      const e = validation(() => parseActionChunk(value, { dim }));
      assert.equal(e.field, field);
      assert.match(e.message, msg);
    });
  }
  test("a fixed step count is enforced", () => {
    assert.match(
      validation(() => parseActionChunk(rows(3, 9), { dim: 9, steps: 4 })).message,
      /expected 4 steps, got 3/,
    );
  });
  test("every bad cell is listed (up to 20)", () => {
    const e = validation(() => parseActionChunk([[NaN, NaN], [NaN, 0]], { dim: 2, field: "extra_params.actions" }));
    assert.deepEqual(e.issues.map((i) => i.field), [
      "extra_params.actions[0][0]",
      "extra_params.actions[0][1]",
      "extra_params.actions[1][0]",
    ]);
  });
  test("an invalid D is itself rejected", () =>
    assert.throws(() => parseActionChunk([[1]], { dim: 0 }), ValidationError));
});

describe("JSON files", () => {
  test("write then read gives the same numbers; no temp file left", async () => {
    const chunk = rows(8, 10);
    const path = await writeActionChunk(join(tmp.dir, "a", "act.json"), chunk, { dim: 10 });
    assert.deepEqual(JSON.parse(readFileSync(path, "utf8")), chunk);
    assert.deepEqual(await readActionChunk(path, { dim: 10 }), chunk);
    assert.deepEqual(partialFiles(join(tmp.dir, "a")), []);
  });
  test("writing a bad chunk throws and writes nothing", async () => {
    await assert.rejects(writeActionChunk(join(tmp.dir, "b.json"), [[1, 2]], { dim: 3 }), ValidationError);
    assert.throws(() => readFileSync(join(tmp.dir, "b.json")));
  });
  test("Python-style NaN / Infinity literals are reported by position", () => {
    const e = validation(() => parseActionJson("[[0, 1, 2], [3, NaN, 5], [Infinity, 0, 0]]", { dim: 3 }));
    assert.deepEqual(e.issues.map((i) => i.field), ["actions[1][1]", "actions[2][0]"]);
  });
  test("a string containing NaN is not mistaken for a number", () => {
    const e = validation(() => parseActionJson('[[0, "NaN", 2]]', { dim: 3 }));
    assert.match(e.message, /the string "NaN"/);
  });
  test("invalid JSON is a MediaError", () => assert.throws(() => parseActionJson("[[1, 2", { dim: 2 }), MediaError));
  test("data URIs and missing files", async () => {
    const uri = toDataUri(new TextEncoder().encode("[[1,2,3]]"), "application/json");
    assert.deepEqual(await readActionChunk(uri, { dim: 3 }), [[1, 2, 3]]);
    writeFileSync(join(tmp.dir, "bad.json"), "[[1, 2, 3]]");
    await assert.rejects(readActionChunk(join(tmp.dir, "bad.json"), { dim: 10 }), /row 0 has 3 values, expected 10/);
    await assert.rejects(readActionChunk(join(tmp.dir, "none.json"), { dim: 3 }), MediaError);
  });
});
