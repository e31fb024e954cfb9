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
import { ActionStats, type NormalizationMethod, statsIssues } from "../schema/action_normalization.ts";
import { type ActionChunk, actionRowIssues } from "../schema/embodiments.ts";
import { parseWith } from "../schema/validate.ts";

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
  const issues: ValidationIssue[] = actionRowIssues(rows, dim, { limit: MAX_ISSUES }).map((i) => ({
    field: `${field}${i.path.map((k) => `[${k}]`).join("")}`,
    value: i.value,
    allowed: i.allowed,
    message: i.message,
  }));
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
 * The bytes or text of a JSON source: a file path, `file://` URL or `data:application/json` URI.
 * @throws {MediaError} when the file is missing or unreadable; {@link ValidationError} for a
 * malformed URL or data URI.
 */
async function readJsonSource(source: string, field: string, what: string): Promise<string | Uint8Array> {
  let path: string | undefined;
  try {
    path = localPath(source);
    if (path === undefined) return parseDataUri(source).data;
  } catch (e) {
    if (/^https?:\/\//i.test(source)) throw e; // a URL is not read here: localPath's MediaError says so
    throw new ValidationError([{
      field,
      value: source.length > 80 ? source.slice(0, 77) + "..." : source,
      allowed: "a JSON file path, a file:///absolute/path URL or a data:application/json URI",
      message: `malformed ${source.startsWith("data:") ? "data URI" : "file:// URL"} (${(e as Error).message})`,
    }]);
  }
  try {
    return await readFile(path, "utf8");
  } catch (e) {
    throw new MediaError(`${field}: the ${what} "${path}" ${fsReason(e)}.`, {
      hint: "Check the path (relative paths start at the current folder), or pass the values inline.",
      cause: e,
    });
  }
}

/**
 * Reads an action chunk from a JSON file path, `file://` URL or `data:application/json` URI.
 * @throws {MediaError} when the file is missing, unreadable or not JSON (never quoting its
 * content); {@link ValidationError} for a malformed `file://` URL or data URI, or bad rows.
 */
export async function readActionChunk(source: string, opts: ActionShapeOptions): Promise<ActionChunk> {
  return parseActionJson(await readJsonSource(source, opts.field ?? "actions", "action file"), opts);
}

/**
 * Reads a domain's action statistics (cosmos-framework's `normalizer_stats/*.json`: `{"q01": [...],
 * "q99": [...]}`) and checks that `method` finds its two entries, each `dim` wide.
 * @throws {MediaError} when the file is missing, unreadable or not JSON (never quoting it);
 * {@link ValidationError} naming the entry that is missing, mis-sized or not finite.
 * @example
 * ```ts
 * import { readActionStats } from "./actions.ts";
 * const uri = "data:application/json," + encodeURIComponent('{"q01": [0, 0], "q99": [1, 2]}');
 * (await readActionStats(uri, { dim: 2, method: "quantile" })).q99; // [1, 2]
 * ```
 */
export async function readActionStats(
  source: string,
  opts: { dim: number; method: NormalizationMethod; field?: string },
): Promise<ActionStats> {
  const field = opts.field ?? "normalization.stats";
  const raw = await readJsonSource(source, field, "statistics file");
  const text = typeof raw === "string" ? raw : new TextDecoder().decode(raw);
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (e) {
    throw new MediaError(`${field}: the statistics file is not valid JSON${jsonErrorPlace(text, e)}.`, {
      hint: 'Give a JSON object like cosmos-framework\'s normalizer_stats files: {"q01": [...], "q99": [...]}.',
    });
  }
  const stats = parseWith(ActionStats, value, field);
  const issues = statsIssues(stats, opts.method, opts.dim);
  if (issues.length) {
    throw new ValidationError(issues.map(([key, message]) => ({
      field: `${field}.${key}`,
      value: stats[key] ? `${stats[key].length} values` : undefined,
      allowed: `${opts.dim} finite numbers`,
      message,
    })));
  }
  return stats;
}

/** Validates and writes an action chunk as JSON (one row per line), atomically. */
export async function writeActionChunk(path: string, chunk: unknown, opts: ActionShapeOptions): Promise<string> {
  const rows = parseActionChunk(chunk, opts);
  const text = "[\n" + rows.map((r) => "  " + JSON.stringify(r)).join(",\n") + "\n]\n";
  return await writeFileAtomic(path, text);
}
