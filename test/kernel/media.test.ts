import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import process from "node:process";
import { after, describe, test } from "node:test";
import {
  DEFAULT_MAX_INLINE_BYTES,
  displayable,
  escapeHtml,
  formatBytes,
  imageBundle,
  inlineMediaBundle,
  JUPYTER_DISPLAY,
  linkedMediaBundle,
  mediaOutput,
  showImage,
  sniffImageType,
  sniffMediaType,
  toBase64,
} from "../../kernel/mod.ts";
import { captureDisplays } from "./_sink.ts";
import { elements, str } from "./_sink.ts";

const dir = mkdtempSync(join(tmpdir(), "cosmos-kernel-media-"));
after(() => rmSync(dir, { recursive: true, force: true }));

const mp4 = new Uint8Array([0, 0, 0, 0x20, ...new TextEncoder().encode("ftypisom"), 0, 0, 2, 0, 1, 2, 3, 4, 5]);
const wav = new Uint8Array([
  ...new TextEncoder().encode("RIFF"),
  36,
  0,
  0,
  0,
  ...new TextEncoder().encode("WAVEfmt "),
  9,
  9,
]);

function dataUriBytes(html: string): Uint8Array {
  const m = html.match(/src="data:([^;]+);base64,([^"]+)"/);
  assert.ok(m, "a base64 data URI source");
  return new Uint8Array(Buffer.from(m[2], "base64"));
}

describe("mime helpers", () => {
  test("escapeHtml, toBase64, formatBytes", () => {
    assert.equal(escapeHtml(`<a href="x">&'`), "&lt;a href=&quot;x&quot;&gt;&amp;&#39;");
    assert.equal(toBase64(new Uint8Array([1, 2, 3, 255])), "AQID/w==");
    assert.equal(toBase64(new Uint8Array([9, 1, 2, 3]).subarray(1)), "AQID"); // respects the view's offset
    assert.equal(formatBytes(999), "999 B");
    assert.equal(formatBytes(1_400_000), "1.4 MB");
    assert.equal(formatBytes(25_000_000), "25 MB");
  });
  test("displayable renders through Symbol.for('Jupyter.display') and prints its text/plain", () => {
    const d = displayable({ "text/html": "<b>x</b>", "text/plain": "x" });
    assert.equal(JUPYTER_DISPLAY, Symbol.for("Jupyter.display"));
    assert.deepEqual(d[Symbol.for("Jupyter.display") as typeof JUPYTER_DISPLAY](), {
      "text/html": "<b>x</b>",
      "text/plain": "x",
    });
    assert.equal(String(d), "x");
  });
});

describe("video and audio bundles", () => {
  test("sniffs MP4, M4A, WAV, MP3 and WebM", () => {
    assert.equal(sniffMediaType(mp4), "video/mp4");
    assert.equal(sniffMediaType(mp4, "audio"), "audio/mp4");
    assert.equal(sniffMediaType(wav, "audio"), "audio/wav");
    assert.equal(sniffMediaType(new Uint8Array([0x49, 0x44, 0x33, 4]), "audio"), "audio/mpeg");
    assert.equal(sniffMediaType(new Uint8Array([0x1a, 0x45, 0xdf, 0xa3])), "video/webm");
    assert.equal(sniffMediaType(new Uint8Array([1, 2, 3])), undefined);
  });

  test("inline video: <video controls> whose data URI holds exactly the bytes, with a size note", () => {
    const b = inlineMediaBundle("video", mp4, { name: "clip.mp4", caption: "a <test>" });
    const html = str(b, "text/html");
    assert.equal(elements(html, "video", "cosmos-video").length, 1);
    assert.match(html, /<video [^>]*controls/);
    assert.match(html, /type="video\/mp4"/);
    assert.deepEqual(dataUriBytes(html), mp4);
    assert.ok(html.includes(`clip.mp4 · ${mp4.length} B · inline`));
    assert.match(html, /a &lt;test&gt;/);
    assert.equal(str(b, "text/plain"), `<video clip.mp4, ${mp4.length} B, inline>`);
  });

  test("inline audio: <audio controls> with an audio/wav data URI", () => {
    const html = str(inlineMediaBundle("audio", wav), "text/html");
    assert.equal(elements(html, "audio", "cosmos-audio").length, 1);
    assert.match(html, /src="data:audio\/wav;base64,/);
    assert.deepEqual(dataUriBytes(html), wav);
  });

  test("linked bundle references the URL and offers a download", () => {
    const html = str(linkedMediaBundle("video", "media/a b.mp4", 42_000_000), "text/html");
    assert.match(html, /<source src="media\/a b\.mp4" type="video\/mp4">/);
    assert.match(html, /download/);
    assert.match(html, /42 MB · linked/);
  });

  test("mediaOutput inlines a small file and links one over the limit, copying it to outDir", () => {
    const src = join(dir, "clip.mp4");
    writeFileSync(src, mp4);
    assert.equal(DEFAULT_MAX_INLINE_BYTES, 20_000_000);
    const small = str(mediaOutput("video", src).bundle, "text/html");
    assert.deepEqual(dataUriBytes(small), mp4);

    const outDir = join(dir, "linked");
    const big = mediaOutput("video", src, { maxInlineBytes: 10, outDir });
    const html = str(big.bundle, "text/html");
    const url = html.match(/<source src="([^"]+)"/)?.[1];
    assert.ok(url && !url.startsWith("data:"));
    const target = resolve(process.cwd(), decodeURIComponent(url));
    assert.equal(target, join(outDir, "clip.mp4"));
    assert.deepEqual(new Uint8Array(readFileSync(target)), mp4);
    assert.match(String(big), /linked/);
  });

  test("mediaOutput writes bytes when asked not to inline, and explicit inline wins over the limit", () => {
    const outDir = join(dir, "bytes");
    const out = mediaOutput("audio", wav, { inline: false, outDir, name: "tone.wav" });
    assert.ok(existsSync(join(outDir, "tone.wav")));
    assert.match(str(out.bundle, "text/html"), /<audio/);
    const forced = mediaOutput("audio", wav, { inline: true, maxInlineBytes: 1 });
    assert.deepEqual(dataUriBytes(str(forced.bundle, "text/html")), wav);
  });

  test("a missing file is a MediaError naming it", () => {
    assert.throws(
      () => mediaOutput("video", join(dir, "nope.mp4")),
      (e: Error) => e.name === "MediaError" && /nope\.mp4/.test(e.message),
    );
  });

  test("showImage: the image file inline with its caption; a file that is not an image is a MediaError", async () => {
    const png = readFileSync(resolve("assets/images/tabletop.png"));
    assert.equal(sniffImageType(new Uint8Array(png)), "image/png");
    assert.equal(sniffImageType(new Uint8Array(readFileSync(resolve("assets/images/tabletop.jpg")))), "image/jpeg");
    assert.equal(sniffImageType(new Uint8Array(readFileSync(resolve("assets/images/tabletop.webp")))), "image/webp");
    const cap = captureDisplays();
    try {
      await showImage(resolve("assets/images/tabletop.png"), "input · 832x480");
      const html = str(cap.sent[0].bundle, "text/html");
      assert.match(html, /^<figure class="cosmos-input"[^>]*><img src="data:image\/png;base64,/);
      assert.deepEqual(dataUriBytes(html), new Uint8Array(png));
      assert.match(html, /<figcaption>input · 832x480<\/figcaption>/);
    } finally {
      cap.restore();
    }
    assert.throws(
      () => imageBundle(new TextEncoder().encode("not an image"), "x"),
      (e: Error) => e.name === "MediaError",
    );
    await assert.rejects(
      showImage(join(dir, "nope.png")),
      (e: Error) => e.name === "MediaError" && /nope\.png/.test(e.message),
    );
  });
});
