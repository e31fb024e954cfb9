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
import sharp from "sharp";
import { AbortError, NativeError, ValidationError } from "../../src/errors.ts";
import { resolveFfmpeg } from "../../src/media/ffmpeg_path.ts";
import { qwenImagePlan, qwenVideoPlan } from "../../src/media/qwen_vision.ts";
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
    assert.deepEqual(r.usage, {
      promptTokens: c.input_ids.length,
      completionTokens: want.tokens,
      totalTokens: c.input_ids.length + want.tokens,
    });
    assert.equal(r.finishReason, want.ended ? "stop" : "length");
    assert.match(r.backend, /^native:cpu \(/);
    for (const s of ["load", "prefill", "decode"]) assert.ok(stages.has(s), `progress stage ${s}`);
  });

  test("video prompt from an MP4 file: same greedy text as transformers on the frames", async () => {
    const c = ref.video;
    const mp4 = join(tmp, "fixture.mp4");
    execFileSync(resolveFfmpeg(), [
      "-loglevel",
      "error",
      "-framerate",
      String(c.video_fps),
      "-i",
      join(FIX, "qwen3vl-tiny-media/video_%02d.png"),
      "-c:v",
      "libx264rgb",
      "-qp",
      "0",
      "-pix_fmt",
      "rgb24",
      mp4,
    ]);
    const [system, user] = c.messages;
    const r = await reason(
      {
        task: "custom",
        system: textOf(system.content),
        prompt: textOf(user.content),
        video: mp4,
        sampling: GREEDY,
        maxTokens: 16,
      },
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
      {
        task: "custom",
        system: textOf(system.content),
        prompt: textOf(user.content),
        sampling: GREEDY,
        maxTokens: 32,
        stop: [stop],
      },
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
      {
        task: "grounding_2d",
        image: join(FIX, "qwen3vl-tiny-media/image.png"),
        prompt: "the red square",
        maxTokens: 8,
        sampling: GREEDY,
      },
      { backend: CKPT },
    );
    assert.equal(r.task, "grounding_2d");
    assert.equal(r.parsed.kind, "unparsed");
    // 6 merged image tokens (grid 1x4x6) sit in the prompt.
    assert.ok(r.usage && r.usage.promptTokens > 6);
  });

  test("imageSize sets the image's resize bounds: fewer pixels, fewer prompt tokens (as transformers counts them)", async () => {
    const png = join(tmp, "640x480.png");
    await sharp({ create: { width: 640, height: 480, channels: 3, background: "#808040" } }).png().toFile(png);
    const tokensWith = async (imageSize?: { shortestEdge: number; longestEdge: number }) =>
      (await reason({
        task: "custom",
        prompt: "Describe.",
        image: png,
        maxTokens: 1,
        ...(imageSize ? { imageSize } : {}),
      }, { backend: CKPT })).usage!.promptTokens;
    // The fixture's processor_config.json bounds the image to 4096..262144 px.
    const byDefault = await tokensWith();
    const small = await tokensWith({ shortestEdge: 4096, longestEdge: 16384 });
    const large = await tokensWith({ shortestEdge: 4096, longestEdge: 1 << 20 });
    const planDefault = qwenImagePlan(480, 640, { minPixels: 4096, maxPixels: 262144 });
    const planSmall = qwenImagePlan(480, 640, { minPixels: 4096, maxPixels: 16384 });
    const planLarge = qwenImagePlan(480, 640, { minPixels: 4096, maxPixels: 1 << 20 });
    assert.ok(planSmall.numTokens < planDefault.numTokens && planDefault.numTokens < planLarge.numTokens);
    // Only the image's placeholder count changes; the text around it stays the same.
    assert.equal(byDefault - small, planDefault.numTokens - planSmall.numTokens);
    assert.equal(large - byDefault, planLarge.numTokens - planDefault.numTokens);
  });

  test("videoSampling picks the frames: more frames, more prompt tokens", async () => {
    const mp4 = join(tmp, "testsrc-2s.mp4");
    execFileSync(resolveFfmpeg(), [
      "-v",
      "error",
      "-f",
      "lavfi",
      "-i",
      "testsrc=size=320x240:rate=24",
      "-frames:v",
      "48",
      "-pix_fmt",
      "yuv420p",
      "-c:v",
      "libx264",
      "-y",
      mp4,
    ]);
    const tokensWith = async (videoSampling?: { fps?: number; numFrames?: number }) =>
      (await reason({
        task: "custom",
        prompt: "Describe.",
        video: mp4,
        maxTokens: 1,
        ...(videoSampling ? { videoSampling } : {}),
      }, { backend: CKPT })).usage!.promptTokens;
    const meta = { totalFrames: 48, fps: 24, height: 240, width: 320 };
    // The fixture's video processor: 2 fps, 4..64 frames, 4096..1048576 px over all frames.
    const settings = { fps: 2, minFrames: 4, maxFrames: 64, minPixels: 4096, maxPixels: 1048576 };
    const visual = (sampling: { fps?: number; numFrames?: number }) =>
      qwenVideoPlan(meta, sampling, settings).numTokens;
    const byDefault = await tokensWith(); // 2 fps over 2 s: 4 frames
    const four = await tokensWith({ numFrames: 4 });
    const sixteen = await tokensWith({ numFrames: 16 });
    const fps4 = await tokensWith({ fps: 4 }); // 8 frames
    assert.equal(four, byDefault, "numFrames 4 is what 2 fps gives on a 2 s clip");
    // Each extra temporal patch also brings its timestamp text, so at least the visual tokens' difference.
    assert.ok(
      sixteen - four >= visual({ numFrames: 16 }) - visual({ numFrames: 4 }) &&
        visual({ numFrames: 16 }) > visual({ numFrames: 4 }),
      `${four} -> ${sixteen}`,
    );
    assert.ok(fps4 - byDefault >= visual({ fps: 4 }) - visual({}) && fps4 > byDefault, `${byDefault} -> ${fps4}`);
    assert.ok(fps4 < sixteen);
  });

  test("a prompt longer than max_position_embeddings is a ValidationError with the count, before any model work", async () => {
    const limit = (JSON.parse(readFileSync(join(CKPT, "config.json"), "utf8")) as {
      text_config: { max_position_embeddings: number };
    })
      .text_config.max_position_embeddings;
    const prompt = "Describe the robot arm and the red cube on the table. ".repeat(Math.ceil(limit / 4));
    const count = tok.encode(prompt).length;
    assert.ok(count > limit, `${count} text tokens > ${limit}`);
    const stages: string[] = [];
    let thrown: unknown;
    try {
      await reason(
        { task: "custom", prompt, image: join(FIX, "qwen3vl-tiny-media/image.png"), maxTokens: 4 },
        { backend: CKPT, onProgress: (e) => stages.push(e.stage) },
      );
    } catch (e) {
      thrown = e;
    }
    assert.ok(thrown instanceof ValidationError, String(thrown));
    assert.equal(thrown.field, "prompt");
    const total = Number(/^(\d+) tokens/.exec(String(thrown.value))?.[1]);
    assert.ok(total > count, `the whole prompt (${total}) has the system text, template and image too`);
    assert.match(String(thrown.value), /\b6 image, 0 video\)$/, "the image's 6 merged tokens are counted apart");
    assert.match(thrown.allowed, new RegExp(`at most ${limit} tokens \\(max_position_embeddings`));
    assert.match(thrown.message, /shorter prompt.*imageSize\.longestEdge/);
    assert.ok(!stages.includes("prefill") && !stages.includes("decode"), `no model work: ${stages.join(",")}`);
    // The session is unharmed: the next call runs.
    const r = await reason({ task: "custom", prompt: "Hi", maxTokens: 2 }, { backend: CKPT });
    assert.ok(r.usage!.promptTokens < limit);
  });

  test("COSMOS_DEVICE=cuda on a machine whose build has no GPU decoder says so", async () => {
    const info = (await import("../../src/native/mod.ts")).nativeDeviceInfo();
    if (info.modelBackend === "cuda") return; // a GPU machine: nothing to refuse
    await assert.rejects(
      reason({ task: "custom", prompt: "Hi", maxTokens: 2 }, {
        backend: { kind: "native", checkpoint: CKPT, device: "cuda" },
      }),
      (e: unknown) => e instanceof NativeError && /COSMOS_DEVICE=cuda/.test(e.message) && /cpu/.test(e.hint ?? ""),
    );
    assert.equal(process.env.COSMOS_DEVICE, undefined);
  });
});
