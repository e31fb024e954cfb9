// The decode progress of reason() ends at what happened, not at the token limit: a call that stops at its end
// token after N tokens finishes its notebook bar at N/N with "stopped at end of answer (limit L)", one cut at the
// limit says so. Native: the mini Reasoner (checkpoints/mini-reasoner, trained by this project) on a grounding
// question it answers in far fewer than 256 tokens, greedy. Remote: the strict local server (test/remote/_server.ts),
// streamed and not, with and without the server's usage.
import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import { after, before, describe, test } from "node:test";
import { type ProgressReporter, progressReporter } from "../../kernel/progress.ts";
import { reason } from "../../src/api/reason.ts";
import { closeNative } from "../../src/native/qwen3vl.ts";
import { remoteReason } from "../../src/remote/reasoner_client.ts";
import { ReasonRequest } from "../../src/schema/reason_request.ts";
import { decodeEndProgress, type ProgressEvent } from "../../src/schema/results.ts";
import { startTestServer, type TestServer } from "../remote/_server.ts";

const MINI = fileURLToPath(new URL("../../checkpoints/mini-reasoner", import.meta.url));
const STILL = fileURLToPath(new URL("../../assets/images/world_tabletop_small.png", import.meta.url));

/** The events and a notebook progress reporter (plain mode here: it prints a line per bar) fed with them. */
function recorder(): { events: ProgressEvent[]; onProgress: (e: ProgressEvent) => void; bars: ProgressReporter } {
  const events: ProgressEvent[] = [];
  const bars = progressReporter();
  return {
    events,
    bars,
    onProgress: (e) => {
      events.push(e);
      bars(e);
    },
  };
}

/** The finished decode bar's state and text line. */
async function decodeBar(bars: ProgressReporter): Promise<{ done: number; total?: number; message?: string }> {
  await bars.finish();
  const bar = bars.bars.get("decode");
  assert.ok(bar, "a decode bar");
  assert.equal(bar.state.finished, true);
  return bar.state;
}

describe("decodeEndProgress", () => {
  test("done = total = the tokens produced; the message says why and names the limit", () => {
    assert.deepEqual(decodeEndProgress(40, 256, "stop"), {
      stage: "decode",
      done: 40,
      total: 40,
      message: "stopped at end of answer (limit 256)",
    });
    assert.equal(decodeEndProgress(256, 256, "length").message, "reached the token limit of 256");
    assert.equal(decodeEndProgress(3, undefined, "abort").message, "ended (abort)");
    assert.deepEqual(decodeEndProgress(undefined, 64, "stop"), {
      stage: "decode",
      message: "stopped at end of answer (limit 64)",
    });
  });
});

describe("reason() decode progress on the native engine (mini Reasoner, CPU)", () => {
  after(async () => await closeNative());
  test("a greedy grounding answer that stops at its end token: the bar ends at its tokens, not at 256", async () => {
    const rec = recorder();
    const r = await reason(
      {
        task: "grounding_2d",
        image: STILL,
        prompt: 'Locate the red cube. Answer as JSON: [{"bbox_2d": [x1, y1, x2, y2], "label": "..."}].',
        sampling: { temperature: 0 },
        maxTokens: 256,
      },
      { backend: MINI, onProgress: rec.onProgress },
    );
    assert.equal(r.finishReason, "stop");
    const tokens = r.usage!.completionTokens;
    assert.ok(tokens > 1 && tokens < 256, `stopped early (${tokens} tokens)`);
    const decodes = rec.events.filter((e) => e.stage === "decode");
    assert.equal(decodes[0].total, 256, "while running, the bar's total is the limit");
    assert.deepEqual(decodes.at(-1), decodeEndProgress(tokens, 256, "stop"));
    const state = await decodeBar(rec.bars);
    assert.equal(state.done, tokens);
    assert.equal(state.total, tokens);
    assert.equal(state.message, "stopped at end of answer (limit 256)");
  });
});

describe("remoteReason decode progress (strict local server)", () => {
  let srv: TestServer;
  before(async () => (srv = await startTestServer()));
  after(async () => await srv.close());
  const FAST = { retryBaseMs: 5, timeoutMs: 10_000 };
  const usage = (n: number) => ({ prompt_tokens: 10, completion_tokens: n, total_tokens: 10 + n });

  test("streamed, stopped at the end token: the bar ends at the server's completion tokens", async () => {
    srv.behaviour.chat = { content: "A red cube on a table.", usage: usage(7), finishReason: "stop" };
    const rec = recorder();
    const req = ReasonRequest.parse({ task: "custom", prompt: "Describe.", maxTokens: 256, stream: true });
    const r = await remoteReason(req, { url: srv.url }, { ...FAST, onProgress: rec.onProgress, onToken: () => {} });
    assert.equal(r.finishReason, "stop");
    assert.deepEqual(rec.events.at(-1), {
      stage: "decode",
      done: 7,
      total: 7,
      message: "stopped at end of answer (limit 256)",
    });
    const state = await decodeBar(rec.bars);
    assert.deepEqual([state.done, state.total], [7, 7]);
  });

  test("a server past the limit is cut before its usage: the count is the deltas read, the limit is named", async () => {
    // 22 characters in deltas of 3: 8 deltas; the client stops reading at the 5th.
    srv.behaviour.chat = { content: "A red cube on a table.", usage: usage(8), finishReason: "stop" };
    const rec = recorder();
    const req = ReasonRequest.parse({ task: "custom", prompt: "Describe.", maxTokens: 4, stream: true });
    const r = await remoteReason(req, { url: srv.url }, { ...FAST, onProgress: rec.onProgress, onToken: () => {} });
    assert.equal(r.finishReason, "length");
    assert.deepEqual(rec.events.at(-1), {
      stage: "decode",
      done: 4,
      total: 4,
      message: "reached the token limit of 4",
    });
    const state = await decodeBar(rec.bars);
    assert.deepEqual([state.done, state.total], [4, 4]);
  });

  test("not streamed: one decode event at the end with the server's count", async () => {
    srv.behaviour.chat = { content: "A red cube.", usage: usage(5), finishReason: "stop" };
    const rec = recorder();
    const req = ReasonRequest.parse({ task: "custom", prompt: "Describe.", maxTokens: 256, stream: false });
    await remoteReason(req, { url: srv.url }, { ...FAST, onProgress: rec.onProgress });
    const decodes = rec.events.filter((e) => e.stage === "decode");
    assert.deepEqual(decodes, [{
      stage: "decode",
      done: 5,
      total: 5,
      message: "stopped at end of answer (limit 256)",
    }]);
  });
});
