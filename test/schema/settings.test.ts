// Every row of the seed's "Supported Generation Settings" table, valid and invalid.
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import {
  ASPECT_RATIOS,
  GenerateRequest,
  parseWith,
  pixelSize,
  RESOLUTIONS,
  sizeString,
  sizeTable,
} from "../../src/schema/mod.ts";
import { ValidationError } from "../../src/errors.ts";

function rejects(input: Record<string, unknown>, field: string, allowedIncludes: string) {
  try {
    parseWith(GenerateRequest, { prompt: "A robot.", ...input }, "request");
  } catch (e) {
    assert.ok(e instanceof ValidationError, `expected ValidationError, got ${e}`);
    assert.equal(e.field, `request.${field}`);
    assert.ok(e.allowed.includes(allowedIncludes), `allowed "${e.allowed}" should mention ${allowedIncludes}`);
    assert.ok(e.message.includes(field), "message names the field");
    return e;
  }
  assert.fail(`expected ${JSON.stringify(input)} to be rejected`);
}

describe("generation settings (seed table)", () => {
  test("no setting given: nothing is sent, and effective is the model's (1280x720, 24 FPS, 189 frames)", () => {
    const r = GenerateRequest.parse({ prompt: "A robot." });
    assert.deepEqual([r.resolution, r.aspectRatio, r.fps, r.numFrames], [undefined, undefined, undefined, undefined]);
    assert.deepEqual([r.effective.width, r.effective.height, r.effective.fps, r.effective.numFrames], [
      1280,
      720,
      24,
      189,
    ]);
  });
  test("one of tier / aspect ratio given: the other is the spec's default (480p, 16:9)", () => {
    assert.deepEqual(GenerateRequest.parse({ prompt: "A robot.", aspectRatio: "1:1" }).effective.width, 640);
    assert.deepEqual(GenerateRequest.parse({ prompt: "A robot.", resolution: "256p" }).effective.height, 192);
  });

  const validRows: [string, unknown][] = [
    ...RESOLUTIONS.map((v) => ["resolution", v] as [string, unknown]),
    ...ASPECT_RATIOS.map((v) => ["aspectRatio", v] as [string, unknown]),
    ["fps", 10],
    ["fps", 16],
    ["fps", 24],
    ["fps", 30],
    ["numFrames", 5],
    ["numFrames", 189],
    ["numFrames", 300],
  ];
  for (const [field, value] of validRows) {
    test(`accepts ${field} = ${JSON.stringify(value)}`, () => {
      const r = GenerateRequest.parse({ prompt: "A robot.", [field]: value });
      assert.equal((r as Record<string, unknown>)[field], value);
    });
  }

  const invalidRows: [string, unknown, string][] = [
    ["resolution", "1080p", '"720p"'],
    ["resolution", "480", '"480p"'],
    ["aspectRatio", "21:9", '"9:16"'],
    ["aspectRatio", "16/9", '"16:9"'],
    ["fps", 25, "30"],
    ["fps", 60, "10"],
    ["fps", "24", "24"],
    ["numFrames", 4, ">= 5"],
    ["numFrames", 301, "<= 300"],
    ["numFrames", 10.5, "int"],
  ];
  for (const [field, value, allowed] of invalidRows) {
    test(`rejects ${field} = ${JSON.stringify(value)} naming what is allowed`, () => {
      const e = rejects({ [field]: value }, field, allowed);
      assert.deepEqual(e.value, value);
    });
  }
});

describe("resolution tiers × aspect ratios → pixel sizes", () => {
  test("reproduces the seed's vision-conditioning sizes", () => {
    assert.equal(sizeString(pixelSize("720p", "16:9")), "1280x720");
    assert.equal(sizeString(pixelSize("480p", "16:9")), "832x480");
    assert.equal(sizeString(pixelSize("256p", "16:9")), "320x192");
  });
  // cosmos-framework docs/inference.md "Resolution tiers" = vLLM-Omni cosmos3/action.py:49-77.
  const expected: Record<string, string> = {
    "720p 16:9": "1280x720",
    "720p 4:3": "1104x832",
    "720p 1:1": "960x960",
    "720p 3:4": "832x1104",
    "720p 9:16": "720x1280",
    "480p 16:9": "832x480",
    "480p 4:3": "736x544",
    "480p 1:1": "640x640",
    "480p 3:4": "544x736",
    "480p 9:16": "480x832",
    "256p 16:9": "320x192",
    "256p 4:3": "320x256",
    "256p 1:1": "256x256",
    "256p 3:4": "256x320",
    "256p 9:16": "192x320",
  };
  for (const row of sizeTable()) {
    test(`${row.resolution} ${row.aspectRatio}`, () => {
      assert.equal(`${row.width}x${row.height}`, expected[`${row.resolution} ${row.aspectRatio}`]);
      assert.equal(row.width % 16, 0, "width is a multiple of 16");
      assert.equal(row.height % 16, 0, "height is a multiple of 16");
      const [a, b] = row.aspectRatio.split(":").map(Number);
      assert.ok(Math.abs(row.width / row.height - a / b) / (a / b) < 0.1, "close to the nominal ratio");
    });
  }
  test("portrait sizes are the landscape ones transposed", () => {
    for (const tier of RESOLUTIONS) {
      assert.deepEqual(pixelSize(tier, "9:16"), {
        width: pixelSize(tier, "16:9").height,
        height: pixelSize(tier, "16:9").width,
      });
      assert.deepEqual(pixelSize(tier, "3:4"), {
        width: pixelSize(tier, "4:3").height,
        height: pixelSize(tier, "4:3").width,
      });
    }
  });
});
