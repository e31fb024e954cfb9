import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { decodePosition, getRopeIndex } from "../../src/multimodal/mod.ts";

const VS = 151652, VE = 151653, IMG = 151655, VID = 151656;
const axes = (p: Int32Array, L: number) => [0, 1, 2].map((a) => Array.from(p.subarray(a * L, (a + 1) * L)));

describe("getRopeIndex", () => {
  test("text only: 0..L-1 on every axis", () => {
    const r = getRopeIndex([5, 6, 7]);
    assert.deepEqual(axes(r.positions, 3), [[0, 1, 2], [0, 1, 2], [0, 1, 2]]);
    assert.equal(r.ropeDelta, 0);
  });

  test("an image block: t=0, h=row, w=col from the block's start; text resumes at max+1", () => {
    // grid 1x4x6 merges to 2x3 = 6 tokens
    const ids = [9, VS, IMG, IMG, IMG, IMG, IMG, IMG, VE, 8, 7];
    const r = getRopeIndex(ids, { imageGridThw: [[1, 4, 6]] });
    const [t, h, w] = axes(r.positions, ids.length);
    assert.deepEqual(t, [0, 1, 2, 2, 2, 2, 2, 2, 5, 6, 7]);
    assert.deepEqual(h, [0, 1, 2, 2, 2, 3, 3, 3, 5, 6, 7]);
    assert.deepEqual(w, [0, 1, 2, 3, 4, 2, 3, 4, 5, 6, 7]);
    assert.equal(r.ropeDelta, 8 - 11);
    assert.equal(decodePosition(11, r.ropeDelta), 8);
  });

  test("a video: each temporal patch is its own block with t offset 0 (timestamps carry time)", () => {
    const ts = [50, 51]; // two tokens of "<0.5 seconds>"-like text
    const ids = [VS, ...ts, VS, VID, VID, VE, ...ts, VS, VID, VID, VE, VE, 3];
    const r = getRopeIndex(ids, { videoGridThw: [[2, 2, 4]] });
    const [t, h, w] = axes(r.positions, ids.length);
    assert.deepEqual(t, [0, 1, 2, 3, 4, 4, 6, 7, 8, 9, 10, 10, 12, 13, 14]);
    assert.deepEqual(h, [0, 1, 2, 3, 4, 4, 6, 7, 8, 9, 10, 10, 12, 13, 14]);
    assert.deepEqual(w, [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14]);
    assert.equal(r.ropeDelta, 0);
  });

  test("images and videos interleaved follow text order", () => {
    const ids = [VS, VID, VE, VS, IMG, IMG, VE];
    const r = getRopeIndex(ids, { imageGridThw: [[1, 2, 4]], videoGridThw: [[1, 2, 2]] });
    const [t, h, w] = axes(r.positions, ids.length);
    assert.deepEqual(t, [0, 1, 2, 3, 4, 4, 6]);
    assert.deepEqual(h, [0, 1, 2, 3, 4, 4, 6]);
    assert.deepEqual(w, [0, 1, 2, 3, 4, 5, 6]);
  });

  test("pad counts that disagree with the grids are rejected", () => {
    assert.throws(() => getRopeIndex([VS, IMG, VE], { imageGridThw: [[1, 4, 4]] }));
  });
});
