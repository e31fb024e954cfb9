/**
 * HTTP plumbing of the remote clients: base URLs, bounded waits, retries with exponential
 * backoff on 429 / 503 only (honouring `Retry-After`), redirects, cancellation through an
 * AbortSignal ({@link AbortError}), and {@link RemoteError}s that carry the status, the
 * server's own message (OpenAI `{"error": {"message"}}` or FastAPI `{"detail"}`) and a hint.
 *
 * Nothing waits without a bound. Each phase of an exchange has its own, with a default
 * ({@link DEFAULT_CONNECT_TIMEOUT_MS}, {@link DEFAULT_TIMEOUT_MS},
 * {@link DEFAULT_IDLE_TIMEOUT_MS}, {@link DEFAULT_DOWNLOAD_TIMEOUT_MS},
 * {@link DEFAULT_POLL_TIMEOUT_MS}); an expired one throws a {@link TimeoutError} naming the
 * phase and the option that raises it. The requests go through `node:http` / `node:https`
 * rather than `fetch`, because fetch cannot tell the connect phase from the wait for the
 * answer, and its network failures are an untyped `TypeError: fetch failed`.
 *
 * @example
 * ```ts
 * import { apiBase, request } from "./http.ts";
 * const res = await request(`${apiBase("http://127.0.0.1:8000")}/models`, { method: "GET" }, { what: "Listing models", connectTimeoutMs: 5_000 });
 * console.log(await res.json());
 * ```
 * @module
 */
import { Buffer } from "node:buffer";
import type { IncomingMessage } from "node:http";
import * as http from "node:http";
import * as https from "node:https";
import type { Readable } from "node:stream";
import * as zlib from "node:zlib";
import {
  AbortError,
  CosmosError,
  MediaError,
  RemoteError,
  TimeoutError,
  type TimeoutPhase,
  ValidationError,
  type ValidationIssue,
} from "../errors.ts";

/** The bounds of one HTTP exchange, phase by phase (each has a default; see the constants). */
export interface HttpBounds {
  /** ms to open the connection, TLS included (default {@link DEFAULT_CONNECT_TIMEOUT_MS}: 30 s). */
  connectTimeoutMs?: number;
  /** ms from the open connection to the response headers, the first byte (default {@link DEFAULT_TIMEOUT_MS}: 10 min). */
  timeoutMs?: number;
  /** Longest gap between two body chunks, i.e. between stream events (default {@link DEFAULT_IDLE_TIMEOUT_MS}: 2 min). */
  idleTimeoutMs?: number;
  /** ms for a whole response body: a download, a whole stream (default {@link DEFAULT_DOWNLOAD_TIMEOUT_MS}: 30 min). */
  downloadTimeoutMs?: number;
}

/** Options shared by every remote call. */
export interface HttpOptions extends HttpBounds {
  signal?: AbortSignal;
  /** Retries on 429 / 503 (default 4). */
  retries?: number;
  /** First backoff delay in ms, doubled per retry (default 1000). */
  retryBaseMs?: number;
  /** Longest wait between retries, `Retry-After` included (default 60 s). */
  retryMaxMs?: number;
  /** Bearer token. */
  apiKey?: string;
  /** What the call does, for messages ("Generating a video"). */
  what: string;
  /** Extra hint for 4xx answers (e.g. about --allowed-local-media-path). */
  hint?: string;
  /**
   * Non-2xx statuses handed back as a response (body unread) instead of thrown or retried:
   * vLLM-Omni answers a failed video job's status poll with the job itself under the job's
   * error code (api_server.py:3266-3274), which the caller reads.
   */
  passStatus?: (status: number) => boolean;
}

/** Default bound on opening a connection (TCP, and TLS for https): 30 s. A live server on a LAN needs milliseconds. */
export const DEFAULT_CONNECT_TIMEOUT_MS = 30_000;
/** Default bound on the wait for response headers (first byte): 10 minutes (a long non-streamed answer, a queued request). */
export const DEFAULT_TIMEOUT_MS = 10 * 60_000;
/** The same bound as {@link DEFAULT_TIMEOUT_MS}, named after its phase. */
export const DEFAULT_FIRST_BYTE_TIMEOUT_MS = DEFAULT_TIMEOUT_MS;
/** Default bound on the gap between two body chunks (stream events, download chunks): 2 minutes. */
export const DEFAULT_IDLE_TIMEOUT_MS = 2 * 60_000;
/** Default bound on a whole response body (a synchronous video download, a whole token stream): 30 minutes. */
export const DEFAULT_DOWNLOAD_TIMEOUT_MS = 30 * 60_000;
/** Default first-byte bound of one status request while polling an asynchronous job: 60 s. */
export const DEFAULT_POLL_TIMEOUT_MS = 60_000;
/** The largest bound a timer can hold (about 24.8 days); larger values would fire at once. */
export const MAX_TIMEOUT_MS = 2_147_483_647;
/** Redirects followed per request, as fetch does (it allows 20; a media URL needs one or two). */
export const MAX_REDIRECTS = 5;

/** The names of the bound options, in phase order. */
export const BOUND_OPTIONS = ["connectTimeoutMs", "timeoutMs", "idleTimeoutMs", "downloadTimeoutMs"] as const;

const PHASES: Record<TimeoutPhase, { option: string; fallback: number; label: string }> = {
  connect: { option: "connectTimeoutMs", fallback: DEFAULT_CONNECT_TIMEOUT_MS, label: "opening the connection" },
  first_byte: { option: "timeoutMs", fallback: DEFAULT_TIMEOUT_MS, label: "waiting for the answer (first byte)" },
  idle: {
    option: "idleTimeoutMs",
    fallback: DEFAULT_IDLE_TIMEOUT_MS,
    label: "waiting for more data (idle gap between stream events / body chunks)",
  },
  download: {
    option: "downloadTimeoutMs",
    fallback: DEFAULT_DOWNLOAD_TIMEOUT_MS,
    label: "receiving the whole answer (download)",
  },
  job: { option: "jobTimeoutMs", fallback: 2 * 3600_000, label: "waiting for the job" },
};

/** The bound options of `o` alone (to hand on to {@link request}). */
export function boundsOf(o: HttpBounds): HttpBounds {
  const out: HttpBounds = {};
  for (const k of BOUND_OPTIONS) if (o[k] !== undefined) out[k] = o[k];
  return out;
}

/** Issues for bound options that are not a positive number of ms up to {@link MAX_TIMEOUT_MS}. */
export function boundIssues(
  o: Record<string, unknown>,
  names: readonly string[] = BOUND_OPTIONS,
  prefix = "options",
): ValidationIssue[] {
  const issues: ValidationIssue[] = [];
  for (const k of names) {
    const v = o[k];
    if (v === undefined) continue;
    if (typeof v !== "number" || !Number.isFinite(v) || v <= 0 || v > MAX_TIMEOUT_MS) {
      issues.push({
        field: `${prefix}.${k}`,
        value: v,
        allowed: `a number of milliseconds > 0 and <= ${MAX_TIMEOUT_MS}`,
        message: typeof v === "number" ? "out of range" : "not a number of milliseconds",
      });
    }
  }
  return issues;
}

/** "150 ms", "30 s", "10 min". */
export function formatMs(ms: number): string {
  if (ms < 1000) return `${Math.round(ms)} ms`;
  if (ms < 120_000) return `${+(ms / 1000).toFixed(1)} s`;
  return `${+(ms / 60_000).toFixed(1)} min`;
}

/** The {@link TimeoutError} of a phase: what ran out, and which option raises it. */
export function timeoutError(phase: TimeoutPhase, ms: number, what: string, where: string): TimeoutError {
  const p = PHASES[phase];
  return new TimeoutError(`${what} timed out after ${formatMs(ms)} ${p.label} at ${where}.`, {
    phase,
    timeoutMs: ms,
    option: p.option,
    hint: `Raise the ${p.option} option (default ${
      formatMs(p.fallback)
    }) if the server is just slow; otherwise check that it is up and its log.`,
  });
}

/** `{url}` normalised to end in `/v1` (accepts `http://host:8000` and `http://host:8000/v1/`). */
export function apiBase(url: string): string {
  const u = url.trim().replace(/\/+$/, "");
  return /\/v1$/.test(u) ? u : `${u}/v1`;
}

/** Waits `ms`, or throws {@link AbortError} as soon as `signal` aborts. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolveP, reject) => {
    if (signal?.aborted) return reject(new AbortError(undefined, { cause: signal.reason }));
    const onAbort = () => {
      clearTimeout(timer);
      reject(new AbortError(undefined, { cause: signal?.reason }));
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener("abort", onAbort);
      resolveP();
    }, ms);
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}

/** Milliseconds a `Retry-After` header asks for (seconds or an HTTP date), or undefined. */
export function retryAfterMs(value: string | null, now = Date.now()): number | undefined {
  if (!value) return undefined;
  const v = value.trim();
  if (/^\d+(?:\.\d+)?$/.test(v)) return Number(v) * 1000;
  const t = Date.parse(v);
  return Number.isNaN(t) ? undefined : Math.max(0, t - now);
}

/** The server's own message from an error body (OpenAI, FastAPI, plain text). */
export function serverMessageOf(body: string): string {
  const text = body.trim();
  if (!text) return "";
  try {
    const j: unknown = JSON.parse(text);
    if (j && typeof j === "object") {
      const o = j as Record<string, unknown>;
      const err = o.error;
      if (err && typeof err === "object" && typeof (err as Record<string, unknown>).message === "string") {
        return (err as Record<string, string>).message;
      }
      if (typeof err === "string") return err;
      const detail = o.detail;
      if (typeof detail === "string") return detail;
      if (Array.isArray(detail)) {
        return detail.map((d) => {
          if (d && typeof d === "object") {
            const r = d as Record<string, unknown>;
            const loc = Array.isArray(r.loc) ? r.loc.join(".") : "";
            return `${loc ? loc + ": " : ""}${String(r.msg ?? JSON.stringify(d))}`;
          }
          return String(d);
        }).join("; ");
      }
      if (typeof o.message === "string") return o.message;
    }
  } catch { /* not JSON */ }
  return text.length > 2000 ? text.slice(0, 2000) + "…" : text;
}

/** A hint for an HTTP status and server message. */
export function hintFor(status: number, message: string, extra?: string): string {
  const m = message.toLowerCase();
  if (/allowed.local.media|local media|file:\/\//.test(m)) {
    return "Start the server with --allowed-local-media-path covering the file (for Docker: mount it and use the container-visible path), or leave allowedLocalMediaPath unset so files are sent inline.";
  }
  if (status === 401 || status === 403) return "Check the API key (apiKey / COSMOS_API_KEY) the server expects.";
  if (status === 404) {
    return /model/.test(m)
      ? "The model name is not served here; leave model unset to use the server's, or check GET /v1/models."
      : "Check the server URL and that this server offers the endpoint (vLLM / NIM for reason(), vLLM-Omni for generate() and rollout()).";
  }
  if (status === 413) {
    return "The request is too large; send smaller media or pass URLs / files under --allowed-local-media-path.";
  }
  if (status === 429 || status === 503) return "The server is busy; retry later or lower the request rate.";
  if (status >= 500) return "The server failed; its log says why.";
  return extra ?? "Check the request fields against the server's API reference.";
}

/** Builds the {@link RemoteError} of a non-2xx response (reads its body). */
export async function remoteErrorOf(res: Response, what: string, extraHint?: string): Promise<RemoteError> {
  let body = "";
  try {
    body = await res.text();
  } catch { /* body unreadable */ }
  const serverMessage = serverMessageOf(body);
  return new RemoteError(
    `${what} failed: HTTP ${res.status}${res.statusText ? " " + res.statusText : ""}${
      serverMessage ? `: ${serverMessage}` : ""
    }`,
    { status: res.status, serverMessage, hint: hintFor(res.status, serverMessage, extraHint) },
  );
}

/**
 * One HTTP request with bounded phases, redirects, retries on 429/503 and cancellation.
 * Resolves with a 2xx response whose body is still unread; reading it stays bounded (idle
 * gap, whole download) and tied to `opts.signal`.
 * @throws {RemoteError} for other statuses and network failures; {@link TimeoutError} when a
 * bound runs out; {@link AbortError} on abort; {@link ValidationError} for a bad URL or bound.
 */
export async function request(url: string, init: RequestInit, opts: HttpOptions): Promise<Response> {
  const issues = boundIssues(opts as unknown as Record<string, unknown>);
  if (issues.length) throw new ValidationError(issues);
  const retries = opts.retries ?? 4;
  const headers = new Headers(init.headers);
  if (opts.apiKey) {
    if (!/^[\x21-\x7e]+$/.test(opts.apiKey)) {
      throw new ValidationError([{
        field: "apiKey",
        value: "(hidden)",
        allowed: "printable ASCII without spaces or line breaks",
        message: "not usable in an Authorization header",
      }]);
    }
    headers.set("Authorization", `Bearer ${opts.apiKey}`);
  }
  let target = parseUrl(url);
  let method = (init.method ?? "GET").toUpperCase();
  let body = bodyBytes(init.body);
  for (let attempt = 0, redirects = 0;;) {
    const res = await once(target, method, headers, body, opts);
    if (res.ok || opts.passStatus?.(res.status)) return res;
    const location = res.headers.get("location");
    if ([301, 302, 303, 307, 308].includes(res.status) && location && redirects < MAX_REDIRECTS) {
      await res.body?.cancel().catch(() => {});
      let next: URL;
      try {
        next = parseUrl(new URL(location, target).href);
      } catch {
        throw new RemoteError(
          `${opts.what}: the server redirected to an unusable URL (${JSON.stringify(location.slice(0, 200))}).`,
          {
            status: res.status,
            hint: "Check the server URL; the server (or a proxy in front of it) sent a bad Location header.",
          },
        );
      }
      // As fetch does: 303 (and 301/302 after a POST) become a GET without a body; credentials stay on their origin.
      if (res.status === 303 || ((res.status === 301 || res.status === 302) && method === "POST")) {
        method = "GET";
        body = undefined;
        headers.delete("content-type");
      }
      if (next.origin !== target.origin) headers.delete("authorization");
      target = next;
      redirects++;
      continue;
    }
    if ((res.status === 429 || res.status === 503) && attempt < retries) {
      const backoff = (opts.retryBaseMs ?? 1000) * 2 ** attempt;
      const wait = Math.min(retryAfterMs(res.headers.get("retry-after")) ?? backoff, opts.retryMaxMs ?? 60_000);
      await res.body?.cancel().catch(() => {});
      await sleep(wait, opts.signal);
      attempt++;
      continue;
    }
    throw await remoteErrorOf(res, opts.what, opts.hint);
  }
}

function parseUrl(url: string): URL {
  let u: URL | undefined;
  try {
    u = new URL(url);
  } catch { /* reported below */ }
  if (!u || (u.protocol !== "http:" && u.protocol !== "https:")) {
    throw new ValidationError([{
      field: "url",
      value: url,
      allowed: "an http:// or https:// URL",
      message: u ? `unsupported scheme ${u.protocol}` : "not a URL",
    }]);
  }
  return u;
}

function bodyBytes(body: RequestInit["body"]): Uint8Array | undefined {
  if (body === undefined || body === null) return undefined;
  if (typeof body === "string") return new TextEncoder().encode(body);
  if (body instanceof Uint8Array) return body;
  if (body instanceof ArrayBuffer) return new Uint8Array(body);
  throw new TypeError("request(): the body must be a string or bytes.");
}

/** A typed error for a failed connection (node's error codes). */
function networkError(e: unknown, target: URL, what: string): RemoteError {
  const code = String((e as { code?: unknown })?.code ?? "");
  const origin = target.origin;
  const started =
    `Is the server started and listening at ${origin}? (vLLM / NIM / vLLM-Omni print "Application startup complete." when ready; in Docker, publish the port.)`;
  if (code === "ECONNREFUSED") {
    return new RemoteError(`${what} failed: cannot reach ${origin} (connection refused).`, { hint: started, cause: e });
  }
  if (code === "ENOTFOUND" || code === "EAI_AGAIN" || code === "EAI_NONAME") {
    return new RemoteError(`${what} failed: cannot resolve the host name "${target.hostname}".`, {
      hint: "Check the host in the URL (and DNS, when the name is not in /etc/hosts).",
      cause: e,
    });
  }
  if (code === "ECONNRESET" || code === "EPIPE" || /socket hang up/i.test((e as Error)?.message ?? "")) {
    return new RemoteError(`${what} failed: ${origin} closed the connection before answering.`, {
      hint: "The server may have crashed or restarted (its log says why), or a proxy cut the connection; retry.",
      cause: e,
    });
  }
  if (/^(ERR_TLS|CERT_|UNABLE_TO|DEPTH_ZERO|SELF_SIGNED|ERR_SSL)/.test(code)) {
    return new RemoteError(`${what} failed: the TLS connection to ${origin} failed (${code}).`, {
      hint: "Check the https certificate of the server (or use http:// for a local server).",
      cause: e,
    });
  }
  return new RemoteError(`${what} failed: cannot reach ${origin} (${code || (e as Error)?.message || String(e)}).`, {
    hint: started,
    cause: e,
  });
}

function brokenError(e: unknown, what: string, where: string): RemoteError {
  return new RemoteError(
    `${what}: the connection to ${where} broke while reading the answer${e ? ` (${(e as Error).message ?? e})` : ""}.`,
    {
      hint: "The server may have crashed or restarted (its log says why); retry.",
      cause: e,
    },
  );
}

function once(
  target: URL,
  method: string,
  headers: Headers,
  body: Uint8Array | undefined,
  opts: HttpOptions,
): Promise<Response> {
  if (opts.signal?.aborted) return Promise.reject(new AbortError(undefined, { cause: opts.signal.reason }));
  const connectMs = opts.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS;
  const firstByteMs = opts.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const where = target.origin + target.pathname;
  const out: Record<string, string> = { accept: "*/*", "user-agent": "cosmos-ts" };
  headers.forEach((v, k) => {
    out[k] = v;
  });
  if (body) out["content-length"] = String(body.byteLength);
  const secure = target.protocol === "https:";
  return new Promise<Response>((resolveP, rejectP) => {
    let settled = false;
    let timer: ReturnType<typeof setTimeout> | undefined;
    // A fresh connection per request (no keep-alive agent): Deno's node:http re-sends a POST
    // on a pooled connection after req.destroy() (a timed-out or aborted generation would run
    // twice on the server); test/remote/generator_client.test.ts checks it on both runtimes.
    let req: http.ClientRequest;
    try {
      req = (secure ? https : http).request(target, { method, headers: out, agent: false });
    } catch (e) {
      // node checks the headers here (a character an HTTP header cannot carry).
      return rejectP(
        new ValidationError([{
          field: "headers",
          value: Object.keys(out),
          allowed: "HTTP header names and values",
          message: (e as Error).message,
        }]),
      );
    }
    const fail = (err: unknown) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      opts.signal?.removeEventListener("abort", onAbort);
      req.destroy();
      rejectP(err);
    };
    const onAbort = () => fail(new AbortError(undefined, { cause: opts.signal?.reason }));
    opts.signal?.addEventListener("abort", onAbort, { once: true });
    timer = setTimeout(() => fail(timeoutError("connect", connectMs, opts.what, target.origin)), connectMs);
    const connected = () => {
      if (settled) return;
      clearTimeout(timer);
      timer = setTimeout(() => fail(timeoutError("first_byte", firstByteMs, opts.what, where)), firstByteMs);
    };
    req.on("socket", (socket) => {
      // A kept-alive socket is connected already; a new one reports when it is (after TLS for https).
      if (!socket.connecting) connected();
      else socket.once(secure ? "secureConnect" : "connect", connected);
    });
    req.on("error", (e) => fail(networkError(e, target, opts.what)));
    req.on("response", (res) => {
      if (settled) {
        res.destroy();
        return;
      }
      settled = true;
      clearTimeout(timer);
      opts.signal?.removeEventListener("abort", onAbort);
      try {
        resolveP(toResponse(res, method, opts, where));
      } catch (e) {
        res.destroy();
        rejectP(e);
      }
    });
    req.end(body ? Buffer.from(body.buffer, body.byteOffset, body.byteLength) : undefined);
  });
}

function toResponse(res: IncomingMessage, method: string, opts: HttpOptions, where: string): Response {
  const status = res.statusCode ?? 0;
  if (status < 200 || status > 599) {
    throw new RemoteError(`${opts.what}: the server returned an invalid HTTP status ${status}.`, {
      hint: "Check that the URL points at an HTTP server of the right kind (vLLM / NIM / vLLM-Omni).",
    });
  }
  const headers = new Headers();
  for (let i = 0; i + 1 < res.rawHeaders.length; i += 2) {
    try {
      headers.append(res.rawHeaders[i], res.rawHeaders[i + 1]);
    } catch { /* a header the Headers class refuses (fetch would drop it too) */ }
  }
  const init = { status, statusText: res.statusMessage ?? "", headers };
  if (status === 204 || status === 205 || status === 304 || method === "HEAD") {
    res.resume();
    return new Response(null, init);
  }
  return new Response(boundedBody(res, opts, where), init);
}

/** Decodes a gzip / deflate / br body (we send no Accept-Encoding, but a server may still compress). */
function decoded(res: IncomingMessage): Readable {
  const enc = String(res.headers["content-encoding"] ?? "").trim().toLowerCase();
  const z = enc === "gzip" || enc === "x-gzip"
    ? zlib.createGunzip()
    : enc === "deflate"
    ? zlib.createInflate()
    : enc === "br"
    ? zlib.createBrotliDecompress()
    : undefined;
  return z ? res.pipe(z) : res;
}

/**
 * The body as a web stream under two bounds: the idle gap between network chunks (not
 * counted while the reader is slow: backpressure pauses it) and the whole download.
 */
function boundedBody(res: IncomingMessage, opts: HttpOptions, where: string): ReadableStream<Uint8Array> {
  const idleMs = opts.idleTimeoutMs ?? DEFAULT_IDLE_TIMEOUT_MS;
  const wholeMs = opts.downloadTimeoutMs ?? DEFAULT_DOWNLOAD_TIMEOUT_MS;
  const source = decoded(res);
  let idle: ReturnType<typeof setTimeout> | undefined;
  let whole: ReturnType<typeof setTimeout> | undefined;
  let done = false;
  let paused = false;
  let onAbort = () => {};
  const stop = () => {
    done = true;
    clearTimeout(idle);
    clearTimeout(whole);
    opts.signal?.removeEventListener("abort", onAbort);
  };
  let armIdle = () => {};
  return new ReadableStream<Uint8Array>({
    start(ctrl) {
      const finish = (err?: unknown) => {
        if (done) return;
        stop();
        if (err === undefined) return ctrl.close();
        res.destroy();
        if (source !== res) source.destroy();
        ctrl.error(err);
      };
      armIdle = () => {
        clearTimeout(idle);
        idle = setTimeout(() => finish(timeoutError("idle", idleMs, opts.what, where)), idleMs);
      };
      whole = setTimeout(() => finish(timeoutError("download", wholeMs, opts.what, where)), wholeMs);
      onAbort = () => finish(new AbortError(undefined, { cause: opts.signal?.reason }));
      if (opts.signal?.aborted) return onAbort();
      opts.signal?.addEventListener("abort", onAbort, { once: true });
      res.on("data", () => {
        if (!paused && !done) armIdle();
      });
      source.on("data", (chunk: Buffer) => {
        if (done) return;
        ctrl.enqueue(new Uint8Array(chunk));
        if ((ctrl.desiredSize ?? 1) <= 0) {
          paused = true;
          clearTimeout(idle);
          source.pause();
        }
      });
      source.on("end", () => finish());
      source.on("error", (e) => finish(brokenError(e, opts.what, where)));
      res.on("close", () => {
        if (!res.complete) finish(brokenError(undefined, opts.what, where));
      });
      armIdle();
    },
    pull() {
      if (paused && !done) {
        paused = false;
        armIdle();
        source.resume();
      }
    },
    cancel() {
      stop();
      res.destroy();
      if (source !== res) source.destroy();
    },
  });
}

/** Reads a JSON body, or throws a {@link RemoteError} saying what the server returned instead. */
export async function readJson(res: Response, what: string, signal?: AbortSignal): Promise<unknown> {
  const text = await readText(res, signal, what);
  try {
    return JSON.parse(text);
  } catch (e) {
    const preview = text.trim() ? JSON.stringify(text.trim().slice(0, 200)) : "an empty body";
    throw new RemoteError(`${what}: the server returned something other than JSON: ${preview}`, {
      status: res.status,
      hint:
        "Check that the URL points at the right server (vLLM / NIM for reason(), vLLM-Omni for generate() and rollout()).",
      cause: e,
    });
  }
}

/** Reads a text body; an abort while reading throws {@link AbortError}, a stall a {@link TimeoutError}. */
export async function readText(res: Response, signal?: AbortSignal, what = "Reading the answer"): Promise<string> {
  try {
    return await res.text();
  } catch (e) {
    throw bodyError(e, signal, what);
  }
}

/** Reads a binary body; an abort while reading throws {@link AbortError}, a stall a {@link TimeoutError}. */
export async function readBytes(
  res: Response,
  signal?: AbortSignal,
  what = "Downloading the result",
): Promise<Uint8Array> {
  try {
    return new Uint8Array(await res.arrayBuffer());
  } catch (e) {
    throw bodyError(e, signal, what);
  }
}

function bodyError(e: unknown, signal: AbortSignal | undefined, what: string): CosmosError {
  if (e instanceof CosmosError) return e;
  if (signal?.aborted) return new AbortError(undefined, { cause: signal.reason });
  return new RemoteError(`${what}: the connection broke while reading the answer (${(e as Error)?.message ?? e}).`, {
    cause: e,
  });
}

/** Options of {@link downloadMedia}. */
export interface DownloadOptions extends HttpBounds {
  signal?: AbortSignal;
  /** The request field the URL came from, for messages (default "media"). */
  field?: string;
}

/**
 * Downloads an http(s):// image or video (the native path reads its bytes; vLLM-Omni wants
 * an upload) under the same bounds as every request: connect, first byte, idle gap, whole
 * download ({@link DEFAULT_DOWNLOAD_TIMEOUT_MS}).
 * @throws {MediaError} for an HTTP error status; {@link TimeoutError}, {@link RemoteError}
 * (unreachable host) or {@link AbortError} otherwise.
 * @example
 * ```ts
 * import { downloadMedia } from "./http.ts";
 * const png = await downloadMedia("https://example.com/robot.png", { field: "image", idleTimeoutMs: 10_000 });
 * ```
 */
export async function downloadMedia(url: string, opts: DownloadOptions = {}): Promise<Uint8Array> {
  const field = opts.field ?? "media";
  const what = `Downloading ${url} (${field})`;
  let res: Response;
  try {
    res = await request(url, { method: "GET" }, {
      ...boundsOf(opts),
      signal: opts.signal,
      what,
      retries: 2,
      retryBaseMs: 500,
    });
  } catch (e) {
    if (e instanceof RemoteError && !(e instanceof TimeoutError) && e.status !== undefined) {
      throw new MediaError(
        `${field}: cannot download ${url}: HTTP ${e.status}${
          e.serverMessage ? ` (${e.serverMessage.slice(0, 200)})` : ""
        }.`,
        {
          hint: "Check the URL (it must be reachable from this machine), or pass a local file.",
          cause: e,
        },
      );
    }
    throw e;
  }
  return await readBytes(res, opts.signal, what);
}
