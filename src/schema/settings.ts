/**
 * Cosmos 3 generation settings: resolution tiers × aspect ratios → pixel sizes,
 * frame rates, frame counts and their defaults (seed: "Supported Generation Settings"
 * and "Input and Output" tables).
 *
 * ## Size rule
 * The seed gives the 16:9 sizes: 720p → 1280x720, 480p → 832x480, 256p → 320x192.
 * We keep each tier's short side (720, 480, 192) and set the long side to
 * `short × ratio`, rounded down to a multiple of 64 (never below the short side); portrait ratios are the
 * transposed landscape ones. This reproduces the three seed sizes exactly
 * (720·16/9 = 1280, 480·16/9 = 853 → 832, 192·16/9 = 341 → 320) and gives
 * 960x720 / 640x480 / 256x192 for 4:3 and square 720x720 / 480x480 / 192x192.
 *
 * @example
 * ```ts
 * import { pixelSize } from "./settings.ts";
 * pixelSize("480p", "9:16"); // { width: 480, height: 832 }
 * ```
 * @module
 */
import { z } from "zod";

/** Resolution tiers, default 480p. */
export const RESOLUTIONS = ["256p", "480p", "720p"] as const;
export const Resolution = z.enum(RESOLUTIONS);
export type Resolution = z.infer<typeof Resolution>;
export const DEFAULT_RESOLUTION: Resolution = "480p";

/** Aspect ratios (width:height), default 16:9. */
export const ASPECT_RATIOS = ["16:9", "4:3", "1:1", "3:4", "9:16"] as const;
export const AspectRatio = z.enum(ASPECT_RATIOS);
export type AspectRatio = z.infer<typeof AspectRatio>;
export const DEFAULT_ASPECT_RATIO: AspectRatio = "16:9";

/** Frame rates, default 24. */
export const FRAME_RATES = [10, 16, 24, 30] as const;
export const Fps = z.union(FRAME_RATES.map((f) => z.literal(f)) as [
  z.ZodLiteral<10>,
  z.ZodLiteral<16>,
  z.ZodLiteral<24>,
  z.ZodLiteral<30>,
]);
export type Fps = z.infer<typeof Fps>;
export const DEFAULT_FPS: Fps = 24;

/** Frame count: 5 to 300, default 189 (about 7.9 s at 24 FPS). */
export const MIN_FRAMES = 5;
export const MAX_FRAMES = 300;
export const DEFAULT_FRAMES = 189;
export const FrameCount = z.number().int().min(MIN_FRAMES).max(MAX_FRAMES);

/** Video conditioning uses this many frames at the matching resolution (seed). */
export const CONDITIONING_FRAMES = 5;

/** The short side of each tier (the 16:9 sizes of the seed). */
const SHORT_SIDE: Record<Resolution, number> = { "720p": 720, "480p": 480, "256p": 192 };
const RATIO: Record<AspectRatio, [number, number]> = {
  "16:9": [16, 9],
  "4:3": [4, 3],
  "1:1": [1, 1],
  "3:4": [3, 4],
  "9:16": [9, 16],
};

/** A width × height in pixels. */
export interface PixelSize {
  width: number;
  height: number;
}

/** Pixel size of a tier at an aspect ratio, by the rule in this module's doc. */
export function pixelSize(resolution: Resolution, aspectRatio: AspectRatio): PixelSize {
  const short = SHORT_SIDE[resolution];
  const [a, b] = RATIO[aspectRatio];
  // Square sizes keep the short side; elsewhere the long side is floored to a multiple of 64.
  const long = Math.max(short, Math.floor((short * Math.max(a, b)) / Math.min(a, b) / 64) * 64);
  return a >= b ? { width: long, height: short } : { width: short, height: long };
}

/** Every (tier, ratio) pair with its pixel size, e.g. for documentation tables. */
export function sizeTable(): { resolution: Resolution; aspectRatio: AspectRatio; width: number; height: number }[] {
  return RESOLUTIONS.flatMap((resolution) =>
    ASPECT_RATIOS.map((aspectRatio) => ({ resolution, aspectRatio, ...pixelSize(resolution, aspectRatio) }))
  );
}

/** `"WIDTHxHEIGHT"` as vLLM-Omni's `size` field wants it. */
export function sizeString(size: PixelSize): string {
  return `${size.width}x${size.height}`;
}
