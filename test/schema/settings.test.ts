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
  test("defaults: 480p, 16:9, 24 FPS, 189 frames", () => {
    const r = GenerateRequest.parse({ prompt: "A robot." });
    assert.equal(r.resolution, "480p");
    assert.equal(r.aspectRatio, "16:9");
    assert.equal(r.fps, 24);
    assert.equal(r.numFrames, 189);
    assert.deepEqual(pixelSize(r.resolution, r.aspectRatio), { width: 832, height: 480 });
  });

  const validRows: [string, unknown][] = [
    ...RESOLUTIONS.map((v) => ["resolution", v] as [string, unknown]),
    ...ASPECT_RATIOS.map((v) => ["aspectRatio", v] as [string, unknown]),
    ["fps", 10], ["fps", 16], ["fps", 24], ["fps", 30],
    ["numFrames", 5], ["numFrames", 189], ["numFrames", 300],
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
  const expected: Record<string, string> = {
    "720p 16:9": "1280x720", "720p 4:3": "960x720", "720p 1:1": "720x720", "720p 3:4": "720x960", "720p 9:16": "720x1280",
    "480p 16:9": "832x480", "480p 4:3": "640x480", "480p 1:1": "480x480", "480p 3:4": "480x640", "480p 9:16": "480x832",
    "256p 16:9": "320x192", "256p 4:3": "256x192", "256p 1:1": "192x192", "256p 3:4": "192x256", "256p 9:16": "192x320",
  };
  for (const row of sizeTable()) {
    test(`${row.resolution} ${row.aspectRatio}`, () => {
      assert.equal(`${row.width}x${row.height}`, expected[`${row.resolution} ${row.aspectRatio}`]);
      assert.equal(row.width % 16, 0, "width is a multiple of 16");
      assert.equal(row.height % 16, 0, "height is a multiple of 16");
      const [a, b] = row.aspectRatio.split(":").map(Number);
      assert.ok(Math.abs(row.width / row.height - a / b) / (a / b) < 0.07, "close to the nominal ratio");
    });
  }
  test("portrait sizes are the landscape ones transposed", () => {
    for (const tier of RESOLUTIONS) {
      assert.deepEqual(pixelSize(tier, "9:16"), { width: pixelSize(tier, "16:9").height, height: pixelSize(tier, "16:9").width });
      assert.deepEqual(pixelSize(tier, "3:4"), { width: pixelSize(tier, "4:3").height, height: pixelSize(tier, "4:3").width });
    }
  });
});
