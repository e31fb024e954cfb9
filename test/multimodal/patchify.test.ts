import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { patchify, type PatchifyFrame } from "../../src/multimodal/mod.ts";
import { ValidationError } from "../../src/errors.ts";

function frame(width: number, height: number, fill: (x: number, y: number, c: number) => number): PatchifyFrame {
  const data = new Uint8Array(width * height * 3);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) for (let c = 0; c < 3; c++) data[(y * width + x) * 3 + c] = fill(x, y, c);
  }
  return { width, height, channels: 3, data };
}

describe("patchify", () => {
  test("an image repeats to 2 frames; 2x2 merge groups are contiguous rows", () => {
    // Each 16x16 patch holds its own (patch row, patch col) in channels 0 and 1.
    const f = frame(96, 64, (x, y, c) => (c === 0 ? Math.floor(y / 16) * 10 : c === 1 ? Math.floor(x / 16) * 10 : 200));
    const p = patchify([f]);
    assert.deepEqual(p.gridThw, [1, 4, 6]);
    assert.equal(p.patchDim, 3 * 2 * 16 * 16);
    assert.equal(p.rows, 24);
    const norm = (v: number) => (v / 255 - 0.5) / 0.5;
    for (let r = 0; r < p.rows; r++) {
      const q = Math.floor(r / 4); // merge group in raster order over a 2x3 block grid
      const bh = Math.floor(q / 3), bw = q % 3;
      const mh = Math.floor((r % 4) / 2), mw = r % 2;
      const row = p.pixelValues.subarray(r * p.patchDim, (r + 1) * p.patchDim);
      // channel-major, then temporal copy, then 16x16 pixels
      const plane = 2 * 256;
      for (let j = 0; j < plane; j++) {
        assert.ok(Math.abs(row[j] - norm((bh * 2 + mh) * 10)) < 1e-6, `row ${r} R`);
        assert.ok(Math.abs(row[plane + j] - norm((bw * 2 + mw) * 10)) < 1e-6, `row ${r} G`);
        assert.ok(Math.abs(row[2 * plane + j] - norm(200)) < 1e-6, `row ${r} B`);
      }
    }
  });

  test("element (row, col) matches the numpy reshape/transpose of the processor", () => {
    const frames = [0, 1, 2].map((k) => frame(64, 32, (x, y, c) => (x * 7 + y * 13 + c * 29 + k * 71) % 256));
    const p = patchify(frames);
    assert.deepEqual(p.gridThw, [2, 2, 4]); // 3 frames padded to 4 by repeating the last
    // patches.reshape(gt, tp, C, gh/m, m, p, gw/m, m, p).transpose(0, 3, 6, 4, 7, 2, 1, 5, 8)
    const [gt, gh, gw] = p.gridThw;
    const dims = [gt, gh / 2, gw / 2, 2, 2, 3, 2, 16, 16];
    let checked = 0;
    for (let flat = 0; flat < p.pixelValues.length; flat += 97) {
      const idx: number[] = [];
      let rem = flat;
      for (let d = dims.length - 1; d >= 0; d--) {
        idx[d] = rem % dims[d];
        rem = Math.floor(rem / dims[d]);
      }
      const [t, bh, bw, mh, mw, c, k, py, px] = idx;
      const fi = Math.min(t * 2 + k, 2);
      const y = (bh * 2 + mh) * 16 + py, x = (bw * 2 + mw) * 16 + px;
      const v = frames[fi].data[(y * 64 + x) * 3 + c];
      assert.ok(Math.abs(p.pixelValues[flat] - (v / 255 - 0.5) / 0.5) < 1e-6);
      checked++;
    }
    assert.ok(checked > 100);
  });

  test("custom mean/std are applied per channel", () => {
    const f = frame(32, 32, (_x, _y, c) => [0, 128, 255][c]);
    const p = patchify([f], { imageMean: [0.1, 0.2, 0.3], imageStd: [0.5, 0.25, 0.125] });
    const plane = 512;
    assert.ok(Math.abs(p.pixelValues[0] - (0 - 0.1) / 0.5) < 1e-6);
    assert.ok(Math.abs(p.pixelValues[plane] - (128 / 255 - 0.2) / 0.25) < 1e-5);
    assert.ok(Math.abs(p.pixelValues[2 * plane] - (1 - 0.3) / 0.125) < 1e-5);
  });

  test("rejects sizes off the 32 px grid and mixed sizes", () => {
    assert.throws(() => patchify([frame(48, 32, () => 0)]), ValidationError);
    assert.throws(() => patchify([frame(32, 32, () => 0), frame(64, 32, () => 0)]), ValidationError);
    assert.throws(() => patchify([]), ValidationError);
  });
});
