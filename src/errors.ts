/**
 * Typed errors shared by every part of cosmos-ts.
 *
 * Each error carries a stable `code`, a message that says what went wrong and
 * a `hint` that says what to do next. Catch the base class to handle them all:
 *
 * @example
 * ```ts
 * import { CosmosError, ValidationError } from "./errors.ts";
 * try {
 *   throw new ValidationError([{ field: "fps", value: 25, allowed: "10 | 16 | 24 | 30", message: "unsupported fps" }]);
 * } catch (e) {
 *   if (e instanceof CosmosError) console.log(e.code, e.message);
 * }
 * ```
 * @module
 */

/** Base class of every error thrown on purpose by cosmos-ts. */
export class CosmosError extends Error {
  /** Stable machine-readable code, e.g. `"invalid_request"`. */
  readonly code: string;
  /** What the user can do about it. */
  readonly hint?: string;
  constructor(code: string, message: string, options: { hint?: string; cause?: unknown } = {}) {
    super(options.hint ? `${message}\n→ ${options.hint}` : message, { cause: options.cause });
    this.name = new.target.name;
    this.code = code;
    this.hint = options.hint;
  }
}

/** One rejected field of a request. */
export interface ValidationIssue {
  /** Dotted path of the field, e.g. `"settings.fps"` or `"messages.1.content.0.type"`. */
  field: string;
  /** The value that was given (`undefined` when missing). */
  value: unknown;
  /** Human-readable description of what is allowed, e.g. `"10 | 16 | 24 | 30"`. */
  allowed: string;
  /** Short explanation. */
  message: string;
}

/** A request or setting that does not follow the Cosmos 3 spec. */
export class ValidationError extends CosmosError {
  readonly issues: ValidationIssue[];
  /** The first rejected field (the most useful one in a notebook). */
  readonly field: string;
  readonly value: unknown;
  readonly allowed: string;
  constructor(issues: ValidationIssue[]) {
    const lines = issues.map((i) =>
      `${i.field || "(request)"}: ${i.message} (got ${formatValue(i.value)}; allowed: ${i.allowed})`
    );
    super("invalid_request", `Invalid request:\n  ${lines.join("\n  ")}`);
    this.issues = issues;
    this.field = issues[0]?.field ?? "";
    this.value = issues[0]?.value;
    this.allowed = issues[0]?.allowed ?? "";
  }
}

/** Unreadable, corrupt or unsupported media (image, video, audio, action file). */
export class MediaError extends CosmosError {
  constructor(message: string, options: { hint?: string; cause?: unknown } = {}) {
    super("media_error", message, options);
  }
}

/** A checkpoint folder, config.json, tokenizer.json or safetensors file that cannot be used. */
export class CheckpointError extends CosmosError {
  constructor(message: string, options: { hint?: string; cause?: unknown } = {}) {
    super("checkpoint_error", message, options);
  }
}

/** A remote server (vLLM, NIM, vLLM-Omni) answered with an error or could not be reached. */
export class RemoteError extends CosmosError {
  /** HTTP status, when the server answered. */
  readonly status?: number;
  /** The server's own error message or body, when it answered. */
  readonly serverMessage?: string;
  constructor(
    message: string,
    options: { status?: number; serverMessage?: string; hint?: string; cause?: unknown } = {},
  ) {
    super("remote_error", message, options);
    this.status = options.status;
    this.serverMessage = options.serverMessage;
  }
}

/** The network phase whose bound ran out (see the `DEFAULT_*_TIMEOUT_MS` constants of src/remote/http.ts). */
export type TimeoutPhase = "connect" | "first_byte" | "idle" | "download" | "job";

/**
 * A wait ran past its bound: opening the connection, the response headers, the gap between
 * two stream events or body chunks, a whole download, or an asynchronous job. A
 * {@link RemoteError} (the server did not answer in time) with the `phase` and the option
 * that raises the bound, so `catch (e) { if (e instanceof TimeoutError) … }` can retry.
 */
export class TimeoutError extends RemoteError {
  override readonly code: string = "timeout";
  /** Which wait ran out. */
  readonly phase: TimeoutPhase;
  /** The bound that ran out, in milliseconds. */
  readonly timeoutMs: number;
  /** The option that sets this bound, e.g. `"idleTimeoutMs"`. */
  readonly option: string;
  constructor(
    message: string,
    options: { phase: TimeoutPhase; timeoutMs: number; option: string; hint?: string; cause?: unknown },
  ) {
    super(message, { hint: options.hint, cause: options.cause });
    this.phase = options.phase;
    this.timeoutMs = options.timeoutMs;
    this.option = options.option;
  }
}

/** The native engine failed (out of memory, no device, internal error). */
export class NativeError extends CosmosError {
  constructor(message: string, options: { hint?: string; cause?: unknown } = {}) {
    super("native_error", message, options);
  }
}

/** The work was cancelled through an AbortSignal. */
export class AbortError extends CosmosError {
  constructor(message = "The operation was aborted.", options: { cause?: unknown } = {}) {
    super("aborted", message, options);
  }
}

/** A feature the chosen backend does not provide (yet). */
export class UnsupportedError extends CosmosError {
  constructor(message: string, options: { hint?: string; cause?: unknown } = {}) {
    super("unsupported", message, options);
  }
}

/** Throws {@link AbortError} when `signal` is aborted. */
export function throwIfAborted(signal?: AbortSignal): void {
  if (signal?.aborted) throw new AbortError(undefined, { cause: signal.reason });
}

function formatValue(v: unknown): string {
  if (v === undefined) return "nothing";
  try {
    const s = JSON.stringify(v);
    return s.length > 80 ? s.slice(0, 77) + "..." : s;
  } catch {
    return String(v);
  }
}
