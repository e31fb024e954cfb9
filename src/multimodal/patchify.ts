/**
 * Qwen3-VL `pixel_values` from resized RGB frames, laid out exactly as transformers'
 * processors flatten them, so the vision tower's Conv3d patch embedding becomes one matmul
 * over rows of `channels * temporal_patch_size * patch_size²` values.
 *
 * Source (huggingface/transformers): `Qwen2VLImageProcessor._preprocess` and
 * `Qwen3VLVideoProcessor.patchify` do the same thing:
 * - rescale by 1/255 and normalize with mean/std (Qwen3-VL checkpoints and the video
 *   processor's `IMAGENET_STANDARD_MEAN/STD` are both 0.5, so `v = x / 127.5 - 1`);
 * - pad the frame count to a multiple of `temporal_patch_size` (2) by repeating the last
 *   frame (an image becomes two identical frames);
 * - view as `(grid_t, tp, C, grid_h/m, m, p, grid_w/m, m, p)` and permute to
 *   `(grid_t, grid_h/m, grid_w/m, m, m, C, tp, p, p)`: rows run over temporal groups, then
 *   2x2 merge blocks in raster order, then the 4 patches of a block; each row is the
 *   patch's `(C, tp, p, p)` values, which is the Conv3d weight's `(in, kt, kh, kw)` order.
 *
 * The fast (torch) processors fuse rescale and normalize as `(x - 255 * mean) / (255 * std)`
 * in float32; this does the same, which agrees with the two-step numpy path to ~1e-7.
 *
 * @example
 * ```ts
 * import { patchify } from "./patchify.ts";
 * const frame = { width: 64, height: 32, channels: 3 as const, data: new Uint8Array(64 * 32 * 3) };
 * const p = patchify([frame]);
 * p.gridThw; // [1, 2, 4]
 * p.pixelValues.length; // 8 rows * 1536 (3 * 2 * 16 * 16)
 * ```
 * @module
 */
import { ValidationError } from "../errors.ts";

/** One RGB frame (HWC, 3 channels), as the media helpers return it. */
export interface PatchifyFrame {
  width: number;
  height: number;
  channels: 3;
  data: Uint8Array;
}

/** Processor settings (Qwen3-VL defaults). */
export interface PatchifyOptions {
  /** Spatial patch side in pixels (16). */
  patchSize?: number;
  /** Frames per temporal patch (2). */
  temporalPatchSize?: number;
  /** Spatial merge side (2). */
  mergeSize?: number;
  /** Per-channel mean after rescale (0.5, 0.5, 0.5). */
  imageMean?: readonly [number, number, number];
  /** Per-channel std after rescale (0.5, 0.5, 0.5). */
  imageStd?: readonly [number, number, number];
  /** Multiplier before normalization (1/255). */
  rescaleFactor?: number;
}

/** Flattened patches of one image or video. */
export interface Patches {
  /** `[rows, patchDim]` row-major, rows = grid_t * grid_h * grid_w. */
  pixelValues: Float32Array;
  /** `[grid_t, grid_h, grid_w]` in patches. */
  gridThw: [number, number, number];
  /** Values per row: channels * temporalPatchSize * patchSize². */
  patchDim: number;
  /** Rows (patches). */
  rows: number;
}

/** Qwen3-VL defaults of {@link PatchifyOptions}. */
export const QWEN3_VL_PATCHIFY_DEFAULTS = Object.freeze({
  patchSize: 16,
  temporalPatchSize: 2,
  mergeSize: 2,
  imageMean: [0.5, 0.5, 0.5] as const,
  imageStd: [0.5, 0.5, 0.5] as const,
  rescaleFactor: 1 / 255,
});

function bad(field: string, value: unknown, allowed: string, message: string): ValidationError {
  return new ValidationError([{ field, value, allowed, message }]);
}

/**
 * Flattens frames (already smart-resized, all the same size) into Qwen3-VL `pixel_values`.
 * One frame is an image (repeated to fill the temporal patch); several are a video.
 */
export function patchify(frames: readonly PatchifyFrame[], opts: PatchifyOptions = {}): Patches {
  const p = opts.patchSize ?? QWEN3_VL_PATCHIFY_DEFAULTS.patchSize;
  const tp = opts.temporalPatchSize ?? QWEN3_VL_PATCHIFY_DEFAULTS.temporalPatchSize;
  const m = opts.mergeSize ?? QWEN3_VL_PATCHIFY_DEFAULTS.mergeSize;
  const mean = opts.imageMean ?? QWEN3_VL_PATCHIFY_DEFAULTS.imageMean;
  const std = opts.imageStd ?? QWEN3_VL_PATCHIFY_DEFAULTS.imageStd;
  const rescale = opts.rescaleFactor ?? QWEN3_VL_PATCHIFY_DEFAULTS.rescaleFactor;
  if (frames.length === 0) throw bad("frames", 0, ">= 1 frame", "patchify needs at least one frame");
  const { width: W, height: H } = frames[0];
  const factor = p * m;
  if (H % factor !== 0 || W % factor !== 0 || H <= 0 || W <= 0) {
    throw bad(
      "frames.0",
      `${W}x${H}`,
      `multiples of ${factor}`,
      "resize frames with smartResize / prepareQwenImage first",
    );
  }
  for (let i = 0; i < frames.length; i++) {
    const f = frames[i];
    if (f.width !== W || f.height !== H || f.channels !== 3 || f.data.length !== W * H * 3) {
      throw bad(
        `frames.${i}`,
        `${f.width}x${f.height}x${f.channels}`,
        `${W}x${H}x3`,
        "all frames must be RGB of one size",
      );
    }
  }
  // Fused rescale + normalize in float32, as the fast processors do: (x - 255*mean) / (255*std).
  const lut: Float32Array[] = [0, 1, 2].map((c) => {
    const t = new Float32Array(256);
    const mu = Math.fround(mean[c] / rescale);
    const sd = Math.fround(std[c] / rescale);
    for (let x = 0; x < 256; x++) t[x] = Math.fround(x - mu) / sd;
    return t;
  });
  const nFrames = Math.ceil(frames.length / tp) * tp; // pad by repeating the last frame
  const gridT = nFrames / tp;
  const gridH = H / p;
  const gridW = W / p;
  const C = 3;
  const patchDim = C * tp * p * p;
  const rows = gridT * gridH * gridW;
  const out = new Float32Array(rows * patchDim);
  let o = 0;
  for (let gt = 0; gt < gridT; gt++) {
    for (let bh = 0; bh < gridH / m; bh++) {
      for (let bw = 0; bw < gridW / m; bw++) {
        for (let mh = 0; mh < m; mh++) {
          for (let mw = 0; mw < m; mw++) {
            const y0 = (bh * m + mh) * p;
            const x0 = (bw * m + mw) * p;
            for (let c = 0; c < C; c++) {
              const t = lut[c];
              for (let k = 0; k < tp; k++) {
                const fi = Math.min(gt * tp + k, frames.length - 1);
                const d = frames[fi].data;
                for (let py = 0; py < p; py++) {
                  let src = ((y0 + py) * W + x0) * 3 + c;
                  for (let px = 0; px < p; px++, src += 3) out[o++] = t[d[src]];
                }
              }
            }
          }
        }
      }
    }
  }
  return { pixelValues: out, gridThw: [gridT, gridH, gridW], patchDim, rows };
}
