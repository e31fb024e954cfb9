/**
 * Maps errors thrown by the native module (JS Errors with a `code` such as `SAFETENSORS_OFFSETS`,
 * `MODEL`, `BUSY`) onto cosmos-ts's typed errors.
 *
 * @example
 * ```ts
 * import { fromNative } from "./errors.ts";
 * const e = fromNative(Object.assign(new Error("bad"), { code: "SAFETENSORS_HEADER_JSON" }));
 * e.name; // "CheckpointError"
 * ```
 * @module
 */
import { AbortError, CheckpointError, CosmosError, NativeError, ValidationError } from "../errors.ts";

/** The `code` a native error carries, or "" when it has none. */
export function nativeCode(e: unknown): string {
  const c = (e as { code?: unknown } | null)?.code;
  return typeof c === "string" ? c : "";
}

/**
 * Converts an error from the native module into a {@link CosmosError}.
 *
 * @example
 * ```ts
 * import { fromNative } from "./errors.ts";
 * fromNative(new Error("x")).name; // "NativeError"
 * ```
 */
export function fromNative(e: unknown): CosmosError {
  if (e instanceof CosmosError) return e;
  const code = nativeCode(e);
  const msg = e instanceof Error ? e.message : String(e);
  if (code.startsWith("SAFETENSORS_")) {
    return new CheckpointError(`Corrupt or unreadable checkpoint (${code}): ${msg}`, {
      hint: "re-download the checkpoint or check the path; the file failed validation before any weight was read",
      cause: e,
    });
  }
  if (code === "MODEL" || code === "CONFIG") {
    return new CheckpointError(`The checkpoint does not fit the Qwen3 text decoder (${code}): ${msg}`, {
      hint: "check config.json (text_config) against the safetensors tensor names and shapes",
      cause: e,
    });
  }
  if (code === "ABORTED") return new AbortError(undefined, { cause: e });
  if (code === "ARGUMENT") {
    return new ValidationError([{ field: "native", value: undefined, allowed: "see the message", message: msg }]);
  }
  if (code === "BUSY") {
    return new NativeError(msg, { hint: "await the running generate() or call abort() first", cause: e });
  }
  if (code === "FREED") return new NativeError(msg, { hint: "load the model again", cause: e });
  if (code === "TENSOR_FREED") {
    return new NativeError(msg, {
      hint:
        "a tensor lives until dispose() or until the model that made it is freed (its session closed): run that model again",
      cause: e,
    });
  }
  if (code === "OUT_OF_MEMORY") {
    return new NativeError(`Out of memory: ${msg}`, {
      hint:
        "free loaded checkpoints (closeNative()), shorten the prompt or the video (fewer frames, a smaller tier), or use a smaller checkpoint",
      cause: e,
    });
  }
  return new NativeError(`Native engine error${code ? ` (${code})` : ""}: ${msg}`, { cause: e });
}
