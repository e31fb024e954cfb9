/**
 * JSON action chunks: `number[][]` of shape [T, D] (T steps of a D-dimensional action).
 * D depends on the embodiment (the table lives in src/schema); callers pass it. Wrong
 * shape, ragged rows and NaN/Infinity are rejected with a ValidationError that names the
 * row and column.
 *
 * @example
 * ```ts
 * import { parseActionChunk, writeActionChunk } from "./actions.ts";
 * const chunk = parseActionChunk([[0, 0, 0, 0, 0, 0, 0, 0, 1, 0]], { dim: 10 });
 * await writeActionChunk("/tmp/actions.json", chunk, { dim: 10 });
 * ```
 * @module
 */
import { readFile } from "node:fs/promises";
import { MediaError, ValidationError, type ValidationIssue } from "../errors.ts";
import { writeFileAtomic } from "./atomic.ts";
import { fsReason, localPath, parseDataUri } from "./source.ts";
import type { ActionChunk } from "../schema/embodiments.ts";

/** Options of the action readers/validators. */
export interface ActionShapeOptions {
  /** Expected action dimension D (e.g. 10 for a single-arm robot). */
  dim: number;
  /** Expected number of steps T, when fixed. */
  steps?: number;
  /** Field name used in error messages (default "actions"). */
  field?: string;
}

const MAX_ISSUES = 20;

/**
 * Checks that `value` is a [T, D] array of finite numbers and returns it typed.
 * Accepts a top-level array or an object with an `actions` array.
 * @throws {ValidationError} naming each bad row/column (first 20).
 */
export function parseActionChunk(value: unknown, opts: ActionShapeOptions): ActionChunk {
  const field = opts.field ?? "actions";
  const { dim } = opts;
  if (!Number.isInteger(dim) || dim <= 0) {
    throw new ValidationError([{
      field: "dim",
      value: dim,
      allowed: "a positive integer",
      message: "invalid action dimension",
    }]);
  }
  const rows = Array.isArray(value)
    ? value
    : value && typeof value === "object" && Array.isArray((value as { actions?: unknown }).actions)
    ? (value as { actions: unknown[] }).actions
    : undefined;
  const shape = `[T, ${dim}]`;
  if (!rows) {
    throw new ValidationError([{
      field,
      value,
      allowed: `a JSON array of shape ${shape}`,
      message: "not an array of action rows",
    }]);
  }
  if (rows.length === 0) {
    throw new ValidationError([{
      field,
      value: rows,
      allowed: `at least one row of ${dim} numbers`,
      message: "empty action chunk",
    }]);
  }
  if (opts.steps !== undefined && rows.length !== opts.steps) {
    throw new ValidationError([{
      field,
      value: `${rows.length} rows`,
      allowed: `${opts.steps} rows`,
      message: `expected ${opts.steps} steps, got ${rows.length}`,
    }]);
  }
  const issues: ValidationIssue[] = [];
  for (let t = 0; t < rows.length && issues.length < MAX_ISSUES; t++) {
    const row = rows[t];
    if (!Array.isArray(row)) {
      issues.push({
        field: `${field}[${t}]`,
        value: row,
        allowed: `an array of ${dim} numbers`,
        message: `row ${t} is not an array`,
      });
      continue;
    }
    if (row.length !== dim) {
      issues.push({
        field: `${field}[${t}]`,
        value: `${row.length} values`,
        allowed: `${dim} values (shape ${shape})`,
        message: `row ${t} has ${row.length} values, expected ${dim}`,
      });
      continue;
    }
    for (let d = 0; d < dim && issues.length < MAX_ISSUES; d++) {
      const x = row[d];
      if (typeof x !== "number" || !Number.isFinite(x)) {
        issues.push({
          field: `${field}[${t}][${d}]`,
          value: x,
          allowed: "a finite number",
          message: `row ${t}, column ${d} is ${
            typeof x === "number" ? String(x) : typeof x === "string" ? `the string "${x}"` : String(x)
          }`,
        });
      }
    }
  }
  if (issues.length) throw new ValidationError(issues);
  return rows as ActionChunk;
}

/**
 * Parses JSON text (or bytes) of an action chunk. `NaN`/`Infinity` literals, which Python's
 * `json.dump` writes by default, are read so they can be reported by position.
 */
export function parseActionJson(text: string | Uint8Array, opts: ActionShapeOptions): ActionChunk {
  const src = typeof text === "string" ? text : new TextDecoder().decode(text);
  let value: unknown;
  try {
    value = JSON.parse(src);
  } catch {
    try {
      // Python writes bare NaN / Infinity / -Infinity; turn them into markers outside strings
      const marked = src.replace(
        /("(?:[^"\\]|\\.)*")|(-?Infinity|NaN)/g,
        (m, str: string | undefined) => str !== undefined ? m : `"__nonfinite__${m}"`,
      );
      value = JSON.parse(
        marked,
        (_k, v) => typeof v === "string" && v.startsWith("__nonfinite__") ? Number(v.slice(13)) : v,
      );
    } catch (e) {
      // Only where it breaks: the parser's own message quotes the text, and an action path
      // pointed at the wrong file must not print that file's content.
      throw new MediaError(`${opts.field ?? "actions"}: the action file is not valid JSON${jsonErrorPlace(src, e)}.`, {
        hint: `Write it as a JSON array of rows, e.g. [[${Array(Math.min(opts.dim, 3)).fill(0).join(", ")}, …]].`,
      });
    }
  }
  return parseActionChunk(value, opts);
}

/** " (line L, column C)" of a JSON.parse error, from the position V8 reports; "" when it reports none. */
function jsonErrorPlace(text: string, e: unknown): string {
  const m = /position (\d+)/.exec((e as Error)?.message ?? "");
  if (!m) {
    if (!/^\s*[[{]/.test(text)) return " (it does not start with [ or {)";
    return /end of JSON input/.test((e as Error)?.message ?? "") ? " (it ends too early)" : "";
  }
  const before = text.slice(0, Number(m[1]));
  const line = before.split("\n").length;
  return ` (line ${line}, column ${before.length - before.lastIndexOf("\n")})`;
}

/**
 * Reads an action chunk from a JSON file path, `file://` URL or `data:application/json` URI.
 * @throws {MediaError} when the file is missing, unreadable or not JSON (never quoting its
 * content); {@link ValidationError} for a malformed `file://` URL or data URI, or bad rows.
 */
export async function readActionChunk(source: string, opts: ActionShapeOptions): Promise<ActionChunk> {
  const field = opts.field ?? "actions";
  let path: string | undefined;
  let data: Uint8Array | undefined;
  try {
    path = localPath(source);
    if (path === undefined) data = parseDataUri(source).data;
  } catch (e) {
    if (/^https?:\/\//i.test(source)) throw e; // a URL is not read here: localPath's MediaError says so
    throw new ValidationError([{
      field,
      value: source.length > 80 ? source.slice(0, 77) + "..." : source,
      allowed: "a JSON file path, a file:///absolute/path URL or a data:application/json URI",
      message: `malformed ${source.startsWith("data:") ? "data URI" : "file:// URL"} (${(e as Error).message})`,
    }]);
  }
  if (data) return parseActionJson(data, opts);
  let text: string;
  try {
    text = await readFile(path!, "utf8");
  } catch (e) {
    throw new MediaError(`${field}: the action file "${path}" ${fsReason(e)}.`, {
      hint: "Check the path (relative paths start at the current folder), or pass the rows inline.",
      cause: e,
    });
  }
  return parseActionJson(text, opts);
}

/** Validates and writes an action chunk as JSON (one row per line), atomically. */
export async function writeActionChunk(path: string, chunk: unknown, opts: ActionShapeOptions): Promise<string> {
  const rows = parseActionChunk(chunk, opts);
  const text = "[\n" + rows.map((r) => "  " + JSON.stringify(r)).join(",\n") + "\n]\n";
  return await writeFileAtomic(path, text);
}
