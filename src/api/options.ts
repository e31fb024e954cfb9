/**
 * Validation of the options every call takes besides its request.
 *
 * @example
 * ```ts
 * import { checkRunOptions } from "./options.ts";
 * checkRunOptions({ signal: new AbortController().signal }); // ok
 * ```
 * @module
 */
import { ValidationError } from "../errors.ts";
import type { RunOptions } from "../schema/results.ts";

/** Throws a {@link ValidationError} naming the option when one has the wrong type. */
export function checkRunOptions(options: RunOptions): void {
  const issues = [];
  if (options.signal !== undefined && !(options.signal instanceof AbortSignal)) {
    issues.push({ field: "options.signal", value: options.signal, allowed: "an AbortSignal", message: "not an AbortSignal" });
  }
  for (const key of ["onProgress", "onToken"] as const) {
    if (options[key] !== undefined && typeof options[key] !== "function") {
      issues.push({ field: `options.${key}`, value: options[key], allowed: "a function", message: "not a function" });
    }
  }
  if (issues.length) throw new ValidationError(issues);
}
