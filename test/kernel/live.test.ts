import assert from "node:assert/strict";
import { describe, test } from "node:test";
import {
  detectRuntime,
  display,
  etaSeconds,
  formatDuration,
  hasRichDisplay,
  markStreamed,
  progressBar,
  progressBundle,
  progressLine,
  progressReporter,
  show,
  splitThink,
  streamBundle,
  streamText,
} from "../../kernel/mod.ts";
import { UnsupportedError } from "../../src/errors.ts";
import { captureDisplays, elements, str } from "./_sink.ts";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe("runtime", () => {
  test("plain scripts and tests are detected as such; a sink receives displays", async () => {
    assert.equal(detectRuntime(), "plain");
    assert.equal(hasRichDisplay(), false);
    const cap = captureDisplays();
    try {
      assert.equal(hasRichDisplay(), true);
      await display({ "text/plain": "x" }, { displayId: "d", update: true });
      assert.deepEqual(cap.sent, [{ bundle: { "text/plain": "x" }, options: { displayId: "d", update: true } }]);
    } finally {
      cap.restore();
    }
  });
});

describe("streaming text", () => {
  test("splitThink separates <think> reasoning from the answer, also mid-stream", () => {
    assert.deepEqual(splitThink("<think>\nhmm\n</think>\n\nYes."), {
      reasoning: "hmm",
      answer: "Yes.",
      thinking: false,
    });
    assert.deepEqual(splitThink("<think>still go"), { reasoning: "still go", answer: "", thinking: true });
    assert.deepEqual(splitThink("reasons</think>answer"), { reasoning: "reasons", answer: "answer", thinking: false });
    assert.deepEqual(splitThink("just text"), { reasoning: "", answer: "just text", thinking: false });
  });

  test("streamBundle shows reasoning apart (in <details>) from the answer", () => {
    const b = streamBundle({ reasoning: "a < b", answer: "B", streaming: true, tokens: 3 });
    const html = str(b, "text/html");
    assert.match(
      html,
      /<details class="cosmos-reasoning"[^>]*>.*a &lt; b.*<\/details><div class="cosmos-answer"[^>]*>B<\/div>/,
    );
    assert.match(html, /streaming… 3 tokens/);
    assert.equal(str(b, "text/plain"), "Reasoning:\na < b\n\nAnswer:\nB …");
    assert.doesNotMatch(
      str(streamBundle({ reasoning: "", answer: "B", streaming: false }), "text/html"),
      /cosmos-reasoning|streaming…/,
    );
  });

  test("push() updates ONE display in place (display_data then update_display_data), throttled", async () => {
    const cap = captureDisplays();
    try {
      const s = streamText({ title: "caption", throttleMs: 30 });
      for (const t of ["<think>", "It is ", "a cat", "</think>", "A ", "cat."]) {
        s.push(t);
        await sleep(12);
      }
      await s.done();
      const ids = new Set(cap.sent.map((c) => c.options.displayId));
      assert.equal(ids.size, 1);
      assert.equal(cap.sent[0].options.update, false);
      assert.ok(cap.sent.length >= 3 && cap.sent.length < 8, `throttled: ${cap.sent.length} messages for 6 tokens`);
      assert.ok(cap.sent.slice(1).every((c) => c.options.update === true));
      const last = str(cap.sent.at(-1)!.bundle, "text/html");
      assert.match(last, /<details class="cosmos-reasoning".*It is a cat.*<\/details>/);
      assert.match(last, /<div class="cosmos-answer"[^>]*>A cat\.<\/div>/);
      assert.match(last, /data-streaming="false"/);
      assert.equal(s.messages, cap.sent.length);
      assert.deepEqual([s.reasoning, s.answer], ["It is a cat", "A cat."]);
    } finally {
      cap.restore();
    }
  });

  test("channel tokens (reason()'s onToken) and a final result", async () => {
    const cap = captureDisplays();
    try {
      const s = streamText({ throttleMs: 0 });
      s.onToken({ channel: "reasoning", text: "left of " });
      s.onToken({ channel: "reasoning", text: "plate" });
      s.onToken({ channel: "answer", text: "left" });
      assert.deepEqual([s.reasoning, s.answer], ["left of plate", "left"]);
      await s.done({ reasoning: "R", answer: "final" });
      assert.equal(str(cap.sent.at(-1)!.bundle, "text/plain"), "Reasoning:\nR\n\nAnswer:\nfinal");
    } finally {
      cap.restore();
    }
  });
});

describe("progress", () => {
  test("ETA, durations and the text line", () => {
    const s = { label: "denoise", done: 5, total: 20, elapsedMs: 10_000, finished: false };
    assert.equal(etaSeconds(s), 30);
    assert.equal(etaSeconds({ ...s, done: 0 }), undefined);
    assert.equal(formatDuration(42), "42s");
    assert.equal(formatDuration(187), "3:07");
    assert.equal(formatDuration(3723), "1:02:03");
    assert.equal(progressLine(s), "denoise 5/20 (25%) · 0.5 it/s · ETA 30s");
    assert.equal(
      progressLine({ ...s, done: 20, finished: true, unit: "step" }),
      "denoise 20/20 (100%) · 2.0 step/s · done in 10s",
    );
    const html = str(progressBundle(s), "text/html");
    assert.match(html, /<progress value="5" max="20"/);
    assert.doesNotMatch(str(progressBundle({ ...s, total: undefined }), "text/html"), /max=/);
    // Finished without a count: drawn done (full), not as an indeterminate (half-filled) bar.
    const finished = progressBundle({ label: "preprocess", done: 0, elapsedMs: 1200, finished: true });
    assert.match(str(finished, "text/html"), /<progress value="1" max="1"/);
    assert.equal(str(finished, "text/plain"), "preprocess · done in 1s");
  });

  test("a bar updates one display in place, throttled, and ends at 100%", async () => {
    const cap = captureDisplays();
    try {
      let t = 0;
      const bar = progressBar({ label: "decode", total: 100, throttleMs: 1000, now: () => t });
      for (let i = 0; i < 100; i++) {
        t += 10;
        bar.tick();
      }
      assert.equal(bar.state.done, 100);
      await bar.done();
      assert.ok(cap.sent.length <= 3, `throttled to ${cap.sent.length} messages`);
      assert.equal(new Set(cap.sent.map((c) => c.options.displayId)).size, 1);
      assert.equal(cap.sent.at(-1)!.options.update, true);
      assert.match(str(cap.sent.at(-1)!.bundle, "text/plain"), /^decode 100\/100 \(100%\) · 100 it\/s · done in 1s$/);
    } finally {
      cap.restore();
    }
  });

  test("progressReporter: one bar per stage, finished when the next stage starts", async () => {
    const cap = captureDisplays();
    try {
      const report = progressReporter({ throttleMs: 0 });
      report({ stage: "load", done: 1, total: 2 });
      report({ stage: "load", done: 2, total: 2 });
      report({ stage: "denoise", done: 1, total: 35 });
      assert.equal(report.bars.get("load")?.state.finished, true);
      await report.finish();
      assert.equal(report.bars.get("denoise")?.state.done, 35);
      assert.equal(new Set(cap.sent.map((c) => c.options.displayId)).size, 2);
    } finally {
      cap.restore();
    }
  });
});

describe("show()", () => {
  test("a reason() result: reasoning + answer, then the parsed events as a timeline", async () => {
    const cap = captureDisplays();
    try {
      await show({
        task: "temporal_localization",
        reasoning: "I watched it.",
        answer: "[...]",
        parsed: { kind: "events", events: [{ start: 0, end: 1, label: "a" }, { start: 1, end: 2, label: "b" }] },
      }, { duration: 3 });
      assert.equal(cap.sent.length, 3);
      assert.match(str(cap.sent[0].bundle, "text/html"), /I watched it\./);
      assert.equal(elements(str(cap.sent[1].bundle, "text/html"), "rect", "cosmos-event").length, 2);
      assert.equal(str(cap.sent[2].bundle, "text/plain"), "parsed as events (2 events) · finish: ? · ?");
    } finally {
      cap.restore();
    }
  });
  test("a rollout() result: the predicted actions as plots", async () => {
    const cap = captureDisplays();
    try {
      await show({ mode: "policy", embodiment: "droid", actions: [[0, 0, 0, 1], [1, 1, 1, 0]], backend: "x" });
      assert.deepEqual(cap.sent.map((c) => Object.keys(c.bundle).includes("application/vnd.plotly.v1+json")), [
        true,
        true,
        false,
      ]);
      assert.equal(str(cap.sent[2].bundle, "text/plain"), "policy · droid · 2 predicted steps × 4D (normalized) · x");
    } finally {
      cap.restore();
    }
  });
  test("a result already streamed (markStreamed): only the parsed part and the summary, not the text again", async () => {
    const cap = captureDisplays();
    try {
      const result = markStreamed({
        task: "custom",
        answer: "plausible",
        parsed: { kind: "label", label: "plausible" },
        finishReason: "stop",
        backend: "b",
      });
      await show(result);
      assert.deepEqual(cap.sent.map((c) => str(c.bundle, "text/plain")), [
        "parsed as label: plausible · finish: stop · b",
      ]);
    } finally {
      cap.restore();
    }
  });
  test("the pending call: a CosmosError is shown with its hint instead of a result; other errors fail the cell", async () => {
    const cap = captureDisplays();
    try {
      const failed = Promise.reject(
        new UnsupportedError("No diffusion model here.", { hint: "Use a vLLM-Omni server." }),
      );
      await show(failed);
      assert.equal(cap.sent.length, 1);
      assert.match(str(cap.sent[0].bundle, "text/html"), /class="cosmos-note cosmos-unavailable"/);
      assert.equal(
        str(cap.sent[0].bundle, "text/plain"),
        "UnsupportedError (unsupported): No diffusion model here.\n→ Use a vLLM-Omni server.",
      );
      await assert.rejects(show(Promise.reject(new TypeError("a bug"))), TypeError);
      const image = {
        mode: "text-to-image",
        media: { path: "/nonexistent.png", mimeType: "image/png", width: 2, height: 1 },
      };
      await assert.rejects(
        show(Promise.resolve(image)),
        /ENOENT|nonexistent/,
        "a result that cannot be read is not hidden",
      );
    } finally {
      cap.restore();
    }
  });
});
