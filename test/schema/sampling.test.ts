// The seed's sampling tables: Reasoner without / with reasoning, Generator prompt upsampling.
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import {
  PROMPT_UPSAMPLING_SAMPLING,
  reasonerSampling,
  REASONING_INSTRUCTION,
  SamplingParams,
  withReasoningInstruction,
} from "../../src/schema/mod.ts";

const reasonerTable: [keyof SamplingParams, number, number][] = [
  // parameter, without reasoning, with reasoning
  ["top_p", 0.8, 0.95],
  ["top_k", 20, 20],
  ["repetition_penalty", 1.0, 1.0],
  ["presence_penalty", 1.5, 0.0],
  ["temperature", 0.7, 0.6],
];

describe("Reasoner sampling presets", () => {
  for (const [key, without, withR] of reasonerTable) {
    test(`${key}: ${without} without reasoning, ${withR} with`, () => {
      assert.equal(reasonerSampling(false)[key], without);
      assert.equal(reasonerSampling(true)[key], withR);
    });
  }
  test("presets are valid SamplingParams and copies (mutating one leaves the preset)", () => {
    const p = reasonerSampling(false);
    SamplingParams.parse(p);
    p.temperature = 2;
    assert.equal(reasonerSampling(false).temperature, 0.7);
  });
});

describe("Generator prompt-upsampling preset", () => {
  const table: [keyof SamplingParams, number][] = [
    ["max_tokens", 20000],
    ["temperature", 0.7],
    ["top_p", 0.8],
    ["top_k", 20],
    ["repetition_penalty", 1.0],
    ["presence_penalty", 1.5],
    ["seed", 3407],
  ];
  for (const [key, value] of table) {
    test(`${key} = ${value}`, () => assert.equal(PROMPT_UPSAMPLING_SAMPLING[key], value));
  }
});

describe("explicit reasoning instruction", () => {
  test("is appended once, after the prompt", () => {
    const p = withReasoningInstruction("Is the cup going to fall?");
    assert.ok(p.startsWith("Is the cup going to fall?\n\n"));
    assert.ok(p.endsWith(REASONING_INSTRUCTION));
    assert.equal(withReasoningInstruction(p), p);
    assert.match(REASONING_INSTRUCTION, /<think>[\s\S]*<\/think>/);
  });
});

describe("SamplingParams bounds", () => {
  const bad: [string, number][] = [["temperature", -0.1], ["top_p", 0], ["top_p", 1.5], ["top_k", 2.5], [
    "max_tokens",
    0,
  ]];
  for (const [key, value] of bad) {
    test(`rejects ${key} = ${value}`, () => {
      assert.equal(SamplingParams.partial().safeParse({ [key]: value }).success, false);
    });
  }
});
