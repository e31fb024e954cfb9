import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import { describe, test } from "node:test";
import sharp from "sharp";
import {
  boxesBundle,
  boxesSvg,
  labelColor,
  labelColors,
  loadImage,
  type OverlayImage,
  PALETTE,
  subjectsBundle,
  toPixelBox,
  toPixelPoint,
} from "../../kernel/mod.ts";
import { placeBox } from "../../kernel/boxes.ts";
import { show } from "../../kernel/show.ts";
import { captureDisplays } from "./_sink.ts";
import { parseAnswer } from "../../src/reasoner/parse.ts";
import { elements, str } from "./_sink.ts";

const img: OverlayImage = { bytes: new Uint8Array([1, 2, 3]), mimeType: "image/png", width: 640, height: 480 };

describe("coordinate conversion", () => {
  test("norm1000 (Qwen3-VL), norm1 and pixel conventions", () => {
    assert.deepEqual(toPixelBox([100, 200, 300, 400], "norm1000", 640, 480), [64, 96, 192, 192]);
    assert.deepEqual(toPixelBox([0.1, 0.2, 0.3, 0.4], "norm1", 640, 480).map((v) => Math.round(v * 1e6) / 1e6), [
      64,
      96,
      192,
      192,
    ]);
    assert.deepEqual(toPixelBox([64, 96, 192, 192], "pixel", 640, 480), [64, 96, 192, 192]);
    assert.deepEqual(toPixelPoint([500, 1000], "norm1000", 640, 480), [320, 480]);
  });
  test("corners are ordered and clamped to the image", () => {
    assert.deepEqual(toPixelBox([300, 400, 100, 200], "norm1000", 640, 480), [64, 96, 192, 192]);
    assert.deepEqual(toPixelBox([-50, -10, 1200, 1001], "norm1000", 640, 480), [0, 0, 640, 480]);
  });
  test("bad boxes and conventions are ValidationErrors", () => {
    assert.throws(() => toPixelBox([1, 2, 3], "pixel", 10, 10), { name: "ValidationError" });
    assert.throws(() => toPixelBox([1, 2, 3, Number.NaN], "pixel", 10, 10), { name: "ValidationError" });
    assert.throws(() => toPixelBox([1, 2, 3, 4], "norm100" as "pixel", 10, 10), /norm1000/);
  });
});

describe("boxes overlay", () => {
  test("one rect per box at the converted pixel coordinates, colour per label", () => {
    const boxes = [
      { label: "cup", box: [100, 200, 300, 400] as [number, number, number, number] },
      { label: "plate", box: [500, 500, 1000, 1000] as [number, number, number, number] },
      { label: "cup", box: [0, 0, 50, 50] as [number, number, number, number] },
    ];
    const svg = boxesSvg(img, boxes);
    const rects = elements(svg, "rect", "cosmos-box-rect");
    assert.equal(rects.length, 3);
    assert.deepEqual(rects.map((r) => [r.x, r.y, r.width, r.height].map(Number)), [[64, 96, 128, 96], [
      320,
      240,
      320,
      240,
    ], [0, 0, 32, 24]]);
    assert.equal(rects[2].stroke, rects[0].stroke);
    assert.notEqual(rects[1].stroke, rects[0].stroke);
    assert.deepEqual([rects[0].stroke, rects[1].stroke], [
      labelColors(["cup", "plate"]).get("cup"),
      labelColors(["plate", "cup"]).get("plate"),
    ]);
    assert.match(svg, /viewBox="0 0 640 480"/);
    assert.match(svg, /<image href="data:image\/png;base64,AQID"/);
    assert.equal([...svg.matchAll(/class="cosmos-label"[^>]*>cup</g)].length, 2);
  });
  test("the palette is stable and labels are escaped", () => {
    assert.equal(labelColor("red cube"), labelColor("red cube"));
    assert.ok(PALETTE.includes(labelColor("anything")));
    assert.ok(new Set(["a", "b", "c", "d", "e", "f"].map(labelColor)).size >= 3);
    // colliding hashes get distinct colours within one figure, whatever the order
    const ten = Array.from({ length: 10 }, (_, i) => `label ${i}`);
    const colors = labelColors(ten);
    assert.equal(new Set(colors.values()).size, 10);
    assert.deepEqual(labelColors([...ten].reverse()), colors);
    assert.ok(ten.some((l) => colors.get(l) === labelColor(l)));
    const b = boxesBundle(img, [{ label: "<b>&", box: [0, 0, 1000, 1000], score: 0.5 }], { caption: "x" });
    assert.match(str(b, "text/html"), /&lt;b&gt;&amp; 0\.50/);
    assert.equal(str(b, "text/plain"), "<image 640x480 with 1 box (pixels)>\n  <b>&: [0, 0, 640, 480]");
  });
  test("marked subjects: numbered marks, outlines for boxes and polygons, descriptions listed", () => {
    const b = subjectsBundle(img, [
      { box: [0, 0, 500, 500], label: "person", description: "walks left" },
      { polygon: [[500, 500], [1000, 500], [750, 1000]], description: "a cone" },
    ]);
    const html = str(b, "text/html");
    const outlines = [...html.matchAll(/<(rect|polygon) class="cosmos-subject-outline"([^>]*)>/g)];
    assert.deepEqual(outlines.map((m) => m[1]), ["rect", "polygon"]);
    assert.match(outlines[0][2], /x="0" y="0" width="320" height="240"/);
    assert.match(outlines[1][2], /points="320,240 640,240 480,480"/);
    assert.equal(elements(html, "circle", "cosmos-subject-mark").length, 2);
    assert.match(html, />1<\/text>/);
    assert.match(html, />2<\/text>/);
    assert.match(html, /<li value="2"[^>]*>.*a cone<\/li>/);
    assert.match(str(b, "text/plain"), /1\. person: walks left\n {2}2\. a cone/);
    assert.throws(() => subjectsBundle(img, [{ label: "nothing" }]), { name: "ValidationError" });
  });
  test("loadImage measures a sharp-drawn PNG", async () => {
    const png = await sharp({ create: { width: 48, height: 32, channels: 3, background: "#00ff00" } }).png().toBuffer();
    const loaded = await loadImage(new Uint8Array(png));
    assert.deepEqual([loaded.width, loaded.height, loaded.mimeType], [48, 32, "image/png"]);
    assert.equal(Buffer.from(loaded.bytes).equals(png), true);
    await assert.rejects(loadImage(new Uint8Array([1, 2, 3])), { name: "MediaError" });
  });
});

describe("boxes of imperfect model output", () => {
  test("placeBox: inside, partly outside (clipped), wholly outside, empty, NaN", () => {
    assert.deepEqual(placeBox([100, 200, 300, 400], "norm1000", 640, 480), { pixel: [64, 96, 192, 192] });
    assert.deepEqual(placeBox([900, -100, 1200, 300], "norm1000", 640, 480), {
      pixel: [576, 0, 640, 144],
      problem: "partly outside the image: drawn clipped",
    });
    assert.deepEqual(placeBox([1200, 100, 1400, 300], "norm1000", 640, 480), { problem: "outside the image" });
    assert.deepEqual(placeBox([-300, -300, -100, -100], "norm1000", 640, 480), { problem: "outside the image" });
    assert.deepEqual(placeBox([400, 400, 400, 600], "norm1000", 640, 480), {
      problem: "empty box (no width or height)",
    });
    assert.deepEqual(placeBox([1, Number.NaN, 3, 4], "pixel", 640, 480), { problem: "not 4 numbers [x1, y1, x2, y2]" });
    assert.deepEqual(placeBox([1, 2, 3], "pixel", 640, 480), { problem: "not 4 numbers [x1, y1, x2, y2]" });
    assert.deepEqual(placeBox([700, 10, 800, 20], "pixel", 640, 480), { problem: "outside the image" });
  });

  test("the valid boxes are drawn, the cut one dashed, the rest listed in a note", () => {
    const b = boxesBundle(img, [
      { label: "cup", box: [100, 200, 300, 400] },
      { label: "edge", box: [900, -100, 1200, 300] },
      { label: "gone", box: [1200, 100, 1400, 300] },
      { label: "flat", box: [400, 400, 400, 600] },
      { label: "nan", box: [1, Number.NaN, 3, 4] },
    ]);
    const html = str(b, "text/html");
    const rects = elements(html, "rect", "cosmos-box-rect");
    assert.deepEqual(rects.map((r) => [r.x, r.y, r.width, r.height].map(Number)), [[64, 96, 128, 96], [
      576,
      0,
      64,
      144,
    ]]);
    const dashed = elements(html, "rect", "cosmos-flagged");
    assert.equal(dashed.length, 1);
    assert.ok(dashed[0]["stroke-dasharray"]);
    assert.match(html, /⚠ 3 boxes not drawn:.*⚠ 1 box drawn dashed:/);
    for (
      const s of [
        "gone [1200, 100, 1400, 300]</code>: outside the image",
        "flat [400, 400, 400, 600]</code>: empty box",
        "nan [1, NaN, 3, 4]</code>: not 4 numbers",
        "edge [900, -100, 1200, 300]</code>: partly outside the image: drawn clipped",
      ]
    ) {
      assert.ok(html.includes(s), s);
    }
    assert.equal(
      str(b, "text/plain"),
      "<image 640x480 with 2 boxes (pixels)>\n  cup: [64, 96, 192, 192]\n  edge: [576, 0, 640, 144]\n" +
        "  ⚠ not drawn: gone [1200, 100, 1400, 300]: outside the image\n  ⚠ not drawn: flat [400, 400, 400, 600]: empty box (no width or height)\n" +
        "  ⚠ not drawn: nan [1, NaN, 3, 4]: not 4 numbers [x1, y1, x2, y2]\n  ⚠ drawn dashed: edge [900, -100, 1200, 300]: partly outside the image: drawn clipped",
    );
  });

  test("from the parser: kept boxes with a problem are dashed, its invalid items are listed", () => {
    const parsed = parseAnswer(
      "grounding_2d",
      '[{"bbox_2d": [100, 100, 300, 300], "label": "cup"}, {"bbox_2d": [-50, 900, 200, 1100], "label": "edge"}, {"bbox_2d": [5, 5, 1, 1], "label": "bad"}]',
    );
    assert.equal(parsed.kind, "boxes");
    if (parsed.kind !== "boxes") return;
    const html = str(boxesBundle(img, parsed.boxes, { invalid: parsed.invalid }), "text/html");
    assert.equal(elements(html, "rect", "cosmos-box-rect").length, 2);
    assert.equal(elements(html, "rect", "cosmos-flagged").length, 1);
    assert.match(html, /1 box not drawn:.*bad.*empty or reversed box/);
    assert.match(
      html,
      /1 box drawn dashed:.*edge \[-50, 900, 200, 1100\]<\/code>: partly outside the image: drawn clipped/,
    );
    // A box the parser flagged that still fits the image is dashed with the parser's reason.
    const flagged = str(
      boxesBundle(img, [{ label: "odd", box: [10, 10, 50, 50], problem: "the model said so" }]),
      "text/html",
    );
    assert.equal(elements(flagged, "rect", "cosmos-flagged").length, 1);
    assert.match(flagged, /odd \[10, 10, 50, 50\]<\/code>: the model said so/);
    // Nothing drawable at all: the image is still shown, with the note.
    const none = boxesBundle(img, [], { invalid: parsed.invalid });
    assert.match(str(none, "text/html"), /<image href=.*1 box not drawn/);
  });
});

describe("show() of a grounding answer with bad boxes", () => {
  test("the image with the good boxes, the cut one dashed, and the note", async () => {
    const png = new Uint8Array(
      await sharp({ create: { width: 200, height: 100, channels: 3, background: "#336699" } }).png().toBuffer(),
    );
    const answer =
      '[{"bbox_2d": [100, 100, 500, 500], "label": "cup"}, {"bbox_2d": [800, 800, 1200, 1100], "label": "edge"}, ' +
      '{"bbox_2d": [600, 600, 500, 700], "label": "reversed"}, {"bbox_2d": [2000, 0, 2100, 50], "label": "gone"}]';
    const cap = captureDisplays();
    try {
      await show({ task: "grounding_2d", answer, parsed: parseAnswer("grounding_2d", answer) }, { image: png });
    } finally {
      cap.restore();
    }
    const html = cap.sent.map((c) => c.bundle["text/html"]).filter((h): h is string => typeof h === "string").join(
      "\n",
    );
    const rects = elements(html, "rect", "cosmos-box-rect");
    assert.deepEqual(rects.map((r) => [r.x, r.y, r.width, r.height].map(Number)), [[20, 10, 80, 40], [
      160,
      80,
      40,
      20,
    ]]);
    assert.equal(elements(html, "rect", "cosmos-flagged").length, 1);
    assert.match(html, /2 boxes not drawn:.*reversed.*empty or reversed box.*gone.*outside the image/);
  });
});
