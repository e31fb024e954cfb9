/**
 * Validation of the options every call takes besides its request.
 *
 * @example
 * ```ts
 * import { checkRunOptions } from "./options.ts";
 * checkRunOptions({ signal: new AbortController().signal, timeoutMs: 60_000 }); // ok
 * try {
 *   checkRunOptions({ idleTimeoutMs: -1 });
 * } catch (e) {
 *   (e as Error).message; // a ValidationError naming options.idleTimeoutMs
 * }
 * ```
 * @module
 */
import { ValidationError, type ValidationIssue } from "../errors.ts";
import { BOUND_OPTIONS, boundIssues } from "../remote/http.ts";
import type { RunOptions } from "../schema/results.ts";

/** The option names that are bounds in milliseconds (each must be > 0 and fit a timer). */
export const RUN_BOUND_OPTIONS = [...BOUND_OPTIONS, "jobTimeoutMs", "pollIntervalMs", "retryBaseMs"] as const;

/** Throws a {@link ValidationError} naming the option when one has the wrong type. */
export function checkRunOptions(options: RunOptions): void {
  const issues: ValidationIssue[] = [];
  if (options === null || typeof options !== "object") {
    throw new ValidationError([{
      field: "options",
      value: options,
      allowed: "an object such as { backend, signal, onToken }",
      message: "not an object",
    }]);
  }
  if (options.signal !== undefined && !(options.signal instanceof AbortSignal)) {
    issues.push({
      field: "options.signal",
      value: options.signal,
      allowed: "an AbortSignal",
      message: "not an AbortSignal",
    });
  }
  for (const key of ["onProgress", "onToken"] as const) {
    if (options[key] !== undefined && typeof options[key] !== "function") {
      issues.push({ field: `options.${key}`, value: options[key], allowed: "a function", message: "not a function" });
    }
  }
  if (
    options.retries !== undefined &&
    !(Number.isInteger(options.retries) && options.retries >= 0 && options.retries <= 10)
  ) {
    issues.push({
      field: "options.retries",
      value: options.retries,
      allowed: "a whole number 0-10",
      message: "not a retry count",
    });
  }
  if (options.videoJob !== undefined && typeof options.videoJob !== "boolean") {
    issues.push({
      field: "options.videoJob",
      value: options.videoJob,
      allowed: "true | false",
      message: "not a boolean",
    });
  }
  issues.push(...boundIssues(options as Record<string, unknown>, RUN_BOUND_OPTIONS));
  if (issues.length) throw new ValidationError(issues);
}
