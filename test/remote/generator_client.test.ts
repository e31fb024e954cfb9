/**
 * remoteGenerate and remoteRollout against the strict vLLM-Omni test server
 * (test/remote/_server.ts + _vllm_omni.ts: the real routes' rules, each citing vLLM-Omni's
 * source): the exact JSON / multipart requests with only the settings a request sets, nothing
 * the server would silently drop (`Recorded.dropped`), the pipeline's effective settings equal
 * to the validated request's `effective`, forward dynamics with the chunk inline, the chunk /
 * frame rule, the server's domain names, failed jobs reported with their own error, the sync
 * 504, cancellation (409 included), outputs written atomically and failures leaving no file.
 */
import assert from "node:assert/strict";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { after, before, describe, test } from "node:test";
import sharp from "sharp";
import { AbortError, RemoteError, ValidationError } from "../../src/errors.ts";
import { remoteGenerate } from "../../src/remote/generator_client.ts";
import { actionChunkOf, parseVideoJob } from "../../src/remote/jobs.ts";
import { outputDir } from "../../src/remote/output.ts";
import { remoteRollout } from "../../src/remote/rollout_client.ts";
import { type EmbodimentId, EMBODIMENTS } from "../../src/schema/embodiments.ts";
import { GenerateRequest, type GenerateRequestInput } from "../../src/schema/generate_request.ts";
import type { ProgressEvent } from "../../src/schema/results.ts";
import { RolloutRequest, type RolloutRequestInput } from "../../src/schema/rollout_request.ts";
import { parseWith } from "../../src/schema/validate.ts";
import { makeMp4, makePng } from "./_media.ts";
import { type Recorded, scriptedAction, startTestServer, type TestServer } from "./_server.ts";
import { videoForm } from "../../src/remote/form.ts";

const FAST = { retryBaseMs: 5, timeoutMs: 20_000, pollIntervalMs: 5 };
const MODEL = "nvidia/Cosmos3-Nano";
const gen = (r: GenerateRequestInput) => GenerateRequest.parse(r);
const roll = (r: RolloutRequestInput) => RolloutRequest.parse(r);
const PROMPT =
  "A robot arm; it stacks a red cube on a blue one;\nthen it waves.\r\nLighting: soft; 'quoted' \"double\" \u00e9 --boundary";

function fields(rec: Recorded): [string, string][] {
  return (rec.form ?? []).filter((p) => p.filename === undefined).map((p) => [p.name, p.text]);
}
function extraOf(rec: Recorded): Record<string, unknown> | undefined {
  const f = fields(rec).find(([n]) => n === "extra_params");
  return f ? JSON.parse(f[1]) : undefined;
}
/** The settings the server's pipeline ran equal the validated request's `effective`. */
function samePlan(
  rec: Recorded,
  eff: {
    width?: number;
    height?: number;
    numFrames?: number;
    numInferenceSteps: number;
    guidanceScale: number;
    flowShift: number;
    guidanceInterval: readonly [number, number];
    maxSequenceLength: number;
  },
) {
  assert.ok(rec.plan, "the server accepted the request");
  const want: Record<string, unknown> = {
    numFrames: eff.numFrames,
    steps: eff.numInferenceSteps,
    guidance: eff.guidanceScale,
    flowShift: eff.flowShift,
    // The server's "no interval" (None) is CFG on every step: every timestep is in [0, 1000].
    guidanceInterval: [...eff.guidanceInterval],
    maxSequenceLength: eff.maxSequenceLength,
  };
  if (eff.width !== undefined) Object.assign(want, { width: eff.width, height: eff.height });
  const got: Record<string, unknown> = {};
  for (const k of Object.keys(want)) got[k] = (rec.plan as unknown as Record<string, unknown>)[k];
  got.guidanceInterval ??= [0, 1000];
  assert.deepEqual(got, want);
}

describe("remoteGenerate", () => {
  let srv: TestServer;
  let dir: string;
  let png: Uint8Array<ArrayBuffer>;
  before(async () => {
    png = await makePng(48, 32);
    srv = await startTestServer({ models: [MODEL], png, mp4: makeMp4(5) });
    dir = mkdtempSync(join(tmpdir(), "cosmos-gen-test-"));
  });
  after(async () => {
    await srv.close();
    rmSync(dir, { recursive: true, force: true });
  });

  test("text-to-image: only the set fields, Cosmos options in extra_params (max_sequence_length too); nothing dropped", async () => {
    srv.requests.length = 0;
    const out = join(dir, "img", "t2i.png");
    const req = gen({
      prompt: PROMPT,
      output: "image",
      resolution: "256p",
      aspectRatio: "1:1",
      seed: 42,
      guardrails: false,
      maxSequenceLength: 512,
      outputPath: out,
    });
    const r = await remoteGenerate(req, { url: srv.url, model: MODEL }, FAST);
    assert.deepEqual(srv.requests.map((x) => `${x.method} ${x.path}`), ["POST /v1/images/generations"]);
    assert.deepEqual(srv.requests[0].json, {
      prompt: PROMPT,
      model: MODEL,
      n: 1,
      size: "256x256",
      response_format: "b64_json",
      seed: 42,
      extra_params: { guardrails: false, max_sequence_length: 512 },
    });
    assert.deepEqual(srv.requests[0].dropped, []);
    samePlan(srv.requests[0], req.effective);
    assert.deepEqual(req.effective.defaulted, ["numInferenceSteps", "guidanceScale", "flowShift", "guidanceInterval"]);
    assert.equal(r.mode, "text-to-image");
    assert.equal(r.seed, 42);
    assert.deepEqual(r.media, { path: out, mimeType: "image/png", width: 48, height: 32, hasSound: false });
    assert.deepEqual(new Uint8Array(readFileSync(out)), png);
  });

  test("text-to-image with nothing set sends nothing else: the server's 50 / 7.0 (timesteps 400-1000) / 3.0 at 1024x1024, shown in effective", async () => {
    srv.requests.length = 0;
    const req = gen({ prompt: "A lighthouse.", output: "image", outputPath: join(dir, "def.png") });
    await remoteGenerate(req, { url: srv.url }, FAST);
    assert.deepEqual(srv.requests[0].json, { prompt: "A lighthouse.", n: 1, response_format: "b64_json" });
    assert.deepEqual({ ...req.effective, defaulted: undefined }, {
      width: 1024,
      height: 1024,
      numFrames: 1,
      fps: 24,
      numInferenceSteps: 50,
      guidanceScale: 7,
      flowShift: 3,
      guidanceInterval: [400, 1000],
      maxSequenceLength: 4096,
      defaulted: undefined,
    });
    samePlan(srv.requests[0], req.effective);
  });

  test("guidanceInterval goes as extra_params.guidance_interval on both endpoints; [0, 1000] turns the text-to-image interval off", async () => {
    srv.requests.length = 0;
    const img = gen({ prompt: "x", output: "image", guidanceInterval: [0, 1000], outputPath: join(dir, "gi.png") });
    await remoteGenerate(img, { url: srv.url }, FAST);
    assert.deepEqual((srv.requests[0].json as Record<string, unknown>).extra_params, { guidance_interval: [0, 1000] });
    assert.deepEqual(srv.requests[0].dropped, []);
    assert.deepEqual(srv.requests[0].plan?.guidanceInterval, [0, 1000]);
    samePlan(srv.requests[0], img.effective);
    const vid = gen({ prompt: "x", guidanceInterval: [500, 900], outputPath: join(dir, "gi.mp4") });
    await remoteGenerate(vid, { url: srv.url }, FAST);
    assert.deepEqual(fields(srv.requests[1]).at(-1), ["extra_params", '{"guidance_interval":[500,900]}']);
    assert.deepEqual(srv.requests[1].dropped, []);
    assert.deepEqual(srv.requests[1].plan?.guidanceInterval, [500, 900]);
    samePlan(srv.requests[1], vid.effective);
    assert.equal(vid.effective.defaulted.includes("guidanceInterval"), false);
  });

  test("text-to-image to .jpg converts to JPEG", async () => {
    const out = join(dir, "t2i.jpg");
    const r = await remoteGenerate(gen({ prompt: "x", output: "image", outputPath: out }), { url: srv.url }, FAST);
    assert.equal(r.media.mimeType, "image/jpeg");
    assert.equal((await sharp(out).metadata()).format, "jpeg");
  });

  test("text-to-video: multipart fields in order, the ';' prompt intact, extra_params JSON; nothing dropped; the MP4 is probed", async () => {
    srv.requests.length = 0;
    const out = join(dir, "t2v.mp4");
    const req = gen({
      prompt: PROMPT,
      negativePrompt: "blurry; distorted",
      resolution: "720p",
      numFrames: 189,
      fps: 24,
      seed: 0,
      numInferenceSteps: 20,
      guardrails: false,
      maxSequenceLength: 1024,
      outputPath: out,
    });
    const r = await remoteGenerate(req, { url: srv.url + "/v1" }, FAST);
    const rec = srv.requests[0];
    assert.equal(`${rec.method} ${rec.path}`, "POST /v1/videos/sync");
    assert.match(String(rec.headers["content-type"]), /^multipart\/form-data; boundary=/);
    assert.deepEqual(fields(rec), [
      ["prompt", PROMPT],
      ["negative_prompt", "blurry; distorted"],
      ["size", "1280x720"],
      ["num_frames", "189"],
      ["fps", "24"],
      ["num_inference_steps", "20"],
      ["seed", "0"],
      ["extra_params", '{"guardrails":false,"max_sequence_length":1024}'],
    ]);
    assert.deepEqual(rec.dropped, []);
    samePlan(rec, req.effective);
    assert.equal(rec.form!.some((p) => p.name === "input_reference"), false);
    assert.equal(r.mode, "text-to-video");
    assert.equal(r.media.path, out);
    assert.equal(r.media.mimeType, "video/mp4");
    assert.equal(r.media.width, 64);
    assert.equal(r.media.height, 48);
    assert.equal(r.media.numFrames, 5);
    assert.equal(r.media.hasSound, false);
  });

  test("text-to-video with nothing set sends the prompt alone; effective = the server's 1280x720, 189 frames, 35 / 6.0 / 10.0", async () => {
    srv.requests.length = 0;
    const req = gen({ prompt: "A harbour at dawn.", outputPath: join(dir, "def.mp4") });
    await remoteGenerate(req, { url: srv.url }, FAST);
    assert.deepEqual(fields(srv.requests[0]), [["prompt", "A harbour at dawn."]]);
    samePlan(srv.requests[0], req.effective);
    assert.deepEqual(req.effective.defaulted, [
      "size",
      "numInferenceSteps",
      "guidanceScale",
      "flowShift",
      "guidanceInterval",
      "maxSequenceLength",
      "numFrames",
      "fps",
    ]);
  });

  test("a frame count off the 4k+1 grid: effective shows the count the model rounds it to", async () => {
    srv.requests.length = 0;
    const req = gen({ prompt: "x", numFrames: 20, outputPath: join(dir, "r20.mp4") });
    assert.equal(req.effective.numFrames, 21);
    await remoteGenerate(req, { url: srv.url }, FAST);
    samePlan(srv.requests[0], req.effective);
  });

  test("image-to-video with sound: input_reference upload bytes, generate_sound=true, sound detected", async () => {
    srv.requests.length = 0;
    srv.behaviour.mp4 = makeMp4(5, true);
    const imgPath = join(dir, "start.png");
    writeFileSync(imgPath, png);
    const r = await remoteGenerate(gen({ prompt: PROMPT, image: imgPath, sound: true, numFrames: 21 }), {
      url: srv.url,
    }, FAST);
    const rec = srv.requests[0];
    const file = rec.form!.find((p) => p.name === "input_reference")!;
    assert.equal(file.filename, "start.png");
    assert.equal(file.contentType, "image/png");
    assert.deepEqual(file.data, png);
    assert.deepEqual(fields(rec).find(([n]) => n === "generate_sound"), ["generate_sound", "true"]);
    assert.deepEqual(rec.dropped, []);
    assert.equal(r.mode, "image-to-video-with-sound");
    assert.equal(r.media.hasSound, true);
    assert.ok(r.media.path.startsWith(join(outputDir(), "image-to-video-with-sound-")), r.media.path);
    rmSync(r.media.path);
    srv.behaviour.mp4 = makeMp4(5);
  });

  test("video-to-video: latent conditioning indexes and keep 'first' | 'last' in extra_params; the server accepts them", async () => {
    srv.requests.length = 0;
    const src = makeMp4(7);
    const req = gen({
      prompt: "Make it night.",
      video: { data: src, mimeType: "video/mp4" },
      numFrames: 21,
      conditionFrameIndexes: [1, 0],
      conditionVideoKeep: "last",
      useResolutionTemplate: true,
      outputPath: join(dir, "v2v.mp4"),
    });
    assert.deepEqual(req.effective.conditionFrameIndexes, [0, 1]);
    assert.equal(req.effective.conditionSourceFrames, 5);
    const r = await remoteGenerate(req, { url: srv.url }, FAST);
    const rec = srv.requests[0];
    const file = rec.form!.find((p) => p.name === "input_reference")!;
    assert.equal(file.contentType, "video/mp4");
    assert.deepEqual(file.data, src);
    assert.deepEqual(extraOf(rec), {
      use_resolution_template: true,
      condition_frame_indexes_vision: [1, 0],
      condition_video_keep: "last",
    });
    assert.deepEqual(rec.dropped, []);
    assert.equal(rec.status, 200);
    assert.equal(r.mode, "video-to-video");
  });

  test("video-to-video: a keep that is not 'first' | 'last', or a latent index past the output, is refused before sending", async () => {
    const base = { prompt: "x", video: { data: makeMp4(5), mimeType: "video/mp4" } };
    for (
      const [extra, field, allowed] of [
        [{ conditionVideoKeep: 3 }, "request.conditionVideoKeep", '"first" | "last"'],
        [{ numFrames: 9, conditionFrameIndexes: [0, 3] }, "request.conditionFrameIndexes", "latent indexes 0..2"],
        [{ conditionFrameIndexes: [0, 0] }, "request.conditionFrameIndexes", "distinct"],
        [{ conditionFrameIndexes: [-1] }, "request.conditionFrameIndexes.0", ">= 0"],
      ] as const
    ) {
      const e = (() => {
        try {
          parseWith(GenerateRequest, { ...base, ...extra }, "request");
        } catch (err) {
          return err;
        }
      })();
      assert.ok(e instanceof ValidationError, JSON.stringify(extra));
      assert.equal(e.field, field);
      assert.ok(e.allowed.includes(allowed), `${e.allowed} mentions ${allowed}`);
    }
  });

  test("the strict server refuses what the real one refuses: an integer condition_video_keep is an HTTP 400", async () => {
    srv.requests.length = 0;
    const form = videoForm([["prompt", "x"], ["extra_params", '{"condition_video_keep":3}']], {
      data: makeMp4(5),
      filename: "v.mp4",
      mimeType: "video/mp4",
    });
    const res = await fetch(`${srv.url}/v1/videos/sync`, {
      method: "POST",
      headers: { "Content-Type": form.contentType },
      body: form.body,
    });
    assert.equal(res.status, 400);
    assert.match((await res.json()).error.message, /first' or 'last/);
  });

  test("the old wire fields are what the real server silently drops: extra_args and a top-level max_sequence_length", async () => {
    srv.requests.length = 0;
    const res = await fetch(`${srv.url}/v1/images/generations`, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ prompt: "x", max_sequence_length: 512, extra_args: { guardrails: false } }),
    });
    assert.equal(res.status, 200);
    assert.deepEqual(srv.requests[0].dropped, ["json:max_sequence_length", "json:extra_args"]);
    const form = videoForm([["prompt", "x"], ["max_sequence_length", "512"], [
      "extra_params",
      '{"action_path":"/a.json"}',
    ]]);
    await (await fetch(`${srv.url}/v1/videos/sync`, {
      method: "POST",
      headers: { "Content-Type": form.contentType },
      body: form.body,
    })).arrayBuffer();
    assert.deepEqual(srv.requests[1].dropped, ["form:max_sequence_length", "extra_params:action_path"]);
  });

  test("guidance above the server's 20 is refused by the schema; the server refuses it too", async () => {
    assert.throws(
      () => parseWith(GenerateRequest, { prompt: "x", guidanceScale: 25 }, "request"),
      (e: unknown) => e instanceof ValidationError && e.field === "request.guidanceScale" && e.allowed === "<= 20",
    );
    const res = await fetch(`${srv.url}/v1/images/generations`, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ prompt: "x", guidance_scale: 25 }),
    });
    assert.equal(res.status, 400);
  });

  test("a guardrail refusal (400) leaves no file and carries the server's message", async () => {
    srv.behaviour.guardrailBlocks = /forbidden/;
    const out = join(dir, "fail", "x.mp4");
    const err = await remoteGenerate(gen({ prompt: "a forbidden scene", outputPath: out }), { url: srv.url }, FAST)
      .catch((e) => e);
    srv.behaviour.guardrailBlocks = undefined;
    assert.ok(err instanceof RemoteError);
    assert.equal(err.status, 400);
    assert.equal(err.serverMessage, "Input was blocked by Cosmos3 guardrails.");
    assert.equal(existsSync(out), false);
  });

  test("an engine failure is a 500 with the engine's message", async () => {
    srv.behaviour.engineFailure = "CUDA out of memory";
    const err = await remoteGenerate(gen({ prompt: "x", outputPath: join(dir, "oom.mp4") }), { url: srv.url }, FAST)
      .catch((e) => e);
    srv.behaviour.engineFailure = undefined;
    assert.ok(err instanceof RemoteError);
    assert.equal(err.status, 500);
    assert.equal(err.serverMessage, "CUDA out of memory");
  });

  test("the server's own sync timeout (504) says to use fewer frames or raise VLLM_OMNI_VIDEO_SYNC_TIMEOUT", async () => {
    srv.behaviour.syncTimeoutMs = 50;
    srv.behaviour.generationMs = 100;
    const err = await remoteGenerate(gen({ prompt: "x", outputPath: join(dir, "504.mp4") }), { url: srv.url }, FAST)
      .catch((e) => e);
    srv.behaviour.syncTimeoutMs = 600_000;
    srv.behaviour.generationMs = 0;
    assert.ok(err instanceof RemoteError, String(err));
    assert.equal(err.status, 504);
    assert.match(err.message, /gave up waiting/);
    assert.match(err.hint ?? "", /VLLM_OMNI_VIDEO_SYNC_TIMEOUT/);
    assert.equal(existsSync(join(dir, "504.mp4")), false);
  });

  test("videoJob: true runs the video as an async job (no 600 s sync limit) with the same fields", async () => {
    srv.requests.length = 0;
    const r = await remoteGenerate(gen({ prompt: PROMPT, resolution: "256p", outputPath: join(dir, "job.mp4") }), {
      url: srv.url,
    }, { ...FAST, videoJob: true });
    assert.deepEqual(srv.requests.map((x) => x.method + " " + x.path.replace(/video_gen_\w+/, "ID")), [
      "POST /v1/videos",
      "GET /v1/videos/ID",
      "GET /v1/videos/ID",
      "GET /v1/videos/ID/content",
    ]);
    assert.deepEqual(fields(srv.requests[0]), [["prompt", PROMPT], ["size", "320x192"]]);
    assert.deepEqual(srv.requests[0].dropped, []);
    assert.equal(r.media.numFrames, 5);
  });

  test("bytes that are not an MP4 are refused and leave no file (no temp file either)", async () => {
    const sub = join(dir, "garbage");
    srv.behaviour.mp4 = new TextEncoder().encode('{"not":"a video"}');
    const out = join(sub, "x.mp4");
    const err = await remoteGenerate(gen({ prompt: "x", outputPath: out }), { url: srv.url }, FAST).catch((e) => e);
    srv.behaviour.mp4 = makeMp4(5);
    assert.ok(err instanceof RemoteError, String(err));
    assert.match(err.message, /not a video|could not be read/);
    assert.deepEqual(existsSync(dirname(out)) ? readdirSync(dirname(out)) : [], []);
  });

  test("abort while the sync call is running: AbortError, no file", async () => {
    srv.behaviour.generationMs = 2000;
    const ctrl = new AbortController();
    const out = join(dir, "aborted", "x.mp4");
    const p = remoteGenerate(gen({ prompt: "x", outputPath: out }), { url: srv.url }, { ...FAST, signal: ctrl.signal });
    await srv.waitFor("POST /v1/videos/sync");
    const t0 = Date.now();
    ctrl.abort();
    await assert.rejects(p, AbortError);
    assert.ok(Date.now() - t0 < 1000, "abort is prompt");
    srv.behaviour.generationMs = 0;
    assert.equal(existsSync(out), false);
  });

  test("503 on the sync endpoint is retried with the whole form again", async () => {
    srv.requests.length = 0;
    srv.behaviour.faults.push({
      match: "POST /v1/videos/sync",
      status: 503,
      body: '{"error":{"message":"busy"}}',
      headers: { "Retry-After": "0" },
    });
    const r = await remoteGenerate(
      gen({ prompt: PROMPT, image: { data: png, mimeType: "image/png" }, outputPath: join(dir, "retry.mp4") }),
      { url: srv.url },
      FAST,
    );
    assert.equal(srv.requests.length, 2);
    assert.deepEqual(srv.requests[1].body, srv.requests[0].body);
    assert.deepEqual(fields(srv.requests[1])[0], ["prompt", PROMPT]);
    assert.deepEqual(srv.requests[1].form!.find((p) => p.name === "input_reference")!.data, png);
    assert.equal(r.media.numFrames, 5);
  });

  test("a server slower than timeoutMs gives an error that says it timed out (no retry)", async () => {
    srv.requests.length = 0;
    srv.behaviour.generationMs = 3000;
    const err = await remoteGenerate(gen({ prompt: "x", outputPath: join(dir, "slow.mp4") }), { url: srv.url }, {
      ...FAST,
      timeoutMs: 150,
    }).catch((e) => e);
    srv.behaviour.generationMs = 0;
    assert.ok(err instanceof Error, String(err));
    assert.match(err.message, /timed out/);
    await new Promise((r) => setTimeout(r, 300)); // a timed-out POST must not be sent again (a second generation)
    assert.equal(srv.requests.length, 1);
    assert.equal(existsSync(join(dir, "slow.mp4")), false);
  });

  test("429 with Retry-After is retried; 400 is not", async () => {
    srv.requests.length = 0;
    srv.behaviour.faults.push({
      match: "POST /v1/images",
      status: 429,
      body: "slow down",
      headers: { "Retry-After": "0" },
    });
    await remoteGenerate(gen({ prompt: "x", output: "image", outputPath: join(dir, "r.png") }), { url: srv.url }, FAST);
    assert.equal(srv.requests.length, 2);
    srv.requests.length = 0;
    srv.behaviour.faults.push({
      match: "POST /v1/images",
      status: 400,
      body: '{"error":{"message":"size must be in format WIDTHxHEIGHT"}}',
    });
    const err = await remoteGenerate(gen({ prompt: "x", output: "image" }), { url: srv.url }, FAST).catch((e) => e);
    assert.ok(err instanceof RemoteError);
    assert.equal(err.serverMessage, "size must be in format WIDTHxHEIGHT");
    assert.equal(srv.requests.length, 1);
  });
});

describe("remoteRollout", () => {
  let srv: TestServer;
  let dir: string;
  let png: Uint8Array<ArrayBuffer>;
  before(async () => {
    png = await makePng(32, 32);
    srv = await startTestServer({ models: [MODEL], png, mp4: makeMp4(5) });
    dir = mkdtempSync(join(tmpdir(), "cosmos-roll-test-"));
    writeFileSync(join(dir, "obs.png"), png);
  });
  after(async () => {
    await srv.close();
    rmSync(dir, { recursive: true, force: true });
  });
  const polled = () => srv.requests.filter((x) => x.method === "GET" && !x.path.endsWith("/content")).length;

  test("policy: async job polled to completion, the action chunk read from the job's action object", async () => {
    srv.requests.length = 0;
    const progress: ProgressEvent[] = [];
    const req = roll({
      mode: "policy",
      embodiment: "droid",
      image: join(dir, "obs.png"),
      prompt: "Pick up the cup; place it.",
      actionChunkSize: 4,
      resolution: "256p",
      outputPath: join(dir, "policy.mp4"),
    });
    const r = await remoteRollout(req, { url: srv.url }, { ...FAST, onProgress: (e) => progress.push(e) });
    const id = srv.requests[1].path.split("/").pop();
    assert.deepEqual(srv.requests.map((x) => `${x.method} ${x.path}`), [
      "POST /v1/videos",
      `GET /v1/videos/${id}`,
      `GET /v1/videos/${id}`,
      `GET /v1/videos/${id}/content`,
    ]);
    const rec = srv.requests[0];
    assert.deepEqual(fields(rec).slice(0, 2), [["prompt", "Pick up the cup; place it."], ["num_frames", "5"]]);
    assert.equal(fields(rec).some(([n]) => n === "size"), false, "a rollout is sized from its observation");
    assert.deepEqual(extraOf(rec), {
      action_mode: "policy",
      domain_name: "droid_lerobot",
      raw_action_dim: 10,
      action_chunk_size: 4,
      resolution: "256",
    });
    assert.deepEqual(rec.dropped, []);
    assert.deepEqual(rec.plan?.action, { mode: "policy", chunk: 4, rawDim: 10, domainId: 8 });
    samePlan(rec, { ...req.effective, width: undefined });
    assert.deepEqual([req.effective.numInferenceSteps, req.effective.guidanceScale, req.effective.flowShift], [
      30,
      1,
      5,
    ]);
    assert.deepEqual(rec.form!.find((p) => p.name === "input_reference")!.data, png);
    assert.deepEqual(r.actions, scriptedAction(4, 10));
    assert.equal(r.video?.numFrames, 5);
    assert.equal(r.mode, "policy");
    assert.ok(progress.some((p) => p.stage === "queue"));
    assert.ok(progress.some((p) => p.stage === "denoise" && p.done === 0 && p.total === 100));
    assert.ok(progress.some((p) => p.stage === "download"));
  });

  test("policy with no chunk size or frame count sends neither: the model's 16 actions and 17 frames, shown in effective", async () => {
    srv.requests.length = 0;
    const req = roll({
      mode: "policy",
      embodiment: "av",
      image: join(dir, "obs.png"),
      prompt: "Keep the lane.",
      outputPath: join(dir, "p16.mp4"),
    });
    assert.equal(req.effective.actionChunkSize, 16);
    assert.equal(req.effective.numFrames, 17);
    const r = await remoteRollout(req, { url: srv.url }, FAST);
    const rec = srv.requests[0];
    assert.equal(fields(rec).some(([n]) => n === "num_frames"), false);
    assert.deepEqual(extraOf(rec), { action_mode: "policy", domain_name: "av", raw_action_dim: 9 });
    assert.equal(rec.plan?.action?.chunk, 16);
    samePlan(rec, { ...req.effective, width: undefined });
    assert.deepEqual(r.actions, scriptedAction(16, 9));
  });

  test("inverse dynamics with only numFrames: the chunk follows (numFrames - 1); egocentric is hand_pose, 57 wide", async () => {
    srv.requests.length = 0;
    const req = roll({
      mode: "inverse_dynamics",
      embodiment: "egocentric",
      video: { data: makeMp4(5), mimeType: "video/mp4" },
      numFrames: 9,
    });
    assert.equal(req.effective.actionChunkSize, 8);
    const r = await remoteRollout(req, { url: srv.url }, FAST);
    const rec = srv.requests[0];
    assert.deepEqual(extraOf(rec), {
      action_mode: "inverse_dynamics",
      domain_name: "hand_pose",
      raw_action_dim: 57,
      action_chunk_size: 8,
    });
    assert.deepEqual(rec.plan?.action, { mode: "inverse_dynamics", chunk: 8, rawDim: 57, domainId: 3 });
    assert.deepEqual(r.actions, scriptedAction(8, 57));
    rmSync(r.video!.path);
  });

  test("every embodiment's domain_name and width are accepted by the server's table", async () => {
    srv.behaviour.pollsInProgress = 0;
    for (const id of Object.keys(EMBODIMENTS) as EmbodimentId[]) {
      srv.requests.length = 0;
      const e = EMBODIMENTS[id];
      const r = await remoteRollout(
        roll({
          mode: "policy",
          embodiment: id,
          image: join(dir, "obs.png"),
          prompt: "Go.",
          actionChunkSize: 2,
          outputPath: join(dir, `emb-${id}.mp4`),
        }),
        { url: srv.url },
        FAST,
      );
      assert.deepEqual(srv.requests[0].plan?.action, {
        mode: "policy",
        chunk: 2,
        rawDim: e.actionDim,
        domainId: e.domainId,
      }, id);
      assert.deepEqual(r.actions, scriptedAction(2, e.actionDim), id);
    }
    srv.behaviour.pollsInProgress = 1;
  });

  test("forward dynamics: the chunk goes inline as extra_params.action (no action_path, no shared folder); frames follow the rows", async () => {
    srv.requests.length = 0;
    const actions = Array.from({ length: 4 }, (_, t) => Array.from({ length: 9 }, (_, d) => t + d / 10));
    const req = roll({
      mode: "forward_dynamics",
      embodiment: "av",
      image: join(dir, "obs.png"),
      actions,
      prompt: "A road.",
      outputPath: join(dir, "fd.mp4"),
    });
    assert.deepEqual([req.effective.actionChunkSize, req.effective.numFrames], [4, 5]);
    const r = await remoteRollout(req, { url: srv.url }, FAST);
    const rec = srv.requests[0];
    assert.equal(`${rec.method} ${rec.path}`, "POST /v1/videos/sync");
    assert.deepEqual(fields(rec).slice(0, 2), [["prompt", "A road."], ["num_frames", "5"]]);
    assert.deepEqual(extraOf(rec), {
      action_mode: "forward_dynamics",
      domain_name: "av",
      raw_action_dim: 9,
      action_chunk_size: 4,
      action: actions,
    });
    assert.deepEqual(rec.dropped, []);
    assert.equal(rec.status, 200);
    assert.equal(r.video?.numFrames, 5);
    assert.equal(r.actions, undefined);
  });

  test("forward dynamics from a JSON action file: read here and sent inline", async () => {
    srv.requests.length = 0;
    const actions = Array.from({ length: 3 }, () => Array(10).fill(0.25));
    const file = join(dir, "chunk.json");
    writeFileSync(file, JSON.stringify(actions));
    await remoteRollout(
      roll({
        mode: "forward_dynamics",
        embodiment: "droid",
        image: join(dir, "obs.png"),
        actions: file,
        outputPath: join(dir, "fdf.mp4"),
      }),
      { url: srv.url },
      FAST,
    );
    assert.deepEqual(extraOf(srv.requests[0])?.action, actions);
    assert.equal(extraOf(srv.requests[0])?.action_chunk_size, 3);
    const err = await remoteRollout(
      roll({ mode: "forward_dynamics", embodiment: "droid", image: join(dir, "obs.png"), actions: file, numFrames: 9 }),
      { url: srv.url },
      FAST,
    ).catch((e) => e);
    assert.ok(err instanceof ValidationError);
    assert.equal(err.field, "request.numFrames");
    assert.match(err.allowed, /3 or 4/);
  });

  test("a chunk size and frame count that break num_frames ∈ {chunk, chunk+1} are a ValidationError naming both", () => {
    const cases: [RolloutRequestInput, RegExp][] = [
      [
        { mode: "policy", embodiment: "droid", image: "obs.png", prompt: "Go.", actionChunkSize: 4, numFrames: 21 },
        /actionChunkSize 4/,
      ],
      [{
        mode: "forward_dynamics",
        embodiment: "av",
        image: "obs.png",
        actions: [Array(9).fill(0), Array(9).fill(0)],
        numFrames: 7,
      }, /2 action rows/],
    ];
    for (const [input, msg] of cases) {
      const e = (() => {
        try {
          parseWith(RolloutRequest, input, "request");
        } catch (err) {
          return err;
        }
      })();
      assert.ok(e instanceof ValidationError);
      assert.equal(e.field, "request.numFrames");
      assert.match(e.message, msg);
      assert.match(e.message, /numFrames/);
    }
    // The server refuses such a pair too (pipeline_cosmos3.py:3311-3315), as a failed job.
  });

  test("the server refuses what the schema refuses: a mismatched pair and an unknown domain fail the job", async () => {
    for (
      const extra of [
        '{"action_mode":"policy","domain_name":"droid_lerobot","raw_action_dim":10,"action_chunk_size":4}',
        '{"action_mode":"policy","domain_name":"ur_lerobot","raw_action_dim":10}',
      ]
    ) {
      const form = videoForm([["prompt", "x"], ["num_frames", extra.includes("ur_lerobot") ? "17" : "21"], [
        "extra_params",
        extra,
      ]], { data: png, filename: "o.png", mimeType: "image/png" });
      const job = await (await fetch(`${srv.url}/v1/videos`, {
        method: "POST",
        headers: { "Content-Type": form.contentType },
        body: form.body,
      })).json();
      const poll = await fetch(`${srv.url}/v1/videos/${job.id}`);
      assert.equal(poll.status, 500);
      const body = await poll.json();
      assert.equal(body.status, "failed");
      assert.match(
        body.error.message,
        /num_frames to equal action_chunk_size|Unknown Cosmos3 action domain_name='ur_lerobot'/,
      );
    }
  });

  test("a failed job is reported with its own error at once (the poll's HTTP 500 is not retried)", async () => {
    srv.requests.length = 0;
    srv.behaviour.engineFailure = "GPU exploded";
    const err = await remoteRollout(
      roll({ mode: "policy", embodiment: "droid", image: join(dir, "obs.png"), prompt: "Go." }),
      { url: srv.url },
      FAST,
    ).catch((e) => e);
    srv.behaviour.engineFailure = undefined;
    assert.ok(err instanceof RemoteError, String(err));
    assert.equal(err.status, 500);
    assert.equal(err.serverMessage, "GPU exploded");
    assert.equal(polled(), 1);
  });

  test("a guardrail-blocked job comes back as its 400 with the guardrail's message", async () => {
    srv.behaviour.guardrailBlocks = /knife/;
    const err = await remoteRollout(
      roll({ mode: "policy", embodiment: "droid", image: join(dir, "obs.png"), prompt: "Pick up the knife." }),
      { url: srv.url },
      FAST,
    ).catch((e) => e);
    srv.behaviour.guardrailBlocks = undefined;
    assert.ok(err instanceof RemoteError);
    assert.equal(err.status, 400);
    assert.equal(err.serverMessage, "Input was blocked by Cosmos3 guardrails.");
    assert.match(err.hint ?? "", /refused the request/);
  });

  test("abort mid-poll: AbortError, the job is deleted, and a 409 'Cancellation in progress' is asked again, not shown", async () => {
    srv.requests.length = 0;
    srv.behaviour.pollsInProgress = 1000;
    srv.behaviour.cancelConflicts = 1;
    const ctrl = new AbortController();
    const p = remoteRollout(roll({ mode: "policy", embodiment: "droid", image: join(dir, "obs.png"), prompt: "Go." }), {
      url: srv.url,
    }, { ...FAST, pollIntervalMs: 20, signal: ctrl.signal });
    await srv.waitFor("GET /v1/videos/");
    ctrl.abort();
    await assert.rejects(p, AbortError);
    const del = srv.requests.filter((x) => x.method === "DELETE");
    assert.deepEqual(del.map((d) => d.status), [409, 200]);
    assert.equal(srv.requests.some((x) => x.path.endsWith("/content")), false);
    srv.behaviour.pollsInProgress = 1;
    srv.behaviour.cancelConflicts = 0;
  });

  test("a status vLLM-Omni does not have ends polling with an error (no endless poll)", async () => {
    srv.requests.length = 0;
    srv.behaviour.onRecord = (rec) => {
      if (rec.method === "POST" && rec.path === "/v1/videos") {
        srv.behaviour.faults.push({
          match: "GET /v1/videos/video_gen",
          status: 200,
          body: JSON.stringify({ id: "x", object: "video", status: "paused", progress: 0 }),
        });
        srv.behaviour.onRecord = undefined;
      }
    };
    const err = await remoteRollout(
      roll({ mode: "policy", embodiment: "droid", image: join(dir, "obs.png"), prompt: "Go." }),
      { url: srv.url },
      FAST,
    ).catch((e) => e);
    assert.ok(err instanceof RemoteError, String(err));
    assert.match(err.message, /status "paused", which vLLM-Omni does not have/);
    assert.equal(polled(), 1);
  });

  test("forward dynamics with videoJob: true runs as an async job with the chunk inline", async () => {
    srv.requests.length = 0;
    const actions = [Array(10).fill(0.1), Array(10).fill(0.2)];
    const r = await remoteRollout(
      roll({
        mode: "forward_dynamics",
        embodiment: "droid",
        image: join(dir, "obs.png"),
        actions,
        outputPath: join(dir, "fdjob.mp4"),
      }),
      { url: srv.url },
      { ...FAST, videoJob: true },
    );
    assert.equal(`${srv.requests[0].method} ${srv.requests[0].path}`, "POST /v1/videos");
    assert.deepEqual(extraOf(srv.requests[0])?.action, actions);
    assert.equal(r.video?.numFrames, 5);
  });

  test("a completed job whose action data does not match its shape is a RemoteError, and no video is left", async () => {
    srv.requests.length = 0;
    const out = join(dir, "badact", "x.mp4");
    srv.behaviour.onRecord = (rec) => {
      if (rec.method === "GET" && /\/v1\/videos\/[^/]+$/.test(rec.path)) {
        const id = rec.path.split("/").pop();
        srv.behaviour.faults.push({
          match: `GET /v1/videos/${id}`,
          status: 200,
          body: JSON.stringify({
            id,
            object: "video",
            status: "completed",
            progress: 100,
            action: { data: [[1, 2]], shape: [3, 10] },
          }),
        });
        srv.behaviour.onRecord = undefined;
      }
    };
    const err = await remoteRollout(
      roll({ mode: "policy", embodiment: "droid", image: join(dir, "obs.png"), prompt: "Go.", outputPath: out }),
      { url: srv.url },
      FAST,
    ).catch((e) => e);
    assert.ok(err instanceof RemoteError, String(err));
    assert.match(err.message, /server returned an action/);
    assert.equal(existsSync(out), false);
  });
});

describe("actionChunkOf / parseVideoJob", () => {
  test("reads [T, D] and squeezes [1, T, D]; a job without action has none", () => {
    const rows = scriptedAction(3, 2);
    assert.deepEqual(
      actionChunkOf(parseVideoJob({ id: "a", status: "completed", action: { data: rows, shape: [3, 2] } }, "t")),
      rows,
    );
    assert.deepEqual(
      actionChunkOf(parseVideoJob({ id: "a", status: "completed", action: { data: [rows], shape: [1, 3, 2] } }, "t")),
      rows,
    );
    assert.equal(actionChunkOf(parseVideoJob({ id: "a", status: "completed", action: null }, "t")), undefined);
  });
  test("a job object that is not vLLM-Omni's is a RemoteError saying what the server returned", () => {
    assert.throws(
      () => parseVideoJob({ status: "completed" }, "Policy"),
      (e: unknown) => e instanceof RemoteError && /server returned a job object/.test(e.message),
    );
    assert.throws(
      () =>
        actionChunkOf(
          parseVideoJob({ id: "a", status: "completed", action: { data: [[1, "x"]], shape: [1, 2] } }, "t"),
        ),
      RemoteError,
    );
  });
});
