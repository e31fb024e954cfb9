/**
 * Per-workflow parsing of real-looking Reasoner outputs (Qwen3-VL grounding JSON, fenced
 * and bare, truncated; temporal events as JSON and as text; plausibility labels;
 * trajectories; describe-anything subjects), and the full result assembly.
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { parseAnswer, parseTimestamp } from "../../src/reasoner/parse.ts";
import { reasonResult } from "../../src/reasoner/result.ts";
import type { ReasonTask } from "../../src/schema/reason_request.ts";
import type { ParsedOutput } from "../../src/schema/results.ts";

type Case = [name: string, task: ReasonTask, answer: string, want: ParsedOutput, subjects?: { label?: string }[]];

const CASES: Case[] = [
  // ---- grounding
  [
    "qwen3-vl fenced boxes",
    "grounding_2d",
    '```json\n[\n\t{"bbox_2d": [135, 114, 436, 593], "label": "robot arm"},\n\t{"bbox_2d": [512, 420, 601, 533], "label": "red cube"}\n]\n```',
    {
      kind: "boxes",
      boxes: [{ label: "robot arm", box: [135, 114, 436, 593] }, { label: "red cube", box: [512, 420, 601, 533] }],
    },
  ],
  [
    "bare boxes after prose",
    "grounding_2d",
    'Sure! Here are the cups: [{"bbox_2d": [10, 20, 110, 220], "label": "cup"}]',
    { kind: "boxes", boxes: [{ label: "cup", box: [10, 20, 110, 220] }] },
  ],
  [
    "truncated mid-box keeps the complete ones",
    "grounding_2d",
    '```json\n[\n  {"bbox_2d": [10, 20, 110, 220], "label": "cup"},\n  {"bbox_2d": [300, 310, 4',
    { kind: "boxes", boxes: [{ label: "cup", box: [10, 20, 110, 220] }] },
  ],
  [
    "truncated inside a label",
    "grounding_2d",
    '[{"bbox_2d": [1, 2, 30, 40], "label": "mug"}, {"bbox_2d": [50, 60, 70, 80], "label": "pla',
    { kind: "boxes", boxes: [{ label: "mug", box: [1, 2, 30, 40] }] },
  ],
  ["single object, not a list", "grounding_2d", '{"bbox_2d": [100, 200, 300, 400], "label": "drawer handle"}', {
    kind: "boxes",
    boxes: [{ label: "drawer handle", box: [100, 200, 300, 400] }],
  }],
  [
    "wrapped in objects key, string numbers",
    "grounding_2d",
    '{"objects": [{"bbox": ["5", "6", "50", "60"], "name": "box"}]}',
    { kind: "boxes", boxes: [{ label: "box", box: [5, 6, 50, 60] }] },
  ],
  [
    "JSON lines of boxes",
    "grounding_2d",
    '{"bbox_2d": [1, 1, 9, 9], "label": "a"}\n{"bbox_2d": [2, 2, 8, 8], "label": "b"}',
    { kind: "boxes", boxes: [{ label: "a", box: [1, 1, 9, 9] }, { label: "b", box: [2, 2, 8, 8] }] },
  ],
  ["bare coordinate lists", "grounding_2d", "[[10, 10, 50, 50], [60, 60, 90, 95]]", {
    kind: "boxes",
    boxes: [{ label: "", box: [10, 10, 50, 50] }, { label: "", box: [60, 60, 90, 95] }],
  }],
  ["text form", "grounding_2d", "cup: [12, 34, 56, 78]\nplate: (100, 200), (300, 400)", {
    kind: "boxes",
    boxes: [{ label: "cup", box: [12, 34, 56, 78] }, { label: "plate", box: [100, 200, 300, 400] }],
  }],
  [
    "inverted box: left out and reported, not silently dropped",
    "grounding_2d",
    '[{"bbox_2d": [500, 500, 100, 100], "label": "x"}]',
    {
      kind: "boxes",
      boxes: [],
      invalid: [{
        item: '{"bbox_2d":[500,500,100,100],"label":"x"}',
        problem: "empty or reversed box (x2 ≤ x1 or y2 ≤ y1)",
      }],
    },
  ],
  ["no boxes", "grounding_2d", "I cannot find any cup in the image.", {
    kind: "unparsed",
    error: "no bounding box (bbox_2d) found in the answer",
  }],
  // ---- temporal localization
  [
    "events JSON seconds",
    "temporal_localization",
    '```json\n[{"start": 0.0, "end": 2.5, "event": "The arm reaches"}, {"start": 2.5, "end": 5, "event": "It grasps the cube"}]\n```',
    {
      kind: "events",
      events: [{ start: 0, end: 2.5, label: "The arm reaches" }, { start: 2.5, end: 5, label: "It grasps the cube" }],
    },
  ],
  [
    "events JSON mm:ss strings",
    "temporal_localization",
    '[{"start_time": "00:01", "end_time": "00:04.5", "description": "door opens"}]',
    { kind: "events", events: [{ start: 1, end: 4.5, label: "door opens" }] },
  ],
  [
    "events JSON timestamp range",
    "temporal_localization",
    '{"events": [{"timestamp": "1:05-1:12", "caption": "car turns left"}, {"timestamp": [80, 85], "caption": "stops"}]}',
    {
      kind: "events",
      events: [{ start: 65, end: 72, label: "car turns left" }, { start: 80, end: 85, label: "stops" }],
    },
  ],
  [
    "events truncated JSON",
    "temporal_localization",
    '[{"start": 1, "end": 3, "event": "pick"}, {"start": 4, "end": 6, "event": "pla',
    { kind: "events", events: [{ start: 1, end: 3, label: "pick" }] },
  ],
  [
    "text mm:ss–mm:ss bullets",
    "temporal_localization",
    "- 00:00–00:03: The robot approaches the table.\n- 00:03–00:07: It picks up the red cube.\n- 01:02-01:10: It leaves.",
    {
      kind: "events",
      events: [{ start: 0, end: 3, label: "The robot approaches the table." }, {
        start: 3,
        end: 7,
        label: "It picks up the red cube.",
      }, { start: 62, end: 70, label: "It leaves." }],
    },
  ],
  [
    "text t1-t2 seconds",
    "temporal_localization",
    "1. 0.5-2.0 seconds: person enters\n2. 2.0 - 4.5 seconds: person sits down",
    {
      kind: "events",
      events: [{ start: 0.5, end: 2, label: "person enters" }, { start: 2, end: 4.5, label: "person sits down" }],
    },
  ],
  [
    "text label before span",
    "temporal_localization",
    "The cup falls between 3.2s and 4s? No: cup falls (3.2s - 4.0s)",
    { kind: "events", events: [{ start: 3.2, end: 4, label: "The cup falls between 3.2s and 4s? No: cup falls" }] },
  ],
  ["no timestamps", "temporal_localization", "Nothing notable happens.", {
    kind: "unparsed",
    error: "no timestamps found in the answer",
  }],
  // ---- plausibility
  ["label plausible", "physical_plausibility", "Plausible.", { kind: "label", label: "plausible" }],
  [
    "label implausible sentence",
    "physical_plausibility",
    "The video is physically implausible because the ball floats upward.",
    { kind: "label", label: "implausible" },
  ],
  ["label not plausible", "physical_plausibility", "This is not plausible.", { kind: "label", label: "implausible" }],
  [
    "label JSON",
    "physical_plausibility",
    '```json\n{"label": "Implausible", "reason": "object passes through the wall"}\n```',
    { kind: "label", label: "implausible" },
  ],
  ["label yes", "physical_plausibility", "Yes, it follows physics.", { kind: "label", label: "plausible" }],
  ["label other short", "physical_plausibility", "Uncertain", { kind: "label", label: "uncertain" }],
  // ---- trajectories
  ["trajectory list", "action_cot", "```json\n[[120, 340], [150, 330], [180, 322]]\n```", {
    kind: "trajectory",
    points: [[120, 340], [150, 330], [180, 322]],
  }],
  ["trajectory point_2d objects", "action_cot", '[{"point_2d": [10, 20], "label": "start"}, {"point_2d": [30, 40]}]', {
    kind: "trajectory",
    points: [[10, 20], [30, 40]],
  }],
  [
    "trajectory under key",
    "action_cot",
    'The ego car keeps lane. {"trajectory": [{"x": 0, "y": 0}, {"x": 1.5, "y": 4.2}]}',
    { kind: "trajectory", points: [[0, 0], [1.5, 4.2]] },
  ],
  ["trajectory truncated", "action_cot", "[[1, 2], [3, 4], [5,", { kind: "trajectory", points: [[1, 2], [3, 4]] }],
  ["trajectory text pairs", "action_cot", "Move from (100, 200) to (150, 260) then (-3.5, 7).", {
    kind: "trajectory",
    points: [[100, 200], [150, 260], [-3.5, 7]],
  }],
  ["no trajectory", "action_cot", "Turn left.", {
    kind: "unparsed",
    error: "no trajectory points found in the answer",
  }],
  // ---- describe anything
  [
    "subjects JSON list",
    "describe_anything",
    '[{"index": 1, "description": "A red ceramic mug with a chipped rim."}, {"index": 2, "description": "A steel spoon."}]',
    {
      kind: "subjects",
      subjects: [{ index: 1, label: "mug", description: "A red ceramic mug with a chipped rim." }, {
        index: 2,
        description: "A steel spoon.",
      }],
    },
    [{ label: "mug" }, {}],
  ],
  [
    "subjects JSON object by region",
    "describe_anything",
    '{"region 1": "a blue box", "region 2": "a yellow tape roll"}',
    {
      kind: "subjects",
      subjects: [{ index: 1, description: "a blue box" }, { index: 2, description: "a yellow tape roll" }],
    },
    [{}, {}],
  ],
  [
    "subjects text lines",
    "describe_anything",
    "**Region 1:** A robot gripper, black.\n**Region 2:** Wooden table surface.\n",
    {
      kind: "subjects",
      subjects: [{ index: 1, description: "A robot gripper, black." }, {
        index: 2,
        description: "Wooden table surface.",
      }],
    },
    [{}, {}],
  ],
  ["subjects numbered list", "describe_anything", "1. A green apple.\n2) A knife with a black handle.", {
    kind: "subjects",
    subjects: [{ index: 1, label: "fruit", description: "A green apple." }, {
      index: 2,
      description: "A knife with a black handle.",
    }],
  }, [{ label: "fruit" }, {}]],
  ["single subject plain text", "describe_anything", "A small white robot vacuum.", {
    kind: "subjects",
    subjects: [{ index: 1, description: "A small white robot vacuum." }],
  }, [{}]],
  ["subjects none", "describe_anything", "I see things.", {
    kind: "unparsed",
    error: "no per-subject descriptions found in the answer",
  }, [{}, {}]],
  // ---- text workflows keep the text
  ["caption", "caption", "  A robot arm places a cube.\n", { kind: "text", text: "A robot arm places a cube." }],
  ["custom", "custom", "[1, 2]", { kind: "text", text: "[1, 2]" }],
];

describe("parseAnswer", () => {
  for (const [name, task, answer, want, subjects] of CASES) {
    test(`${task}: ${name}`, () => assert.deepEqual(parseAnswer(task, answer, { subjects }), want));
  }
});

// Imperfect model output: the valid items stay, each bad one is reported with its problem.
const IMPERFECT: Case[] = [
  [
    "an event that ends before it starts, among good ones",
    "temporal_localization",
    '[{"start": 0, "end": 2, "event": "reach"}, {"start": 5, "end": 3, "event": "grasp"}, {"start": 6, "end": 8, "event": "lift"}]',
    {
      kind: "events",
      events: [{ start: 0, end: 2, label: "reach" }, { start: 6, end: 8, label: "lift" }],
      invalid: [{ item: '{"start":5,"end":3,"event":"grasp"}', problem: "ends (3s) before it starts (5s)" }],
    },
  ],
  [
    "overlapping and identical events are all kept",
    "temporal_localization",
    '[{"start": 0, "end": 4, "event": "arm moves"}, {"start": 1, "end": 3, "event": "gripper closes"}, {"start": 1, "end": 3, "event": "gripper closes"}]',
    {
      kind: "events",
      events: [{ start: 0, end: 4, label: "arm moves" }, { start: 1, end: 3, label: "gripper closes" }, {
        start: 1,
        end: 3,
        label: "gripper closes",
      }],
    },
  ],
  [
    "NaN / null / negative / unreadable event times",
    "temporal_localization",
    '[{"start": NaN, "end": 2, "event": "a"}, {"start": 1, "end": null, "event": "b"}, {"start": -2, "end": 1, "event": "c"}, {"event": "d"}, {"start": "soon", "end": 3, "event": "e"}, {"start": 3, "end": 3, "event": "instant"}]',
    {
      kind: "events",
      events: [{ start: 3, end: 3, label: "instant" }],
      invalid: [
        { item: '{"start":null,"end":2,"event":"a"}', problem: "no readable start time" },
        { item: '{"start":1,"end":null,"event":"b"}', problem: "no readable end time" },
        { item: '{"start":-2,"end":1,"event":"c"}', problem: "negative time (-2s–1s)" },
        { item: '{"event":"d"}', problem: "no timestamps" },
        { item: '{"start":"soon","end":3,"event":"e"}', problem: "no readable start time" },
      ],
    },
  ],
  [
    "text lines: a reversed span is reported, the rest kept",
    "temporal_localization",
    "- 00:00–00:03: approach\n- 00:09–00:05: grasp\n- 00:10–00:12: leave",
    {
      kind: "events",
      events: [{ start: 0, end: 3, label: "approach" }, { start: 10, end: 12, label: "leave" }],
      invalid: [{ item: "00:09–00:05: grasp", problem: "ends (5s) before it starts (9s)" }],
    },
  ],
  [
    "boxes outside the grid, degenerate, negative, NaN",
    "grounding_2d",
    '[{"bbox_2d": [100, 100, 300, 300], "label": "cup"}, {"bbox_2d": [-50, 900, 200, 1100], "label": "edge"}, {"bbox_2d": [1200, 100, 1400, 300], "label": "gone"}, ' +
    '{"bbox_2d": [400, 400, 400, 600], "label": "flat"}, {"bbox_2d": [-300, -300, -100, -100], "label": "neg"}, {"bbox_2d": [1, NaN, 3, 4], "label": "nan"}, {"bbox_2d": [1, 2, 3], "label": "short"}, {"label": "nobox"}]',
    {
      kind: "boxes",
      boxes: [{ label: "cup", box: [100, 100, 300, 300] }, {
        label: "edge",
        box: [-50, 900, 200, 1100],
        problem: "partly outside the image (the grid is 0–1000)",
      }],
      invalid: [
        { item: '{"bbox_2d":[1200,100,1400,300],"label":"gone"}', problem: "outside the image (the grid is 0–1000)" },
        { item: '{"bbox_2d":[400,400,400,600],"label":"flat"}', problem: "empty or reversed box (x2 ≤ x1 or y2 ≤ y1)" },
        { item: '{"bbox_2d":[-300,-300,-100,-100],"label":"neg"}', problem: "outside the image (the grid is 0–1000)" },
        { item: '{"bbox_2d":[1,null,3,4],"label":"nan"}', problem: "a coordinate is not a number (NaN, null or text)" },
        { item: '{"bbox_2d":[1,2,3],"label":"short"}', problem: "not a box: needs 4 numbers [x1, y1, x2, y2]" },
        { item: '{"label":"nobox"}', problem: "no bbox_2d" },
      ],
    },
  ],
  ["bare box lists with a null", "grounding_2d", "[[10, 10, 50, 50], [null, 1, 2, 3]]", {
    kind: "boxes",
    boxes: [{ label: "", box: [10, 10, 50, 50] }],
    invalid: [{ item: "[null,1,2,3]", problem: "a coordinate is not a number (NaN, null or text)" }],
  }],
  ["text form with a negative corner", "grounding_2d", "cup: [-20, 34, 56, 78]", {
    kind: "boxes",
    boxes: [{ label: "cup", box: [-20, 34, 56, 78], problem: "partly outside the image (the grid is 0–1000)" }],
  }],
  [
    "trajectory with NaN, Infinity and null points",
    "action_cot",
    '[[1, 2], [NaN, 3], [4, Infinity], [5, 6], {"x": null, "y": 1}, [7, 8]]',
    {
      kind: "trajectory",
      points: [[1, 2], [5, 6], [7, 8]],
      invalid: [
        { item: "[null,3]", problem: "a coordinate is not a number (NaN, null or text)" },
        { item: "[4,null]", problem: "a coordinate is not a number (NaN, null or text)" },
        { item: '{"x":null,"y":1}', problem: "a coordinate is not a number (NaN, null or text)" },
      ],
    },
  ],
  ["a JSON object of prose is not a box", "grounding_2d", '{"text": "I cannot see a cup."}', {
    kind: "unparsed",
    error: "no bounding box (bbox_2d) found in the answer",
  }],
  ["a list of words is not a trajectory", "action_cot", '["Turn left", "Go straight"]', {
    kind: "unparsed",
    error: "no trajectory points found in the answer",
  }],
];

describe("parseAnswer on imperfect model output", () => {
  for (const [name, task, answer, want] of IMPERFECT) {
    test(`${task}: ${name}`, () => assert.deepEqual(parseAnswer(task, answer), want));
  }
  test("a long bad item is cut for the note", () => {
    const label = "x".repeat(400);
    const p = parseAnswer(
      "grounding_2d",
      JSON.stringify([{ bbox_2d: [1, 1, 9, 9], label: "ok" }, { bbox_2d: [9, 9, 1, 1], label }]),
    );
    assert.equal(p.kind, "boxes");
    if (p.kind !== "boxes") return;
    assert.equal(p.boxes.length, 1);
    assert.equal(p.invalid?.[0].item.length, 160);
    assert.ok(p.invalid?.[0].item.endsWith("…"));
  });
});

describe("parseTimestamp", () => {
  for (
    const [s, want] of [
      ["75", 75],
      ["75.5s", 75.5],
      ["1:15", 75],
      ["01:15.5", 75.5],
      ["0:01:15", 75],
      ["1:02:03", 3723],
      ["12 seconds", 12],
      ["abc", undefined],
      ["1:99x", undefined],
    ] as const
  ) {
    test(String(s), () => assert.equal(parseTimestamp(s), want));
  }
});

describe("reasonResult", () => {
  test("keeps the raw text, splits reasoning, parses the answer only", () => {
    const text =
      '<think>\nThe mug is left of the plate [1, 2, 3, 4].\n</think>\n\n```json\n[{"bbox_2d": [10, 20, 30, 40], "label": "mug"}]\n```';
    const r = reasonResult({ task: "grounding_2d", reasoning: true, subjects: undefined }, text, {
      backend: "b",
      finishReason: "stop",
    });
    assert.equal(r.text, text);
    assert.equal(r.reasoning, "The mug is left of the plate [1, 2, 3, 4].");
    assert.deepEqual(r.parsed, { kind: "boxes", boxes: [{ label: "mug", box: [10, 20, 30, 40] }] });
    assert.equal(r.finishReason, "stop");
  });
  test("server-separated reasoning is folded back into the raw text", () => {
    const r = reasonResult({ task: "caption", reasoning: true, subjects: undefined }, "A cube.", {
      backend: "b",
      reasoning: "Looking.",
    });
    assert.equal(r.reasoning, "Looking.");
    assert.equal(r.answer, "A cube.");
    assert.ok(r.text.includes("Looking.") && r.text.endsWith("A cube."));
  });
});
