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
import { MediaError, throwIfAborted } from "../errors.ts";
import { dataUriMime, type ImageInput, isRemoteUrl, type VideoInput } from "../schema/media_input.ts";
import type { ChatMessages, ContentPart } from "../schema/messages.ts";
import { promptOf, type ReasonRequest } from "../schema/reason_request.ts";
import { withReasoningInstruction } from "../schema/sampling.ts";
import { drawSubjectMarks } from "./marks.ts";

/** Options of {@link buildMessages}. */
export interface BuildMessagesOptions {
  /** Folder the server may read local files from; files under it are sent as `file://` URLs. */
  allowedLocalMediaPath?: string;
  signal?: AbortSignal;
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
  const path = resolve(ref.startsWith("file://") ? fileURLToPath(ref) : ref);
  if (opts.allowedLocalMediaPath && isUnderRoot(path, opts.allowedLocalMediaPath)) return pathToFileURL(path).href;
  const mime = MIME_BY_EXT[extname(path).toLowerCase()] ?? "application/octet-stream";
  return bytesToDataUri(await readLocal(path), mime);
}

async function readLocal(path: string): Promise<Uint8Array> {
  try {
    return new Uint8Array(await readFile(path));
  } catch (e) {
    throw new MediaError(`Cannot read "${path}": ${(e as Error).message}`, {
      hint: "Check the path (relative paths start at the current folder), or pass an http(s):// URL.",
      cause: e,
    });
  }
}

/**
 * The bytes of an image or video reference: `{ data }`, a data URI, an http(s) URL (downloaded,
 * honouring `signal`) or a local path / file:// URL.
 * @throws {MediaError} when a file cannot be read or a download fails.
 * @example
 * ```ts
 * import { mediaBytes } from "./messages.ts";
 * (await mediaBytes("data:image/png;base64,iVBORw0KGgo=")).length; // 8
 * ```
 */
export async function mediaBytes(ref: ImageInput | VideoInput, signal?: AbortSignal): Promise<Uint8Array> {
  if (typeof ref !== "string") return ref.data;
  if (ref.startsWith("data:")) {
    const comma = ref.indexOf(",");
    const meta = ref.slice(0, comma);
    const payload = ref.slice(comma + 1);
    return /;base64$/i.test(meta)
      ? new Uint8Array(Buffer.from(payload, "base64"))
      : new TextEncoder().encode(decodeURIComponent(payload));
  }
  if (isRemoteUrl(ref)) {
    const res = await fetch(ref, { signal });
    if (!res.ok) throw new MediaError(`Cannot download ${ref}: HTTP ${res.status}.`, { hint: "Check the URL, or pass a local file." });
    return new Uint8Array(await res.arrayBuffer());
  }
  return await readLocal(resolve(ref.startsWith("file://") ? fileURLToPath(ref) : ref));
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
      ? bytesToDataUri(await drawSubjectMarks(await mediaBytes(req.image, opts.signal), req.subjects), "image/png")
      : await mediaUrl(req.image, opts);
    parts.push({ type: "image_url", image_url: { url } });
  }
  if (req.video !== undefined) parts.push({ type: "video_url", video_url: { url: await mediaUrl(req.video, opts) } });
  parts.push({ type: "text", text: userText(req) });
  throwIfAborted(opts.signal);
  return [
    { role: "system", content: [{ type: "text", text: req.system }] },
    { role: "user", content: parts },
  ];
}
