/**
 * Images with sharp: read JPG/JPEG/PNG/WEBP from a path, bytes or a data URI into RGB
 * (HWC, 3 channels), resize/crop to a target size, write JPG/PNG atomically.
 *
 * Transparent pixels are composited on white, as vLLM (`convert_image_mode`) and
 * qwen-vl-utils (`to_rgb`) do before the Qwen3-VL processor sees the image. EXIF
 * orientation is NOT applied by default (PIL, which both use, does not either).
 *
 * @example
 * ```ts
 * import { readImage, resizeImage, writeImage } from "./images.ts";
 * const img = await readImage("assets/images/tabletop.webp");
 * const small = await resizeImage(img, { width: 832, height: 480 }); // cover + centre crop
 * await writeImage(small, "/tmp/scene_480p.jpg");
 * ```
 * @module
 */
import sharp from "sharp";
import { AbortError, MediaError, throwIfAborted } from "../errors.ts";
import { type AspectRatio, pixelSize, type Resolution } from "../schema/settings.ts";
import { writeFileAtomic } from "./atomic.ts";
import { checkDimensions, MAX_FRAME_PIXELS } from "./limits.ts";
import { type MediaSource, readSourceBytes } from "./source.ts";
import type { RgbFrame } from "./video_decode.ts";

/** Image formats accepted as input (the seed's "JPG/PNG/JPEG/WEBP"). */
export type ImageFormat = "jpeg" | "png" | "webp";

/** A decoded image: RGB bytes (HWC) plus the format it was read from. */
export interface RgbImage extends RgbFrame {
  /** Format of the source bytes (undefined for images made in memory). */
  format?: ImageFormat;
}

/** Detects JPEG/PNG/WEBP from the first bytes (the extension is not trusted). */
export function detectImageFormat(bytes: Uint8Array): ImageFormat | undefined {
  if (bytes.length >= 3 && bytes[0] === 0xff && bytes[1] === 0xd8 && bytes[2] === 0xff) return "jpeg";
  const png = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];
  if (bytes.length >= 8 && png.every((b, i) => bytes[i] === b)) return "png";
  const ascii = (a: number, b: number) => String.fromCharCode(...bytes.subarray(a, b));
  if (bytes.length >= 12 && ascii(0, 4) === "RIFF" && ascii(8, 12) === "WEBP") return "webp";
  return undefined;
}

function describe(bytes: Uint8Array): string {
  const ascii = String.fromCharCode(...bytes.subarray(0, 12)).replace(/[^\x20-\x7e]/g, "");
  if (ascii.startsWith("GIF8")) return "GIF";
  if (ascii.startsWith("BM")) return "BMP";
  if (ascii.startsWith("II*") || ascii.startsWith("MM")) return "TIFF";
  if (ascii.includes("ftyp")) return "an MP4/HEIF container";
  return bytes.length === 0 ? "empty" : "unknown";
}

/** Options of {@link readImage}. */
export interface ReadImageOptions {
  /** Checked before and after the (uninterruptible) sharp work. */
  signal?: AbortSignal;
  /** Apply the EXIF orientation (default false, like PIL). */
  autoOrient?: boolean;
  /** Colour behind transparent pixels (default white, like vLLM/qwen-vl-utils). */
  background?: { r: number; g: number; b: number };
}

/**
 * Reads a JPG/PNG/WEBP image from a path, `file://` URL, data URI, bytes or `{ data, mimeType }`.
 * @throws {MediaError} for other formats, corrupt bytes, zero size and more than 16384 px a side / 100 MP.
 */
export async function readImage(input: MediaSource, opts: ReadImageOptions = {}): Promise<RgbImage> {
  throwIfAborted(opts.signal);
  const { data, label } = await readSourceBytes(input);
  const format = detectImageFormat(data);
  if (!format) {
    throw new MediaError(`${label} is not a JPG, PNG or WEBP image (it looks ${describe(data)}).`, {
      hint: "Convert it to PNG or JPG first (e.g. `ffmpeg -i in.gif out.png`).",
    });
  }
  let meta;
  try {
    // header only: no pixel limit here, our own check below names the size
    meta = await sharp(data, { limitInputPixels: false, failOn: "none" }).metadata();
  } catch (e) {
    throw new MediaError(`${label} is a corrupt ${format.toUpperCase()} image: ${(e as Error).message}`, {
      hint: "Re-export or re-download the image.",
      cause: e,
    });
  }
  if ((meta.pages ?? 1) > 1) {
    throw new MediaError(`${label} is an animated ${format.toUpperCase()} (${meta.pages} frames).`, {
      hint: "Pass a still image, or convert the animation to MP4 and pass it as video.",
    });
  }
  checkDimensions(meta.width ?? 0, meta.height ?? 0, label);
  try {
    let pipe = sharp(data, { limitInputPixels: MAX_FRAME_PIXELS, failOn: "error" });
    if (opts.autoOrient) pipe = pipe.autoOrient();
    const { data: raw, info } = await pipe
      .flatten({ background: opts.background ?? { r: 255, g: 255, b: 255 } })
      .toColourspace("srgb")
      .removeAlpha()
      .raw()
      .toBuffer({ resolveWithObject: true });
    if (info.channels !== 3) throw new Error(`decoded to ${info.channels} channels`);
    throwIfAborted(opts.signal);
    return {
      width: info.width,
      height: info.height,
      channels: 3,
      data: new Uint8Array(raw.buffer, raw.byteOffset, raw.byteLength),
      format,
    };
  } catch (e) {
    if (e instanceof AbortError) throw e;
    throw new MediaError(`${label} is a corrupt ${format.toUpperCase()} image: ${(e as Error).message}`, {
      hint: "Re-export or re-download the image.",
      cause: e,
    });
  }
}

/** How {@link resizeImage} maps the source onto the target size. */
export type ImageFit =
  /** Scale to cover the target, then centre-crop (default). */
  | "cover"
  /** Scale to fit inside the target, letterboxed (black) to exactly the target size. */
  | "contain"
  /** Scale to fit inside the target, keeping the aspect ratio; output may be smaller. */
  | "fit"
  /** Stretch to exactly the target size (what the Qwen3-VL processor does after smart resize). */
  | "fill";

/** Options of {@link resizeImage}. */
export interface ResizeOptions {
  /** Checked before and after the (uninterruptible) sharp work. */
  signal?: AbortSignal;
  width: number;
  height: number;
  fit?: ImageFit;
  /** Resampling kernel (default "cubic", like the Qwen3-VL processor's bicubic). */
  kernel?: "nearest" | "linear" | "cubic" | "lanczos3";
}

function rawInput(img: RgbFrame) {
  if (img.data.byteLength !== img.width * img.height * 3) {
    throw new MediaError(
      `Image data holds ${img.data.byteLength} bytes, expected ${
        img.width * img.height * 3
      } (${img.width}x${img.height} RGB).`,
    );
  }
  return sharp(img.data, { raw: { width: img.width, height: img.height, channels: 3 } });
}

/** Resizes (and crops or pads) an RGB image to a target size. */
export async function resizeImage(img: RgbFrame, opts: ResizeOptions): Promise<RgbImage> {
  throwIfAborted(opts.signal);
  checkDimensions(opts.width, opts.height, "The requested image size");
  const fit = opts.fit ?? "cover";
  const sharpFit = fit === "fit" ? "inside" : fit;
  const { data, info } = await rawInput(img)
    .resize(opts.width, opts.height, {
      fit: sharpFit,
      position: "centre",
      kernel: opts.kernel ?? "cubic",
      background: { r: 0, g: 0, b: 0 },
    })
    .raw()
    .toBuffer({ resolveWithObject: true });
  throwIfAborted(opts.signal);
  return {
    width: info.width,
    height: info.height,
    channels: 3,
    data: new Uint8Array(data.buffer, data.byteOffset, data.byteLength),
  };
}

/**
 * Resizes to a Cosmos 3 tier size (`pixelSize` of src/schema: 720p 16:9 = 1280x720, 480p =
 * 832x480, 256p = 320x192, …), cover + centre crop by default.
 * @example
 * ```ts
 * import { readImage, resizeToTier } from "./images.ts";
 * const cond = await resizeToTier(await readImage("assets/images/tabletop.jpg"), "480p", "16:9"); // 832x480
 * ```
 */
export async function resizeToTier(
  img: RgbFrame,
  resolution: Resolution,
  aspectRatio: AspectRatio,
  opts: Omit<ResizeOptions, "width" | "height"> = {},
): Promise<RgbImage> {
  return await resizeImage(img, { ...opts, ...pixelSize(resolution, aspectRatio) });
}

/** Options of {@link encodeImage} / {@link writeImage}. */
export interface WriteImageOptions {
  /** Checked before encoding and before the file is renamed into place. */
  signal?: AbortSignal;
  /** Output format; default from the file extension (JPG unless `.png`). */
  format?: "jpeg" | "png";
  /** JPEG quality 1..100 (default 92). */
  quality?: number;
}

/** Encodes an RGB image to JPG or PNG bytes. */
export async function encodeImage(img: RgbFrame, opts: WriteImageOptions = {}): Promise<Uint8Array> {
  throwIfAborted(opts.signal);
  const fmt = opts.format ?? "jpeg";
  const pipe = rawInput(img);
  const buf = fmt === "png"
    ? await pipe.png().toBuffer()
    : await pipe.jpeg({ quality: opts.quality ?? 92, chromaSubsampling: "4:2:0" }).toBuffer();
  return new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength);
}

/**
 * Writes an RGB image as JPG or PNG, atomically (temp file + rename).
 * @returns the absolute path written.
 */
export async function writeImage(img: RgbFrame, path: string, opts: WriteImageOptions = {}): Promise<string> {
  const ext = /\.([a-z0-9]+)$/i.exec(path)?.[1]?.toLowerCase();
  const format = opts.format ?? (ext === "png" ? "png" : ext === "jpg" || ext === "jpeg" ? "jpeg" : undefined);
  if (!format) {
    throw new MediaError(`Cannot write "${path}": only .jpg, .jpeg and .png are written.`, {
      hint: "Use a .jpg (the seed's image output format) or .png file name.",
    });
  }
  const bytes = await encodeImage(img, { ...opts, format });
  throwIfAborted(opts.signal);
  return await writeFileAtomic(path, bytes);
}
