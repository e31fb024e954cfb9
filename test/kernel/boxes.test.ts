import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import { describe, test } from "node:test";
import sharp from "sharp";
import {
  boxesBundle, boxesSvg, type OverlayImage, labelColor, labelColors, loadImage, PALETTE, subjectsBundle, toPixelBox, toPixelPoint,
} from "../../kernel/mod.ts";
import { elements, str } from "./_sink.ts";

const img: OverlayImage = { bytes: new Uint8Array([1, 2, 3]), mimeType: "image/png", width: 640, height: 480 };

describe("coordinate conversion", () => {
  test("norm1000 (Qwen3-VL), norm1 and pixel conventions", () => {
    assert.deepEqual(toPixelBox([100, 200, 300, 400], "norm1000", 640, 480), [64, 96, 192, 192]);
    assert.deepEqual(toPixelBox([0.1, 0.2, 0.3, 0.4], "norm1", 640, 480).map((v) => Math.round(v * 1e6) / 1e6), [64, 96, 192, 192]);
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
    assert.deepEqual(rects.map((r) => [r.x, r.y, r.width, r.height].map(Number)), [[64, 96, 128, 96], [320, 240, 320, 240], [0, 0, 32, 24]]);
    assert.equal(rects[2].stroke, rects[0].stroke);
    assert.notEqual(rects[1].stroke, rects[0].stroke);
    assert.deepEqual([rects[0].stroke, rects[1].stroke], [labelColors(["cup", "plate"]).get("cup"), labelColors(["plate", "cup"]).get("plate")]);
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
