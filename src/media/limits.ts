/**
 * Size limits every decoder checks before it allocates pixels: no side above
 * {@link MAX_SIDE} px and no frame above {@link MAX_FRAME_PIXELS} pixels.
 *
 * @example
 * ```ts
 * import { checkDimensions } from "./limits.ts";
 * checkDimensions(1280, 720, "clip.mp4"); // ok
 * // checkDimensions(20000, 10, "x.png") throws MediaError
 * ```
 * @module
 */
import { MediaError } from "../errors.ts";

/** Largest accepted width or height, in pixels. */
export const MAX_SIDE = 16384;
/** Largest accepted frame area (100 MP). */
export const MAX_FRAME_PIXELS = 100_000_000;

/**
 * Throws {@link MediaError} for zero, non-integer or huge dimensions.
 * @param what names the input in the message (a path or "image bytes").
 */
export function checkDimensions(width: number, height: number, what: string): void {
  if (!Number.isInteger(width) || !Number.isInteger(height) || width <= 0 || height <= 0) {
    throw new MediaError(`${what} has an invalid size ${width}x${height}.`, {
      hint: "The file is empty or corrupt; re-export it from the source.",
    });
  }
  if (width > MAX_SIDE || height > MAX_SIDE || width * height > MAX_FRAME_PIXELS) {
    throw new MediaError(
      `${what} is ${width}x${height} px, above the limit of ${MAX_SIDE} px a side and ${MAX_FRAME_PIXELS / 1e6} MP.`,
      { hint: "Downscale it first (e.g. `ffmpeg -i in -vf scale=1280:-2 out.mp4`)." },
    );
  }
}
