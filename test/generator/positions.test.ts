// 3D mRoPE positions of the Generator's packed sequence. Expected values are derived by hand from
// diffusers 58eb52c0 pipeline_cosmos3_omni.py: get_3d_mrope_ids_text_tokens (102-119: t = h = w =
// arange), get_3d_mrope_ids_vae_tokens (122-170: t = (j + start) / (fps / tcf) * (base_fps / base_tcf)
// + offset when fps is set and grid_t > 1, else j + int(offset) + start; h, w reset to the grid),
// _prepare_text_segment (526-553: generation offset = L + 15000), _prepare_sound_segment (tcf 1,
// 25 Hz) and _prepare_action_segment (tcf 1, base tcf 4, start 1, the video's fps).
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { packedPositions, textPositions, vaeTokenPositions } from "../../src/generator/positions.ts";

const axis = (p: Float32Array, a: number) => Array.from(p.subarray((a * p.length) / 3, ((a + 1) * p.length) / 3));

describe("textPositions", () => {
  test("0..L-1 on every axis, next = L", () => {
    const t = textPositions(4);
    assert.deepEqual([0, 1, 2].map((a) => axis(t.positions, a)), [[0, 1, 2, 3], [0, 1, 2, 3], [0, 1, 2, 3]]);
    assert.equal(t.next, 4);
  });
});

describe("vaeTokenPositions", () => {
  test("24 fps vision: one temporal step per latent frame, h / w restart per frame", () => {
    const v = vaeTokenPositions({ gridT: 2, gridH: 2, gridW: 3, temporalOffset: 15007, fps: 24 });
    assert.deepEqual(axis(v.positions, 0), [...Array(6).fill(15007), ...Array(6).fill(15008)]);
    assert.deepEqual(axis(v.positions, 1), [0, 0, 0, 1, 1, 1, 0, 0, 0, 1, 1, 1]);
    assert.deepEqual(axis(v.positions, 2), [0, 1, 2, 0, 1, 2, 0, 1, 2, 0, 1, 2]);
    assert.equal(v.next, 15009);
  });
  test("16 fps: latent j at j * 1.5; 30 fps: j * 0.8 in float32 (15020.8 is 15020.7998046875)", () => {
    const v16 = vaeTokenPositions({ gridT: 3, gridH: 1, gridW: 1, temporalOffset: 15000, fps: 16 });
    assert.deepEqual(axis(v16.positions, 0), [15000, 15001.5, 15003]);
    assert.equal(v16.next, 15004);
    const v30 = vaeTokenPositions({ gridT: 3, gridH: 1, gridW: 1, temporalOffset: 15020, fps: 30 });
    assert.deepEqual(axis(v30.positions, 0), [15020, 15020.7998046875, 15021.599609375]);
    // next = ceil(max over all axes) + 1
    assert.equal(v30.next, 15023);
  });
  test("one frame: no fps modulation (integer positions), so an image sits at the offset", () => {
    const v = vaeTokenPositions({ gridT: 1, gridH: 1, gridW: 2, temporalOffset: 15010, fps: 30 });
    assert.deepEqual(axis(v.positions, 0), [15010, 15010]);
  });
  test("spatial ids offset by the temporal offset when reset is off; start_frame_offset shifts t", () => {
    const v = vaeTokenPositions({
      gridT: 2,
      gridH: 1,
      gridW: 2,
      temporalOffset: 100,
      resetSpatialIds: false,
      startFrameOffset: 1,
    });
    assert.deepEqual(axis(v.positions, 0), [101, 101, 102, 102]);
    assert.deepEqual(axis(v.positions, 2), [100, 101, 100, 101]);
  });
});

describe("packedPositions [text | vision | sound | action]", () => {
  test("text 0..L-1, then every generation stream from L + 15000: vision by frame, sound at 24/25 s steps, actions at (i+1)/4", () => {
    const L = 5;
    const p = packedPositions(L, { vision: { t: 2, h: 1, w: 2 }, fps: 24, soundFrames: 3, actionTokens: 4 });
    const off = L + 15000;
    assert.equal(p.generationOffset, off);
    assert.equal(p.length, 5 + 4 + 3 + 4);
    assert.deepEqual(p.vision, { start: 5, count: 4 });
    assert.deepEqual(p.sound, { start: 9, count: 3 });
    assert.deepEqual(p.action, { start: 12, count: 4 });
    const t = axis(p.positions, 0);
    assert.deepEqual(t.slice(0, 5), [0, 1, 2, 3, 4]);
    assert.deepEqual(t.slice(5, 9), [off, off, off + 1, off + 1]);
    // sound: i / 25 * 24 in float32, + offset: 0.96 and 1.92 land on 15005.9599609375 and 15006.919921875
    assert.deepEqual(t.slice(9, 12), [off, 15005.9599609375, 15006.919921875]);
    // actions: (i + 1) / (24 / 1) * (24 / 4) = (i + 1) / 4
    assert.deepEqual(t.slice(12), [off + 0.25, off + 0.5, off + 0.75, off + 1]);
    // h / w: text ids, then the vision grid, then 0 for the 1x1 sound and action grids
    assert.deepEqual(axis(p.positions, 2), [0, 1, 2, 3, 4, 0, 1, 0, 1, 0, 0, 0, 0, 0, 0, 0]);
    assert.deepEqual(axis(p.positions, 1), [0, 1, 2, 3, 4, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
  });
  test("each CFG branch has its own offset (its own text length)", () => {
    const grids = { vision: { t: 1, h: 1, w: 1 }, fps: 24 };
    assert.equal(packedPositions(30, grids).positions[30], 15030);
    assert.equal(packedPositions(12, grids).positions[12], 15012);
  });
  test("fps modulation off: vision and actions fall back to integer steps", () => {
    const cfg = {
      baseFps: 24,
      enableFpsModulation: false,
      temporalModalityMargin: 10,
      resetSpatialIds: true,
      soundLatentFps: 25,
      temporalCompression: 4,
    };
    const p = packedPositions(2, { vision: { t: 2, h: 1, w: 1 }, fps: 10, actionTokens: 2 }, cfg);
    assert.deepEqual(axis(p.positions, 0), [0, 1, 12, 13, 13, 14]);
  });
});
