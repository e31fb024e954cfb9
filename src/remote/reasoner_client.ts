/**
 * The Reasoner over HTTP: vLLM and NIM both speak OpenAI chat completions.
 * `POST {base}/chat/completions` with the Qwen3-VL messages, the seed's sampling preset
 * (`temperature`, `top_p`, `top_k`, `repetition_penalty`, `presence_penalty`,
 * `max_tokens`, `seed`, `stop`) and the top-level `media_io_kwargs` /
 * `mm_processor_kwargs` fields that the openai client's `extra_body` produces; streamed
 * over SSE (`stream_options.include_usage`) or not.
 *
 * @example
 * ```ts
 * import { remoteReason } from "./reasoner_client.ts";
 * import { ReasonRequest } from "../schema/reason_request.ts";
 * const r = await remoteReason(
 *   ReasonRequest.parse({ task: "caption", video: "https://example.com/clip.mp4" }),
 *   { url: "http://127.0.0.1:8000/v1" },
 *   { onToken: (t) => console.log(t.channel, t.text) },
 * );
 * console.log(r.answer, r.usage);
 * ```
 * @module
 */
import { describeBackend } from "../backend/resolve.ts";
import { AbortError, RemoteError } from "../errors.ts";
import { buildMessages } from "../reasoner/messages.ts";
import { reasonResult } from "../reasoner/result.ts";
import { ThinkStreamSplitter } from "../reasoner/think.ts";
import type { ChatMessages } from "../schema/messages.ts";
import type { ReasonRequest } from "../schema/reason_request.ts";
import type { ReasonResult, Usage } from "../schema/results.ts";
import { reasonerSampling } from "../schema/sampling.ts";
import { apiBase, type HttpOptions, readJson, request } from "./http.ts";
import type { RemoteBackend, RemoteOptions } from "./options.ts";
import { chatChunks, sseEvents } from "./sse.ts";

const LOCAL_MEDIA_HINT =
  "If the request sends file:// media, start the server with --allowed-local-media-path covering allowedLocalMediaPath (or leave it unset so files are sent as data URIs).";

/** Body of `POST /chat/completions` for a request. */
export function chatRequestBody(req: ReasonRequest, messages: ChatMessages, model: string): Record<string, unknown> {
  const s = { ...reasonerSampling(req.reasoning), ...req.sampling };
  const body: Record<string, unknown> = {
    model,
    messages,
    temperature: s.temperature,
    top_p: s.top_p,
    top_k: s.top_k,
    repetition_penalty: s.repetition_penalty,
    presence_penalty: s.presence_penalty,
    max_tokens: s.max_tokens ?? req.maxTokens,
  };
  if (s.seed !== undefined) body.seed = s.seed;
  if (req.stop?.length) body.stop = req.stop;
  if (req.videoSampling?.fps !== undefined) body.media_io_kwargs = { video: { fps: req.videoSampling.fps } };
  else if (req.videoSampling?.numFrames !== undefined) body.media_io_kwargs = { video: { num_frames: req.videoSampling.numFrames } };
  if (req.imageSize) {
    body.mm_processor_kwargs = { size: { shortest_edge: req.imageSize.shortestEdge, longest_edge: req.imageSize.longestEdge } };
  }
  body.stream = req.stream;
  if (req.stream) body.stream_options = { include_usage: true };
  return body;
}

const modelCache = new Map<string, string>();

/** The first model a server lists at `GET {base}/models` (cached per URL). */
export async function servedModel(backend: RemoteBackend, opts: RemoteOptions = {}): Promise<string> {
  const base = apiBase(backend.url);
  const cached = modelCache.get(base);
  if (cached) return cached;
  const what = `Listing the models of ${base}`;
  const res = await request(`${base}/models`, { method: "GET" }, { ...httpOpts(backend, opts, what), timeoutMs: opts.timeoutMs ?? 30_000 });
  const json = await readJson(res, what, opts.signal) as { data?: { id?: unknown }[] };
  const id = json?.data?.find((m) => typeof m?.id === "string")?.id;
  if (typeof id !== "string") {
    throw new RemoteError(`${base}/models lists no model.`, { hint: "Pass the model name in the backend ({ url, model })." });
  }
  modelCache.set(base, id);
  return id;
}

function httpOpts(backend: RemoteBackend, opts: RemoteOptions, what: string, hint?: string): HttpOptions {
  return { signal: opts.signal, timeoutMs: opts.timeoutMs, retries: opts.retries, retryBaseMs: opts.retryBaseMs, apiKey: backend.apiKey, what, hint };
}

function usageOf(u: { prompt_tokens?: number; completion_tokens?: number; total_tokens?: number } | null | undefined): Usage | undefined {
  if (!u || typeof u.prompt_tokens !== "number") return undefined;
  const completion = u.completion_tokens ?? 0;
  return { promptTokens: u.prompt_tokens, completionTokens: completion, totalTokens: u.total_tokens ?? u.prompt_tokens + completion };
}

/**
 * Runs a Reasoner request on a vLLM or NIM server.
 * @throws {RemoteError} when the server refuses or fails; {@link AbortError} on abort.
 */
export async function remoteReason(req: ReasonRequest, backend: RemoteBackend, opts: RemoteOptions = {}): Promise<ReasonResult> {
  const base = apiBase(backend.url);
  opts.onProgress?.({ stage: "preprocess", message: "Preparing the messages" });
  const messages = await buildMessages(req, { allowedLocalMediaPath: backend.allowedLocalMediaPath, signal: opts.signal });
  const model = backend.model ?? await servedModel(backend, opts);
  const body = chatRequestBody(req, messages, model);
  const label = describeBackend({ kind: "remote", url: backend.url, model });
  opts.onProgress?.({ stage: "prefill", message: `Sending the request to ${base}` });
  const res = await request(
    `${base}/chat/completions`,
    { method: "POST", headers: { "Content-Type": "application/json", Accept: req.stream ? "text/event-stream" : "application/json" }, body: JSON.stringify(body) },
    httpOpts(backend, opts, "The Reasoner request", LOCAL_MEDIA_HINT),
  );
  if (!req.stream) {
    const json = await readJson(res, "The Reasoner request", opts.signal) as {
      choices?: { message?: { content?: string | null; reasoning_content?: string | null; reasoning?: string | null }; finish_reason?: string | null }[];
      usage?: Parameters<typeof usageOf>[0];
    };
    const choice = json.choices?.[0];
    if (!choice) throw new RemoteError("The Reasoner answered without choices.", { hint: "Check the server's log." });
    const reasoning = choice.message?.reasoning_content ?? choice.message?.reasoning ?? undefined;
    return reasonResult(req, choice.message?.content ?? "", {
      backend: label,
      usage: usageOf(json.usage),
      finishReason: choice.finish_reason ?? undefined,
      ...(reasoning ? { reasoning } : {}),
    });
  }
  return await readStream(req, res, label, opts);
}

async function readStream(req: ReasonRequest, res: Response, label: string, opts: RemoteOptions): Promise<ReasonResult> {
  if (!res.body) throw new RemoteError("The Reasoner sent an empty stream.", { hint: "Check the server's log." });
  const splitter = new ThinkStreamSplitter(req.reasoning);
  let content = "";
  let reasoning = "";
  let finishReason: string | undefined;
  let usage: Usage | undefined;
  let chunks = 0;
  try {
    for await (const chunk of chatChunks(sseEvents(res.body))) {
      const u = usageOf(chunk.usage);
      if (u) usage = u;
      for (const choice of chunk.choices ?? []) {
        if ((choice.index ?? 0) !== 0) continue;
        const r = choice.delta?.reasoning_content ?? choice.delta?.reasoning;
        if (r) {
          reasoning += r;
          opts.onToken?.({ text: r, channel: "reasoning" });
        }
        const c = choice.delta?.content;
        if (c) {
          content += c;
          // A server-side reasoning parser already split the reasoning off: content is the answer.
          const events = reasoning ? [{ text: c, channel: "answer" as const }] : splitter.push(c);
          for (const ev of events) opts.onToken?.(ev);
        }
        if (choice.finish_reason) finishReason = choice.finish_reason;
      }
      if (++chunks === 1) opts.onProgress?.({ stage: "decode", message: "Receiving tokens" });
    }
  } catch (e) {
    if (opts.signal?.aborted) throw new AbortError(undefined, { cause: opts.signal.reason });
    if (e instanceof RemoteError || e instanceof AbortError) throw e;
    throw new RemoteError(`The Reasoner stream broke: ${(e as Error).message}`, { hint: "Check the server's log; retry.", cause: e });
  }
  for (const ev of splitter.end()) opts.onToken?.(ev);
  return reasonResult(req, content, { backend: label, usage, finishReason, ...(reasoning ? { reasoning } : {}) });
}
