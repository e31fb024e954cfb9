/**
 * Images for the overlays: the original bytes (shown as a data URI) with their MIME type and
 * pixel size, read from a path or bytes with sharp (loaded on first use).
 *
 * @example
 * ```ts
 * import { loadImage } from "./image_input.ts";
 * const img = await loadImage("assets/images/tabletop.png");
 * console.log(img.width, img.height, img.mimeType);
 * ```
 * @module
 */
import { readFile } from "node:fs/promises";
import { MediaError } from "../src/errors.ts";

/** An image ready to draw over: encoded bytes, MIME type and size in pixels. */
export interface OverlayImage {
  bytes: Uint8Array;
  mimeType: string;
  width: number;
  height: number;
}

/**
 * Reads an image (PNG, JPEG, WEBP, GIF) from a path or bytes and measures it. EXIF orientation
 * is not applied: coordinates refer to the stored pixels, as the model saw them.
 * @example
 * ```ts
 * import { loadImage } from "./image_input.ts";
 * const { width, height } = await loadImage("assets/images/tabletop.jpg");
 * ```
 */
export async function loadImage(input: string | Uint8Array | OverlayImage): Promise<OverlayImage> {
  if (typeof input === "object" && "bytes" in input) return input;
  let bytes: Uint8Array;
  try {
    bytes = typeof input === "string" ? new Uint8Array(await readFile(input)) : input;
  } catch (cause) {
    throw new MediaError(`Cannot read image "${String(input)}".`, { hint: "Check the path.", cause });
  }
  const { default: sharp } = await import("sharp");
  try {
    const meta = await sharp(bytes).metadata();
    const format = meta.format === "jpeg" ? "jpeg" : meta.format;
    if (!meta.width || !meta.height || !format) throw new Error("no size or format");
    return {
      bytes,
      mimeType: `image/${format === "svg" ? "svg+xml" : format}`,
      width: meta.width,
      height: meta.height,
    };
  } catch (cause) {
    throw new MediaError("The bytes are not an image sharp can read (PNG, JPEG, WEBP, GIF).", {
      hint: "Pass a PNG/JPEG/WEBP file or its bytes.",
      cause,
    });
  }
}
