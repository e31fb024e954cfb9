import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { buildMultimodalPrompt, type PatchifyFrame, QWEN3_VL_TOKEN_IDS } from "../../src/multimodal/mod.ts";
import { frameTimestamps } from "../../src/media/qwen_vision.ts";
import { ValidationError } from "../../src/errors.ts";

// Character-level stand-in tokenizer that knows the Qwen3-VL special tokens.
const SPECIAL: Record<string, number> = {
  "<|vision_start|>": QWEN3_VL_TOKEN_IDS.visionStartTokenId,
  "<|vision_end|>": QWEN3_VL_TOKEN_IDS.visionEndTokenId,
  "<|image_pad|>": QWEN3_VL_TOKEN_IDS.imageTokenId,
  "<|video_pad|>": QWEN3_VL_TOKEN_IDS.videoTokenId,
};
function tokenize(text: string): number[] {
  const out: number[] = [];
  for (let i = 0; i < text.length;) {
    const sp = Object.keys(SPECIAL).find((s) => text.startsWith(s, i));
    if (sp) {
      out.push(SPECIAL[sp]);
      i += sp.length;
    } else out.push(text.charCodeAt(i++));
  }
  return out;
}
const frame = (w: number, h: number, v: number): PatchifyFrame => ({
  width: w,
  height: h,
  channels: 3,
  data: new Uint8Array(w * h * 3).fill(v),
});

describe("buildMultimodalPrompt", () => {
  test("video before image in text: rows map images first, then videos, to their pads", async () => {
    const vframes = [frame(64, 64, 10), frame(64, 64, 20), frame(64, 64, 30)];
    const p = await buildMultimodalPrompt({
      text: "v:<|vision_start|><|video_pad|><|vision_end|> i:<|vision_start|><|image_pad|><|vision_end|>?",
      images: [{ frames: [frame(96, 64, 200)] }],
      videos: [{ frames: vframes, timestamps: frameTimestamps([0, 12, 24], 24) }],
      tokenize,
    });
    assert.deepEqual(p.grids, [[1, 4, 6], [2, 4, 4]]);
    assert.equal(p.imageTokens, 6);
    assert.equal(p.videoTokens, 8);
    assert.equal(p.pixelValues.length, (24 + 32) * p.patchDim);
    // first rows of pixelValues are the image (value 200), the last ones the video's
    assert.ok(Math.abs(p.pixelValues[0] - (200 / 127.5 - 1)) < 1e-6);
    const ids = p.inputIds;
    const rows = Array.from(p.visualRowPositions);
    assert.ok(rows.slice(0, 6).every((i) => ids[i] === QWEN3_VL_TOKEN_IDS.imageTokenId));
    assert.ok(rows.slice(6).every((i) => ids[i] === QWEN3_VL_TOKEN_IDS.videoTokenId));
    assert.ok(rows[6] < rows[0], "the video comes first in the text");
    assert.equal(p.rope.seqLen, ids.length);
    // every vision block gets t = its start offset on axis 0: the 4 tokens of a frame share it
    const L = ids.length;
    const t0 = rows.slice(6, 10).map((i) => p.rope.positions[i]);
    assert.equal(new Set(t0).size, 1);
    assert.ok(p.text.includes("<0.2 seconds><|vision_start|>"));
    assert.ok(p.rope.positions[L - 1] > p.rope.positions[rows[5]]);
  });

  test("a tokenizer that splits the pad token is caught", async () => {
    await assert.rejects(
      buildMultimodalPrompt({
        text: "<|vision_start|><|image_pad|><|vision_end|>",
        images: [{ frames: [frame(32, 32, 0)] }],
        tokenize: (t) => Array.from(t, (c) => c.charCodeAt(0)),
      }),
      ValidationError,
    );
  });
});
