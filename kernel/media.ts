/**
 * Video (MP4 H.264 with its AAC sound track) and audio (WAV, M4A, MP3) players for
 * notebooks: `<video controls>` / `<audio controls>` with a base64 data URI, or, for large
 * files (or on request), a file written beside the notebook and referenced by a relative URL.
 *
 * @example
 * ```ts
 * import { showVideo, showAudio } from "./media.ts";
 * import { extractAudio } from "../src/media/audio_io.ts";
 * await showVideo("assets/videos/pick_place.mp4"); // inline when ≤ 20 MB
 * await showVideo("assets/videos/driving.mp4", { inline: false }); // linked, file kept beside the notebook
 * await extractAudio("assets/videos/pick_place.mp4", { output: "/tmp/sound.wav" });
 * await showAudio("/tmp/sound.wav");
 * ```
 * @module
 */
import { copyFileSync, mkdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { basename, isAbsolute, join, relative, resolve, sep } from "node:path";
import process from "node:process";
import { MediaError, ValidationError } from "../src/errors.ts";
import { display } from "./runtime.ts";
import { type Displayable, displayable, escapeHtml, formatBytes, type MimeBundle, toBase64 } from "./mime.ts";

/** Files larger than this are linked, not inlined, unless `inline: true` (20 MB). */
export const DEFAULT_MAX_INLINE_BYTES = 20_000_000;

/** What kind of player. */
export type MediaKind = "video" | "audio";

/** Options of the media bundle builders. */
export interface MediaBundleOptions {
  /** MIME type of the file; sniffed from the bytes when omitted. */
  mimeType?: string;
  /** File name shown in the note. */
  name?: string;
  /** Display width in CSS pixels (video only; default: natural size, at most 100%). */
  width?: number;
  /** A caption shown under the player. */
  caption?: string;
}

/**
 * The MIME type of media bytes from their magic numbers: `video/mp4`, `audio/mp4`
 * (M4A: an MP4 without a video brand), `audio/wav`, `audio/mpeg`, `video/webm`, or undefined.
 * @example
 * ```ts
 * import { sniffMediaType } from "./media.ts";
 * sniffMediaType(new TextEncoder().encode("RIFF\0\0\0\0WAVE")); // "audio/wav"
 * ```
 */
export function sniffMediaType(bytes: Uint8Array, kind: MediaKind = "video"): string | undefined {
  const ascii = (a: number, b: number) => String.fromCharCode(...bytes.subarray(a, b));
  if (bytes.length >= 12 && ascii(0, 4) === "RIFF" && ascii(8, 12) === "WAVE") return "audio/wav";
  if (bytes.length >= 12 && ascii(4, 8) === "ftyp") {
    const brand = ascii(8, 12);
    return kind === "audio" || brand === "M4A " ? "audio/mp4" : "video/mp4";
  }
  if (bytes.length >= 4 && bytes[0] === 0x1a && bytes[1] === 0x45 && bytes[2] === 0xdf && bytes[3] === 0xa3) {
    return kind === "audio" ? "audio/webm" : "video/webm";
  }
  if (bytes.length >= 3 && (ascii(0, 3) === "ID3" || (bytes[0] === 0xff && (bytes[1] & 0xe0) === 0xe0))) {
    return "audio/mpeg";
  }
  return undefined;
}

function note(kind: MediaKind, name: string | undefined, size: number, how: string, caption?: string): string {
  const parts = [name, formatBytes(size), how].filter((p): p is string => Boolean(p));
  const cap = caption ? `<div>${escapeHtml(caption)}</div>` : "";
  return `<figcaption style="font:12px sans-serif;color:#666">${cap}<span class="cosmos-${kind}-note">${
    escapeHtml(parts.join(" · "))
  }</span></figcaption>`;
}

function player(kind: MediaKind, src: string, mime: string, o: MediaBundleOptions): string {
  const style = kind === "video"
    ? `max-width:100%;${o.width ? `width:${o.width}px;` : ""}`
    : "width:100%;max-width:480px;";
  return `<${kind} class="cosmos-${kind}" controls preload="metadata" style="${style}"><source src="${
    escapeHtml(src)
  }" type="${escapeHtml(mime)}"></${kind}>`;
}

/**
 * A MIME bundle that plays `bytes` inline (`<video>`/`<audio>` with a base64 data URI),
 * with a size note and a `text/plain` summary.
 * @example
 * ```ts
 * import { inlineMediaBundle } from "./media.ts";
 * const b = inlineMediaBundle("audio", new TextEncoder().encode("RIFF\0\0\0\0WAVE"), { name: "a.wav" });
 * String(b["text/html"]).startsWith("<figure"); // true
 * ```
 */
export function inlineMediaBundle(kind: MediaKind, bytes: Uint8Array, o: MediaBundleOptions = {}): MimeBundle {
  const mime = o.mimeType ?? sniffMediaType(bytes, kind) ?? (kind === "video" ? "video/mp4" : "audio/wav");
  const src = `data:${mime};base64,${toBase64(bytes)}`;
  return {
    "text/html": `<figure class="cosmos-media" style="margin:0">${player(kind, src, mime, o)}${
      note(kind, o.name, bytes.byteLength, "inline", o.caption)
    }</figure>`,
    "text/plain": `<${kind} ${o.name ?? mime}, ${formatBytes(bytes.byteLength)}, inline>`,
  };
}

/**
 * A MIME bundle that plays a file by URL (relative to the notebook), with a download link.
 * @example
 * ```ts
 * import { linkedMediaBundle } from "./media.ts";
 * const b = linkedMediaBundle("video", "cosmos_media/clip.mp4", 42_000_000);
 * String(b["text/html"]).includes('src="cosmos_media/clip.mp4"'); // true
 * ```
 */
export function linkedMediaBundle(kind: MediaKind, url: string, size: number, o: MediaBundleOptions = {}): MimeBundle {
  const mime = o.mimeType ?? (kind === "video" ? "video/mp4" : "audio/wav");
  const link = `<a href="${escapeHtml(url)}" download>${escapeHtml(url)}</a>`;
  return {
    "text/html": `<figure class="cosmos-media" style="margin:0">${player(kind, url, mime, o)}${
      note(kind, o.name, size, "linked", o.caption)
    }<div style="font:12px sans-serif">file: ${link}</div></figure>`,
    "text/plain": `<${kind} ${url}, ${formatBytes(size)}, linked>`,
  };
}

/** Options of {@link mediaOutput}, {@link showVideo} and {@link showAudio}. */
export interface MediaOutputOptions extends MediaBundleOptions {
  /** `true`: always inline; `false`: always link; `"auto"` (default): inline up to `maxInlineBytes`. */
  inline?: boolean | "auto";
  /** Inline limit for `"auto"` (default 20 MB). */
  maxInlineBytes?: number;
  /** Folder for linked files, relative to the notebook (kernel working directory). Default `cosmos_media`. */
  outDir?: string;
}

function isInside(child: string, parent: string): boolean {
  const rel = relative(parent, child);
  return rel !== "" && !rel.startsWith("..") && !isAbsolute(rel);
}

function urlPath(p: string): string {
  return p.split(sep).map(encodeURIComponent).join("/");
}

/**
 * Builds the player for a file path or bytes: inline, or (large / `inline: false`) a link to a
 * file beside the notebook. A path already under the notebook folder is linked where it is;
 * other files and bytes are written to `outDir`.
 * @example
 * ```ts
 * import { mediaOutput } from "./media.ts";
 * const out = mediaOutput("video", "assets/videos/pick_place.mp4", { inline: "auto" });
 * console.log(String(out)); // "<video pick_place.mp4, … MB, inline>"
 * ```
 */
export function mediaOutput(kind: MediaKind, input: string | Uint8Array, o: MediaOutputOptions = {}): Displayable {
  const max = o.maxInlineBytes ?? DEFAULT_MAX_INLINE_BYTES;
  if (!(max >= 0)) {
    throw new ValidationError([{ field: "maxInlineBytes", value: max, allowed: "a number ≥ 0", message: "bad limit" }]);
  }
  let size: number;
  let path: string | undefined;
  if (typeof input === "string") {
    path = resolve(input);
    try {
      size = statSync(path).size;
    } catch (cause) {
      throw new MediaError(`Cannot read ${kind} file "${input}".`, { hint: "Check the path.", cause });
    }
  } else {
    size = input.byteLength;
  }
  const name = o.name ?? (path ? basename(path) : undefined);
  const inline = o.inline === true || ((o.inline ?? "auto") === "auto" && size <= max);
  if (inline) {
    const bytes = typeof input === "string" ? readFileSync(path as string) : input;
    return displayable(inlineMediaBundle(kind, bytes, { ...o, name }));
  }
  const cwd = process.cwd();
  let target: string;
  if (path && isInside(path, cwd)) {
    target = path;
  } else {
    const dir = resolve(cwd, o.outDir ?? "cosmos_media");
    mkdirSync(dir, { recursive: true });
    const head = typeof input === "string" ? undefined : input.subarray(0, 16);
    const ext = (o.mimeType ?? (head && sniffMediaType(head, kind)) ?? "").includes("wav")
      ? ".wav"
      : kind === "audio" && !path
      ? ".m4a"
      : ".mp4";
    target = join(dir, name ?? `${kind}-${Date.now().toString(36)}${ext}`);
    if (typeof input === "string") copyFileSync(path as string, target);
    else writeFileSync(target, input);
  }
  return displayable(linkedMediaBundle(kind, urlPath(relative(cwd, target)), size, { ...o, name }));
}

/**
 * Shows a video (path or bytes) in the notebook: inline up to 20 MB, linked beyond.
 * @example
 * ```ts
 * import { showVideo } from "./media.ts";
 * await showVideo("assets/videos/pick_place.mp4", { caption: "generated, 24 fps" });
 * ```
 */
export async function showVideo(input: string | Uint8Array, o: MediaOutputOptions = {}): Promise<void> {
  await display(mediaOutput("video", input, o).bundle);
}

/**
 * Shows audio (path or bytes: WAV, M4A, MP3) in the notebook.
 * @example
 * ```ts
 * import { showAudio } from "./media.ts";
 * import { extractAudio } from "../src/media/audio_io.ts";
 * await extractAudio("assets/videos/pick_place.mp4", { output: "/tmp/sound.wav" });
 * await showAudio("/tmp/sound.wav");
 * ```
 */
export async function showAudio(input: string | Uint8Array, o: MediaOutputOptions = {}): Promise<void> {
  await display(mediaOutput("audio", input, o).bundle);
}

/**
 * The MIME type of image bytes from their magic numbers: `image/png`, `image/jpeg`,
 * `image/webp`, `image/gif`, or undefined.
 * @example
 * ```ts
 * import { sniffImageType } from "./media.ts";
 * sniffImageType(new Uint8Array([0xff, 0xd8, 0xff, 0xe0])); // "image/jpeg"
 * ```
 */
export function sniffImageType(bytes: Uint8Array): string | undefined {
  const ascii = (a: number, b: number) => String.fromCharCode(...bytes.subarray(a, b));
  if (bytes.length >= 8 && bytes[0] === 0x89 && ascii(1, 4) === "PNG") return "image/png";
  if (bytes.length >= 3 && bytes[0] === 0xff && bytes[1] === 0xd8 && bytes[2] === 0xff) return "image/jpeg";
  if (bytes.length >= 12 && ascii(0, 4) === "RIFF" && ascii(8, 12) === "WEBP") return "image/webp";
  if (bytes.length >= 6 && ascii(0, 3) === "GIF") return "image/gif";
  return undefined;
}

/**
 * A MIME bundle showing an image inline (`<figure>` with a data URI) with a caption.
 * @example
 * ```ts
 * import { imageBundle } from "./media.ts";
 * const png = new Uint8Array([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
 * imageBundle(png, "a picture")["text/plain"]; // "<image a picture>"
 * ```
 */
export function imageBundle(bytes: Uint8Array, caption: string): MimeBundle {
  const mime = sniffImageType(bytes);
  if (!mime) {
    throw new MediaError(`"${caption}" is not a PNG, JPEG, WEBP or GIF image.`, {
      hint: "Pass the path or the bytes of an encoded image file.",
    });
  }
  return {
    "text/html": `<figure class="cosmos-input" style="margin:4px 0"><img src="data:${mime};base64,${
      toBase64(bytes)
    }" style="max-width:100%"><figcaption>${escapeHtml(caption)}</figcaption></figure>`,
    "text/plain": `<image ${caption}>`,
  };
}

/**
 * Shows an image (a path or bytes: PNG, JPEG, WEBP, GIF) inline, with a caption (default: the
 * file's name).
 * @example
 * ```ts
 * import { showImage } from "./media.ts";
 * await showImage("assets/images/tabletop.png", "input: tabletop.png · 832x480");
 * ```
 */
export async function showImage(input: string | Uint8Array, caption?: string): Promise<void> {
  let bytes: Uint8Array;
  if (typeof input === "string") {
    try {
      bytes = readFileSync(input);
    } catch (cause) {
      throw new MediaError(`Cannot read image file "${input}".`, { hint: "Check the path.", cause });
    }
  } else {
    bytes = input;
  }
  await display(imageBundle(bytes, caption ?? (typeof input === "string" ? basename(input) : "image")));
}
