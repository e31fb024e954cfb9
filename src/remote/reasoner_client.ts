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
import { AbortError, CosmosError, RemoteError } from "../errors.ts";
import { buildMessages } from "../reasoner/messages.ts";
import { reasonResult } from "../reasoner/result.ts";
import { ThinkStreamSplitter } from "../reasoner/think.ts";
import type { ChatMessages } from "../schema/messages.ts";
import type { ReasonRequest } from "../schema/reason_request.ts";
import { decodeEndProgress, type ReasonResult, type Usage } from "../schema/results.ts";
import { reasonerSampling } from "../schema/sampling.ts";
import { z } from "zod";
import { apiBase, boundsOf, type HttpOptions, readJson, request } from "./http.ts";
import type { RemoteBackend, RemoteOptions } from "./options.ts";
import { ChatChunk, chatChunks, sseEvents, type SseStats } from "./sse.ts";

const LOCAL_MEDIA_HINT =
  "If the request sends file:// media, start the server with --allowed-local-media-path covering allowedLocalMediaPath (or leave it unset so files are sent as data URIs).";

/** The `max_tokens` a request asks for: the sampling override or preset, else `maxTokens`. */
function maxTokensOf(req: ReasonRequest): number | undefined {
  return { ...reasonerSampling(req.reasoning), ...req.sampling }.max_tokens ?? req.maxTokens;
}

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
    max_tokens: maxTokensOf(req),
  };
  if (s.seed !== undefined) body.seed = s.seed;
  if (req.stop?.length) body.stop = req.stop;
  if (req.videoSampling?.fps !== undefined) body.media_io_kwargs = { video: { fps: req.videoSampling.fps } };
  else if (req.videoSampling?.numFrames !== undefined) {
    body.media_io_kwargs = { video: { num_frames: req.videoSampling.numFrames } };
  }
  if (req.imageSize) {
    body.mm_processor_kwargs = {
      size: { shortest_edge: req.imageSize.shortestEdge, longest_edge: req.imageSize.longestEdge },
    };
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
  const res = await request(`${base}/models`, { method: "GET" }, {
    ...httpOpts(backend, opts, what),
    timeoutMs: opts.timeoutMs ?? 30_000,
  });
  const json = await readJson(res, what, opts.signal);
  const data = json && typeof json === "object" ? (json as { data?: unknown }).data : undefined;
  const id = Array.isArray(data)
    ? data.map((m) => (m && typeof m === "object" ? (m as { id?: unknown }).id : undefined)).find((x) =>
      typeof x === "string" && x
    )
    : undefined;
  if (typeof id !== "string") {
    throw new RemoteError(
      Array.isArray(data)
        ? `${base}/models lists no model.`
        : `${what}: the server returned a body without a "data" list of models.`,
      {
        hint:
          "Check that the URL points at a vLLM / NIM server, or pass the model name in the backend ({ url, model }).",
      },
    );
  }
  modelCache.set(base, id);
  return id;
}

function httpOpts(backend: RemoteBackend, opts: RemoteOptions, what: string, hint?: string): HttpOptions {
  return {
    ...boundsOf(opts),
    signal: opts.signal,
    retries: opts.retries,
    retryBaseMs: opts.retryBaseMs,
    apiKey: backend.apiKey,
    what,
    hint,
  };
}

const OptionalText = z.string().nullish();

/** A non-streamed chat completion: the fields we read, checked. */
const ChatCompletion = z.object({
  choices: z.array(z.object({
    message: z.object({ content: OptionalText, reasoning_content: OptionalText, reasoning: OptionalText }),
    finish_reason: OptionalText,
  })).min(1),
  usage: ChatChunk.shape.usage,
});

function usageOf(u: ChatChunk["usage"]): Usage | undefined {
  if (!u || typeof u.prompt_tokens !== "number") return undefined;
  const completion = u.completion_tokens ?? 0;
  return {
    promptTokens: u.prompt_tokens,
    completionTokens: completion,
    totalTokens: u.total_tokens ?? u.prompt_tokens + completion,
  };
}

/**
 * Runs a Reasoner request on a vLLM or NIM server.
 * @throws {RemoteError} when the server refuses or fails; {@link AbortError} on abort.
 */
export async function remoteReason(
  req: ReasonRequest,
  backend: RemoteBackend,
  opts: RemoteOptions = {},
): Promise<ReasonResult> {
  const base = apiBase(backend.url);
  opts.onProgress?.({ stage: "preprocess", message: "Preparing the messages" });
  const messages = await buildMessages(req, {
    allowedLocalMediaPath: backend.allowedLocalMediaPath,
    signal: opts.signal,
  });
  const model = backend.model ?? await servedModel(backend, opts);
  const body = chatRequestBody(req, messages, model);
  const label = describeBackend({ kind: "remote", url: backend.url, model });
  opts.onProgress?.({ stage: "prefill", message: `Sending the request to ${base}` });
  const res = await request(
    `${base}/chat/completions`,
    {
      method: "POST",
      headers: { "Content-Type": "application/json", Accept: req.stream ? "text/event-stream" : "application/json" },
      body: JSON.stringify(body),
    },
    httpOpts(backend, opts, "The Reasoner request", LOCAL_MEDIA_HINT),
  );
  if (!req.stream) {
    const json = ChatCompletion.safeParse(await readJson(res, "The Reasoner request", opts.signal));
    if (!json.success) {
      const issue = json.error.issues[0];
      throw new RemoteError(
        `The Reasoner request: the server returned a body that is not a chat completion (${
          issue.path.join(".") || "(body)"
        }: ${issue.message}).`,
        {
          status: res.status,
          hint: "Check that the URL points at an OpenAI-compatible server (vLLM or NIM), and its log.",
        },
      );
    }
    const choice = json.data.choices[0];
    const reasoning = choice.message.reasoning_content ?? choice.message.reasoning ?? undefined;
    const usage = usageOf(json.data.usage);
    const finishReason = choice.finish_reason ?? undefined;
    opts.onProgress?.(decodeEndProgress(usage?.completionTokens, maxTokensOf(req), finishReason));
    return reasonResult(req, choice.message.content ?? "", {
      backend: label,
      usage,
      finishReason,
      ...(reasoning ? { reasoning } : {}),
    });
  }
  return await readStream(req, res, label, opts);
}

/**
 * Reads the token stream. Each non-empty delta holds at least one token, so a server that
 * sends more than `maxTokens` of them has gone past the limit: the client stops reading
 * there, and the result says so (`finishReason: "length"`, `truncatedByClient`).
 */
async function readStream(
  req: ReasonRequest,
  res: Response,
  label: string,
  opts: RemoteOptions,
): Promise<ReasonResult> {
  if (!res.body) throw new RemoteError("The Reasoner sent an empty stream.", { hint: "Check the server's log." });
  const maxTokens = maxTokensOf(req);
  const splitter = new ThinkStreamSplitter(req.reasoning);
  let content = "";
  let reasoning = "";
  let finishReason: string | undefined;
  let usage: Usage | undefined;
  let chunks = 0;
  let deltas = 0;
  let cut = false;
  let stats: SseStats | undefined;
  try {
    const events = sseEvents(res.body, { stats: (s) => (stats = s) });
    read: for await (const chunk of chatChunks(events, { stats: () => stats })) {
      const u = usageOf(chunk.usage);
      if (u) usage = u;
      for (const choice of chunk.choices ?? []) {
        if ((choice.index ?? 0) !== 0) continue;
        const r = choice.delta?.reasoning_content ?? choice.delta?.reasoning;
        const c = choice.delta?.content;
        if (r || c) {
          if (maxTokens !== undefined && deltas >= maxTokens) {
            cut = true;
            break read; // ends the body stream: the connection is closed
          }
          deltas++;
        }
        if (r) {
          reasoning += r;
          opts.onToken?.({ text: r, channel: "reasoning" });
        }
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
    if (e instanceof CosmosError) throw e;
    throw new RemoteError(`The Reasoner stream broke: ${(e as Error).message}`, {
      hint: "Check the server's log; retry.",
      cause: e,
    });
  }
  for (const ev of splitter.end()) opts.onToken?.(ev);
  // The server's count when it sent usage; else the deltas read (each holds at least one token).
  opts.onProgress?.(decodeEndProgress(usage?.completionTokens ?? deltas, maxTokens, cut ? "length" : finishReason));
  const result = reasonResult(req, content, {
    backend: label,
    usage,
    finishReason: cut ? "length" : finishReason,
    ...(reasoning ? { reasoning } : {}),
  });
  return cut ? { ...result, truncatedByClient: { maxTokens: maxTokens! } } : result;
}
