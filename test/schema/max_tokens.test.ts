// One token limit: `maxTokens` and `sampling.max_tokens` (the name the spec's presets carry) are
// the same knob. Either may be given; both with different values is a ValidationError naming both;
// after validation the limit is `maxTokens` alone. And the tiny-checkpoint caps.
import assert from "node:assert/strict";
import { test } from "node:test";
import { ValidationError } from "../../src/errors.ts";
import {
  DEFAULT_MAX_TOKENS,
  ReasonRequest,
  TINY_CHECKPOINT_CAPS,
  withTinyCheckpointCaps,
} from "../../src/schema/reason_request.ts";
import { PROMPT_UPSAMPLING_SAMPLING } from "../../src/schema/sampling.ts";
import { parseWith } from "../../src/schema/validate.ts";

const base = { task: "custom", prompt: "Describe a warehouse." } as const;

test("maxTokens and sampling.max_tokens that disagree: a ValidationError naming both", () => {
  try {
    parseWith(ReasonRequest, { ...base, maxTokens: 48, sampling: { ...PROMPT_UPSAMPLING_SAMPLING } }, "request");
    assert.fail("expected a ValidationError");
  } catch (e) {
    assert.ok(e instanceof ValidationError, String(e));
    assert.equal(e.field, "request.maxTokens");
    assert.match(e.message, /maxTokens \(48\) and sampling\.max_tokens \(20000\) disagree/);
    assert.match(e.allowed, /maxTokens or sampling\.max_tokens/);
  }
});

test("one limit after validation: from maxTokens, from sampling.max_tokens, both equal, or the default", () => {
  const fromPreset = parseWith(ReasonRequest, { ...base, sampling: { ...PROMPT_UPSAMPLING_SAMPLING } }, "request");
  assert.equal(fromPreset.maxTokens, 20000);
  assert.equal(fromPreset.sampling && "max_tokens" in fromPreset.sampling, false, "the limit lives in maxTokens only");
  assert.equal(fromPreset.sampling?.seed, 3407, "the rest of the preset is kept");
  assert.equal(parseWith(ReasonRequest, { ...base, maxTokens: 300 }, "request").maxTokens, 300);
  assert.equal(
    parseWith(ReasonRequest, { ...base, maxTokens: 300, sampling: { max_tokens: 300 } }, "request").maxTokens,
    300,
  );
  const plain = parseWith(ReasonRequest, base, "request");
  assert.equal(plain.maxTokens, DEFAULT_MAX_TOKENS);
  assert.equal("sampling" in plain, false);
});

test("withTinyCheckpointCaps: lowers the one limit and a video's frames, leaves the rest; a conflict still fails validation", () => {
  const capped = withTinyCheckpointCaps({ ...base, sampling: { ...PROMPT_UPSAMPLING_SAMPLING } });
  assert.equal(parseWith(ReasonRequest, capped, "request").maxTokens, TINY_CHECKPOINT_CAPS.maxTokens);
  assert.equal(capped.sampling?.temperature, 0.7);
  assert.equal(withTinyCheckpointCaps({ ...base, maxTokens: 5 }).maxTokens, 5, "a lower limit stays");
  assert.equal(withTinyCheckpointCaps(base).maxTokens, TINY_CHECKPOINT_CAPS.maxTokens);
  const video = withTinyCheckpointCaps({ task: "caption", video: "clip.mp4", videoSampling: { fps: 4 } });
  assert.deepEqual(video.videoSampling, { numFrames: TINY_CHECKPOINT_CAPS.videoFrames });
  assert.equal("videoSampling" in withTinyCheckpointCaps(base), false);
  const conflict = { ...base, maxTokens: 10, sampling: { max_tokens: 20 } };
  assert.throws(() => parseWith(ReasonRequest, withTinyCheckpointCaps(conflict), "request"), ValidationError);
});
