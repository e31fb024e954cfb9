/**
 * A local test HTTP server for the remote clients (node:http on 127.0.0.1, random port;
 * runs under Node and under Deno's node:http compatibility).
 *
 * It follows the seed's (Cosmos 3 README: Reasoner with vLLM / NIM, Generator with
 * vLLM-Omni) and vLLM-Omni's documented API — OpenAI chat completions with SSE streaming,
 * `GET /v1/models`, `POST /v1/images/generations`, `POST /v1/videos/sync`, the
 * asynchronous `POST /v1/videos` → `GET /v1/videos/{id}` → `GET /v1/videos/{id}/content`
 * jobs and `DELETE /v1/videos/{id}` — and is NOT a real server: it records every request
 * and answers with scripted data so the tests can check the exact wire format.
 */
import { Buffer } from "node:buffer";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";

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
  /** Sent as `reasoning_content` deltas before the content (a server-side reasoning parser). */
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
  models: string[];
  chat: ChatScript;
  /** PNG bytes for the image endpoint. */
  png: Uint8Array;
  /** MP4 bytes for the video endpoints. */
  mp4: Uint8Array;
  /** Statuses a job goes through on successive polls before `completed`. */
  jobStatuses: { status: string; progress?: number }[];
  /** Extra fields of the completed job (e.g. the action chunk). */
  jobResult: Record<string, unknown>;
  /** Error answers, consumed in order. */
  faults: Fault[];
  /** Delay (ms) before answering /v1/videos/sync. */
  syncDelayMs: number;
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
  ev({ ...base, choices: [{ index: 0, delta: { role: "assistant", content: "" }, logprobs: null, finish_reason: null }] });
  const n = script.chunkChars ?? 3;
  const pieces = (s: string) => Array.from({ length: Math.ceil(s.length / n) }, (_, i) => s.slice(i * n, i * n + n));
  for (const p of pieces(script.reasoningContent ?? "")) {
    ev({ ...base, choices: [{ index: 0, delta: { reasoning_content: p }, logprobs: null, finish_reason: null }] });
  }
  for (const p of pieces(script.content)) {
    ev({ ...base, choices: [{ index: 0, delta: { content: p }, logprobs: null, finish_reason: null }] });
  }
  ev({ ...base, choices: [{ index: 0, delta: {}, logprobs: null, finish_reason: script.finishReason ?? "stop", stop_reason: null }] });
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

/** Starts the server. */
export async function startTestServer(init: Partial<Behaviour> = {}): Promise<TestServer> {
  const behaviour: Behaviour = {
    models: ["nvidia/cosmos3-nano-reasoner"],
    chat: { content: "A robot arm picks up a red cube." },
    png: new Uint8Array(),
    mp4: new Uint8Array(),
    jobStatuses: [{ status: "queued", progress: 0 }, { status: "in_progress", progress: 50 }],
    jobResult: {},
    faults: [],
    syncDelayMs: 0,
    ...init,
  };
  const requests: Recorded[] = [];
  const waiters: { match: string; resolve: (r: Recorded) => void }[] = [];
  const jobs = new Map<string, { polls: number; deleted: boolean }>();
  let jobCounter = 0;
  const sockets = new Set<import("node:net").Socket>();

  const json = (res: ServerResponse, status: number, body: unknown) => {
    res.writeHead(status, { "Content-Type": "application/json" });
    res.end(JSON.stringify(body));
  };

  const handle = async (req: IncomingMessage, res: ServerResponse) => {
    const body = await readBody(req);
    const path = (req.url ?? "/").split("?")[0];
    const rec: Recorded = { method: req.method ?? "GET", path, headers: req.headers, body };
    const ct = String(req.headers["content-type"] ?? "");
    if (ct.startsWith("application/json")) rec.json = JSON.parse(new TextDecoder().decode(body));
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
      res.writeHead(f.status, { "Content-Type": "application/json", ...f.headers });
      res.end(f.body);
      return;
    }
    if (key === "GET /v1/models") {
      return json(res, 200, { object: "list", data: behaviour.models.map((id) => ({ id, object: "model", created: 0, owned_by: "vllm" })) });
    }
    if (key === "POST /v1/chat/completions") {
      const r = rec.json as { model: string; stream?: boolean };
      const s = behaviour.chat;
      if (!r.stream) {
        return json(res, 200, {
          id: "chatcmpl-test",
          object: "chat.completion",
          created: 1700000000,
          model: r.model,
          choices: [{
            index: 0,
            message: { role: "assistant", content: s.content, ...(s.reasoningContent ? { reasoning_content: s.reasoningContent } : {}) },
            finish_reason: s.finishReason ?? "stop",
          }],
          usage: s.usage ?? { prompt_tokens: 10, completion_tokens: 5, total_tokens: 15 },
        });
      }
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
      return json(res, 200, { created: 1700000000, data: [{ b64_json: Buffer.from(behaviour.png).toString("base64"), revised_prompt: null }] });
    }
    if (key === "POST /v1/videos/sync") {
      if (behaviour.syncDelayMs) await sleep(behaviour.syncDelayMs);
      if (res.destroyed) return;
      res.writeHead(200, { "Content-Type": "video/mp4" });
      res.end(Buffer.from(behaviour.mp4));
      return;
    }
    if (key === "POST /v1/videos") {
      const id = `video_${++jobCounter}`;
      jobs.set(id, { polls: 0, deleted: false });
      return json(res, 200, { id, object: "video", status: "queued", progress: 0, created_at: 1700000000 });
    }
    const m = /^\/v1\/videos\/([^/]+)(\/content)?$/.exec(path);
    if (m) {
      const job = jobs.get(m[1]);
      if (!job || job.deleted) return json(res, 404, { detail: `Video ${m[1]} not found` });
      if (rec.method === "DELETE") {
        job.deleted = true;
        return json(res, 200, { id: m[1], object: "video.deleted", deleted: true });
      }
      if (m[2]) {
        res.writeHead(200, { "Content-Type": "video/mp4" });
        res.end(Buffer.from(behaviour.mp4));
        return;
      }
      const step = behaviour.jobStatuses[job.polls++];
      if (step) return json(res, 200, { id: m[1], object: "video", ...step });
      return json(res, 200, { id: m[1], object: "video", status: "completed", progress: 100, ...behaviour.jobResult });
    }
    json(res, 404, { detail: "Not Found" });
  };

  const server: Server = createServer((req, res) => {
    handle(req, res).catch((e) => {
      if (!res.headersSent) json(res, 500, { error: { message: String(e) } });
      else res.destroy();
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
    waitFor: (match) => new Promise((resolve) => {
      const done = requests.find((r) => `${r.method} ${r.path}`.startsWith(match));
      if (done) resolve(done);
      else waiters.push({ match, resolve });
    }),
    close: () => new Promise<void>((r) => {
      for (const s of sockets) s.destroy();
      server.close(() => r());
    }),
  };
}
