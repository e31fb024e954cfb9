/**
 * remoteGenerate and remoteRollout against the local test server (test/remote/_server.ts
 * follows the seed's and vLLM-Omni's documented API; it is not a real server): the exact
 * JSON / multipart requests (a `;` in the prompt arrives intact, upload bytes, the
 * extra_params JSON), outputs written atomically, the async job polling sequence, abort
 * mid-request and mid-poll (AbortError and a DELETE sent), and failures leaving no file.
 */
import assert from "node:assert/strict";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { after, before, describe, test } from "node:test";
import sharp from "sharp";
import { AbortError, RemoteError, UnsupportedError } from "../../src/errors.ts";
import { remoteGenerate } from "../../src/remote/generator_client.ts";
import { findActionChunk } from "../../src/remote/jobs.ts";
import { outputDir } from "../../src/remote/output.ts";
import { remoteRollout } from "../../src/remote/rollout_client.ts";
import { GenerateRequest, type GenerateRequestInput } from "../../src/schema/generate_request.ts";
import type { ProgressEvent } from "../../src/schema/results.ts";
import { RolloutRequest, type RolloutRequestInput } from "../../src/schema/rollout_request.ts";
import { makeMp4, makePng } from "./_media.ts";
import { type Recorded, startTestServer, type TestServer } from "./_server.ts";

const FAST = { retryBaseMs: 5, timeoutMs: 20_000, pollIntervalMs: 5 };
const gen = (r: GenerateRequestInput) => GenerateRequest.parse(r);
const roll = (r: RolloutRequestInput) => RolloutRequest.parse(r);
const PROMPT = "A robot arm; it stacks a red cube on a blue one;\nthen it waves.\r\nLighting: soft; 'quoted' \"double\" \u00e9 --boundary";

function fields(rec: Recorded): [string, string][] {
  return (rec.form ?? []).filter((p) => p.filename === undefined).map((p) => [p.name, p.text]);
}

describe("remoteGenerate", () => {
  let srv: TestServer;
  let dir: string;
  let png: Uint8Array<ArrayBuffer>;
  before(async () => {
    png = await makePng(48, 32);
    srv = await startTestServer({ png, mp4: makeMp4(5) });
    dir = mkdtempSync(join(tmpdir(), "cosmos-gen-test-"));
  });
  after(async () => {
    await srv.close();
    rmSync(dir, { recursive: true, force: true });
  });

  test("text-to-image: JSON body with extra_args; the base64 PNG is written", async () => {
    srv.requests.length = 0;
    const out = join(dir, "img", "t2i.png");
    const r = await remoteGenerate(gen({ prompt: PROMPT, output: "image", resolution: "256p", aspectRatio: "1:1", seed: 42, outputPath: out }), { url: srv.url, model: "nvidia/Cosmos3-Nano" }, FAST);
    assert.deepEqual(srv.requests.map((x) => `${x.method} ${x.path}`), ["POST /v1/images/generations"]);
    assert.deepEqual(srv.requests[0].json, {
      prompt: PROMPT,
      model: "nvidia/Cosmos3-Nano",
      n: 1,
      size: "192x192",
      response_format: "b64_json",
      negative_prompt: "",
      num_inference_steps: 35,
      guidance_scale: 6,
      flow_shift: 10,
      max_sequence_length: 512,
      extra_args: { use_resolution_template: false, guardrails: true },
      seed: 42,
    });
    assert.equal(r.mode, "text-to-image");
    assert.equal(r.seed, 42);
    assert.deepEqual(r.media, { path: out, mimeType: "image/png", width: 48, height: 32, hasSound: false });
    assert.deepEqual(new Uint8Array(readFileSync(out)), png);
  });

  test("text-to-image to .jpg converts to JPEG", async () => {
    const out = join(dir, "t2i.jpg");
    const r = await remoteGenerate(gen({ prompt: "x", output: "image", outputPath: out }), { url: srv.url }, FAST);
    assert.equal(r.media.mimeType, "image/jpeg");
    assert.equal((await sharp(out).metadata()).format, "jpeg");
  });

  test("text-to-video: multipart fields in order, the ';' prompt intact, extra_params JSON; the MP4 is probed", async () => {
    srv.requests.length = 0;
    const out = join(dir, "t2v.mp4");
    const r = await remoteGenerate(
      gen({ prompt: PROMPT, negativePrompt: "blurry; distorted", resolution: "720p", numFrames: 189, fps: 24, seed: 0, guardrails: false, outputPath: out }),
      { url: srv.url + "/v1" },
      FAST,
    );
    const rec = srv.requests[0];
    assert.equal(`${rec.method} ${rec.path}`, "POST /v1/videos/sync");
    assert.match(String(rec.headers["content-type"]), /^multipart\/form-data; boundary=/);
    assert.deepEqual(fields(rec), [
      ["prompt", PROMPT],
      ["negative_prompt", "blurry; distorted"],
      ["size", "1280x720"],
      ["num_frames", "189"],
      ["fps", "24"],
      ["num_inference_steps", "35"],
      ["guidance_scale", "6"],
      ["flow_shift", "10"],
      ["seed", "0"],
      ["max_sequence_length", "512"],
      ["extra_params", '{"use_resolution_template":false,"use_duration_template":false,"guardrails":false}'],
    ]);
    assert.equal(rec.form!.some((p) => p.name === "input_reference"), false);
    assert.equal(r.mode, "text-to-video");
    assert.equal(r.media.path, out);
    assert.equal(r.media.mimeType, "video/mp4");
    assert.equal(r.media.width, 64);
    assert.equal(r.media.height, 48);
    assert.equal(r.media.numFrames, 5);
    assert.equal(r.media.fps, 24);
    assert.equal(r.media.hasSound, false);
  });

  test("image-to-video with sound: input_reference upload bytes, generate_sound=true, sound detected", async () => {
    srv.requests.length = 0;
    srv.behaviour.mp4 = makeMp4(5, true);
    const imgPath = join(dir, "start.png");
    writeFileSync(imgPath, png);
    const r = await remoteGenerate(gen({ prompt: PROMPT, image: imgPath, sound: true, numFrames: 21 }), { url: srv.url }, FAST);
    const rec = srv.requests[0];
    const file = rec.form!.find((p) => p.name === "input_reference")!;
    assert.equal(file.filename, "start.png");
    assert.equal(file.contentType, "image/png");
    assert.deepEqual(file.data, png);
    assert.deepEqual(fields(rec).find(([n]) => n === "generate_sound"), ["generate_sound", "true"]);
    assert.deepEqual(fields(rec).find(([n]) => n === "prompt"), ["prompt", PROMPT]);
    assert.equal(r.mode, "image-to-video-with-sound");
    assert.equal(r.media.hasSound, true);
    assert.ok(r.media.path.startsWith(join(outputDir(), "image-to-video-with-sound-")), r.media.path);
    rmSync(r.media.path);
    srv.behaviour.mp4 = makeMp4(5);
  });

  test("video-to-video: the source video uploaded from bytes, conditioning frames in extra_params", async () => {
    srv.requests.length = 0;
    const src = makeMp4(7);
    const r = await remoteGenerate(
      gen({ prompt: "Make it night.", video: { data: src, mimeType: "video/mp4" }, conditionFrameIndexes: [0, 1, 2], conditionVideoKeep: 3, useResolutionTemplate: true, outputPath: join(dir, "v2v.mp4") }),
      { url: srv.url },
      FAST,
    );
    const rec = srv.requests[0];
    const file = rec.form!.find((p) => p.name === "input_reference")!;
    assert.equal(file.contentType, "video/mp4");
    assert.deepEqual(file.data, src);
    assert.deepEqual(JSON.parse(fields(rec).find(([n]) => n === "extra_params")![1]), {
      use_resolution_template: true,
      use_duration_template: false,
      guardrails: true,
      condition_frame_indexes_vision: [0, 1, 2],
      condition_video_keep: 3,
    });
    assert.equal(r.mode, "video-to-video");
  });

  test("a server error leaves no file and carries the server's detail", async () => {
    const sub = join(dir, "fail");
    srv.behaviour.faults.push({ match: "POST /v1/videos/sync", status: 500, body: '{"detail":"Guardrail blocked the prompt"}' });
    const out = join(sub, "x.mp4");
    const err = await remoteGenerate(gen({ prompt: "x", outputPath: out }), { url: srv.url }, FAST).catch((e) => e);
    assert.ok(err instanceof RemoteError);
    assert.equal(err.status, 500);
    assert.match(err.message, /Guardrail blocked the prompt/);
    assert.equal(existsSync(out), false);
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
    srv.behaviour.syncDelayMs = 2000;
    const ctrl = new AbortController();
    const out = join(dir, "aborted", "x.mp4");
    const p = remoteGenerate(gen({ prompt: "x", outputPath: out }), { url: srv.url }, { ...FAST, signal: ctrl.signal });
    await srv.waitFor("POST /v1/videos/sync");
    const t0 = Date.now();
    ctrl.abort();
    await assert.rejects(p, AbortError);
    assert.ok(Date.now() - t0 < 1000, "abort is prompt");
    srv.behaviour.syncDelayMs = 0;
    assert.equal(existsSync(out), false);
  });

  test("503 on the sync endpoint is retried with the whole form again", async () => {
    srv.requests.length = 0;
    srv.behaviour.faults.push({ match: "POST /v1/videos/sync", status: 503, body: '{"detail":"busy"}', headers: { "Retry-After": "0" } });
    const r = await remoteGenerate(gen({ prompt: PROMPT, image: { data: png, mimeType: "image/png" }, outputPath: join(dir, "retry.mp4") }), { url: srv.url }, FAST);
    assert.equal(srv.requests.length, 2);
    assert.deepEqual(srv.requests[1].body, srv.requests[0].body);
    assert.deepEqual(fields(srv.requests[1])[0], ["prompt", PROMPT]);
    assert.deepEqual(srv.requests[1].form!.find((p) => p.name === "input_reference")!.data, png);
    assert.equal(r.media.numFrames, 5);
  });

  test("a server slower than timeoutMs gives a RemoteError that says it timed out (no retry)", async () => {
    srv.requests.length = 0;
    srv.behaviour.syncDelayMs = 3000;
    const err = await remoteGenerate(gen({ prompt: "x", outputPath: join(dir, "slow.mp4") }), { url: srv.url }, { ...FAST, timeoutMs: 150 }).catch((e) => e);
    srv.behaviour.syncDelayMs = 0;
    assert.ok(err instanceof RemoteError, String(err));
    assert.match(err.message, /timed out/);
    assert.equal(srv.requests.length, 1);
    assert.equal(existsSync(join(dir, "slow.mp4")), false);
  });

  test("429 with Retry-After is retried; 400 is not", async () => {
    srv.requests.length = 0;
    srv.behaviour.faults.push({ match: "POST /v1/images", status: 429, body: "slow down", headers: { "Retry-After": "0" } });
    await remoteGenerate(gen({ prompt: "x", output: "image", outputPath: join(dir, "r.png") }), { url: srv.url }, FAST);
    assert.equal(srv.requests.length, 2);
    srv.requests.length = 0;
    srv.behaviour.faults.push({ match: "POST /v1/images", status: 400, body: '{"error":{"message":"size must be in format WIDTHxHEIGHT"}}' });
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
  const policyActions = Array.from({ length: 4 }, (_, t) => Array.from({ length: 10 }, (_, d) => t * 0.1 + d));
  before(async () => {
    png = await makePng(32, 32);
    srv = await startTestServer({ png, mp4: makeMp4(5), jobResult: { actions: policyActions } });
    dir = mkdtempSync(join(tmpdir(), "cosmos-roll-test-"));
    writeFileSync(join(dir, "obs.png"), png);
  });
  after(async () => {
    await srv.close();
    rmSync(dir, { recursive: true, force: true });
  });

  test("policy: async job created, polled until completed, video downloaded, action chunk returned", async () => {
    srv.requests.length = 0;
    const progress: ProgressEvent[] = [];
    const r = await remoteRollout(
      roll({ mode: "policy", embodiment: "droid", image: join(dir, "obs.png"), prompt: "Pick up the cup; place it.", actionChunkSize: 4, numFrames: 21, resolution: "256p", outputPath: join(dir, "policy.mp4") }),
      { url: srv.url },
      { ...FAST, onProgress: (e) => progress.push(e) },
    );
    assert.deepEqual(srv.requests.map((x) => `${x.method} ${x.path}`), [
      "POST /v1/videos",
      "GET /v1/videos/video_1",
      "GET /v1/videos/video_1",
      "GET /v1/videos/video_1",
      "GET /v1/videos/video_1/content",
    ]);
    const rec = srv.requests[0];
    assert.deepEqual(fields(rec).slice(0, 3), [["prompt", "Pick up the cup; place it."], ["negative_prompt", ""], ["size", "320x192"]]);
    assert.deepEqual(JSON.parse(fields(rec).find(([n]) => n === "extra_params")![1]), {
      action_mode: "policy",
      domain_name: "droid_lerobot",
      raw_action_dim: 10,
      action_chunk_size: 4,
      use_resolution_template: false,
      use_duration_template: false,
      guardrails: true,
    });
    assert.deepEqual(rec.form!.find((p) => p.name === "input_reference")!.data, png);
    assert.deepEqual(r.actions, policyActions);
    assert.equal(r.video?.numFrames, 5);
    assert.equal(r.mode, "policy");
    assert.equal(r.embodiment, "droid");
    assert.ok(progress.some((p) => p.stage === "queue"));
    assert.ok(progress.some((p) => p.stage === "denoise" && p.done === 50 && p.total === 100));
    assert.ok(progress.some((p) => p.stage === "download"));
  });

  test("inverse dynamics: video upload, domain_name override, actions found under result", async () => {
    srv.requests.length = 0;
    const av = Array.from({ length: 3 }, () => Array(9).fill(0.5));
    srv.behaviour.jobResult = { result: { actions: av } };
    const src = makeMp4(5);
    const r = await remoteRollout(roll({ mode: "inverse_dynamics", embodiment: "av", video: { data: src, mimeType: "video/mp4" }, domainName: "av_custom" }), { url: srv.url }, FAST);
    const extra = JSON.parse(fields(srv.requests[0]).find(([n]) => n === "extra_params")![1]);
    assert.equal(extra.action_mode, "inverse_dynamics");
    assert.equal(extra.domain_name, "av_custom");
    assert.equal(extra.raw_action_dim, 9);
    assert.deepEqual(r.actions, av);
    rmSync(r.video!.path);
    srv.behaviour.jobResult = { actions: policyActions };
  });

  test("abort mid-poll: AbortError, and the job is deleted on the server", async () => {
    srv.requests.length = 0;
    srv.behaviour.jobStatuses = Array.from({ length: 1000 }, (_, i) => ({ status: "in_progress", progress: i % 100 }));
    const ctrl = new AbortController();
    const p = remoteRollout(roll({ mode: "policy", embodiment: "droid", image: join(dir, "obs.png"), prompt: "Go." }), { url: srv.url }, { ...FAST, pollIntervalMs: 20, signal: ctrl.signal });
    await srv.waitFor("GET /v1/videos/");
    ctrl.abort();
    await assert.rejects(p, AbortError);
    const del = srv.requests.filter((x) => x.method === "DELETE");
    assert.equal(del.length, 1);
    assert.match(del[0].path, /^\/v1\/videos\/video_\d+$/);
    assert.equal(srv.requests.some((x) => x.path.endsWith("/content")), false);
    srv.behaviour.jobStatuses = [{ status: "queued", progress: 0 }, { status: "in_progress", progress: 50 }];
  });

  test("a failed job raises a RemoteError with the job's error message", async () => {
    srv.behaviour.jobStatuses = [{ status: "queued" }, { status: "failed", error: { message: "raw_action_dim 10 does not match domain" } } as { status: string }];
    const err = await remoteRollout(roll({ mode: "policy", embodiment: "droid", image: join(dir, "obs.png"), prompt: "Go." }), { url: srv.url }, FAST).catch((e) => e);
    assert.ok(err instanceof RemoteError);
    assert.equal(err.serverMessage, "raw_action_dim 10 does not match domain");
    srv.behaviour.jobStatuses = [{ status: "queued", progress: 0 }, { status: "in_progress", progress: 50 }];
  });

  test("a completed job without an action chunk is an error, and no video is left", async () => {
    srv.behaviour.jobResult = { note: "no actions here" };
    const out = join(dir, "noact", "x.mp4");
    const err = await remoteRollout(roll({ mode: "policy", embodiment: "droid", image: join(dir, "obs.png"), prompt: "Go.", outputPath: out }), { url: srv.url }, FAST).catch((e) => e);
    assert.ok(err instanceof RemoteError);
    assert.match(err.message, /no action chunk/);
    assert.equal(existsSync(out), false);
    srv.behaviour.jobResult = { actions: policyActions };
  });

  test("forward dynamics: the action chunk is written under allowedLocalMediaPath, sent as action_path, then removed", async () => {
    srv.requests.length = 0;
    const actions = Array.from({ length: 6 }, (_, t) => Array.from({ length: 9 }, (_, d) => t + d / 10));
    let seenOnServer: unknown;
    srv.behaviour.onRecord = (rec) => {
      const extra = rec.form?.find((p) => p.name === "extra_params");
      if (extra) seenOnServer = JSON.parse(readFileSync(JSON.parse(extra.text).action_path, "utf8"));
    };
    const r = await remoteRollout(
      roll({ mode: "forward_dynamics", embodiment: "av", image: join(dir, "obs.png"), prompt: "Drive on.", actions }),
      { url: srv.url, allowedLocalMediaPath: dir },
      FAST,
    );
    srv.behaviour.onRecord = undefined;
    const rec = srv.requests[0];
    assert.equal(`${rec.method} ${rec.path}`, "POST /v1/videos/sync");
    const extra = JSON.parse(fields(rec).find(([n]) => n === "extra_params")![1]);
    assert.equal(extra.action_mode, "forward_dynamics");
    assert.equal(extra.domain_name, "av");
    assert.equal(extra.raw_action_dim, 9);
    assert.equal(extra.action_chunk_size, 6);
    assert.ok(extra.action_path.startsWith(join(dir, ".cosmos-ts")), extra.action_path);
    assert.deepEqual(seenOnServer, actions);
    assert.equal(existsSync(extra.action_path), false, "temp action file removed");
    assert.equal(r.actions, undefined);
    assert.equal(r.video?.numFrames, 5);
    rmSync(r.video!.path);
  });

  test("forward dynamics: an action file already under the allowed root is sent as-is", async () => {
    srv.requests.length = 0;
    const file = join(dir, "acts.json");
    writeFileSync(file, JSON.stringify([[1, 2, 3, 4, 5, 6, 7, 8, 9, 10]]));
    const r = await remoteRollout(roll({ mode: "forward_dynamics", embodiment: "bridge", image: join(dir, "obs.png"), actions: file }), { url: srv.url, allowedLocalMediaPath: dir }, FAST);
    const extra = JSON.parse(fields(srv.requests[0]).find(([n]) => n === "extra_params")![1]);
    assert.equal(extra.action_path, file);
    assert.equal(extra.domain_name, "bridge_orig_lerobot");
    assert.ok(existsSync(file));
    rmSync(r.video!.path);
  });

  test("forward dynamics without allowedLocalMediaPath says what to set", async () => {
    srv.requests.length = 0;
    const err = await remoteRollout(roll({ mode: "forward_dynamics", embodiment: "av", image: join(dir, "obs.png"), actions: [Array(9).fill(0)] }), { url: srv.url }, FAST).catch((e) => e);
    assert.ok(err instanceof UnsupportedError);
    assert.match(err.hint!, /--allowed-local-media-path/);
    assert.equal(srv.requests.length, 0);
  });
});

describe("findActionChunk", () => {
  const a = [[1, 2], [3, 4]];
  for (const [name, job, dim, want] of [
    ["top-level actions", { actions: a }, 2, a],
    ["action_chunk", { action_chunk: a }, 2, a],
    ["under result", { result: { actions: a } }, 2, a],
    ["JSON string under output", { output: JSON.stringify({ actions: a }) }, 2, a],
    ["nested object with actions", { actions: { values: a } }, undefined, undefined],
    ["anywhere with matching dim", { foo: { bar: a } }, 2, a],
    ["wrong dim", { actions: a }, 3, undefined],
    ["nothing", { status: "completed" }, 2, undefined],
  ] as const) {
    test(name, () => assert.deepEqual(findActionChunk(job, dim), want));
  }
});
