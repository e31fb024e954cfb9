/** Message building: media URL rules, the reasoning instruction, describe-anything marks. */
import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { after, before, describe, test } from "node:test";
import sharp from "sharp";
import { MediaError } from "../../src/errors.ts";
import { boxToPixels, drawSubjectMarks, MARK_COLORS } from "../../src/reasoner/marks.ts";
import { buildMessages, isUnderRoot, mediaUrl, userText } from "../../src/reasoner/messages.ts";
import { ChatMessages } from "../../src/schema/messages.ts";
import { ReasonRequest } from "../../src/schema/reason_request.ts";
import { REASONING_INSTRUCTION } from "../../src/schema/sampling.ts";

describe("mediaUrl", () => {
  let dir: string;
  let png: Uint8Array;
  before(async () => {
    dir = mkdtempSync(join(tmpdir(), "cosmos-msg-test-"));
    png = new Uint8Array(
      await sharp({ create: { width: 8, height: 6, channels: 3, background: "#ff0000" } }).png().toBuffer(),
    );
    writeFileSync(join(dir, "a.png"), png);
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  test("http(s) URLs and data URIs pass through", async () => {
    assert.equal(await mediaUrl("https://example.com/x.jpg"), "https://example.com/x.jpg");
    assert.equal(await mediaUrl("data:image/png;base64,AAAA"), "data:image/png;base64,AAAA");
  });
  test("a file under the allowed root becomes file://, also given as file:// URL", async () => {
    const p = join(dir, "a.png");
    assert.equal(await mediaUrl(p, { allowedLocalMediaPath: dir }), pathToFileURL(p).href);
    assert.equal(await mediaUrl(pathToFileURL(p).href, { allowedLocalMediaPath: dir }), pathToFileURL(p).href);
  });
  test("a file outside the allowed root (or with none) becomes a data URI", async () => {
    const want = `data:image/png;base64,${Buffer.from(png).toString("base64")}`;
    assert.equal(await mediaUrl(join(dir, "a.png")), want);
    assert.equal(await mediaUrl(join(dir, "a.png"), { allowedLocalMediaPath: join(dir, "sub") }), want);
  });
  test("bytes become a data URI of their MIME type", async () => {
    assert.equal(
      await mediaUrl({ data: new Uint8Array([1, 2, 3]), mimeType: "video/mp4" }),
      "data:video/mp4;base64,AQID",
    );
  });
  test("a missing file is a MediaError", async () => {
    await assert.rejects(mediaUrl(join(dir, "missing.png")), MediaError);
  });
  test("isUnderRoot", () => {
    assert.equal(isUnderRoot("/a/b/c.mp4", "/a"), true);
    assert.equal(isUnderRoot("/a", "/a"), true);
    assert.equal(isUnderRoot("/ab/c.mp4", "/a"), false);
    assert.equal(isUnderRoot("/a/../b/c.mp4", "/a"), false);
  });
});

describe("buildMessages", () => {
  test("system + user (media first, then text), valid for the ChatMessages schema", async () => {
    const req = ReasonRequest.parse({
      task: "temporal_localization",
      video: "https://example.com/v.mp4",
      system: "Be brief.",
      reasoning: true,
    });
    const m = await buildMessages(req);
    ChatMessages.parse(m);
    assert.deepEqual(m[0], { role: "system", content: [{ type: "text", text: "Be brief." }] });
    assert.deepEqual(m[1].content, [
      { type: "video_url", video_url: { url: "https://example.com/v.mp4" } },
      { type: "text", text: userText(req) },
    ]);
    assert.ok(userText(req).endsWith(REASONING_INSTRUCTION));
    assert.ok(userText(req).startsWith("List the notable events"));
  });

  test("describe-anything: the image is sent with numbered marks drawn, as PNG", async () => {
    const img = new Uint8Array(
      await sharp({ create: { width: 200, height: 100, channels: 3, background: "#808080" } }).jpeg().toBuffer(),
    );
    const req = ReasonRequest.parse({
      task: "describe_anything",
      prompt: "Describe each marked region.",
      image: { data: img, mimeType: "image/jpeg" },
      subjects: [{ box: [100, 200, 400, 800], label: "cup" }, { box: [500, 100, 900, 500] }],
    });
    const m = await buildMessages(req);
    const part = (m[1].content as { type: string; image_url?: { url: string } }[])[0];
    assert.match(part.image_url!.url, /^data:image\/png;base64,/);
    const bytes = Buffer.from(part.image_url!.url.split(",")[1], "base64");
    const { data, info } = await sharp(bytes).raw().toBuffer({ resolveWithObject: true });
    assert.deepEqual([info.width, info.height], [200, 100]);
    const px = (x: number, y: number) =>
      Array.from(data.subarray((y * info.width + x) * info.channels, (y * info.width + x) * info.channels + 3));
    const hex = (c: string) => [1, 3, 5].map((i) => parseInt(c.slice(i, i + 2), 16));
    const close = (a: number[], b: number[]) => a.every((v, i) => Math.abs(v - b[i]) < 40);
    // Box 1 spans x 20..80, y 20..80 px: its left edge at mid-height is the first colour.
    const r1 = boxToPixels([100, 200, 400, 800], 200, 100);
    assert.ok(close(px(r1.left, 60), hex(MARK_COLORS[0])), `edge 1 ${px(r1.left, 60)}`);
    const r2 = boxToPixels([500, 100, 900, 500], 200, 100);
    assert.ok(close(px(r2.right - 1, 40), hex(MARK_COLORS[1])), `edge 2 ${px(r2.right - 1, 40)}`);
    // Inside the boxes and far away the image is untouched (grey).
    assert.ok(close(px(50, 70), [128, 128, 128]));
    assert.ok(close(px(190, 95), [128, 128, 128]));
  });

  test("drawSubjectMarks refuses bytes that are not an image", async () => {
    await assert.rejects(drawSubjectMarks(new Uint8Array([1, 2, 3]), [{ box: [0, 0, 10, 10] }]), MediaError);
  });
});
