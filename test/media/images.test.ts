// Images through sharp: JPG/JPEG/PNG/WEBP from paths, bytes and data URIs; resize modes;
// atomic JPG/PNG writes; every bad input (other formats, corrupt, empty, huge) -> MediaError.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { deflateSync } from "node:zlib";
import sharp from "sharp";
import {
  detectImageFormat,
  encodeImage,
  readImage,
  resizeImage,
  resizeToTier,
  writeImage,
} from "../../src/media/images.ts";
import { toDataUri } from "../../src/media/source.ts";
import { AbortError, MediaError } from "../../src/errors.ts";
import { meanRgb, partialFiles, tempDir } from "./_helpers.ts";

const tmp = tempDir("cosmos-media-img-");
const p = (n: string) => join(tmp.dir, n);
// 60x40 picture: left third red, middle third green, right third blue
const W = 60, H = 40;
const bands = new Uint8Array(W * H * 3);
for (let y = 0; y < H; y++) {
  for (let x = 0; x < W; x++) {
    const c = x < 20 ? [255, 0, 0] : x < 40 ? [0, 255, 0] : [0, 0, 255];
    bands.set(c, (y * W + x) * 3);
  }
}
const raw = () => sharp(bands, { raw: { width: W, height: H, channels: 3 } });
let png: Uint8Array;

before(async () => {
  png = new Uint8Array(await raw().png().toBuffer());
  writeFileSync(p("bands.png"), png);
  writeFileSync(p("bands.jpg"), await raw().jpeg({ quality: 95 }).toBuffer());
  writeFileSync(p("bands.jpeg"), await raw().jpeg({ quality: 95 }).toBuffer());
  writeFileSync(p("bands.webp"), await raw().webp({ lossless: true }).toBuffer());
  writeFileSync(p("png_named.jpg"), png); // extension lies; bytes decide
  writeFileSync(p("bands.gif"), await raw().gif().toBuffer());
  writeFileSync(p("bands.tiff"), await raw().tiff().toBuffer());
  writeFileSync(p("truncated.png"), png.subarray(0, 60));
  writeFileSync(p("truncated.jpg"), readFileSync(p("bands.jpg")).subarray(0, 300));
  writeFileSync(p("empty.png"), "");
  writeFileSync(p("text.png"), "not an image");
  writeFileSync(
    p("wide.png"),
    await sharp({ create: { width: 20000, height: 1, channels: 3, background: "#000" } }).png().toBuffer(),
  );
  writeFileSync(
    p("rgba.png"),
    await sharp({ create: { width: 4, height: 4, channels: 4, background: { r: 0, g: 0, b: 0, alpha: 0 } } }).png()
      .toBuffer(),
  );
  writeFileSync(p("huge_area.png"), pngHeaderOnly(12000, 9000)); // 108 MP, sides within 16384
  writeFileSync(p("zero.png"), pngHeaderOnly(0, 10));
});
after(() => tmp.cleanup());

/** A PNG whose IHDR claims w x h, with a tiny IDAT: enough for header readers, never decoded. */
function pngHeaderOnly(w: number, h: number): Uint8Array {
  const ihdr = new Uint8Array(13);
  const v = new DataView(ihdr.buffer);
  v.setUint32(0, w);
  v.setUint32(4, h);
  ihdr.set([8, 2, 0, 0, 0], 8); // 8-bit RGB
  const chunk = (type: string, data: Uint8Array) => {
    const out = new Uint8Array(12 + data.length);
    const dv = new DataView(out.buffer);
    dv.setUint32(0, data.length);
    out.set([...type].map((c) => c.charCodeAt(0)), 4);
    out.set(data, 8);
    dv.setUint32(8 + data.length, crc32(out.subarray(4, 8 + data.length)));
    return out;
  };
  const sig = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];
  const idat = new Uint8Array(deflateSync(new Uint8Array(100)));
  return new Uint8Array([...sig, ...chunk("IHDR", ihdr), ...chunk("IDAT", idat), ...chunk("IEND", new Uint8Array(0))]);
}
function crc32(b: Uint8Array): number {
  let c = ~0;
  for (const x of b) {
    c ^= x;
    for (let k = 0; k < 8; k++) c = (c >>> 1) ^ (0xedb88320 & -(c & 1));
  }
  return ~c >>> 0;
}

function pixel(img: { width: number; data: Uint8Array }, x: number, y: number): number[] {
  const i = (y * img.width + x) * 3;
  return [...img.data.subarray(i, i + 3)];
}

describe("read", () => {
  for (
    const [name, format, exact] of [
      ["bands.png", "png", true],
      ["bands.jpg", "jpeg", false],
      ["bands.jpeg", "jpeg", false],
      ["bands.webp", "webp", true],
      ["png_named.jpg", "png", true],
    ] as const
  ) {
    test(`${name}: ${W}x${H} RGB, format ${format}`, async () => {
      const img = await readImage(p(name));
      assert.deepEqual([img.width, img.height, img.channels, img.format, img.data.length], [
        W,
        H,
        3,
        format,
        W * H * 3,
      ]);
      if (exact) assert.deepEqual(img.data, bands);
      else {
        const [r, g, b] = pixel(img, 5, 20);
        assert.ok(r > 230 && g < 30 && b < 30, `jpeg red ${r},${g},${b}`);
      }
    });
  }
  test("bytes, { data, mimeType }, data URI and file:// URL", async () => {
    for (
      const src of [
        png,
        { data: png, mimeType: "image/png" },
        toDataUri(png, "image/png"),
        pathToFileURL(p("bands.png")).href,
      ]
    ) {
      const img = await readImage(src);
      assert.deepEqual(img.data, bands);
    }
  });
  test("16-bit and greyscale PNGs come out as 8-bit RGB", async () => {
    const rgb16 = await sharp({ create: { width: 5, height: 4, channels: 3, background: { r: 10, g: 200, b: 30 } } })
      .toColourspace("rgb16").png().toBuffer();
    const a = await readImage(new Uint8Array(rgb16));
    assert.deepEqual([a.data.length, ...pixel(a, 2, 2)], [60, 10, 200, 30]);
    const grey = await sharp({ create: { width: 5, height: 4, channels: 3, background: { r: 90, g: 90, b: 90 } } })
      .toColourspace("b-w").png().toBuffer();
    const b = await readImage(new Uint8Array(grey));
    assert.deepEqual([b.data.length, ...pixel(b, 0, 0)], [60, 90, 90, 90]);
  });
  test("transparency is composited on white (as vLLM and qwen-vl-utils do)", async () => {
    const img = await readImage(p("rgba.png"));
    assert.equal(img.channels, 3);
    assert.deepEqual(pixel(img, 1, 1), [255, 255, 255]);
  });
  test("detectImageFormat by magic bytes", () => {
    assert.equal(detectImageFormat(png), "png");
    assert.equal(detectImageFormat(new Uint8Array([0xff, 0xd8, 0xff, 0xe0])), "jpeg");
    assert.equal(detectImageFormat(new TextEncoder().encode("RIFF\0\0\0\0WEBPVP8 ")), "webp");
    assert.equal(detectImageFormat(new TextEncoder().encode("GIF89a")), undefined);
  });
});

describe("bad images -> MediaError", () => {
  const cases: [string, RegExp][] = [
    ["bands.gif", /not a JPG, PNG or WEBP image \(it looks GIF\)/],
    ["bands.tiff", /not a JPG, PNG or WEBP image \(it looks TIFF\)/],
    ["truncated.png", /corrupt PNG/],
    ["truncated.jpg", /corrupt JPEG/],
    ["empty.png", /it looks empty/],
    ["text.png", /not a JPG, PNG or WEBP/],
    ["wide.png", /20000x1 px, above the limit of 16384 px/],
    ["huge_area.png", /12000x9000 px, above the limit .* 100 MP/],
    ["zero.png", /corrupt PNG|invalid size/],
    ["missing.png", /missing\.png" does not exist\.$/m],
  ];
  for (const [name, pattern] of cases) {
    test(name, async () => {
      await assert.rejects(readImage(p(name)), (e: unknown) => e instanceof MediaError && pattern.test(e.message));
    });
  }
  test("random bytes", async () => {
    await assert.rejects(readImage(new Uint8Array([1, 2, 3, 4, 5, 6, 7, 8, 9])), MediaError);
  });
  test("an aborted signal stops read, resize and write", async () => {
    const ac = new AbortController();
    ac.abort();
    await assert.rejects(readImage(p("bands.png"), { signal: ac.signal }), AbortError);
    const img = await readImage(p("bands.png"));
    await assert.rejects(resizeImage(img, { width: 8, height: 8, signal: ac.signal }), AbortError);
    await assert.rejects(writeImage(img, p("aborted.png"), { signal: ac.signal }), AbortError);
    assert.equal(existsSync(p("aborted.png")), false);
  });
  test("a malformed data URI", async () => {
    await assert.rejects(readImage("data:image/png;base64"), /Malformed data URI/);
  });
  test("no raw TypeError / URIError / ENOENT: a file:// URL with a host, bad %-escapes, a missing file are MediaErrors in words", async () => {
    const cases: [string, RegExp][] = [
      ["file://server/share/a.png", /Malformed file:\/\/ URL/],
      ["data:image/png,%E0%A4%A", /percent-encoding is not valid/],
      [p("nowhere.png"), /does not exist/],
    ];
    for (const [ref, pattern] of cases) {
      await assert.rejects(
        readImage(ref),
        (e: unknown) => e instanceof MediaError && pattern.test(e.message) && !/ENOENT/.test(e.message),
        ref,
      );
    }
  });
});

describe("resize", () => {
  let img: Awaited<ReturnType<typeof readImage>>;
  before(async () => (img = await readImage(p("bands.png"))));
  test("tier sizes from a 1280x720 picture (cover): 1280x720, 832x480, 320x192", async () => {
    const big = await resizeImage(img, { width: 1280, height: 720, fit: "fill" });
    for (const [w, h] of [[1280, 720], [832, 480], [320, 192]]) {
      const r = await resizeImage(big, { width: w, height: h });
      assert.deepEqual([r.width, r.height, r.data.length], [w, h, w * h * 3]);
    }
  });
  test("resizeToTier gives the seed's vision-conditioning sizes (720p 1280x720, 480p 832x480, 256p 320x192)", async () => {
    for (const [tier, w, h] of [["720p", 1280, 720], ["480p", 832, 480], ["256p", 320, 192]] as const) {
      const r = await resizeToTier(img, tier, "16:9");
      assert.deepEqual([r.width, r.height], [w, h], tier);
    }
    const portrait = await resizeToTier(img, "480p", "9:16");
    assert.deepEqual([portrait.width, portrait.height], [480, 832]);
  });
  test("cover centre-crops: 60x40 -> 10x20 scales to 30x20 and keeps columns 10..19, the green band", async () => {
    const r = await resizeImage(img, { width: 10, height: 20, fit: "cover" });
    assert.deepEqual([r.width, r.height], [10, 20]);
    const [red, green, blue] = meanRgb(r.data);
    assert.ok(green > 200 && red < 40 && blue < 40, `${red},${green},${blue}`);
  });
  test("contain letterboxes to the exact size (black bars top and bottom)", async () => {
    const r = await resizeImage(img, { width: 30, height: 30, fit: "contain" });
    assert.deepEqual([r.width, r.height], [30, 30]);
    assert.deepEqual(pixel(r, 15, 0), [0, 0, 0]);
    assert.ok(pixel(r, 15, 15)[1] > 200);
  });
  test("fit keeps the aspect ratio inside the box: 60x40 into 30x30 -> 30x20", async () => {
    const r = await resizeImage(img, { width: 30, height: 30, fit: "fit" });
    assert.deepEqual([r.width, r.height], [30, 20]);
  });
  test("fill stretches to exactly the size", async () => {
    const r = await resizeImage(img, { width: 32, height: 64, fit: "fill" });
    assert.deepEqual([r.width, r.height], [32, 64]);
  });
  test("a huge target is refused", async () => {
    await assert.rejects(resizeImage(img, { width: 20000, height: 10 }), /above the limit/);
  });
});

describe("write", () => {
  test("PNG is lossless, JPG close; written atomically (no temp file left)", async () => {
    const img = await readImage(p("bands.png"));
    const a = await writeImage(img, p("out/a.png"));
    assert.deepEqual((await readImage(a)).data, bands);
    const b = await writeImage(img, p("out/b.jpg"), { quality: 95 });
    const back = await readImage(b);
    assert.equal(back.format, "jpeg");
    assert.ok(pixel(back, 30, 20)[1] > 220);
    assert.deepEqual(partialFiles(p("out")), []);
  });
  test("encodeImage gives bytes", async () => {
    const img = await readImage(p("bands.png"));
    assert.equal(detectImageFormat(await encodeImage(img, { format: "png" })), "png");
    assert.equal(detectImageFormat(await encodeImage(img)), "jpeg");
  });
  test("unsupported extension or bad pixel buffer -> MediaError, nothing written", async () => {
    const img = await readImage(p("bands.png"));
    await assert.rejects(writeImage(img, p("out/c.gif")), /only \.jpg, \.jpeg and \.png/);
    await assert.rejects(writeImage({ ...img, data: new Uint8Array(5) }, p("out/d.png")), /holds 5 bytes/);
    assert.equal(existsSync(p("out/c.gif")) || existsSync(p("out/d.png")), false);
  });
});
