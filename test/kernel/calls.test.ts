// The notebook calls of kernel/calls.ts on the real native engine (tiny Qwen3-VL fixture, CPU or
// CUDA) with the display sink standing in for a kernel: tokens stream into one output updated in
// place, one progress bar per stage, the tiny-checkpoint caps apply only when asked for, and
// show() then adds only the parsed part. Also: outside a notebook they print nothing.
import assert from "node:assert/strict";
import process from "node:process";
import { fileURLToPath } from "node:url";
import { after, describe, test } from "node:test";
import { reason } from "../../kernel/calls.ts";
import { show } from "../../kernel/show.ts";
import { closeQwen3VL } from "../../src/native/qwen3vl.ts";
import { TINY_CHECKPOINT_CAPS } from "../../src/schema/reason_request.ts";
import { captureDisplays, str } from "./_sink.ts";

const TINY = fileURLToPath(new URL("../fixtures/qwen3vl-tiny", import.meta.url));
const VIDEO = fileURLToPath(new URL("../../assets/videos/pick_place.mp4", import.meta.url));
const prompt = "Name three things a robot arm can pick up.";

after(() => closeQwen3VL());

describe("notebook reason()", () => {
  test("a text-only call on the tiny checkpoint: streamed answer, a bar per stage, capped at the tiny-checkpoint limit", async () => {
    const cap = captureDisplays();
    try {
      const tokens: string[] = [];
      const result = await reason(
        { task: "custom", prompt, sampling: { max_tokens: 20000, temperature: 0 } },
        { backend: TINY, tinyCheckpoint: true, onToken: (t) => tokens.push(t.text) },
      );
      assert.ok(
        result.usage && result.usage.completionTokens <= TINY_CHECKPOINT_CAPS.maxTokens,
        `${result.usage?.completionTokens} tokens`,
      );
      assert.ok(tokens.length > 0, "the caller's onToken still gets every token");
      const ids = new Map<string, string[]>();
      for (const c of cap.sent) {
        const id = c.options.displayId ?? "(none)";
        ids.set(id, [...(ids.get(id) ?? []), str(c.bundle, "text/plain")]);
      }
      const answers = cap.sent.filter((c) => str(c.bundle, "text/html").includes('class="cosmos-answer"'));
      assert.equal(new Set(answers.map((c) => c.options.displayId)).size, 1, "one streamed output, updated in place");
      assert.equal(str(answers.at(-1)!.bundle, "text/plain"), `custom\n${result.answer}`);
      const bars = [...ids.values()].filter((texts) => /^(load|preprocess|prefill|decode)\b/.test(texts[0]));
      const finalLines = bars.map((texts) => texts.at(-1)!);
      for (const stage of ["preprocess", "prefill", "decode"]) {
        assert.ok(
          finalLines.some((l) => l.startsWith(stage) && l.includes("done in")),
          `a finished ${stage} bar: ${finalLines.join(" | ")}`,
        );
      }
      const allText = cap.sent.map((c) => str(c.bundle, "text/plain")).join("\n");
      assert.doesNotMatch(allText, /Reading and resizing the media/, "a text-only call reads no media");
      assert.match(allText, /preprocess .*Building the prompt/);
      assert.match(
        allText,
        new RegExp(
          `Tiny test checkpoint: capped at ${TINY_CHECKPOINT_CAPS.maxTokens} tokens \\(tinyCheckpoint: true\\)`,
        ),
      );
      // show() adds the parsed part and a summary, not the answer a second time.
      const before = cap.sent.length;
      await show(result);
      const added = cap.sent.slice(before).map((c) => str(c.bundle, "text/plain"));
      assert.deepEqual(added.map((t) => t.replace(/ · native:.*$/, "")), [
        `parsed as text · finish: ${result.finishReason}`,
      ]);
    } finally {
      cap.restore();
    }
  });

  test("a video call under the caps samples the tiny checkpoint's frame count; without the option nothing is capped", async () => {
    const cap = captureDisplays();
    try {
      const capped = await reason({ task: "caption", video: VIDEO, maxTokens: 6, sampling: { temperature: 0 } }, {
        backend: TINY,
        tinyCheckpoint: true,
      });
      assert.ok((capped.usage?.completionTokens ?? 99) <= 6, "a lower limit of the request's own is kept");
      assert.ok(
        cap.sent.some((c) =>
          str(c.bundle, "text/plain").includes(`and ${TINY_CHECKPOINT_CAPS.videoFrames} video frames`)
        ),
      );
      assert.ok(cap.sent.some((c) => str(c.bundle, "text/plain").includes("Reading and resizing the media")));
      const uncapped = await reason({ task: "custom", prompt, maxTokens: 60, sampling: { temperature: 0 } }, {
        backend: TINY,
      });
      assert.ok(
        (uncapped.usage?.completionTokens ?? 0) > TINY_CHECKPOINT_CAPS.maxTokens,
        `${uncapped.usage?.completionTokens} tokens: not capped`,
      );
    } finally {
      cap.restore();
    }
  });

  test("outside a notebook: the library's call, no output of its own", async () => {
    // The display layer prints strings; the test runner's own messages to its parent (binary) pass through.
    const printed: string[] = [];
    const write = process.stdout.write;
    process.stdout.write =
      ((chunk: string | Uint8Array, ...rest: never[]) =>
        typeof chunk === "string"
          ? (printed.push(chunk), true)
          : write.call(process.stdout, chunk, ...rest)) as typeof process.stdout.write;
    try {
      const r = await reason({ task: "custom", prompt, maxTokens: 4 }, { backend: TINY, tinyCheckpoint: true });
      assert.ok(r.usage && r.usage.completionTokens <= 4);
    } finally {
      process.stdout.write = write;
    }
    assert.deepEqual(printed, []);
  });

  test("show(reason(…)) with a bad request: the ValidationError is shown with the field, not thrown", async () => {
    const cap = captureDisplays();
    try {
      await show(reason({ task: "custom", prompt, maxTokens: 10, sampling: { max_tokens: 20 } }, { backend: TINY }));
      const text = cap.sent.map((c) => str(c.bundle, "text/plain")).join("\n");
      assert.match(text, /^ValidationError \(invalid_request\): [^]*request\.maxTokens: maxTokens \(10\)/);
      assert.match(text, /sampling\.max_tokens/);
    } finally {
      cap.restore();
    }
  });
});
