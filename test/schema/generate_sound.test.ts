// `sound` on generate() is an output switch: an audio input (path, bytes, waveform, object) is refused with a
// ValidationError that says why (diffusers never conditions on input audio), and true / false still parse.
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { GenerateRequest, parseWith } from "../../src/schema/mod.ts";
import { SOUND_INPUT_REFUSED } from "../../src/schema/generate_request.ts";
import { ValidationError } from "../../src/errors.ts";

describe("generate() sound", () => {
  for (
    const [what, sound] of [
      ["a file path", "rain.wav"],
      ["bytes", new Uint8Array([1, 2, 3])],
      ["a waveform", [0.1, -0.2]],
      ["an object", { path: "rain.wav", sampleRate: 48000 }],
    ] as const
  ) {
    test(`an audio input (${what}) is refused: no Cosmos 3 pipeline conditions on sound`, () => {
      assert.throws(
        () => parseWith(GenerateRequest, { prompt: "Rain on a tin roof.", sound }, "request"),
        (e: unknown) =>
          e instanceof ValidationError && e.field === "request.sound" &&
          /never conditions on input audio/.test(e.message),
      );
    });
  }

  test("true / false / left out parse (a generated track, or a silent video)", () => {
    assert.equal(GenerateRequest.parse({ prompt: "Rain.", sound: true }).sound, true);
    assert.equal(GenerateRequest.parse({ prompt: "Rain.", sound: false }).sound, false);
    assert.equal(GenerateRequest.parse({ prompt: "Rain." }).sound, false);
    assert.match(SOUND_INPUT_REFUSED, /^sound is true or false/);
  });
});
