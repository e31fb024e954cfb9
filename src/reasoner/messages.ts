/**
 * Builds the Qwen3-VL chat messages of a Reasoner request (seed, "Reasoner"): a system
 * turn and a user turn whose parts are the image / video (as `image_url` / `video_url`)
 * followed by the prompt text, with the explicit-reasoning instruction when asked.
 *
 * Media references become: a remote `http(s)://` URL as-is; a `file://` URL when the
 * file lies under `allowedLocalMediaPath` (the server's `--allowed-local-media-path`);
 * a base64 data URI otherwise. Describe-anything images get their numbered marks drawn
 * first and are always sent as a PNG data URI.
 *
 * @example
 * ```ts
 * import { buildMessages } from "./messages.ts";
 * import { ReasonRequest } from "../schema/reason_request.ts";
 * const messages = await buildMessages(
 *   ReasonRequest.parse({ task: "caption", video: "https://example.com/clip.mp4" }),
 * );
 * // [{ role: "system", … }, { role: "user", content: [{ type: "video_url", video_url: { url: "https://…" } }, { type: "text", … }] }]
 * ```
 * @module
 */
import { readFile } from "node:fs/promises";
import { extname, isAbsolute, relative, resolve } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { Buffer } from "node:buffer";
import { MediaError, throwIfAborted, ValidationError } from "../errors.ts";
import { fsReason } from "../media/source.ts";
import { downloadMedia, type HttpBounds } from "../remote/http.ts";
import { dataUriMime, type ImageInput, isRemoteUrl, type VideoInput } from "../schema/media_input.ts";
import type { ChatMessages, ContentPart } from "../schema/messages.ts";
import { promptOf, type ReasonRequest } from "../schema/reason_request.ts";
import { withReasoningInstruction } from "../schema/sampling.ts";
import { drawSubjectMarks } from "./marks.ts";

/** Options of {@link buildMessages}. */
export interface BuildMessagesOptions extends HttpBounds {
  /** Folder the server may read local files from; files under it are sent as `file://` URLs. */
  allowedLocalMediaPath?: string;
  signal?: AbortSignal;
  /** The request field the reference came from, for messages (default "media"). */
  field?: string;
}

/** Options of {@link mediaBytes}: the bounds of an http(s) download, and the field for messages. */
export interface MediaBytesOptions extends HttpBounds {
  /** The request field the reference came from (default "media"). */
  field?: string;
}

/**
 * The local path of a path or `file://` URL.
 * @throws {ValidationError} naming `field` for a malformed `file://` URL (a host, bad percent-encoding).
 */
export function localPathOf(ref: string, field = "media"): string {
  if (!ref.startsWith("file://")) return resolve(ref);
  try {
    return resolve(fileURLToPath(ref));
  } catch (e) {
    throw new ValidationError([{
      field,
      value: ref,
      allowed: "a file:///absolute/path URL (no host; %-escapes only for bytes that are not a /)",
      message: `malformed file:// URL (${(e as Error).message})`,
    }]);
  }
}

/**
 * The bytes of a data URI.
 * @throws {ValidationError} naming `field` when it has no comma or its percent-encoding is malformed.
 */
export function dataUriBytes(ref: string, field = "media"): Uint8Array {
  const comma = ref.indexOf(",");
  if (comma < 0) {
    throw new ValidationError([{
      field,
      value: ref,
      allowed: "data:<mime>;base64,<data>",
      message: "malformed data URI (no comma)",
    }]);
  }
  const meta = ref.slice(0, comma);
  const payload = ref.slice(comma + 1);
  if (/;base64$/i.test(meta)) return new Uint8Array(Buffer.from(payload, "base64"));
  try {
    return new TextEncoder().encode(decodeURIComponent(payload));
  } catch {
    throw new ValidationError([{
      field,
      value: ref,
      allowed: "a base64 data URI (data:<mime>;base64,…) or valid %XX escapes",
      message: "malformed percent-encoding in the data URI",
    }]);
  }
}

const MIME_BY_EXT: Record<string, string> = {
  ".jpg": "image/jpeg",
  ".jpeg": "image/jpeg",
  ".png": "image/png",
  ".webp": "image/webp",
  ".mp4": "video/mp4",
};

/** Whether `path` lies inside `root` (both resolved; `root` itself counts). */
export function isUnderRoot(path: string, root: string): boolean {
  const rel = relative(resolve(root), resolve(path));
  return rel === "" || (!rel.startsWith("..") && !isAbsolute(rel));
}

/** Base64 data URI of bytes. */
export function bytesToDataUri(data: Uint8Array, mimeType: string): string {
  return `data:${mimeType};base64,${Buffer.from(data.buffer, data.byteOffset, data.byteLength).toString("base64")}`;
}

/**
 * The URL a server gets for one media reference (see the module doc for the rules).
 * @throws {MediaError} when a local file cannot be read.
 */
export async function mediaUrl(ref: ImageInput | VideoInput, opts: BuildMessagesOptions = {}): Promise<string> {
  if (typeof ref !== "string") return bytesToDataUri(ref.data, ref.mimeType);
  if (isRemoteUrl(ref) || dataUriMime(ref) !== undefined || ref.startsWith("data:")) return ref;
  const path = localPathOf(ref, opts.field);
  if (opts.allowedLocalMediaPath && isUnderRoot(path, opts.allowedLocalMediaPath)) return pathToFileURL(path).href;
  const mime = MIME_BY_EXT[extname(path).toLowerCase()] ?? "application/octet-stream";
  return bytesToDataUri(await readLocalMedia(path, opts.field), mime);
}

/**
 * Reads a local media file.
 * @throws {MediaError} naming `field` and saying why in words (no raw `ENOENT`), with a hint.
 */
export async function readLocalMedia(path: string, field = "media"): Promise<Uint8Array> {
  try {
    return new Uint8Array(await readFile(path));
  } catch (e) {
    throw new MediaError(`${field}: the file "${path}" ${fsReason(e)}.`, {
      hint: "Check the path (relative paths start at the current folder), or pass an http(s):// URL.",
      cause: e,
    });
  }
}

/**
 * The bytes of an image or video reference: `{ data }`, a data URI, an http(s) URL (downloaded,
 * under the bounds of src/remote/http.ts and honouring `signal`) or a local path / file:// URL.
 * @throws {MediaError} when a file cannot be read or a download fails; {@link ValidationError}
 * for a malformed data URI or file:// URL; `TimeoutError` when a download stalls.
 * @example
 * ```ts
 * import { mediaBytes } from "./messages.ts";
 * (await mediaBytes("data:image/png;base64,iVBORw0KGgo=")).length; // 8
 * ```
 */
export async function mediaBytes(
  ref: ImageInput | VideoInput,
  signal?: AbortSignal,
  opts: MediaBytesOptions = {},
): Promise<Uint8Array> {
  if (typeof ref !== "string") return ref.data;
  if (ref.startsWith("data:")) return dataUriBytes(ref, opts.field);
  if (isRemoteUrl(ref)) return await downloadMedia(ref, { ...opts, signal });
  return await readLocalMedia(localPathOf(ref, opts.field), opts.field);
}

/** The user prompt text: the request's (or the workflow's default), plus the reasoning instruction. */
export function userText(req: ReasonRequest): string {
  const prompt = promptOf(req);
  return req.reasoning ? withReasoningInstruction(prompt) : prompt;
}

/** Builds the system + user messages of a request. */
export async function buildMessages(req: ReasonRequest, opts: BuildMessagesOptions = {}): Promise<ChatMessages> {
  throwIfAborted(opts.signal);
  const parts: ContentPart[] = [];
  if (req.image !== undefined) {
    const url = req.subjects
      ? bytesToDataUri(
        await drawSubjectMarks(
          await mediaBytes(req.image, opts.signal, { ...opts, field: "request.image" }),
          req.subjects,
        ),
        "image/png",
      )
      : await mediaUrl(req.image, { ...opts, field: "request.image" });
    parts.push({ type: "image_url", image_url: { url } });
  }
  if (req.video !== undefined) {
    parts.push({
      type: "video_url",
      video_url: { url: await mediaUrl(req.video, { ...opts, field: "request.video" }) },
    });
  }
  parts.push({ type: "text", text: userText(req) });
  throwIfAborted(opts.signal);
  return [
    { role: "system", content: [{ type: "text", text: req.system }] },
    { role: "user", content: parts },
  ];
}
