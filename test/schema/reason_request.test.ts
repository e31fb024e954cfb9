// The seed's Reasoner workflows: which media each takes and what must be given.
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { parseWith, promptOf, REASON_TASKS, ReasonRequest } from "../../src/schema/mod.ts";
import { ValidationError } from "../../src/errors.ts";

const video = "clip.mp4";
const image = "scene.png";

describe("Reasoner workflows (seed table)", () => {
  const valid: Record<string, Record<string, unknown>> = {
    caption: { video },
    temporal_localization: { video, prompt: "When does the gripper close?" },
    embodied_reasoning: { video, prompt: "What should the robot do next?" },
    common_sense: { video, prompt: "Is it safe to cross?" },
    grounding_2d: { image, prompt: "Locate the red cube." },
    describe_anything: { image, prompt: "Describe the marked objects.", subjects: [{ box: [10, 20, 300, 400] }] },
    action_cot: { image, prompt: "Predict the gripper trajectory." },
    physical_plausibility: { video },
    situation_understanding: { video, prompt: "What is likely to happen next?" },
    custom: { prompt: "Hello" },
  };
  test("every workflow has a valid example", () => {
    assert.deepEqual(Object.keys(valid).sort(), Object.keys(REASON_TASKS).sort());
  });
  for (const [task, extra] of Object.entries(valid)) {
    test(`${task}: valid`, () => {
      const r = ReasonRequest.parse({ task, ...extra });
      assert.ok(promptOf(r).length > 0);
      assert.equal(r.system, "You are a helpful assistant.");
      assert.equal(r.reasoning, false);
    });
  }
  test("action_cot takes a video too", () => {
    assert.equal(ReasonRequest.parse({ task: "action_cot", video, prompt: "Plan." }).video, video);
  });

  const invalid: [Record<string, unknown>, string, RegExp][] = [
    [{ task: "caption" }, "video", /MP4/],
    [{ task: "caption", image, video }, "image", /video only/],
    [{ task: "grounding_2d", prompt: "Locate." }, "image", /image/],
    [{ task: "grounding_2d", image }, "prompt", /non-empty/],
    [{ task: "grounding_2d", image, video, prompt: "x" }, "video", /image only/],
    [{ task: "describe_anything", image, prompt: "x" }, "subjects", /0–1000/],
    [{ task: "describe_anything", image, prompt: "x", subjects: [{ box: [500, 0, 100, 10] }] }, "subjects.0.box", /.*/],
    [{ task: "caption", video, subjects: [{ box: [0, 0, 10, 10] }] }, "subjects", /no subjects/],
    [{ task: "action_cot", prompt: "x" }, "image", /image or an MP4/],
    [{ task: "summarize", video }, "task", /"caption"/],
    [{ task: "caption", video, videoSampling: { fps: 2, numFrames: 8 } }, "videoSampling", /fps/],
    [{ task: "caption", video, imageSize: { shortestEdge: 2000, longestEdge: 1000 } }, "imageSize", /shortestEdge/],
    [{ task: "caption", video, sampling: { temperature: 5 } }, "sampling.temperature", /<= 2/],
    [{ task: "caption", video, maxTokens: 0 }, "maxTokens", />= 1/],
  ];
  for (const [input, field, allowed] of invalid) {
    test(`rejects ${JSON.stringify(input)} at ${field}`, () => {
      try {
        parseWith(ReasonRequest, input, "request");
        assert.fail("expected rejection");
      } catch (e) {
        assert.ok(e instanceof ValidationError);
        assert.equal(e.field, `request.${field}`);
        assert.match(e.allowed, allowed);
      }
    });
  }
});
