/** JSON found in model output: fences, bare, several values, truncated. */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { extractJsonValues, nonFiniteToNull, repairTruncated } from "../../src/reasoner/json_extract.ts";

const CASES: [string, string, unknown[]][] = [
  ["fenced json", '```json\n[{"a": 1}]\n```', [[{ a: 1 }]]],
  ["fence without language", 'Here:\n```\n{"a": [1, 2]}\n```\nDone.', [{ a: [1, 2] }]],
  ["bare with prose", 'The boxes are [{"a": 1}, {"a": 2}] as requested.', [[{ a: 1 }, { a: 2 }]]],
  [
    "unclosed fence, truncated mid-object",
    '```json\n[\n  {"bbox_2d": [1, 2, 3, 4], "label": "cup"},\n  {"bbox_2d": [5, 6',
    [[{ bbox_2d: [1, 2, 3, 4], label: "cup" }]],
  ],
  ["truncated inside a string", '[{"label": "red cup"}, {"label": "blu', [[{ label: "red cup" }]]],
  ["truncated after a key", '{"events": [{"start": 1, "end": 2}], "summ', [{ events: [{ start: 1, end: 2 }] }]],
  ["JSON lines", '{"a": 1}\n{"a": 2}\n', [{ a: 1 }, { a: 2 }]],
  ["trailing comma", '[{"a": 1},]', [[{ a: 1 }]]],
  ["brackets in prose are skipped", 'Region [1] is a cup. {"x": 5}', [[1], { x: 5 }]],
  ["string with brackets and escapes", '[{"label": "a \\"[quoted]\\" }"}]', [[{ label: 'a "[quoted]" }' }]]],
  ["no JSON", "Just text.", []],
  ["second fence used when first has none", "```text\nhello\n```\n```json\n[1, 2]\n```", [[1, 2]]],
  // One NaN must not cost the whole list: number words become null, the parsers report that item.
  ["NaN, Infinity, -inf and None become null", "[[1, NaN], [-Infinity, 2], [None, -inf], [3, 4]]", [[
    [1, null],
    [null, 2],
    [null, null],
    [3, 4],
  ]]],
  ["number words inside strings stay", '[{"label": "NaN None inf"}, NaN]', [[{ label: "NaN None inf" }, null]]],
  ["NaN in a truncated value", "[[1, 2], [NaN, 3], [4", [[[1, 2], [null, 3], []]]],
];

describe("extractJsonValues", () => {
  for (const [name, text, want] of CASES) test(name, () => assert.deepEqual(extractJsonValues(text), want));
});

describe("repairTruncated", () => {
  test("nothing complete gives undefined", () => assert.equal(repairTruncated('{"a'), undefined));
  test("closes nested brackets; a number that may be cut is dropped", () =>
    assert.deepEqual(repairTruncated('{"a": [[1, 2], [3'), { a: [[1, 2], []] }));
});

describe("nonFiniteToNull", () => {
  test("replaces only whole words outside strings", () => {
    assert.equal(
      nonFiniteToNull('[NaN, -Infinity, inf, None, "NaN", 1e5, -2]'),
      '[null, null, null, null, "NaN", 1e5, -2]',
    );
    assert.equal(
      nonFiniteToNull('{"a": information, "b": Nonesuch, "c": xNaN}'),
      '{"a": information, "b": Nonesuch, "c": xNaN}',
    );
    assert.equal(nonFiniteToNull('["a \\"NaN\\" b", NaN]'), '["a \\"NaN\\" b", null]');
  });
});
