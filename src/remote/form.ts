/**
 * multipart/form-data bodies for vLLM-Omni's `/v1/videos` endpoints with curl's
 * `--form-string` semantics: every text field is sent verbatim (a `;` in a prompt is
 * never read as a content-type separator, as `curl -F` would), and the conditioning
 * image or video goes up as the `input_reference` file.
 *
 * @example
 * ```ts
 * import { videoForm } from "./form.ts";
 * const form = videoForm([["prompt", "A robot; then a box."], ["num_frames", "21"]]);
 * form.get("prompt"); // "A robot; then a box."
 * ```
 * @module
 */
import { Buffer } from "node:buffer";
import { readFile } from "node:fs/promises";
import { basename, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { MediaError } from "../errors.ts";
import type { ImageInput, VideoInput } from "../schema/media_input.ts";
import { isRemoteUrl } from "../schema/media_input.ts";

/** A file part. */
export interface FilePart {
  data: Uint8Array;
  filename: string;
  mimeType: string;
}

/** Text fields in order, then the optional `input_reference` file. */
export function videoForm(fields: [string, string][], file?: FilePart): FormData {
  const form = new FormData();
  for (const [name, value] of fields) form.append(name, value);
  if (file) {
    const blob = new Blob([file.data.slice()], { type: file.mimeType });
    form.append("input_reference", blob, file.filename);
  }
  return form;
}

const EXT_BY_MIME: Record<string, string> = { "image/jpeg": "jpg", "image/png": "png", "image/webp": "webp", "video/mp4": "mp4" };
const MIME_BY_EXT: Record<string, string> = { jpg: "image/jpeg", jpeg: "image/jpeg", png: "image/png", webp: "image/webp", mp4: "video/mp4" };

/**
 * The bytes of a conditioning image or video as a file part (remote URLs are downloaded
 * here, since the endpoint wants an upload).
 * @throws {MediaError} when it cannot be read.
 */
export async function filePartOf(ref: ImageInput | VideoInput, signal?: AbortSignal): Promise<FilePart> {
  if (typeof ref !== "string") {
    return { data: ref.data, mimeType: ref.mimeType, filename: `input_reference.${EXT_BY_MIME[ref.mimeType] ?? "bin"}` };
  }
  if (ref.startsWith("data:")) {
    const comma = ref.indexOf(",");
    const meta = ref.slice(5, comma);
    const mimeType = meta.split(";")[0].toLowerCase();
    const payload = ref.slice(comma + 1);
    const data = /;base64$/i.test(meta) ? new Uint8Array(Buffer.from(payload, "base64")) : new TextEncoder().encode(decodeURIComponent(payload));
    return { data, mimeType, filename: `input_reference.${EXT_BY_MIME[mimeType] ?? "bin"}` };
  }
  const name = basename(ref.split(/[?#]/)[0]) || "input_reference";
  const ext = name.split(".").pop()?.toLowerCase() ?? "";
  const mimeType = MIME_BY_EXT[ext] ?? "application/octet-stream";
  if (isRemoteUrl(ref)) {
    const res = await fetch(ref, { signal });
    if (!res.ok) throw new MediaError(`Cannot download ${ref}: HTTP ${res.status}.`, { hint: "Check the URL, or pass a local file." });
    return { data: new Uint8Array(await res.arrayBuffer()), mimeType, filename: name };
  }
  const path = resolve(ref.startsWith("file://") ? fileURLToPath(ref) : ref);
  try {
    return { data: new Uint8Array(await readFile(path)), mimeType, filename: name };
  } catch (e) {
    throw new MediaError(`Cannot read "${path}": ${(e as Error).message}`, {
      hint: "Check the path (relative paths start at the current folder).",
      cause: e,
    });
  }
}
