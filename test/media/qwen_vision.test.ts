// Qwen3-VL preprocessing rules. Every expected value below is derived by hand from the
// transformers source (huggingface/transformers main):
//   qwen2_vl/image_processing_qwen2_vl.py  smart_resize (images)
//   qwen3_vl/video_processing_qwen3_vl.py  smart_resize (video), sample_frames, resize, defaults
//   qwen3_vl/processing_qwen3_vl.py         _calculate_timestamps, "<{t:.1f} seconds>"
// Python's round()/np.round round half to even; that is where a naive port goes wrong.
import { after, describe, test } from "node:test";
import { join } from "node:path";
import sharp from "sharp";
import assert from "node:assert/strict";
import {
  formatFixed1,
  frameTimestamps,
  linspaceIndices,
  pyRound,
  QWEN3_VL_FACTOR,
  QWEN3_VL_VIDEO_CLASS_DEFAULTS,
  QWEN3_VL_VIDEO_DEFAULTS,
  qwenImagePlan,
  qwenVideoPlan,
  sampleFrameIndices,
  smartResize,
  smartResizeVideo,
  timestampLabel,
  videoMaxPixels,
} from "../../src/media/qwen_vision.ts";
import { MediaError } from "../../src/errors.ts";
import { prepareQwenImage, prepareQwenVideo } from "../../src/media/qwen_media.ts";
import { makeVideo, tempDir } from "./_helpers.ts";

describe("constants", () => {
  test("factor = patch_size 16 * merge_size 2 = 32", () => assert.equal(QWEN3_VL_FACTOR, 32));
  test("checkpoint video budget 25165824 = 24576 * 32 * 32", () =>
    assert.equal(QWEN3_VL_VIDEO_DEFAULTS.maxPixels, 24576 * 32 * 32));
});

describe("pyRound (round half to even)", () => {
  const cases: [number, number][] = [[22.5, 22], [23.5, 24], [2.5, 2], [3.5, 4], [0.5, 0], [1.4999, 1], [187.5, 188], [
    7.51,
    8,
  ]];
  for (const [x, want] of cases) test(`round(${x}) = ${want}`, () => assert.equal(pyRound(x), want));
});

describe("smartResize (images; defaults factor 32, min 65536, max 16777216)", () => {
  // [h, w, options, expected h, expected w, derivation]
  const cases: [number, number, Parameters<typeof smartResize>[2], number, number, string][] = [
    [720, 1280, {}, 704, 1280, "720/32=22.5 -> round half even 22 -> 704; 1280/32=40 -> 1280; 901120 px in bounds"],
    [480, 832, {}, 480, 832, "15*32, 26*32, in bounds"],
    [
      192,
      320,
      {},
      224,
      352,
      "6*32 x 10*32 = 61440 < 65536 -> beta=sqrt(65536/61440)=1.03280; ceil(192*1.0328/32=6.197)=7 -> 224; ceil(320*1.0328/32=10.33)=11 -> 352",
    ],
    [8192, 8192, {}, 4096, 4096, "67108864 > 16777216 -> beta=sqrt(4)=2; floor(8192/2/32)=128 -> 4096"],
    [
      4000,
      6000,
      {},
      3328,
      4992,
      "125*32 x round(187.5)=188*32=6016: 24064000 > max -> beta=sqrt(24e6/16777216)=1.19604; floor(4000/1.19604/32=104.5)=104 -> 3328; floor(6000/1.19604/32=156.8)=156 -> 4992",
    ],
    [10, 10, {}, 256, 256, "round(0.3125)=0 -> 0 px < min -> beta=sqrt(65536/100)=25.6; ceil(10*25.6/32=8)=8 -> 256"],
    [
      1080,
      1920,
      { factor: 28, minPixels: 56 * 56, maxPixels: 28 * 28 * 1280 },
      728,
      1316,
      "Qwen2-VL class defaults: 39*28=1092 x 69*28=1932 > 1003520 -> beta=sqrt(2073600/1003520)=1.43747; floor(1080/1.43747/28=26.8)=26 -> 728; floor(1920/1.43747/28=47.7)=47 -> 1316",
    ],
  ];
  for (const [h, w, o, eh, ew, why] of cases) {
    test(`${h}x${w} -> ${eh}x${ew} (${why})`, () => assert.deepEqual(smartResize(h, w, o), { height: eh, width: ew }));
  }
  test("aspect ratio above 200 is rejected, as in transformers", () => {
    assert.throws(() => smartResize(10, 2010), MediaError);
    assert.deepEqual(smartResize(32, 6400, { minPixels: 1, maxPixels: 1e9 }), { height: 32, width: 6400 }); // ratio 200 is allowed
  });
  test("zero size is rejected", () => assert.throws(() => smartResize(0, 100), MediaError));
  test("image plan: 704x1280 -> grid [1, 44, 80], 44*80/4 = 880 tokens", () => {
    assert.deepEqual(qwenImagePlan(720, 1280), { height: 704, width: 1280, gridThw: [1, 44, 80], numTokens: 880 });
  });
});

describe("smartResizeVideo (bounds on t_bar * h * w)", () => {
  const cases: [number, number, number, Parameters<typeof smartResizeVideo>[3], number, number, string][] = [
    [16, 720, 1280, {}, 704, 1280, "t_bar 16: 16*704*1280=14417920 <= 25165824"],
    [
      64,
      720,
      1280,
      {},
      448,
      832,
      "64*704*1280 > max -> beta=sqrt(64*720*1280/25165824)=sqrt(2.34375)=1.53093; floor(720/1.53093/32=14.7)=14 -> 448; floor(1280/1.53093/32=26.1)=26 -> 832",
    ],
    [
      8,
      480,
      832,
      { minPixels: QWEN3_VL_VIDEO_CLASS_DEFAULTS.minPixels, maxPixels: QWEN3_VL_VIDEO_CLASS_DEFAULTS.maxPixels },
      224,
      384,
      "class defaults max 786432: 8*480*832=3194880 > max -> beta=sqrt(4.0625)=2.01556; floor(480/2.01556/32=7.44)=7 -> 224; floor(832/2.01556/32=12.9)=12 -> 384",
    ],
    [
      5,
      64,
      64,
      { maxPixels: 16384 },
      64,
      64,
      "t_bar = round(5/2)=round(2.5)=2 -> 4 (not 6): 4*64*64=16384 is not > 16384, so no downscale",
    ],
    [
      4,
      20,
      100,
      { minPixels: 1, maxPixels: 1e9 },
      32,
      160,
      "side below factor: scale=max(32/20, 32/100)=1.6 -> int(32.0)=32, int(160.0)=160",
    ],
  ];
  for (const [n, h, w, o, eh, ew, why] of cases) {
    test(`${n} frames ${h}x${w} -> ${eh}x${ew} (${why})`, () =>
      assert.deepEqual(smartResizeVideo(n, h, w, o), { height: eh, width: ew }));
  }
  test("fewer frames than temporal_patch_size is an error", () =>
    assert.throws(() => smartResizeVideo(1, 64, 64), MediaError));
  test("cap_pixels_per_frame: max(min(768*32*32, 25165824//4), int(4096*1.05)) * 4 = 3145728 -> 640x1152", () => {
    const s = { ...QWEN3_VL_VIDEO_DEFAULTS, capPixelsPerFrame: true };
    // 786432 per frame * 4 = 3145728; t_bar 4 * 704*1280 = 3604480 > that -> beta=sqrt(3686400/3145728)=1.08253;
    // floor(720/1.08253/32=20.8)=20 -> 640; floor(1280/1.08253/32=36.9)=36 -> 1152
    assert.equal(videoMaxPixels(4, s), 3145728);
    assert.deepEqual(smartResizeVideo(4, 720, 1280, { maxPixels: videoMaxPixels(4, s) }), { height: 640, width: 1152 });
    assert.equal(videoMaxPixels(4, QWEN3_VL_VIDEO_DEFAULTS), 25165824); // off: the whole budget
  });
});

describe("frame sampling (sample_frames: fps 2, min_frames 4, max_frames 768)", () => {
  const cases: [
    string,
    Parameters<typeof sampleFrameIndices>[0],
    Parameters<typeof sampleFrameIndices>[1],
    number[],
  ][] = [
    [
      "189 frames @24 fps, fps 2: int(189/24*2)=int(15.75)=15 frames, linspace(0,188,15) step 13.43",
      { totalFrames: 189, fps: 24 },
      {},
      [0, 13, 27, 40, 54, 67, 81, 94, 107, 121, 134, 148, 161, 175, 188],
    ],
    [
      "30 frames @30 fps: int(2)=2 -> max(2, min_frames 4)=4; linspace(0,29,4)=0, 9.67, 19.33, 29",
      { totalFrames: 30, fps: 30 },
      {},
      [0, 10, 19, 29],
    ],
    ["3 frames: min(max(0,4), 768, total 3)=3", { totalFrames: 3, fps: 24 }, {}, [0, 1, 2]],
    ["numFrames 6 of 100: no clamping, linspace(0,99,6) step 19.8", { totalFrames: 100, fps: 24 }, { numFrames: 6 }, [
      0,
      20,
      40,
      59,
      79,
      99,
    ]],
    ["numFrames 3 of 6: linspace(0,5,3)=0, 2.5, 5 -> 2.5 rounds to 2 (half even)", { totalFrames: 6, fps: 24 }, {
      numFrames: 3,
    }, [0, 2, 5]],
    ["unknown fps -> 24: 48 frames, int(48/24*2)=4", { totalFrames: 48 }, {}, [0, 16, 31, 47]],
    [
      "max_frames clamp: 10000 frames @1 fps, fps 2 -> 20000 -> 768",
      { totalFrames: 10000, fps: 1 },
      {},
      linspaceIndices(10000, 768),
    ],
  ];
  for (const [why, meta, o, want] of cases) test(why, () => assert.deepEqual(sampleFrameIndices(meta, o), want));
  test("fps and numFrames together are rejected", () => {
    assert.throws(() => sampleFrameIndices({ totalFrames: 10, fps: 10 }, { fps: 2, numFrames: 4 }), MediaError);
  });
  test("linspace 768 of 10000 starts 0, ends 9999, strictly increasing", () => {
    const l = linspaceIndices(10000, 768);
    assert.equal(l[0], 0);
    assert.equal(l[767], 9999);
    assert.ok(l.every((v, i) => i === 0 || v > l[i - 1]));
  });
});

describe("timestamps (_calculate_timestamps: average of each temporal-patch pair)", () => {
  test("189 @24 fps, 15 indices padded with 188 -> 8 patches", () => {
    const ts = frameTimestamps([0, 13, 27, 40, 54, 67, 81, 94, 107, 121, 134, 148, 161, 175, 188], 24);
    // (0+13)/2/24=0.2708, (27+40)/48=1.3958, (54+67)/48=2.5208, (81+94)/48=3.6458, (107+121)/48=4.75,
    // (134+148)/48=5.875, (161+175)/48=7.0, (188+188)/48=7.8333
    const want = [0.2708333, 1.3958333, 2.5208333, 3.6458333, 4.75, 5.875, 7, 7.8333333];
    assert.equal(ts.length, 8);
    ts.forEach((t, i) => assert.ok(Math.abs(t - want[i]) < 1e-6, `${t} vs ${want[i]}`));
    assert.deepEqual(ts.map(formatFixed1), ["0.3", "1.4", "2.5", "3.6", "4.8", "5.9", "7.0", "7.8"]);
  });
  test("ties print like Python's :.1f (half to even): 0.25 -> 0.2, 1.25 -> 1.2, 4.75 -> 4.8", () => {
    // 8 frames @2 fps sampled at 2 fps: indices 0..7 -> (0+0.5)/2=0.25, (1+1.5)/2=1.25, 2.25, 3.25
    const ts = frameTimestamps([0, 1, 2, 3, 4, 5, 6, 7], 2);
    assert.deepEqual(ts, [0.25, 1.25, 2.25, 3.25]);
    assert.deepEqual(ts.map(timestampLabel), ["<0.2 seconds>", "<1.2 seconds>", "<2.2 seconds>", "<3.2 seconds>"]);
    assert.equal(formatFixed1(4.75), "4.8");
    assert.equal(formatFixed1(0.05), "0.1"); // 0.05 is not an exact tie in binary (0.05000000000000000277)
    assert.equal(formatFixed1(0.15), "0.1"); // 0.1499999999999999944 -> 0.1, as Python prints
  });
});

describe("qwenVideoPlan", () => {
  test("189 frames of 1280x720 @24 fps with checkpoint defaults", () => {
    const p = qwenVideoPlan({ totalFrames: 189, fps: 24, height: 720, width: 1280 });
    assert.equal(p.indices.length, 15);
    // 15 frames: t_bar=round(7.5)=8 -> 16; 16*704*1280=14417920 <= 25165824 -> 704x1280
    assert.deepEqual([p.height, p.width], [704, 1280]);
    // grid_t = ceil(15/2) = 8; 704/16=44, 1280/16=80; tokens 8*44*80/4 = 7040
    assert.deepEqual(p.gridThw, [8, 44, 80]);
    assert.equal(p.numTokens, 7040);
    assert.equal(p.timestampLabels.length, 8);
  });
  test("explicit fps and numFrames together are rejected", () => {
    assert.throws(
      () => qwenVideoPlan({ totalFrames: 48, fps: 24, height: 64, width: 64 }, { fps: 2, numFrames: 4 }),
      MediaError,
    );
  });
  test("sampling fps 4 over 189 frames @24: int(31.5)=31 frames -> grid_t 16", () => {
    const p = qwenVideoPlan({ totalFrames: 189, fps: 24, height: 720, width: 1280 }, { fps: 4 });
    assert.equal(p.indices.length, 31);
    assert.equal(p.gridThw[0], 16);
  });
  test("numFrames 4 with class defaults: 4*480*832 > 786432 -> beta=sqrt(1597440/786432)=1.42522 -> 320x576", () => {
    // floor(480/1.42522/32=10.5)=10 -> 320; floor(832/1.42522/32=18.2)=18 -> 576
    const p = qwenVideoPlan(
      { totalFrames: 120, fps: 24, height: 480, width: 832 },
      { numFrames: 4 },
      QWEN3_VL_VIDEO_CLASS_DEFAULTS,
    );
    assert.deepEqual([p.height, p.width], [320, 576]);
    assert.deepEqual(p.indices, [0, 40, 79, 119]); // linspace(0,119,4): 0, 39.67, 79.33, 119
  });
});

describe("prepareQwenImage / prepareQwenVideo (real files)", () => {
  const tmp = tempDir("cosmos-media-qwen-");
  after(() => tmp.cleanup());
  test("a 60x40 image -> 224x320: round(1.25)=1, round(1.875)=2 -> 32x64 < 65536; beta=sqrt(65536/2400)=5.2256; ceil(6.53)=7, ceil(9.80)=10", async () => {
    const png = await sharp({ create: { width: 60, height: 40, channels: 3, background: "#336699" } }).png().toBuffer();
    const { image, plan, source } = await prepareQwenImage(new Uint8Array(png));
    assert.deepEqual(source, { width: 60, height: 40 });
    assert.deepEqual([image.width, image.height, image.data.length], [320, 224, 320 * 224 * 3]);
    assert.deepEqual(plan.gridThw, [1, 14, 20]);
    assert.equal(plan.numTokens, 70);
  });
  test("a 64x48, 48-frame 24 fps clip at 2 fps: int(4)=4 frames, linspace(0,47,4) -> 0,16,31,47; 64x64; grid [2,4,4]", async () => {
    const clip = makeVideo(join(tmp.dir, "c.mp4"), { width: 64, height: 48, fps: 24, seconds: 2 });
    // size: round(48/32)=round(1.5)=2 -> 64, round(2)=2 -> 64; t_bar 4: 4*64*64=16384 within 4096..25165824
    const { frames, plan } = await prepareQwenVideo(clip, { fps: 2 });
    assert.deepEqual(plan.indices, [0, 16, 31, 47]);
    assert.deepEqual(frames.map((f) => f.sourceIndex), [0, 16, 31, 47]);
    assert.deepEqual(frames.map((f) => [f.width, f.height]), [[64, 64], [64, 64], [64, 64], [64, 64]]);
    assert.deepEqual(plan.gridThw, [2, 4, 4]);
    assert.equal(plan.numTokens, 8);
    // (0+16)/2/24 = 0.333 -> "0.3"; (31+47)/2/24 = 1.625 -> "1.6"
    assert.deepEqual(plan.timestampLabels, ["<0.3 seconds>", "<1.6 seconds>"]);
  });
});
