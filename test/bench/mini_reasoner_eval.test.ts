// The mini Reasoner evaluation's plausibility breakdown (bench/mini_reasoner_eval.ts): right / all per
// kind of clip, and per kind and scenario, from the lines the script prints; lines of other tasks
// (no kind) are left out.
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { plausibilityByKind } from "../../bench/mini_reasoner_eval.ts";

describe("plausibilityByKind", () => {
  test("counts right / all per kind and per kind and scenario, sorted", () => {
    const got = plausibilityByKind([
      { kind: "teleport", scenario: "push", correct: false },
      { kind: "teleport", scenario: "drop", correct: true },
      { kind: "plausible", scenario: "drop", correct: true },
      { kind: "float", correct: false }, // data written before records named their scenario
      { id: "caption-1", correct: true }, // another task's line
    ]);
    assert.deepEqual(got, {
      float: "0/1",
      plausible: "1/1",
      "plausible/drop": "1/1",
      teleport: "1/2",
      "teleport/drop": "1/1",
      "teleport/push": "0/1",
    });
  });
});
