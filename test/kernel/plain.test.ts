import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import process from "node:process";
import { after, describe, test } from "node:test";
import { detectRuntime, progressBar, showTimeline, showVideo, streamText } from "../../kernel/mod.ts";

const dir = mkdtempSync(join(tmpdir(), "cosmos-kernel-plain-"));
after(() => rmSync(dir, { recursive: true, force: true }));

/** Runs `fn` with process.stdout.write captured. */
async function stdoutOf(fn: () => Promise<void>): Promise<string> {
  const out: string[] = [];
  const original = process.stdout.write;
  process.stdout.write = ((chunk: string | Uint8Array) => {
    out.push(typeof chunk === "string" ? chunk : new TextDecoder().decode(chunk));
    return true;
  }) as typeof process.stdout.write;
  try {
    await fn();
  } finally {
    process.stdout.write = original;
  }
  return out.join("");
}

describe("outside a notebook", () => {
  test("renderers print their concise text summary; streams and bars print text", async () => {
    assert.equal(detectRuntime(), "plain");
    const mp4 = join(dir, "clip.mp4");
    writeFileSync(
      mp4,
      new Uint8Array([0, 0, 0, 0x18, ...new TextEncoder().encode("ftypisom"), 0, 0, 0, 0, 1, 2, 3, 4]),
    );
    const text = await stdoutOf(async () => {
      await showVideo(mp4);
      await showTimeline([{ start: 0, end: 1, label: "wave" }], { duration: 2 });
      const s = streamText();
      s.push({ channel: "reasoning", text: "because" });
      s.push({ channel: "answer", text: "yes" });
      await s.done();
      const bar = progressBar({ label: "denoise", total: 4 });
      bar.tick(4);
      await bar.done();
    });
    assert.match(text, /^<video clip\.mp4, 20 B, inline>\n/);
    assert.match(text, /<timeline 1 event over 2s>\n {2}0s–1s wave\n/);
    assert.match(text, /\n\[reasoning\] because\n\[answer\] yes\n/);
    assert.match(text, /denoise 4\/4 \(100%\).*done in/);
    assert.doesNotMatch(text, /<(html|div|svg)/);
  });
});
