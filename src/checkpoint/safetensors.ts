/**
 * The header of a `.safetensors` file: tensor names, dtypes and shapes, read without the data
 * (only the 8-byte length and the JSON header are read). Used to list what a checkpoint stores
 * before the native engine maps the files (the Cosmos 3 und-tower name map is built from it).
 *
 * @example
 * ```ts
 * import { readSafetensorsHeader } from "./safetensors.ts";
 * const h = await readSafetensorsHeader("test/fixtures/qwen3vl-tiny/model.safetensors");
 * h.tensors["lm_head.weight"].shape; // [1426, 64]
 * ```
 * @module
 */
import { open } from "node:fs/promises";
import { z } from "zod";
import { CheckpointError } from "../errors.ts";
import { parseJsonValue } from "./json.ts";

/** One tensor's entry in the header. */
export const SafetensorsTensorJson = z.strictObject({
  dtype: z.string().min(1),
  shape: z.array(z.number().int().nonnegative()),
  data_offsets: z.tuple([z.number().int().nonnegative(), z.number().int().nonnegative()]),
});
/** @see {@link SafetensorsTensorJson} */
export type SafetensorsTensorJson = z.infer<typeof SafetensorsTensorJson>;

/** A parsed header: tensors by name and the optional `__metadata__` strings. */
export interface SafetensorsHeader {
  tensors: Record<string, SafetensorsTensorJson>;
  metadata: Record<string, string>;
}

// The format's reference implementation refuses headers over 100 MB; so does the native reader.
const MAX_HEADER_BYTES = 100 * 1024 * 1024;

/**
 * Reads and validates the header of the safetensors file `path`.
 * @throws {CheckpointError} naming the file when it cannot be read or its header is malformed.
 *
 * @example
 * ```ts
 * import { readSafetensorsHeader } from "./safetensors.ts";
 * Object.keys((await readSafetensorsHeader("test/fixtures/qwen3vl-tiny/model.safetensors")).tensors).length > 0; // true
 * ```
 */
export async function readSafetensorsHeader(path: string): Promise<SafetensorsHeader> {
  const bad = (what: string, cause?: unknown) =>
    new CheckpointError(`${path} is not a valid safetensors file: ${what}.`, {
      hint: "The file is corrupt or truncated; download the checkpoint again.",
      cause,
    });
  let file;
  try {
    file = await open(path, "r");
  } catch (e) {
    throw new CheckpointError(`Cannot read ${path}: ${(e as Error).message}`, {
      hint: "Check the checkpoint folder: the weights file is missing or unreadable (download the model again).",
      cause: e,
    });
  }
  try {
    const { size } = await file.stat();
    const head = Buffer.alloc(8);
    if (size < 8 || (await file.read(head, 0, 8, 0)).bytesRead !== 8) {
      throw bad("shorter than its 8-byte header length");
    }
    const n = head.readBigUInt64LE(0);
    if (n > BigInt(Math.min(MAX_HEADER_BYTES, size - 8))) throw bad(`header length ${n} exceeds the file or 100 MB`);
    const text = Buffer.alloc(Number(n));
    await file.read(text, 0, text.length, 8);
    let json: unknown;
    try {
      json = JSON.parse(text.toString("utf8"));
    } catch (e) {
      throw bad("its header is not JSON", e);
    }
    if (json === null || typeof json !== "object" || Array.isArray(json)) throw bad("its header is not a JSON object");
    const { __metadata__: meta, ...entries } = json as Record<string, unknown>;
    const tensors = parseJsonValue(`${path} (header)`, entries, z.record(z.string(), SafetensorsTensorJson));
    const dataBytes = size - 8 - Number(n);
    for (const [name, t] of Object.entries(tensors)) {
      if (t.data_offsets[0] > t.data_offsets[1] || t.data_offsets[1] > dataBytes) {
        throw bad(`tensor ${JSON.stringify(name)} has data_offsets outside the data section`);
      }
    }
    const metadata = meta === undefined
      ? {}
      : parseJsonValue(`${path} (header)`, meta, z.record(z.string(), z.string()));
    return { tensors, metadata };
  } finally {
    await file.close();
  }
}
