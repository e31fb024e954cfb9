/**
 * Atomic file output: write to a hidden temp file in the destination folder, then
 * rename it over the destination, so a failed or aborted write never leaves a
 * half-written file behind.
 *
 * @example
 * ```ts
 * import { writeFileAtomic } from "./atomic.ts";
 * await writeFileAtomic("/tmp/out.json", new TextEncoder().encode("[]"));
 * ```
 * @module
 */
import { randomBytes } from "node:crypto";
import { mkdir, rename, rm, writeFile } from "node:fs/promises";
import { basename, dirname, join, resolve } from "node:path";

/** A temp path beside `output` (same folder, so the final rename is atomic). */
export function tempPathFor(output: string): string {
  const abs = resolve(output);
  return join(dirname(abs), `.${basename(abs)}.${randomBytes(6).toString("hex")}.partial`);
}

/**
 * Runs `write(tmpPath)`, then renames the temp file to `output`. On any error the temp
 * file is removed and the error is re-thrown; `output` is left untouched.
 * @returns the absolute output path.
 */
export async function withAtomicOutput(
  output: string,
  write: (tmpPath: string) => Promise<void>,
): Promise<string> {
  const abs = resolve(output);
  await mkdir(dirname(abs), { recursive: true });
  const tmp = tempPathFor(abs);
  try {
    await write(tmp);
    await rename(tmp, abs);
    return abs;
  } catch (e) {
    await rm(tmp, { force: true });
    throw e;
  }
}

/** Writes bytes to `output` atomically (temp file + rename). */
export async function writeFileAtomic(output: string, data: Uint8Array | string): Promise<string> {
  return await withAtomicOutput(output, (tmp) => writeFile(tmp, data));
}
