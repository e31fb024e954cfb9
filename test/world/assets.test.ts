// The cookbooks' world inputs (assets/make.ts → images/world_*.png, videos/world_*.mp4,
// scene.json's `world`): made from held-out seeds, and their ground truth matches the pixels.
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { probeVideo, readActionChunk, readImage } from "../../src/media/mod.ts";
import { parseAnswer } from "../../src/reasoner/parse.ts";
import { makeSample, OBJECT_COLORS, type ObjectColor, shadesOf, splitOfSeed } from "../../src/world/mod.ts";
import { colorMask } from "./_pixels.ts";

const asset = (p: string) => fileURLToPath(new URL(`../../assets/${p}`, import.meta.url));
const scene = JSON.parse(readFileSync(asset("scene.json"), "utf8"));
const world = scene.world;

describe("assets: the world's files", () => {
  test("every world file comes from a held-out seed", () => {
    for (const k of ["image", "pickPlace", "push", "implausible"]) assert.equal(splitOfSeed(world[k].seed), "eval", k);
  });
  test("world_tabletop.png: each box is where the object's colour is (lossless PNG, exact shades)", async () => {
    const img = await readImage(asset(world.image.path));
    assert.deepEqual([img.width, img.height], [world.image.width, world.image.height]);
    assert.ok(world.image.boxes.length >= 3);
    for (const b of world.image.boxes as { label: string; box: number[] }[]) {
      const color = b.label.split(" ")[0] as ObjectColor;
      const mask = colorMask(img, shadesOf(OBJECT_COLORS[color]));
      const grid = [
        mask.box![0] / img.width,
        mask.box![1] / img.height,
        mask.box![2] / img.width,
        mask.box![3] / img.height,
      ].map((v) => Math.round(v * 1000));
      assert.deepEqual(grid, b.box, b.label);
    }
  });
  test("the clips have the promised size and length; the chunk drives the push clip", async () => {
    for (const k of ["pickPlace", "push", "implausible"]) {
      const v = await probeVideo(asset(world[k].path));
      assert.deepEqual([v.width, v.height, v.frameCount, v.fps], [
        world[k].width,
        world[k].height,
        world[k].frames,
        world[k].fps,
      ], k);
    }
    const chunk = await readActionChunk(asset(world.push.actions), { dim: 10 });
    assert.equal(chunk.length, world.push.frames - 1);
    assert.deepEqual(
      chunk,
      makeSample(world.push.seed, { frames: 17, fps: 10, scenario: "push", objects: 3, movingCamera: false }).actions,
    );
    assert.match(world.push.prompt, /The red cube slides to the left\.$/);
  });
  test("the events parse as a temporal-localization answer; the implausible clip says why", () => {
    const answer = JSON.stringify(
      world.pickPlace.events.map((e: { start: number; end: number; label: string }) => ({
        start: e.start,
        end: e.end,
        event: e.label,
      })),
    );
    const parsed = parseAnswer("temporal_localization", answer);
    assert.equal(parsed.kind, "events");
    assert.equal(world.implausible.label, "implausible");
    assert.match(world.implausible.why[0], /jumps \d+ cm in one frame/);
  });
});
