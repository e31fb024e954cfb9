import { describe, test } from "node:test";
import assert from "node:assert/strict";
import {
  expandVisionPlaceholders,
  mergedTokenCount,
  videoPlaceholder,
  visualPositions,
} from "../../src/multimodal/mod.ts";
import { frameTimestamps } from "../../src/media/qwen_vision.ts";
import { ValidationError } from "../../src/errors.ts";

const count = (s: string, sub: string) => s.split(sub).length - 1;

describe("expandVisionPlaceholders", () => {
  test("images expand to t*h*w/4 pads, in order", () => {
    const text =
      "<|im_start|>user\n<|vision_start|><|image_pad|><|vision_end|>a<|vision_start|><|image_pad|><|vision_end|>b<|im_end|>";
    const out = expandVisionPlaceholders(text, { images: [{ gridThw: [1, 4, 6] }, { gridThw: [1, 2, 2] }] });
    const [first, second] = out.split("a<|vision_start|>");
    assert.equal(count(first, "<|image_pad|>"), 6);
    assert.equal(count(second, "<|image_pad|>"), 1);
    assert.equal(mergedTokenCount([1, 44, 80]), 880);
  });

  test("videos: one <t seconds> + vision block per temporal patch, the wrapping tokens replaced", () => {
    const ts = frameTimestamps([0, 12, 24, 36, 48], 24); // 5 frames -> 3 temporal patches
    assert.deepEqual(ts, [0.25, 1.25, 2]);
    const text = "x<|vision_start|><|video_pad|><|vision_end|>y";
    const out = expandVisionPlaceholders(text, { videos: [{ gridThw: [3, 4, 4], timestamps: ts }] });
    const block = "<|vision_start|>" + "<|video_pad|>".repeat(4) + "<|vision_end|>";
    // Python's f"{0.25:.1f}" is "0.2" (ties to even), 1.25 -> "1.2"
    assert.equal(out, `x<0.2 seconds>${block}<1.2 seconds>${block}<2.0 seconds>${block}y`);
    assert.equal(videoPlaceholder({ gridThw: [3, 4, 4], timestamps: ts }), out.slice(1, -1));
  });

  test("videoWrap keep: the template's outer vision_start/end stay (transformers 5.17)", () => {
    // Probed on the device (test/multimodal/fixtures/probe_processor.py, transformers 5.17.0):
    // "A<|vision_start|><0.1 seconds><|vision_start|>[pads]<|vision_end|>...<|vision_end|>B"
    const ts = frameTimestamps([0, 6, 12, 18, 24], 24);
    const text = "A<|vision_start|><|video_pad|><|vision_end|>B";
    const out = expandVisionPlaceholders(text, { videos: [{ gridThw: [3, 4, 4], timestamps: ts }] }, 2, "keep");
    const block = "<|vision_start|>" + "<|video_pad|>".repeat(4) + "<|vision_end|>";
    assert.equal(
      out,
      `A<|vision_start|><0.1 seconds>${block}<0.6 seconds>${block}<1.0 seconds>${block}<|vision_end|>B`,
    );
  });

  test("a bare <|video_pad|> is replaced too; images and videos mixed", () => {
    const out = expandVisionPlaceholders("<|video_pad|>|<|vision_start|><|image_pad|><|vision_end|>", {
      images: [{ gridThw: [1, 2, 4] }],
      videos: [{ gridThw: [1, 2, 2], timestamps: [0.5] }],
    });
    assert.equal(
      out,
      "<0.5 seconds><|vision_start|><|video_pad|><|vision_end|>|<|vision_start|><|image_pad|><|image_pad|><|vision_end|>",
    );
  });

  test("count mismatches are typed errors", () => {
    assert.throws(() => expandVisionPlaceholders("<|image_pad|>", {}), ValidationError);
    assert.throws(() => expandVisionPlaceholders("text", { images: [{ gridThw: [1, 2, 2] }] }), ValidationError);
    assert.throws(
      () => expandVisionPlaceholders("<|video_pad|>", { videos: [{ gridThw: [2, 2, 2], timestamps: [0] }] }),
      ValidationError,
    );
  });

  test("visualPositions marks image and video pads", () => {
    assert.deepEqual(Array.from(visualPositions([1, 151652, 151655, 151655, 151653, 151656, 2])), [2, 3, 5]);
  });
});
