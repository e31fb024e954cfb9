/**
 * Cosmos 3 generation settings: resolution tiers × aspect ratios → pixel sizes,
 * frame rates, frame counts and their defaults (seed: "Supported Generation Settings"
 * and "Input and Output" tables).
 *
 * ## Sizes
 * Pixel sizes come from Cosmos 3's own resolution tables, not from a rule: cosmos-framework
 * `docs/inference.md` "Resolution tiers" (authoritative: `IMAGE_RES_SIZE_INFO` /
 * `VIDEO_RES_SIZE_INFO` in `cosmos_framework/data/generator/utils.py`) and the same table in
 * vLLM-Omni `vllm_omni/diffusion/models/cosmos3/action.py:49-77` (`VIDEO_RES_SIZE_INFO`).
 * The 16:9 sizes are the seed's (1280x720, 832x480, 320x192); the others are not a fixed
 * short side: 480p 1:1 is 640x640 and 4:3 is 736x544, and the 256p tier is 256 pixels on
 * its short side only for 1:1 and 4:3.
 *
 * @example
 * ```ts
 * import { pixelSize } from "./settings.ts";
 * pixelSize("480p", "9:16"); // { width: 480, height: 832 }
 * pixelSize("480p", "1:1"); // { width: 640, height: 640 }
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

/** A width × height in pixels. */
export interface PixelSize {
  width: number;
  height: number;
}

/**
 * Width × height per tier and aspect ratio: cosmos-framework `docs/inference.md` "Resolution
 * tiers" = vLLM-Omni `cosmos3/action.py:49-77` `VIDEO_RES_SIZE_INFO` (its tuples are (W, H)).
 */
export const RESOLUTION_TABLE: Readonly<Record<Resolution, Readonly<Record<AspectRatio, PixelSize>>>> = Object.freeze({
  "256p": {
    "1:1": { width: 256, height: 256 },
    "4:3": { width: 320, height: 256 },
    "3:4": { width: 256, height: 320 },
    "16:9": { width: 320, height: 192 },
    "9:16": { width: 192, height: 320 },
  },
  "480p": {
    "1:1": { width: 640, height: 640 },
    "4:3": { width: 736, height: 544 },
    "3:4": { width: 544, height: 736 },
    "16:9": { width: 832, height: 480 },
    "9:16": { width: 480, height: 832 },
  },
  "720p": {
    "1:1": { width: 960, height: 960 },
    "4:3": { width: 1104, height: 832 },
    "3:4": { width: 832, height: 1104 },
    "16:9": { width: 1280, height: 720 },
    "9:16": { width: 720, height: 1280 },
  },
});

/** The tier key vLLM-Omni's `extra_params.resolution` and cosmos-framework's `resolution` take. */
export const RESOLUTION_KEY: Readonly<Record<Resolution, "256" | "480" | "720">> = Object.freeze({
  "256p": "256",
  "480p": "480",
  "720p": "720",
});

/** Pixel size of a tier at an aspect ratio (Cosmos 3's table). */
export function pixelSize(resolution: Resolution, aspectRatio: AspectRatio): PixelSize {
  return { ...RESOLUTION_TABLE[resolution][aspectRatio] };
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
