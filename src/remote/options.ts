/**
 * The backend and options the remote clients take.
 *
 * @example
 * ```ts
 * import type { RemoteBackend, RemoteOptions } from "./options.ts";
 * const backend: RemoteBackend = { url: "http://127.0.0.1:8000/v1" };
 * const opts: RemoteOptions = { timeoutMs: 60_000, idleTimeoutMs: 30_000, onProgress: (p) => console.log(p.stage) };
 * ```
 * @module
 */
import type { ProgressEvent, TokenEvent } from "../schema/results.ts";
import type { HttpBounds } from "./http.ts";

/** A remote server: vLLM / NIM (Reasoner) or vLLM-Omni (Generator). */
export interface RemoteBackend {
  /** `http://host:port` or `http://host:port/v1`. */
  url: string;
  /** Served model name; asked from `GET /v1/models` when unset. */
  model?: string;
  apiKey?: string;
  /** Folder the server may read (its `--allowed-local-media-path`), as the server sees it. */
  allowedLocalMediaPath?: string;
}

/**
 * Options of the remote calls. The bounds (`connectTimeoutMs`, `timeoutMs`: until the
 * response headers of each request, default 10 min, video sync 11 min; `idleTimeoutMs`,
 * `downloadTimeoutMs`) are documented on {@link HttpBounds}.
 */
export interface RemoteOptions extends HttpBounds {
  signal?: AbortSignal;
  onToken?: (event: TokenEvent) => void;
  onProgress?: (event: ProgressEvent) => void;
  /** Retries on 429 / 503 (default 4). */
  retries?: number;
  /** First backoff delay in ms (default 1000). */
  retryBaseMs?: number;
  /** Async video jobs: ms between status polls (default 2000). */
  pollIntervalMs?: number;
  /** Async video jobs: give up after this many ms (default 2 h). */
  jobTimeoutMs?: number;
  /** Videos of generate() and forward dynamics as async jobs instead of `/v1/videos/sync` (default false). */
  videoJob?: boolean;
}
