/**
 * multipart/form-data bodies for vLLM-Omni's `/v1/videos` endpoints with curl's
 * `--form-string` semantics: every text field is sent byte for byte (a `;` in a prompt
 * is never read as a content-type separator, as `curl -F` would, and newlines are not
 * rewritten to CRLF, as the WHATWG FormData encoder does), and the conditioning image or
 * video goes up as the `input_reference` file. The body is built by hand for that reason.
 *
 * @example
 * ```ts
 * import { videoForm } from "./form.ts";
 * const form = videoForm([["prompt", "A robot; then a box."], ["num_frames", "21"]]);
 * form.contentType; // "multipart/form-data; boundary=----cosmos-ts-…"
 * ```
 * @module
 */
import { randomBytes } from "node:crypto";
import { basename } from "node:path";
import { dataUriBytes, mediaBytes, type MediaBytesOptions } from "../reasoner/messages.ts";
import type { ImageInput, VideoInput } from "../schema/media_input.ts";

/** A file part. */
export interface FilePart {
  data: Uint8Array;
  filename: string;
  mimeType: string;
}

/** A ready multipart body and its Content-Type (with the boundary). */
export interface MultipartBody {
  body: Uint8Array<ArrayBuffer>;
  contentType: string;
}

/** Quotes a name / filename for Content-Disposition as browsers do (`"`, CR, LF percent-encoded). */
function quoted(v: string): string {
  return `"${v.replace(/"/g, "%22").replace(/\r/g, "%0D").replace(/\n/g, "%0A")}"`;
}

function contains(hay: Uint8Array, needle: Uint8Array): boolean {
  outer: for (let i = 0; i + needle.length <= hay.length; i++) {
    for (let j = 0; j < needle.length; j++) if (hay[i + j] !== needle[j]) continue outer;
    return true;
  }
  return false;
}

/** Text fields in order, then the optional `input_reference` file, values byte for byte. */
export function videoForm(fields: [string, string][], file?: FilePart): MultipartBody {
  const enc = new TextEncoder();
  const values = fields.map(([, v]) => enc.encode(v));
  for (;;) {
    const boundary = `----cosmos-ts-${randomBytes(12).toString("hex")}`;
    const b = enc.encode(boundary);
    if (values.some((v) => contains(v, b)) || (file && contains(file.data, b))) continue;
    const chunks: Uint8Array[] = [];
    fields.forEach(([name], i) => {
      chunks.push(
        enc.encode(`--${boundary}\r\nContent-Disposition: form-data; name=${quoted(name)}\r\n\r\n`),
        values[i],
        enc.encode("\r\n"),
      );
    });
    if (file) {
      chunks.push(
        enc.encode(
          `--${boundary}\r\nContent-Disposition: form-data; name="input_reference"; filename=${
            quoted(file.filename)
          }\r\nContent-Type: ${file.mimeType}\r\n\r\n`,
        ),
        file.data,
        enc.encode("\r\n"),
      );
    }
    chunks.push(enc.encode(`--${boundary}--\r\n`));
    const body = new Uint8Array(chunks.reduce((n, c) => n + c.length, 0));
    let off = 0;
    for (const c of chunks) {
      body.set(c, off);
      off += c.length;
    }
    return { body, contentType: `multipart/form-data; boundary=${boundary}` };
  }
}

/** Fetch init of a multipart POST. */
export function multipartInit(m: MultipartBody): RequestInit {
  return { method: "POST", headers: { "Content-Type": m.contentType }, body: m.body };
}

const EXT_BY_MIME: Record<string, string> = {
  "image/jpeg": "jpg",
  "image/png": "png",
  "image/webp": "webp",
  "video/mp4": "mp4",
};
const MIME_BY_EXT: Record<string, string> = {
  jpg: "image/jpeg",
  jpeg: "image/jpeg",
  png: "image/png",
  webp: "image/webp",
  mp4: "video/mp4",
};

/**
 * The bytes of a conditioning image or video as a file part (remote URLs are downloaded
 * here, under the bounds of ./http.ts, since the endpoint wants an upload).
 * @throws {MediaError} when it cannot be read or downloaded; {@link ValidationError} for a
 * malformed data URI or file:// URL; `TimeoutError` when a download stalls.
 */
export async function filePartOf(
  ref: ImageInput | VideoInput,
  signal?: AbortSignal,
  opts: MediaBytesOptions = {},
): Promise<FilePart> {
  if (typeof ref !== "string") {
    return {
      data: ref.data,
      mimeType: ref.mimeType,
      filename: `input_reference.${EXT_BY_MIME[ref.mimeType] ?? "bin"}`,
    };
  }
  if (ref.startsWith("data:")) {
    const mimeType = ref.slice(5, Math.max(5, ref.indexOf(","))).split(";")[0].toLowerCase();
    return {
      data: dataUriBytes(ref, opts.field ?? (mimeType === "video/mp4" ? "request.video" : "request.image")),
      mimeType,
      filename: `input_reference.${EXT_BY_MIME[mimeType] ?? "bin"}`,
    };
  }
  const name = basename(ref.split(/[?#]/)[0]) || "input_reference";
  const ext = name.split(".").pop()?.toLowerCase() ?? "";
  const mimeType = MIME_BY_EXT[ext] ?? "application/octet-stream";
  const data = await mediaBytes(ref, signal, {
    ...opts,
    field: opts.field ?? (mimeType === "video/mp4" ? "request.video" : "request.image"),
  });
  return { data, mimeType, filename: name };
}
