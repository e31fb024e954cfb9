/**
 * A strict local server for the remote clients (node:http on 127.0.0.1, random port; runs
 * under Node and under Deno's node:http compatibility). It is not a model: it answers
 * scripted media, but it follows the real servers' routes and rules:
 *
 * - vLLM chat completions (`GET /v1/models`, `POST /v1/chat/completions` with SSE): streamed
 *   deltas carry both `reasoning` and its deprecated copy `reasoning_content`, as vLLM's
 *   `DeltaMessage` does; a non-streamed message has `reasoning` only (vLLM `ChatMessage`).
 * - vLLM-Omni's Cosmos 3 Generator routes (`POST /v1/images/generations`, `POST /v1/videos`,
 *   `POST /v1/videos/sync`, `GET|DELETE /v1/videos/{id}`, `GET /v1/videos/{id}/content`):
 *   every request goes through the rules of `_vllm_omni.ts` (each cites vLLM-Omni's source),
 *   so what the real server rejects is rejected here with the real status and message, and
 *   what it would silently ignore (unknown form fields, unknown JSON keys, `extra_params`
 *   keys the pipeline never reads) is recorded in `Recorded.dropped` for tests to assert on.
 *
 * Each request is recorded with the plan the pipeline would run (`Recorded.plan`: size,
 * frames, steps, guidance, flow shift, action chunk), so tests check the effective settings.
 */
import { Buffer } from "node:buffer";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import {
  errorBody,
  IMAGE_FIELDS,
  parseVideoForm,
  type PipelinePlan,
  planPipeline,
  Refusal,
  type VideoForm,
} from "./_vllm_omni.ts";

/** One multipart/form-data part. */
export interface FormPart {
  name: string;
  filename?: string;
  contentType?: string;
  data: Uint8Array;
  /** `data` as UTF-8 text. */
  text: string;
}

/** A request as the server received it. */
export interface Recorded {
  method: string;
  path: string;
  headers: IncomingMessage["headers"];
  body: Uint8Array;
  json?: unknown;
  form?: FormPart[];
  /** What the real server would silently ignore: `form:<name>`, `json:<key>`, `extra_params:<key>`. */
  dropped: string[];
  /** For a Generator request the server accepted: what its pipeline would run. */
  plan?: PipelinePlan;
  /** The status the server answered (set when it answers). */
  status?: number;
}

/** A canned error answer. */
export interface Fault {
  /** Applies to requests whose `METHOD path` starts with this (e.g. "POST /v1/chat"). */
  match: string;
  status: number;
  body: string;
  headers?: Record<string, string>;
}

/** What the chat endpoint answers. */
export interface ChatScript {
  /** The `content` text. */
  content: string;
  /** Sent as `reasoning` (+ `reasoning_content`) deltas before the content (a server-side reasoning parser). */
  reasoningContent?: string;
  finishReason?: string;
  /** Characters per content delta (default 3). */
  chunkChars?: number;
  /** ms between stream events (default 0). */
  delayMs?: number;
  usage?: { prompt_tokens: number; completion_tokens: number; total_tokens: number };
}

/** The scripted behaviour; tests change it between calls. */
export interface Behaviour {
  /** Served model names; the first is the one the Generator routes run (a different `model` is a 400). */
  models: string[];
  chat: ChatScript;
  /** PNG bytes for the image endpoint. */
  png: Uint8Array;
  /** MP4 bytes for the video endpoints. */
  mp4: Uint8Array;
  /** Status polls a job answers `in_progress` (progress 0) before it completes (progress 100; the server writes no other value, api_server.py:2881). */
  pollsInProgress: number;
  /** The checkpoint's `action_dim` (raw action widths are padded to it). */
  modelActionDim: number;
  /** Prompts matching this are blocked by the guardrails unless `extra_params.guardrails` is false (400, GuardrailViolationError). */
  guardrailBlocks?: RegExp;
  /** Makes generation fail in the engine with this message (500). */
  engineFailure?: string;
  /** Simulated generation time (ms) of a video request. */
  generationMs: number;
  /** The sync endpoint's own timeout (VLLM_OMNI_VIDEO_SYNC_TIMEOUT, 600 s; api_server.py:2935). */
  syncTimeoutMs: number;
  /** DELETE of a running job answers 409 "Cancellation in progress" this many times (api_server.py:3299-3306). */
  cancelConflicts: number;
  /** Error answers before the rules, consumed in order (transport faults: 429, 503, broken bodies). */
  faults: Fault[];
  /** Called with each request as it arrives (before the answer). */
  onRecord?: (rec: Recorded) => void;
}

export interface TestServer {
  url: string;
  requests: Recorded[];
  behaviour: Behaviour;
  /** Resolves when a request matching `METHOD path` prefix has been received. */
  waitFor(match: string): Promise<Recorded>;
  close(): Promise<void>;
}

/** Splits a multipart/form-data body (RFC 7578). */
export function parseMultipart(body: Uint8Array, contentType: string): FormPart[] {
  const m = /boundary=(?:"([^"]+)"|([^;]+))/i.exec(contentType);
  if (!m) throw new Error(`no boundary in ${contentType}`);
  const boundary = Buffer.from(`--${m[1] ?? m[2]}`);
  const buf = Buffer.from(body);
  const parts: FormPart[] = [];
  let pos = buf.indexOf(boundary);
  while (pos >= 0) {
    const start = pos + boundary.length;
    if (buf.slice(start, start + 2).toString() === "--") break;
    const next = buf.indexOf(boundary, start);
    if (next < 0) break;
    const part = buf.slice(start + 2, next - 2); // skip CRLF after boundary and before the next
    const headerEnd = part.indexOf("\r\n\r\n");
    const head = part.slice(0, headerEnd).toString("utf8");
    const data = new Uint8Array(part.slice(headerEnd + 4));
    const disp = /content-disposition:\s*form-data;\s*name="([^"]*)"(?:;\s*filename="([^"]*)")?/i.exec(head);
    const ct = /content-type:\s*([^\r\n]+)/i.exec(head);
    parts.push({
      name: disp?.[1] ?? "",
      ...(disp?.[2] !== undefined ? { filename: disp[2] } : {}),
      ...(ct ? { contentType: ct[1].trim() } : {}),
      data,
      text: new TextDecoder().decode(data),
    });
    pos = next;
  }
  return parts;
}

/** The SSE byte stream the chat endpoint sends for a script (also used by tests directly). */
export function chatSse(script: ChatScript, model: string, id = "chatcmpl-test"): string[] {
  const created = 1700000000;
  const base = { id, object: "chat.completion.chunk", created, model };
  const events: string[] = [];
  const ev = (o: unknown) => events.push(`data: ${JSON.stringify(o)}\n\n`);
  ev({
    ...base,
    choices: [{ index: 0, delta: { role: "assistant", content: "" }, logprobs: null, finish_reason: null }],
  });
  const n = script.chunkChars ?? 3;
  const pieces = (s: string) => Array.from({ length: Math.ceil(s.length / n) }, (_, i) => s.slice(i * n, i * n + n));
  for (const p of pieces(script.reasoningContent ?? "")) {
    // vLLM's DeltaMessage carries `reasoning` and copies it into the deprecated `reasoning_content`.
    ev({
      ...base,
      choices: [{ index: 0, delta: { reasoning: p, reasoning_content: p }, logprobs: null, finish_reason: null }],
    });
  }
  for (const p of pieces(script.content)) {
    ev({ ...base, choices: [{ index: 0, delta: { content: p }, logprobs: null, finish_reason: null }] });
  }
  ev({
    ...base,
    choices: [{ index: 0, delta: {}, logprobs: null, finish_reason: script.finishReason ?? "stop", stop_reason: null }],
  });
  ev({ ...base, choices: [], usage: script.usage ?? { prompt_tokens: 10, completion_tokens: 5, total_tokens: 15 } });
  events.push("data: [DONE]\n\n");
  return events;
}

async function readBody(req: IncomingMessage): Promise<Uint8Array> {
  const chunks: Buffer[] = [];
  for await (const c of req) chunks.push(Buffer.from(c as Uint8Array));
  return new Uint8Array(Buffer.concat(chunks));
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A stored video job (`VideoResponse`, protocol/videos.py:292-342). */
interface Job {
  id: string;
  status: "queued" | "in_progress" | "completed" | "failed";
  progress: number;
  polls: number;
  model: string;
  prompt: string;
  created_at: number;
  error?: { code: number; message: string };
  action?: {
    data: number[][];
    shape: number[];
    dtype: string;
    raw_action_dim: number;
    action_mode: string;
    domain_id: number;
  };
  conflicts: number;
}

/** The action chunk a policy / inverse-dynamics job returns: [chunk, raw_dim], values a test can predict. */
export function scriptedAction(chunk: number, rawDim: number): number[][] {
  return Array.from(
    { length: chunk },
    (_, t) => Array.from({ length: rawDim }, (_, d) => Math.round((t * 0.01 + d * 0.001) * 1e6) / 1e6),
  );
}

/** Starts the server. */
export async function startTestServer(init: Partial<Behaviour> = {}): Promise<TestServer> {
  const behaviour: Behaviour = {
    models: ["nvidia/cosmos3-nano-reasoner"],
    chat: { content: "A robot arm picks up a red cube." },
    png: new Uint8Array(),
    mp4: new Uint8Array(),
    pollsInProgress: 1,
    modelActionDim: 64,
    generationMs: 0,
    syncTimeoutMs: 600_000,
    cancelConflicts: 0,
    faults: [],
    ...init,
  };
  const requests: Recorded[] = [];
  const waiters: { match: string; resolve: (r: Recorded) => void }[] = [];
  const jobs = new Map<string, Job>();
  let jobCounter = 0;
  const sockets = new Set<import("node:net").Socket>();

  const json = (res: ServerResponse, rec: Recorded, status: number, body: unknown) => {
    rec.status = status;
    res.writeHead(status, { "Content-Type": "application/json" });
    res.end(JSON.stringify(body));
  };
  const refuse = (res: ServerResponse, rec: Recorded, r: Refusal) => {
    if (r.plain) {
      rec.status = r.status;
      res.writeHead(r.status, { "Content-Type": "text/plain; charset=utf-8" });
      res.end(r.message);
      return;
    }
    json(res, rec, r.status, errorBody(r.status, r.message));
  };

  /** The pipeline's run of a video request: its plan, or the failure the engine reports. */
  const runVideo = (form: VideoForm): { plan: PipelinePlan } | { failure: { code: number; message: string } } => {
    const extra = { ...form.extra };
    // serving_video.py:187-193 writes flow_shift / generate_sound into extra_args before extra_params (:196-203).
    let plan: PipelinePlan;
    try {
      plan = planPipeline("video", {
        ...(form.size ?? {}),
        ...(form.ints.num_frames !== undefined ? { numFrames: form.ints.num_frames } : {}),
        ...(form.ints.num_inference_steps !== undefined ? { steps: form.ints.num_inference_steps } : {}),
        ...(form.floats.guidance_scale !== undefined ? { guidance: form.floats.guidance_scale } : {}),
        ...(form.floats.flow_shift !== undefined ? { flowShift: form.floats.flow_shift } : {}),
        extra,
        hasVideo: form.file?.kind === "video",
      }, behaviour.modelActionDim);
    } catch (e) {
      return { failure: { code: 500, message: (e as Error).message } }; // EngineGenerateError → 500
    }
    if (behaviour.guardrailBlocks?.test(form.prompt) && extra.guardrails !== false) {
      return { failure: { code: 400, message: "Input was blocked by Cosmos3 guardrails." } }; // GuardrailViolationError (errors.py:36), test_video_server.py:1224-1240
    }
    if (behaviour.engineFailure) return { failure: { code: 500, message: behaviour.engineFailure } };
    return { plan };
  };

  const handle = async (req: IncomingMessage, res: ServerResponse) => {
    const body = await readBody(req);
    const path = (req.url ?? "/").split("?")[0];
    const rec: Recorded = { method: req.method ?? "GET", path, headers: req.headers, body, dropped: [] };
    const ct = String(req.headers["content-type"] ?? "");
    if (ct.startsWith("application/json")) {
      try {
        rec.json = JSON.parse(new TextDecoder().decode(body));
      } catch {
        rec.json = undefined;
      }
    }
    if (ct.startsWith("multipart/form-data")) rec.form = parseMultipart(body, ct);
    requests.push(rec);
    behaviour.onRecord?.(rec);
    const key = `${rec.method} ${path}`;
    for (const w of waiters.filter((w) => key.startsWith(w.match))) {
      waiters.splice(waiters.indexOf(w), 1);
      w.resolve(rec);
    }
    const fault = behaviour.faults.findIndex((f) => key.startsWith(f.match));
    if (fault >= 0) {
      const f = behaviour.faults.splice(fault, 1)[0];
      rec.status = f.status;
      res.writeHead(f.status, { "Content-Type": "application/json", ...f.headers });
      res.end(f.body);
      return;
    }
    const served = behaviour.models[0];
    if (key === "GET /v1/models") {
      return json(res, rec, 200, {
        object: "list",
        data: behaviour.models.map((id) => ({ id, object: "model", created: 0, owned_by: "vllm" })),
      });
    }
    if (key === "POST /v1/chat/completions") {
      const r = rec.json as { model: string; stream?: boolean };
      const s = behaviour.chat;
      if (!r.stream) {
        return json(res, rec, 200, {
          id: "chatcmpl-test",
          object: "chat.completion",
          created: 1700000000,
          model: r.model,
          choices: [{
            index: 0,
            // vLLM's ChatMessage has `reasoning` only (no `reasoning_content`).
            message: {
              role: "assistant",
              content: s.content,
              ...(s.reasoningContent ? { reasoning: s.reasoningContent } : {}),
            },
            finish_reason: s.finishReason ?? "stop",
          }],
          usage: s.usage ?? { prompt_tokens: 10, completion_tokens: 5, total_tokens: 15 },
        });
      }
      rec.status = 200;
      res.writeHead(200, { "Content-Type": "text/event-stream", "Cache-Control": "no-cache" });
      for (const e of chatSse(s, r.model)) {
        if (res.destroyed) return;
        res.write(e);
        if (s.delayMs) await sleep(s.delayMs);
      }
      res.end();
      return;
    }
    if (key === "POST /v1/images/generations") {
      // generate_images (api_server.py:1761-1985) with ImageGenerationRequest (protocol/images.py:33-190):
      // a body that fails the model is a RequestValidationError, 400 through vLLM's handler.
      const b = rec.json as Record<string, unknown> | undefined;
      if (!b || typeof b !== "object" || Array.isArray(b)) {
        return refuse(res, rec, new Refusal(400, "Input should be a valid dictionary"));
      }
      for (const k of Object.keys(b)) if (!IMAGE_FIELDS.has(k)) rec.dropped.push(`json:${k}`);
      const bad = (m: string) => refuse(res, rec, new Refusal(400, m));
      if (typeof b.prompt !== "string") return bad("prompt: Field required");
      if (b.n !== undefined && !(Number.isInteger(b.n) && (b.n as number) >= 1 && (b.n as number) <= 10)) {
        return bad("n: Input should be between 1 and 10"); // images.py:54
      }
      if (b.size !== undefined && (typeof b.size !== "string" || !b.size.includes("x"))) {
        return bad("size must be in format 'WIDTHxHEIGHT' (e.g., '1024x1024')"); // images.py:73-88
      }
      if (b.response_format !== undefined && b.response_format !== "b64_json" && b.response_format !== "file") {
        return bad(`Only 'b64_json' or 'file' response format is supported, got: ${String(b.response_format)}`); // images.py:90-96
      }
      if (
        b.num_inference_steps !== undefined &&
        !(Number.isInteger(b.num_inference_steps) && (b.num_inference_steps as number) >= 1 &&
          (b.num_inference_steps as number) <= 200)
      ) {
        return bad("num_inference_steps: Input should be between 1 and 200"); // images.py:115-120
      }
      if (
        b.guidance_scale !== undefined &&
        !(typeof b.guidance_scale === "number" && b.guidance_scale >= 0 && b.guidance_scale <= 20)
      ) {
        return bad("guidance_scale: Input should be less than or equal to 20"); // images.py:121-125
      }
      if (
        b.extra_params !== undefined &&
        (b.extra_params === null || typeof b.extra_params !== "object" || Array.isArray(b.extra_params))
      ) {
        return bad("extra_params: Input should be a valid dictionary"); // images.py:136
      }
      if (b.model !== undefined && b.model !== served) {
        return bad(`Model mismatch: request specifies '${String(b.model)}' but server is running '${served}'.`); // api_server.py:1783-1787
      }
      const extra = (b.extra_params ?? {}) as Record<string, unknown>;
      for (const k of Object.keys(extra)) if (!IMAGE_EXTRA_READ.has(k)) rec.dropped.push(`extra_params:${k}`);
      const [w, h] = typeof b.size === "string" ? b.size.split("x").map(Number) : [undefined, undefined];
      rec.plan = planPipeline("image", {
        ...(w && h ? { width: w, height: h } : {}),
        ...(typeof b.num_inference_steps === "number" ? { steps: b.num_inference_steps } : {}),
        ...(typeof b.guidance_scale === "number" ? { guidance: b.guidance_scale } : {}),
        ...(typeof b.flow_shift === "number" ? { flowShift: b.flow_shift } : {}),
        extra,
        hasVideo: false,
      }, behaviour.modelActionDim);
      if (behaviour.guardrailBlocks?.test(b.prompt) && extra.guardrails !== false) {
        return refuse(res, rec, new Refusal(400, "Input was blocked by Cosmos3 guardrails."));
      }
      if (behaviour.engineFailure) return refuse(res, rec, new Refusal(500, behaviour.engineFailure));
      return json(res, rec, 200, {
        created: 1700000000,
        data: [{ b64_json: Buffer.from(behaviour.png).toString("base64"), revised_prompt: null }],
      });
    }
    if (key === "POST /v1/videos/sync" || key === "POST /v1/videos") {
      let form: VideoForm;
      try {
        form = parseVideoForm(rec.form ?? [], served, rec.dropped);
      } catch (e) {
        if (e instanceof Refusal) return refuse(res, rec, e);
        throw e;
      }
      const run = runVideo(form);
      if ("plan" in run) rec.plan = run.plan;
      if (key === "POST /v1/videos/sync") {
        // create_video_sync (api_server.py:3142-3210): engine errors as their code, a timeout as 504.
        if (behaviour.generationMs > behaviour.syncTimeoutMs) {
          await sleep(behaviour.syncTimeoutMs);
          return refuse(
            res,
            rec,
            new Refusal(504, `Video generation timed out after ${behaviour.syncTimeoutMs / 1000}s.`),
          );
        }
        if (behaviour.generationMs) await sleep(behaviour.generationMs);
        if (res.destroyed) return;
        if ("failure" in run) return refuse(res, rec, new Refusal(run.failure.code, run.failure.message));
        rec.status = 200;
        res.writeHead(200, { "Content-Type": "video/mp4", "X-Model": served });
        res.end(Buffer.from(behaviour.mp4));
        return;
      }
      // create_video (api_server.py:3099-3130): the job is queued at once; failures show on the job.
      const id = `video_gen_${(++jobCounter).toString(16).padStart(32, "0")}`;
      const job: Job = {
        id,
        status: "queued",
        progress: 0,
        polls: 0,
        model: served,
        prompt: form.prompt,
        created_at: 1700000000,
        conflicts: behaviour.cancelConflicts,
      };
      if ("failure" in run) job.error = run.failure;
      else if (run.plan.action && run.plan.action.mode !== "forward_dynamics") {
        const a = run.plan.action;
        const data = scriptedAction(a.chunk, a.rawDim);
        // serving_video.py:600-617 VideoAction; the pipeline slices to raw_action_dim (pipeline_cosmos3.py:1586)
        job.action = {
          data,
          shape: [a.chunk, a.rawDim],
          dtype: "float32",
          raw_action_dim: a.rawDim,
          action_mode: a.mode,
          domain_id: a.domainId,
        };
      }
      jobs.set(id, job);
      return json(res, rec, 200, publicJob(job));
    }
    const m = /^\/v1\/videos\/([^/]+)(\/content)?$/.exec(path);
    if (m) {
      const job = jobs.get(m[1]);
      if (!job) return refuse(res, rec, new Refusal(404, "Video not found"));
      if (rec.method === "DELETE") {
        // delete_video (api_server.py:3278-3327)
        if ((job.status === "queued" || job.status === "in_progress") && job.conflicts > 0) {
          job.conflicts--;
          return refuse(res, rec, new Refusal(409, "Cancellation in progress. Please try again later."));
        }
        jobs.delete(job.id);
        return json(res, rec, 200, { id: job.id, deleted: true, object: "video.deleted" });
      }
      if (m[2]) {
        // download_video (api_server.py:3330-3360)
        if (job.status === "failed") {
          return refuse(res, rec, new Refusal(422, "Video generation failed. Check job status for error details."));
        }
        if (job.status !== "completed") return refuse(res, rec, new Refusal(404, "Generation is still in-progress"));
        rec.status = 200;
        res.writeHead(200, { "Content-Type": "video/mp4" });
        res.end(Buffer.from(behaviour.mp4));
        return;
      }
      // retrieve_video (api_server.py:3250-3275): a failed job answers with its own code, the job as the body.
      advance(job);
      if (job.status === "failed") return json(res, rec, job.error!.code, publicJob(job));
      return json(res, rec, 200, publicJob(job));
    }
    refuse(res, rec, new Refusal(404, "Not Found"));
  };

  /** One status poll's worth of progress: queued → in_progress (0) → completed (100) or failed. */
  const advance = (job: Job) => {
    if (job.status === "completed" || job.status === "failed") return;
    job.polls++;
    if (job.error) {
      job.status = "failed";
      return;
    }
    if (job.polls <= behaviour.pollsInProgress) job.status = "in_progress";
    else {
      job.status = "completed";
      job.progress = 100;
    }
  };

  const server: Server = createServer((req, res) => {
    handle(req, res).catch((e) => {
      if (!res.headersSent) {
        res.writeHead(500, { "Content-Type": "application/json" });
        res.end(JSON.stringify(errorBody(500, String(e))));
      } else res.destroy();
    });
  });
  server.on("connection", (s) => {
    sockets.add(s);
    s.on("close", () => sockets.delete(s));
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    behaviour,
    waitFor: (match) =>
      new Promise((resolve) => {
        const done = requests.find((r) => `${r.method} ${r.path}`.startsWith(match));
        if (done) resolve(done);
        else waiters.push({ match, resolve });
      }),
    close: () =>
      new Promise<void>((r) => {
        for (const s of sockets) s.destroy();
        server.close(() => r());
      }),
  };
}

/** The keys of an image request's `extra_params` the text-to-image pipeline reads (pipeline_cosmos3.py:2056-2060, :3345-3353, cosmos3/guardrails.py:198-206). */
const IMAGE_EXTRA_READ = new Set([
  "use_resolution_template",
  "guardrails",
  "max_sequence_length",
  "flow_shift",
  "guidance_interval",
  "use_system_prompt",
  "system_prompt",
  "negative_prompt",
  "deterministic_seed",
]);

/** A job as `VideoResponse.model_dump` shows it. */
function publicJob(j: Job): Record<string, unknown> {
  return {
    id: j.id,
    object: "video",
    model: j.model,
    prompt: j.prompt,
    status: j.status,
    progress: j.progress,
    seconds: "4",
    quality: "default",
    created_at: j.created_at,
    completed_at: j.status === "completed" || j.status === "failed" ? 1700000100 : null,
    error: j.status === "failed" ? j.error : null,
    media_type: "video/mp4",
    file_name: j.status === "completed" ? `${j.id}.mp4` : null,
    action: j.status === "completed" ? j.action ?? null : null,
  };
}
