/**
 * HTTP plumbing of the remote clients: base URLs, a per-request timeout, retries with
 * exponential backoff on 429 / 503 only (honouring `Retry-After`), cancellation through
 * an AbortSignal ({@link AbortError}), and {@link RemoteError}s that carry the status,
 * the server's own message (OpenAI `{"error": {"message"}}` or FastAPI `{"detail"}`)
 * and a hint.
 *
 * @example
 * ```ts
 * import { apiBase, request } from "./http.ts";
 * const res = await request(`${apiBase("http://127.0.0.1:8000")}/models`, { method: "GET" }, { what: "Listing models" });
 * console.log(await res.json());
 * ```
 * @module
 */
import { AbortError, RemoteError } from "../errors.ts";

/** Options shared by every remote call. */
export interface HttpOptions {
  signal?: AbortSignal;
  /** Milliseconds until the response headers arrive (default 10 minutes). */
  timeoutMs?: number;
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
}

/** Default time to wait for response headers: 10 minutes (a long non-streamed answer). */
export const DEFAULT_TIMEOUT_MS = 10 * 60_000;

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
  if (status === 413) return "The request is too large; send smaller media or pass URLs / files under --allowed-local-media-path.";
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
    `${what} failed: HTTP ${res.status}${res.statusText ? " " + res.statusText : ""}${serverMessage ? `: ${serverMessage}` : ""}`,
    { status: res.status, serverMessage, hint: hintFor(res.status, serverMessage, extraHint) },
  );
}

/**
 * One HTTP request with timeout, retries on 429/503 and cancellation. Resolves with a
 * 2xx response whose body is still unread (it stays tied to `opts.signal`).
 * @throws {RemoteError} for other statuses and network failures; {@link AbortError} on abort.
 */
export async function request(url: string, init: RequestInit, opts: HttpOptions): Promise<Response> {
  const retries = opts.retries ?? 4;
  const headers = new Headers(init.headers);
  if (opts.apiKey) headers.set("Authorization", `Bearer ${opts.apiKey}`);
  for (let attempt = 0;; attempt++) {
    const res = await once(url, { ...init, headers }, opts);
    if (res.ok) return res;
    if ((res.status === 429 || res.status === 503) && attempt < retries) {
      const backoff = (opts.retryBaseMs ?? 1000) * 2 ** attempt;
      const wait = Math.min(retryAfterMs(res.headers.get("retry-after")) ?? backoff, opts.retryMaxMs ?? 60_000);
      await res.body?.cancel().catch(() => {});
      await sleep(wait, opts.signal);
      continue;
    }
    throw await remoteErrorOf(res, opts.what, opts.hint);
  }
}

async function once(url: string, init: RequestInit, opts: HttpOptions): Promise<Response> {
  if (opts.signal?.aborted) throw new AbortError(undefined, { cause: opts.signal.reason });
  const ctrl = new AbortController();
  const onAbort = () => ctrl.abort(opts.signal?.reason);
  opts.signal?.addEventListener("abort", onAbort, { once: true });
  const timeoutMs = opts.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    ctrl.abort(new Error("timeout"));
  }, timeoutMs);
  try {
    const res = await fetch(url, { ...init, signal: ctrl.signal });
    return res;
  } catch (e) {
    opts.signal?.removeEventListener("abort", onAbort);
    if (opts.signal?.aborted) throw new AbortError(undefined, { cause: opts.signal.reason });
    if (timedOut) {
      throw new RemoteError(`${opts.what} timed out after ${Math.round(timeoutMs / 1000)} s waiting for ${url}.`, {
        hint: "The server may be overloaded or still loading the model; raise timeoutMs or try again.",
        cause: e,
      });
    }
    throw new RemoteError(`${opts.what} failed: cannot reach ${url} (${(e as Error).message}).`, {
      hint: "Is the server started and listening on that host and port? (vLLM-Omni prints \"Application startup complete.\" when ready.)",
      cause: e,
    });
  } finally {
    clearTimeout(timer);
  }
}

/** Reads a JSON body, or throws a {@link RemoteError} saying the server sent something else. */
export async function readJson(res: Response, what: string, signal?: AbortSignal): Promise<unknown> {
  const text = await readText(res, signal);
  try {
    return JSON.parse(text);
  } catch (e) {
    throw new RemoteError(`${what}: the server answered with something other than JSON: ${text.slice(0, 200)}`, {
      status: res.status,
      hint: "Check that the URL points at the right server (vLLM / NIM / vLLM-Omni).",
      cause: e,
    });
  }
}

/** Reads a text body; an abort while reading throws {@link AbortError}. */
export async function readText(res: Response, signal?: AbortSignal): Promise<string> {
  try {
    return await res.text();
  } catch (e) {
    if (signal?.aborted) throw new AbortError(undefined, { cause: signal.reason });
    throw new RemoteError(`The connection broke while reading the answer (${(e as Error).message}).`, { cause: e });
  }
}

/** Reads a binary body; an abort while reading throws {@link AbortError}. */
export async function readBytes(res: Response, signal?: AbortSignal): Promise<Uint8Array> {
  try {
    return new Uint8Array(await res.arrayBuffer());
  } catch (e) {
    if (signal?.aborted) throw new AbortError(undefined, { cause: signal.reason });
    throw new RemoteError(`The connection broke while downloading the result (${(e as Error).message}).`, { cause: e });
  }
}
