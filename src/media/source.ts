/**
 * Turns a media reference (path, `file://` URL, data URI, raw bytes or
 * `{ data, mimeType }`) into bytes or a local file path, the two things sharp and
 * ffmpeg can read.
 *
 * @example
 * ```ts
 * import { parseDataUri } from "./source.ts";
 * parseDataUri("data:image/png;base64,iVBORw0KGgo=").mimeType; // "image/png"
 * ```
 * @module
 */
import { Buffer } from "node:buffer";
import { randomBytes } from "node:crypto";
import { readFile, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { MediaError } from "../errors.ts";

/** Any media reference accepted by the media functions. */
export type MediaSource = string | Uint8Array | { data: Uint8Array; mimeType?: string };

/** Decodes a base64 (or percent-encoded) data URI. */
export function parseDataUri(uri: string): { mimeType: string; data: Uint8Array } {
  const m = /^data:([^;,]*)((?:;[^;,]*)*),(.*)$/s.exec(uri);
  if (!m) {
    throw new MediaError("Malformed data URI (expected data:<mime>;base64,<data>).", {
      hint: "Build it as `data:image/png;base64,` followed by the base64 bytes.",
    });
  }
  const mimeType = (m[1] || "text/plain").toLowerCase();
  const isBase64 = /;base64$/i.test(m[2]);
  const payload = m[3];
  if (isBase64) return { mimeType, data: new Uint8Array(Buffer.from(payload.replace(/\s+/g, ""), "base64")) };
  try {
    return { mimeType, data: new TextEncoder().encode(decodeURIComponent(payload)) };
  } catch (e) {
    throw new MediaError(
      "Malformed data URI: its percent-encoding is not valid (a % not followed by two hex digits).",
      {
        hint: "Encode the bytes as base64 instead: `data:<mime>;base64,` followed by the base64 bytes.",
        cause: e,
      },
    );
  }
}

const FS_REASONS: Record<string, string> = {
  ENOENT: "does not exist",
  EACCES: "cannot be read (permission denied)",
  EPERM: "cannot be read (permission denied)",
  EISDIR: "is a folder, not a file",
  ENOTDIR: "has a path through something that is not a folder",
  ENAMETOOLONG: "has a name that is too long",
  ELOOP: "has a symbolic link loop",
};

/** Why a file operation failed, in words (`"does not exist"`), never a raw `ENOENT`. */
export function fsReason(e: unknown): string {
  const code = String((e as { code?: unknown })?.code ?? "");
  return FS_REASONS[code] ?? `cannot be read (${code || (e as Error)?.message || String(e)})`;
}

/** Encodes bytes as a base64 data URI. */
export function toDataUri(data: Uint8Array, mimeType: string): string {
  return `data:${mimeType};base64,${Buffer.from(data.buffer, data.byteOffset, data.byteLength).toString("base64")}`;
}

/** Local path of a string reference, or undefined when it is a data URI. */
export function localPath(ref: string): string | undefined {
  if (ref.startsWith("data:")) return undefined;
  if (/^https?:\/\//i.test(ref)) {
    throw new MediaError(`Remote URL "${ref}" cannot be read locally.`, {
      hint: "Download it first, or pass the URL to a remote backend which fetches it itself.",
    });
  }
  if (!ref.startsWith("file://")) return ref;
  try {
    return fileURLToPath(ref);
  } catch (e) {
    throw new MediaError(
      `Malformed file:// URL "${ref.length > 80 ? ref.slice(0, 77) + "..." : ref}": ${(e as Error).message}`,
      {
        hint:
          "Write it as file:///absolute/path (no host; %-escapes only for bytes that are not a /), or pass the plain path.",
        cause: e,
      },
    );
  }
}

/** Reads any media reference to bytes. */
export async function readSourceBytes(src: MediaSource): Promise<{ data: Uint8Array; label: string }> {
  if (src instanceof Uint8Array) return { data: src, label: "media bytes" };
  if (typeof src !== "string") return { data: src.data, label: `${src.mimeType ?? "media"} bytes` };
  const path = localPath(src);
  if (path === undefined) return { data: parseDataUri(src).data, label: "data URI" };
  try {
    return { data: new Uint8Array(await readFile(path)), label: path };
  } catch (e) {
    throw new MediaError(`The file "${path}" ${fsReason(e)}.`, {
      hint: "Check the path (relative paths start at the current folder).",
      cause: e,
    });
  }
}

/** A local file for ffmpeg; `cleanup()` removes it when it was a temp copy. */
export interface LocalFile {
  path: string;
  label: string;
  cleanup(): Promise<void>;
}

/** Gives a readable local path for a reference, writing bytes/data URIs to a temp file. */
export async function materialize(src: MediaSource, ext = ".bin"): Promise<LocalFile> {
  if (typeof src === "string") {
    const path = localPath(src);
    if (path !== undefined) {
      let st;
      try {
        st = await stat(path);
      } catch (e) {
        throw new MediaError(`Cannot read "${path}": ${(e as Error).message}`, {
          hint: "Check the path (relative paths start at the current folder).",
          cause: e,
        });
      }
      if (!st.isFile() && !st.isFIFO()) {
        throw new MediaError(`"${path}" is not a file.`, { hint: "Pass the path of an MP4 file." });
      }
      return { path, label: path, cleanup: async () => {} };
    }
  }
  const { data, label } = await readSourceBytes(src);
  const path = join(tmpdir(), `cosmos-media-${randomBytes(8).toString("hex")}${ext}`);
  await writeFile(path, data);
  return { path, label, cleanup: () => rm(path, { force: true }) };
}
