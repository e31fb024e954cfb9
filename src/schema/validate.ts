/**
 * Turns zod failures into {@link ValidationError}s that name the field, the value
 * given and what is allowed.
 *
 * @example
 * ```ts
 * import { z } from "zod";
 * import { parseWith } from "./validate.ts";
 * const fps = parseWith(z.union([z.literal(24), z.literal(30)]), 24, "fps"); // 24
 * ```
 * @module
 */
import { z } from "zod";
import { ValidationError, type ValidationIssue } from "../errors.ts";

/** Reads the value at a zod issue path inside the input. */
function valueAt(input: unknown, path: readonly PropertyKey[]): unknown {
  let v: unknown = input;
  for (const key of path) {
    if (v === null || typeof v !== "object") return undefined;
    v = (v as Record<PropertyKey, unknown>)[key];
  }
  return v;
}

function describeAllowed(issue: z.core.$ZodIssue): string {
  switch (issue.code) {
    case "invalid_value":
      return issue.values.map((v) => JSON.stringify(v)).join(" | ");
    case "too_small":
      return `${
        issue.origin === "array"
          ? "at least " + String(issue.minimum) + " items"
          : issue.origin === "string"
          ? "at least " + String(issue.minimum) + " characters"
          : (issue.inclusive ? ">= " : "> ") + String(issue.minimum)
      }`;
    case "too_big":
      return `${
        issue.origin === "array"
          ? "at most " + String(issue.maximum) + " items"
          : issue.origin === "string"
          ? "at most " + String(issue.maximum) + " characters"
          : (issue.inclusive ? "<= " : "< ") + String(issue.maximum)
      }`;
    case "invalid_type":
      return issue.expected;
    case "not_multiple_of":
      return `a multiple of ${String(issue.divisor)}`;
    case "unrecognized_keys":
      return "no other keys";
    case "invalid_union": {
      const alts = issue.errors.map((errs) => errs.map(describeAllowed).join(", ")).filter(Boolean);
      return alts.length ? alts.join(" or ") : "one of the documented shapes";
    }
    case "invalid_format":
      return `a ${issue.format}`;
    case "custom": {
      const allowed = issue.params?.allowed;
      return typeof allowed === "string" ? allowed : "see the message";
    }
    default:
      return "see the message";
  }
}

/**
 * A union fails as a whole; when exactly one of its branches matched the value's
 * type (e.g. the array branch of `string | Part[]` for an array), its deeper issues
 * say more than "no branch matched", so they replace the union issue.
 */
function flattenUnions(issues: readonly z.core.$ZodIssue[]): z.core.$ZodIssue[] {
  return issues.flatMap((issue) => {
    if (issue.code !== "invalid_union") return [issue];
    const matching = issue.errors.filter((branch) =>
      !branch.some((sub) => sub.code === "invalid_type" && sub.path.length === 0)
    );
    if (matching.length !== 1) return [issue];
    return flattenUnions(matching[0].map((sub) => ({ ...sub, path: [...issue.path, ...sub.path] })));
  });
}

/** Converts a zod error into our issues list; `prefix` is prepended to every field path. */
export function toIssues(error: z.ZodError, input: unknown, prefix = ""): ValidationIssue[] {
  return flattenUnions(error.issues).map((issue) => {
    const path = issue.path.map(String).join(".");
    const field = [prefix, path].filter(Boolean).join(".");
    const value = issue.code === "unrecognized_keys" ? issue.keys : valueAt(input, issue.path);
    return { field, value, allowed: describeAllowed(issue), message: issue.message };
  });
}

/**
 * Parses `input` with `schema`; on failure throws a {@link ValidationError} whose
 * fields are prefixed with `prefix` (e.g. `"request"`).
 */
export function parseWith<S extends z.ZodType>(schema: S, input: unknown, prefix = ""): z.output<S> {
  const result = schema.safeParse(input);
  if (!result.success) throw new ValidationError(toIssues(result.error, input, prefix));
  return result.data;
}
