/**
 * How a request names an image, a video or an action file: a path, a `file://` or
 * `http(s)://` URL, a data URI, or raw bytes with their MIME type. Formats follow the
 * seed's "Input formats": JPG/PNG/JPEG/WEBP images, MP4 video, JSON action arrays.
 *
 * @example
 * ```ts
 * import { ImageInput } from "./media_input.ts";
 * ImageInput.parse("assets/robot.png"); // ok
 * ImageInput.safeParse("clip.gif").success; // false
 * ```
 * @module
 */
import { z } from "zod";

export const IMAGE_EXTENSIONS = ["jpg", "jpeg", "png", "webp"] as const;
export const IMAGE_MIME_TYPES = ["image/jpeg", "image/png", "image/webp"] as const;
export const VIDEO_EXTENSIONS = ["mp4"] as const;
export const VIDEO_MIME_TYPES = ["video/mp4"] as const;

/** Lower-case extension of a path or URL, without query string. */
export function extensionOf(ref: string): string {
  const clean = ref.split(/[?#]/)[0];
  const dot = clean.lastIndexOf(".");
  return dot < 0 || dot < clean.lastIndexOf("/") ? "" : clean.slice(dot + 1).toLowerCase();
}

/** MIME type of a data URI, or undefined. */
export function dataUriMime(ref: string): string | undefined {
  const m = /^data:([^;,]+)[;,]/i.exec(ref);
  return m?.[1].toLowerCase();
}

function refSchema(kind: string, exts: readonly string[], mimes: readonly string[]) {
  const allowed = `a path, file:// or http(s):// URL ending in .${exts.join("/.")}, or a data URI of ${
    mimes.join(", ")
  }`;
  return z.string().min(1).superRefine((ref, ctx) => {
    const mime = dataUriMime(ref);
    if (ref.startsWith("data:")) {
      if (!mime || !mimes.includes(mime)) {
        ctx.addIssue({
          code: "custom",
          message: `unsupported ${kind} data URI type ${mime ?? "(none)"}`,
          params: { allowed },
        });
      }
      return;
    }
    if (!exts.includes(extensionOf(ref))) {
      ctx.addIssue({
        code: "custom",
        message: `unsupported ${kind} format ".${extensionOf(ref)}"`,
        params: { allowed },
      });
    }
  });
}

function bytesSchema(mimes: readonly [string, ...string[]]) {
  return z.object({
    data: z.instanceof(Uint8Array),
    mimeType: z.enum(mimes),
  }).strict();
}

/** An image: JPG/JPEG/PNG/WEBP by path, URL or data URI, or `{ data, mimeType }`. */
export const ImageInput = z.union([
  refSchema("image", IMAGE_EXTENSIONS, IMAGE_MIME_TYPES),
  bytesSchema(IMAGE_MIME_TYPES),
]);
export type ImageInput = z.infer<typeof ImageInput>;

/** A video: MP4 by path, URL or data URI, or `{ data, mimeType: "video/mp4" }`. */
export const VideoInput = z.union([
  refSchema("video", VIDEO_EXTENSIONS, VIDEO_MIME_TYPES),
  bytesSchema(VIDEO_MIME_TYPES),
]);
export type VideoInput = z.infer<typeof VideoInput>;

/** Whether a reference is a remote URL (the server fetches it) rather than local data. */
export function isRemoteUrl(ref: string): boolean {
  return /^https?:\/\//i.test(ref);
}
