// The Generator's prompt text and ids. Expected texts are derived by hand from diffusers 58eb52c0
// pipeline_cosmos3_omni.py `tokenize_prompt` (1126-1215: templates 462-468, `_append` 1169-1171, the
// negative prompt's "is not" forms) and `_build_action_json_prompt` (1086-1124); the chat-template ids
// come from transformers (test/fixtures/qwen3vl-tiny-reference.json, made on the device machine).
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import {
  buildActionJsonPrompt,
  generatorPromptIds,
  generatorPrompts,
  generatorPromptTexts,
  loadGeneratorTextTokenizer,
  SYSTEM_PROMPT_IMAGE,
  SYSTEM_PROMPT_VIDEO,
} from "../../src/generator/prompt.ts";

const FIXTURE = "test/fixtures/qwen3vl-tiny";
const reference = JSON.parse(readFileSync("test/fixtures/qwen3vl-tiny-reference.json", "utf8")) as {
  tokenizer: { added_tokens: Record<string, number> };
  text_prompts: { messages: { role: string; content: unknown }[]; input_ids: number[] }[];
};

describe("generatorPromptTexts (tokenize_prompt's text)", () => {
  const video = { numFrames: 189, height: 720, width: 1280, fps: 24 };
  test("templates off (the request default): prompt and negative prompt verbatim", () => {
    assert.deepEqual(generatorPromptTexts({ ...video, prompt: "A cat.", negativePrompt: "blurry" }), {
      cond: "A cat.",
      uncond: "blurry",
    });
    assert.deepEqual(generatorPromptTexts({ ...video, prompt: "A cat." }), { cond: "A cat.", uncond: "" });
  });
  test("both templates: duration first, trailing dots dropped before each join", () => {
    const t = generatorPromptTexts({
      ...video,
      prompt: "A cat jumps...",
      negativePrompt: "blurry.",
      addDurationTemplate: true,
      addResolutionTemplate: true,
    });
    assert.equal(
      t.cond,
      "A cat jumps. The video is 7.9 seconds long and is of 24 FPS. This video is of 720x1280 resolution.",
    );
    assert.equal(
      t.uncond,
      "blurry. The video is not 7.9 seconds long and is not of 24 FPS. This video is not of 720x1280 resolution.",
    );
  });
  test("an empty negative prompt starts with the template", () => {
    const t = generatorPromptTexts({ ...video, prompt: "x", addResolutionTemplate: true });
    assert.equal(t.uncond, "This video is not of 720x1280 resolution.");
  });
  test("an image has no duration and the image resolution sentence", () => {
    const t = generatorPromptTexts({
      prompt: "A red cube",
      numFrames: 1,
      height: 1024,
      width: 1024,
      fps: 24,
      addDurationTemplate: true,
      addResolutionTemplate: true,
    });
    assert.deepEqual(t, {
      cond: "A red cube. This image is of 1024x1024 resolution.",
      uncond: "This image is not of 1024x1024 resolution.",
    });
  });
  test("duration rounds as Python's .1f: 121 frames at 16 fps is 7.5625 s -> 7.6", () => {
    const t = generatorPromptTexts({
      prompt: "p",
      numFrames: 121,
      height: 480,
      width: 832,
      fps: 16,
      addDurationTemplate: true,
    });
    assert.equal(t.cond, "p. The video is 7.6 seconds long and is of 16 FPS.");
  });
  test("action runs: the JSON caption, the negative prompt untouched (no templates)", () => {
    const t = generatorPromptTexts({
      prompt: "Pick up the cube",
      negativePrompt: "bad",
      numFrames: 17,
      height: 480,
      width: 640,
      fps: 24,
      addResolutionTemplate: true,
      action: { viewPoint: "ego_view" },
    });
    assert.equal(
      t.cond,
      '{"cinematography": {"framing": "This video is captured from a first-person perspective looking at the scene."}, ' +
        '"actions": [{"time": "0:00-0:01", "description": "Pick up the cube."}], "duration": "0s", "fps": 24.0, ' +
        '"resolution": {"H": 480, "W": 640}, "aspect_ratio": "4,3"}',
    );
    assert.equal(t.uncond, "bad");
  });
});

describe("buildActionJsonPrompt", () => {
  test("round() ties to even for the action's end, int() for the duration, 16:9 from 832x480", () => {
    // 25 frames at 10 fps = 2.5 s: round(2.5) = 2, int(2.5) = 2.
    assert.equal(
      buildActionJsonPrompt("  go left!  ", {
        viewPoint: "wrist_view",
        numFrames: 25,
        fps: 10,
        height: 480,
        width: 832,
      }),
      '{"cinematography": {"framing": "This video is captured from a wrist-mounted camera."}, ' +
        '"actions": [{"time": "0:00-0:02", "description": "go left!"}], "duration": "2s", "fps": 10.0, ' +
        '"resolution": {"H": 480, "W": 832}, "aspect_ratio": "16,9"}',
    );
  });
  test("an unknown or null viewpoint drops the framing; minutes roll over; non-ASCII is escaped", () => {
    assert.equal(
      buildActionJsonPrompt("déplacer", { viewPoint: null, numFrames: 1861, fps: 30, height: 640, width: 640 }),
      '{"actions": [{"time": "0:00-1:02", "description": "d\\u00e9placer."}], "duration": "62s", "fps": 30.0, ' +
        '"resolution": {"H": 640, "W": 640}, "aspect_ratio": "1,1"}',
    );
    assert.ok(
      !buildActionJsonPrompt("x", { viewPoint: "top_view", numFrames: 17, fps: 24, height: 480, width: 640 }).includes(
        "cinematography",
      ),
    );
  });
});

describe("generatorPromptIds (chat template + eos + <|vision_start|>)", () => {
  test("the templated ids are transformers' apply_chat_template ids, then eos and vision_start", async () => {
    const tok = await loadGeneratorTextTokenizer(FIXTURE);
    const c = reference.text_prompts.find((p) => p.messages.length === 1 && p.messages[0].role === "user")!;
    const ids = generatorPromptIds(tok, c.messages[0].content as string, { isImage: false });
    assert.deepEqual(ids, [
      ...c.input_ids,
      reference.tokenizer.added_tokens["<|im_end|>"],
      reference.tokenizer.added_tokens["<|vision_start|>"],
    ]);
  });
  test("the system turn is the video or image variant (typo kept), and maxSequenceLength cuts before the two ids", async () => {
    const tok = await loadGeneratorTextTokenizer(FIXTURE);
    assert.equal(SYSTEM_PROMPT_VIDEO, "You are a helpful assistant who will generate videos from a give prompt.");
    const withSystem = tok.tokenizer.decode(generatorPromptIds(tok, "hi", { isImage: true, useSystemPrompt: true }));
    assert.equal(
      withSystem,
      `<|im_start|>system\n${SYSTEM_PROMPT_IMAGE}<|im_end|>\n<|im_start|>user\nhi<|im_end|>\n<|im_start|>assistant\n<|im_end|><|vision_start|>`,
    );
    const cut = generatorPromptIds(tok, "hi", { isImage: false, maxSequenceLength: 3 });
    assert.equal(cut.length, 5);
    assert.deepEqual(cut.slice(3), [tok.eosTokenId, tok.visionStartTokenId]);
  });
  test("generatorPrompts: cond and uncond differ in length (each branch gets its own positions)", async () => {
    const tok = await loadGeneratorTextTokenizer(FIXTURE);
    const p = generatorPrompts(tok, {
      prompt: "A robot arm stacks two red cubes.",
      numFrames: 5,
      height: 64,
      width: 96,
      fps: 24,
    });
    assert.equal(p.uncondText, "");
    assert.ok(p.cond.length > p.uncond.length);
    assert.equal(
      tok.tokenizer.decode(p.uncond),
      "<|im_start|>user\n<|im_end|>\n<|im_start|>assistant\n<|im_end|><|vision_start|>",
    );
  });
});
