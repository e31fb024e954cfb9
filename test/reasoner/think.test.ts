/** Reasoning / answer splitting, whole and streamed (split at every character). */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { splitThink, ThinkStreamSplitter } from "../../src/reasoner/think.ts";

const CASES: {
  name: string;
  text: string;
  expect?: boolean;
  truncated?: boolean;
  reasoning?: string;
  answer: string;
}[] = [
  {
    name: "both tags",
    text: "<think>\nThe cup tips over.\n</think>\n\nIt falls.",
    reasoning: "The cup tips over.",
    answer: "It falls.",
  },
  {
    name: "missing opening tag",
    text: "The cup tips over.\n</think>\n\nIt falls.",
    expect: true,
    reasoning: "The cup tips over.",
    answer: "It falls.",
  },
  { name: "no tags, no reasoning asked", text: "A robot picks up a cube.", answer: "A robot picks up a cube." },
  { name: "no tags, reasoning asked, complete", text: "Plausible.", expect: true, answer: "Plausible." },
  {
    name: "no tags, reasoning asked, truncated",
    text: "First the arm moves",
    expect: true,
    truncated: true,
    reasoning: "First the arm moves",
    answer: "",
  },
  {
    name: "opening tag only (truncated)",
    text: "<think>\nFirst the arm moves",
    reasoning: "First the arm moves",
    answer: "",
  },
  { name: "leading whitespace before <think>", text: "\n\n<think>a</think>b", reasoning: "a", answer: "b" },
  { name: "empty reasoning", text: "<think>\n\n</think>\n\nYes.", reasoning: "", answer: "Yes." },
  { name: "<think> mentioned mid-answer is not a tag", text: "Use the <think> tag.", answer: "Use the <think> tag." },
];

describe("splitThink", () => {
  for (const c of CASES) {
    test(c.name, () => {
      const r = splitThink(c.text, { expectReasoning: c.expect, truncated: c.truncated });
      assert.equal(r.answer, c.answer);
      assert.equal(r.reasoning, c.reasoning);
    });
  }
});

function run(chunks: string[], expect: boolean) {
  const s = new ThinkStreamSplitter(expect);
  const events = chunks.flatMap((c) => s.push(c)).concat(s.end());
  const of = (ch: string) => events.filter((e) => e.channel === ch).map((e) => e.text).join("");
  return { reasoning: of("reasoning"), answer: of("answer"), events };
}

describe("ThinkStreamSplitter", () => {
  const STREAM_CASES = [
    {
      text: "<think>\nThe cup tips.\n</think>\n\nIt falls.",
      expect: false,
      reasoning: "\nThe cup tips.\n",
      answer: "It falls.",
    },
    { text: "The cup tips.\n</think>\n\nIt falls.", expect: true, reasoning: "The cup tips.\n", answer: "It falls." },
    {
      text: "A robot <b>moves</b> < 3 </th cubes.",
      expect: false,
      reasoning: "",
      answer: "A robot <b>moves</b> < 3 </th cubes.",
    },
    { text: "<think>cut off </thi", expect: false, reasoning: "cut off </thi", answer: "" },
  ];
  for (const c of STREAM_CASES) {
    test(`split at every offset: ${JSON.stringify(c.text.slice(0, 24))}`, () => {
      for (let i = 0; i <= c.text.length; i++) {
        for (const j of [i, Math.min(c.text.length, i + 1), Math.min(c.text.length, i + 5)]) {
          const r = run([c.text.slice(0, i), c.text.slice(i, j), c.text.slice(j)], c.expect);
          assert.equal(r.reasoning, c.reasoning, `split ${i},${j}`);
          assert.equal(r.answer, c.answer, `split ${i},${j}`);
          assert.ok(r.events.every((e) => !e.text.includes("<think>") && !e.text.includes("</think>")));
        }
      }
      const chars = run(Array.from(c.text), c.expect);
      assert.equal(chars.reasoning + "|" + chars.answer, c.reasoning + "|" + c.answer);
    });
  }

  test("tokens are emitted as they arrive (not held until the end)", () => {
    const s = new ThinkStreamSplitter(false);
    assert.deepEqual(s.push("Hello "), [{ text: "Hello ", channel: "answer" }]);
    assert.deepEqual(s.push("world </"), [{ text: "world ", channel: "answer" }]);
    assert.deepEqual(s.push("b>"), [{ text: "</b>", channel: "answer" }]);
  });
});
