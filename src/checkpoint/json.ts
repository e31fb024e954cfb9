/**
 * Reading a checkpoint's JSON files with zod, failing with a {@link CheckpointError} that names
 * the file and every bad field (dotted path, what was found, what is expected).
 *
 * @example
 * ```ts
 * import { z } from "zod";
 * import { parseJsonFile } from "./json.ts";
 * const cfg = await parseJsonFile("test/fixtures/qwen3vl-tiny/config.json", z.looseObject({ model_type: z.string() }));
 * cfg.model_type; // "qwen3_vl"
 * ```
 * @module
 */
import { readFile } from "node:fs/promises";
import type { z } from "zod";
import { CheckpointError } from "../errors.ts";

function valueAt(input: unknown, path: readonly PropertyKey[]): unknown {
  let v: unknown = input;
  for (const k of path) {
    if (v === null || typeof v !== "object") return undefined;
    v = (v as Record<PropertyKey, unknown>)[k];
  }
  return v;
}

function show(v: unknown): string {
  if (v === undefined) return "nothing";
  const s = JSON.stringify(v) ?? String(v);
  return s.length > 60 ? s.slice(0, 57) + "..." : s;
}

/**
 * Validates `data` (the content of `file`) with `schema`, or throws a {@link CheckpointError}.
 *
 * @example
 * ```ts
 * import { z } from "zod";
 * import { parseJsonValue } from "./json.ts";
 * parseJsonValue("config.json", { n: 2 }, z.object({ n: z.number() })); // { n: 2 }
 * ```
 */
export function parseJsonValue<S extends z.ZodType>(file: string, data: unknown, schema: S): z.infer<S> {
  const r = schema.safeParse(data);
  if (r.success) return r.data;
  const lines = r.error.issues.map((i) => {
    const field = i.path.map(String).join(".") || "(root)";
    const value = valueAt(data, i.path);
    if (value === undefined && i.code === "invalid_type") return `${field}: missing (expected ${i.expected})`;
    return `${field}: ${i.message} (got ${show(value)})`;
  });
  throw new CheckpointError(`${file}: ${lines.length === 1 ? lines[0] : "\n  " + lines.join("\n  ")}`, {
    hint:
      "The checkpoint's file is not what this loader expects: use the files that came with the model (or fix the field named).",
  });
}

/**
 * Reads JSON from `path`; `undefined` when the file does not exist and `optional` is set.
 *
 * @example
 * ```ts
 * import { readJsonFile } from "./json.ts";
 * await readJsonFile("test/fixtures/qwen3vl-tiny/no-such.json", true); // undefined
 * ```
 */
export async function readJsonFile(path: string, optional = false): Promise<unknown> {
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (e) {
    if (optional && (e as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw new CheckpointError(`Cannot read ${path}: ${(e as Error).message}`, {
      hint: "Check the checkpoint folder: the file is missing or unreadable (download the model again).",
      cause: e,
    });
  }
  try {
    return JSON.parse(text);
  } catch (e) {
    throw new CheckpointError(`${path} is not valid JSON: ${(e as Error).message}`, {
      hint: "The file is corrupt or truncated; download it again.",
      cause: e,
    });
  }
}

/**
 * {@link readJsonFile} then {@link parseJsonValue}.
 *
 * @example
 * ```ts
 * import { z } from "zod";
 * import { parseJsonFile } from "./json.ts";
 * await parseJsonFile("test/fixtures/qwen3vl-tiny/generation_config.json", z.looseObject({ top_k: z.number() }));
 * ```
 */
export async function parseJsonFile<S extends z.ZodType>(path: string, schema: S): Promise<z.infer<S>> {
  return parseJsonValue(path, await readJsonFile(path), schema);
}
