// reason() end to end on the native engine (CPU) with the tiny Qwen3-VL fixture, checked against
// transformers 5.17's greedy tokens (test/fixtures/qwen3vl-tiny-reference.json): text prompt, and
// the reference video given as a real MP4 file (the fixture's 8 PNG frames encoded losslessly at
// 2 fps, so decoding gives the exact pixels back). Penalties are turned off so temperature 0 is
// plain greedy decoding, as in the reference.
import { after, describe, test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import process from "node:process";
import { fileURLToPath } from "node:url";
import { reason } from "../../src/api/reason.ts";
import { AbortError, NativeError } from "../../src/errors.ts";
import { resolveFfmpeg } from "../../src/media/ffmpeg_path.ts";
import { closeQwen3VL } from "../../src/native/qwen3vl.ts";
import { loadTokenizer } from "../../src/tokenizer/mod.ts";

const FIX = fileURLToPath(new URL("../fixtures/", import.meta.url));
const CKPT = join(FIX, "qwen3vl-tiny");
interface RefPrompt {
  messages: { role: string; content: string | { type: string; text?: string }[] }[];
  input_ids: number[];
  greedy_ids: number[];
}
const ref = JSON.parse(readFileSync(join(FIX, "qwen3vl-tiny-reference.json"), "utf8")) as {
  text_prompts: RefPrompt[];
  video: RefPrompt & { video_fps: number; media: string[] };
};
const tok = await loadTokenizer(CKPT);
const STOP = [tok.tokenToId("<|im_end|>"), tok.tokenToId("<|endoftext|>")];
const GREEDY = { temperature: 0, presence_penalty: 0, repetition_penalty: 1 };

function textOf(content: RefPrompt["messages"][number]["content"]): string {
  return typeof content === "string" ? content : content.filter((p) => p.type === "text").map((p) => p.text).join("");
}

/** transformers' greedy continuation as text: up to the first end-of-turn id, specials skipped. */
function expectedText(ids: number[], steps: number): { text: string; tokens: number; ended: boolean } {
  const cut = ids.slice(0, steps);
  const end = cut.findIndex((id) => STOP.includes(id));
  const kept = end < 0 ? cut : cut.slice(0, end);
  return { text: tok.decode(kept, { skipSpecial: true }), tokens: end < 0 ? cut.length : end + 1, ended: end >= 0 };
}

const tmp = mkdtempSync(join(tmpdir(), "cosmos-native-reason-"));
after(async () => {
  await closeQwen3VL();
  rmSync(tmp, { recursive: true, force: true });
});

describe("reason() on the native engine vs transformers (tiny Qwen3-VL, CPU)", () => {
  test("text prompt: greedy text, streamed pieces, usage", async () => {
    const c = ref.text_prompts[0];
    const [system, user] = c.messages;
    const pieces: string[] = [];
    const stages = new Set<string>();
    const r = await reason(
      { task: "custom", system: textOf(system.content), prompt: textOf(user.content), sampling: GREEDY, maxTokens: 32 },
      { backend: CKPT, onToken: (e) => pieces.push(e.text), onProgress: (e) => stages.add(e.stage) },
    );
    const want = expectedText(c.greedy_ids, 32);
    assert.equal(r.text, want.text);
    assert.equal(pieces.join(""), r.text);
    assert.deepEqual(r.usage, { promptTokens: c.input_ids.length, completionTokens: want.tokens, totalTokens: c.input_ids.length + want.tokens });
    assert.equal(r.finishReason, want.ended ? "stop" : "length");
    assert.match(r.backend, /^native:cpu \(/);
    for (const s of ["load", "prefill", "decode"]) assert.ok(stages.has(s), `progress stage ${s}`);
  });

  test("video prompt from an MP4 file: same greedy text as transformers on the frames", async () => {
    const c = ref.video;
    const mp4 = join(tmp, "fixture.mp4");
    execFileSync(resolveFfmpeg(), [
      "-loglevel", "error", "-framerate", String(c.video_fps), "-i", join(FIX, "qwen3vl-tiny-media/video_%02d.png"),
      "-c:v", "libx264rgb", "-qp", "0", "-pix_fmt", "rgb24", mp4,
    ]);
    const [system, user] = c.messages;
    const r = await reason(
      { task: "custom", system: textOf(system.content), prompt: textOf(user.content), video: mp4, sampling: GREEDY, maxTokens: 16 },
      { backend: CKPT },
    );
    const want = expectedText(c.greedy_ids, 16);
    assert.equal(r.usage?.promptTokens, c.input_ids.length, "expanded prompt length (video pads and timestamps)");
    assert.equal(r.text, want.text);
  });

  test("a stop string ends the answer before it", async () => {
    const c = ref.text_prompts[0];
    const [system, user] = c.messages;
    const full = expectedText(c.greedy_ids, 32).text;
    const stop = full.slice(12, 18);
    assert.ok(stop.trim().length > 0 && full.indexOf(stop) >= 1);
    const pieces: string[] = [];
    const r = await reason(
      { task: "custom", system: textOf(system.content), prompt: textOf(user.content), sampling: GREEDY, maxTokens: 32, stop: [stop] },
      { backend: CKPT, onToken: (e) => pieces.push(e.text) },
    );
    assert.equal(r.text, full.slice(0, full.indexOf(stop)));
    assert.equal(pieces.join(""), r.text, "nothing of the stop string was streamed");
    assert.equal(r.finishReason, "stop");
  });

  test("abort during a call rejects with AbortError; the next call runs normally", async () => {
    // Aborted once the prompt is built, just before decoding starts. (Aborting mid-decode from
    // onToken races the worker on a model this small, which often finishes first; the engine's
    // mid-decode abort is tested in test/native/native_errors.test.ts with no end-of-turn id.)
    const req = { task: "custom" as const, prompt: "Describe the scene.", maxTokens: 64, sampling: GREEDY };
    const ac = new AbortController();
    const tokens: string[] = [];
    await assert.rejects(
      reason(req, {
        backend: CKPT,
        signal: ac.signal,
        onProgress: (e) => {
          if (e.stage === "prefill") ac.abort();
        },
        onToken: (e) => tokens.push(e.text),
      }),
      AbortError,
    );
    assert.deepEqual(tokens, [], "nothing was decoded");
    const r = await reason({ ...req, maxTokens: 4 }, { backend: CKPT });
    assert.ok(r.usage && r.usage.completionTokens >= 1 && r.usage.completionTokens <= 4);
  });

  test("image workflows run and are parsed like the remote path (untrained weights: no boxes)", async () => {
    const r = await reason(
      { task: "grounding_2d", image: join(FIX, "qwen3vl-tiny-media/image.png"), prompt: "the red square", maxTokens: 8, sampling: GREEDY },
      { backend: CKPT },
    );
    assert.equal(r.task, "grounding_2d");
    assert.equal(r.parsed.kind, "unparsed");
    // 6 merged image tokens (grid 1x4x6) sit in the prompt.
    assert.ok(r.usage && r.usage.promptTokens > 6);
  });

  test("COSMOS_DEVICE=cuda on a machine whose build has no GPU decoder says so", async () => {
    const info = (await import("../../src/native/mod.ts")).nativeDeviceInfo();
    if (info.modelBackend === "cuda") return; // a GPU machine: nothing to refuse
    await assert.rejects(
      reason({ task: "custom", prompt: "Hi", maxTokens: 2 }, { backend: { kind: "native", checkpoint: CKPT, device: "cuda" } }),
      (e: unknown) => e instanceof NativeError && /COSMOS_DEVICE=cuda/.test(e.message) && /cpu/.test(e.hint ?? ""),
    );
    assert.equal(process.env.COSMOS_DEVICE, undefined);
  });
});
