/**
 * Vision preprocessing rules of the Qwen3-VL processor (HF transformers), so the native
 * engine and a remote vLLM server (which runs that processor) see the same frames:
 * smart resize to multiples of the patch grid within pixel bounds, frame sampling by fps
 * or count, and the per-temporal-patch timestamps of the prompt.
 *
 * Sources (huggingface/transformers, main):
 * - `src/transformers/models/qwen2_vl/image_processing_qwen2_vl.py` — `smart_resize` (images;
 *   Qwen3-VL's checkpoints use `Qwen2VLImageProcessor`).
 * - `src/transformers/models/qwen3_vl/video_processing_qwen3_vl.py` — video `smart_resize`,
 *   `sample_frames`, `resize` (incl. `cap_pixels_per_frame`), class defaults.
 * - `src/transformers/models/qwen3_vl/processing_qwen3_vl.py` — `_calculate_timestamps` and the
 *   `<{t:.1f} seconds>` prompt text.
 * - Checkpoint `preprocessor_config.json` / `video_preprocessor_config.json` of Qwen3-VL models
 *   (override the class defaults; listed below).
 *
 * Python's `round()` and `np.round` round half to even: 720 / 32 = 22.5 rounds to 22, so a
 * 1280x720 image becomes 1280x704, not 1280x736. Every rounding here follows Python.
 *
 * @example
 * ```ts
 * import { qwenImagePlan, qwenVideoPlan, smartResize } from "./qwen_vision.ts";
 * smartResize(720, 1280); // { height: 704, width: 1280 }
 * qwenImagePlan(720, 1280).numTokens; // 880 (704/32 * 1280/32)
 * const v = qwenVideoPlan({ totalFrames: 189, fps: 24, height: 720, width: 1280 });
 * v.indices.length; // 15 (2 fps over 7.875 s)
 * v.timestampLabels[0]; // "<0.3 seconds>"
 * ```
 * @module
 */
import { MediaError } from "../errors.ts";

/** `patch_size = 16` (video_processing_qwen3_vl.py, class attribute; checkpoint configs agree). */
export const QWEN3_VL_PATCH_SIZE = 16;
/** `merge_size = 2` (video_processing_qwen3_vl.py). */
export const QWEN3_VL_MERGE_SIZE = 2;
/** `temporal_patch_size = 2` (video_processing_qwen3_vl.py): frames are grouped in pairs. */
export const QWEN3_VL_TEMPORAL_PATCH_SIZE = 2;
/** `factor = patch_size * merge_size` = 32 (`_preprocess` passes it to `smart_resize`). */
export const QWEN3_VL_FACTOR = QWEN3_VL_PATCH_SIZE * QWEN3_VL_MERGE_SIZE;

/** Pixel bounds of {@link smartResize}. */
export interface SmartResizeOptions {
  /** Both sides become multiples of this (default 32). */
  factor?: number;
  /** Lower bound of height x width (`size["shortest_edge"]`). */
  minPixels?: number;
  /** Upper bound of height x width (`size["longest_edge"]`). */
  maxPixels?: number;
}

/**
 * Image defaults of Qwen3-VL checkpoints (`preprocessor_config.json`: `"size":
 * {"shortest_edge": 65536, "longest_edge": 16777216}`, `patch_size` 16, `merge_size` 2),
 * i.e. 64 to 16384 tokens of 32x32 px.
 */
export const QWEN3_VL_IMAGE_DEFAULTS = Object.freeze({ factor: 32, minPixels: 65536, maxPixels: 16777216 });

/**
 * Class defaults of `Qwen2VLImageProcessor` (image_processing_qwen2_vl.py: `size =
 * {"shortest_edge": 56 * 56, "longest_edge": 28 * 28 * 1280}`, `patch_size = 14`) — used only
 * when a checkpoint gives no config; shown for reference.
 */
export const QWEN2_VL_IMAGE_CLASS_DEFAULTS = Object.freeze({
  factor: 28,
  minPixels: 56 * 56,
  maxPixels: 28 * 28 * 1280,
});

/** Video sampling and pixel-budget settings. */
export interface QwenVideoSettings {
  factor: number;
  temporalPatchSize: number;
  /** `size["shortest_edge"]`: lower bound of frames x height x width. */
  minPixels: number;
  /** `size["longest_edge"]`: upper bound of frames x height x width (the whole video's budget). */
  maxPixels: number;
  /** Frames sampled per second when neither fps nor numFrames is given (`fps = 2`). */
  fps: number;
  /** `min_frames = 4`. */
  minFrames: number;
  /** `max_frames = 768`. */
  maxFrames: number;
  /**
   * `cap_pixels_per_frame`: cap each frame at `min(768 * factor², longest_edge // n)`, floored at
   * `int(1.05 * shortest_edge)` (qwen-vl-utils behaviour). transformers keeps it off unless set
   * (it warns and plans to turn it on in v5.22); default false here too.
   */
  capPixelsPerFrame: boolean;
}

/**
 * Video defaults of Qwen3-VL checkpoints (`video_preprocessor_config.json`: `"size":
 * {"shortest_edge": 4096, "longest_edge": 25165824}`, `fps` 2, `min_frames` 4, `max_frames` 768,
 * `patch_size` 16, `temporal_patch_size` 2, `merge_size` 2). 25165824 = 24576 x 32 x 32.
 */
export const QWEN3_VL_VIDEO_DEFAULTS: Readonly<QwenVideoSettings> = Object.freeze({
  factor: 32,
  temporalPatchSize: 2,
  minPixels: 4096,
  maxPixels: 25165824,
  fps: 2,
  minFrames: 4,
  maxFrames: 768,
  capPixelsPerFrame: false,
});

/**
 * Class defaults of `Qwen3VLVideoProcessor` (video_processing_qwen3_vl.py: `size =
 * {"shortest_edge": 128 * 32 * 32, "longest_edge": 32 * 32 * 768}`, `fps = 2`, `min_frames = 4`,
 * `max_frames = 768`) — what transformers uses when the checkpoint config gives no size.
 */
export const QWEN3_VL_VIDEO_CLASS_DEFAULTS: Readonly<QwenVideoSettings> = Object.freeze({
  ...QWEN3_VL_VIDEO_DEFAULTS,
  minPixels: 128 * 32 * 32,
  maxPixels: 32 * 32 * 768,
});

/** Python's `round()` / `np.round`: nearest integer, ties to even. */
export function pyRound(x: number): number {
  const f = Math.floor(x);
  const d = x - f;
  if (d > 0.5) return f + 1;
  if (d < 0.5) return f;
  return f % 2 === 0 ? f : f + 1;
}

function checkSize(height: number, width: number): void {
  if (!(height > 0) || !(width > 0) || !Number.isFinite(height) || !Number.isFinite(width)) {
    throw new MediaError(`Cannot resize a ${width}x${height} picture.`, { hint: "Width and height must be positive." });
  }
}

function checkAspect(height: number, width: number): void {
  // "absolute aspect ratio must be smaller than 200" (both smart_resize versions)
  const ratio = Math.max(height, width) / Math.min(height, width);
  if (ratio > 200) {
    throw new MediaError(
      `Aspect ratio ${ratio.toFixed(1)} of a ${width}x${height} picture is above 200, which Qwen3-VL rejects.`,
      {
        hint: "Crop the picture to a less extreme shape.",
      },
    );
  }
}

/**
 * Image `smart_resize` (image_processing_qwen2_vl.py): round each side to the nearest multiple
 * of `factor` (ties to even); if the area exceeds `maxPixels`, scale by
 * `beta = sqrt(h * w / maxPixels)` and floor to the factor (at least one factor); if it is
 * below `minPixels`, scale by `beta = sqrt(minPixels / (h * w))` and ceil to the factor.
 * Defaults: Qwen3-VL checkpoints (factor 32, 65536..16777216 px).
 */
export function smartResize(
  height: number,
  width: number,
  opts: SmartResizeOptions = {},
): { height: number; width: number } {
  const factor = opts.factor ?? QWEN3_VL_IMAGE_DEFAULTS.factor;
  const minPixels = opts.minPixels ?? QWEN3_VL_IMAGE_DEFAULTS.minPixels;
  const maxPixels = opts.maxPixels ?? QWEN3_VL_IMAGE_DEFAULTS.maxPixels;
  checkSize(height, width);
  checkAspect(height, width);
  let hBar = pyRound(height / factor) * factor;
  let wBar = pyRound(width / factor) * factor;
  if (hBar * wBar > maxPixels) {
    const beta = Math.sqrt((height * width) / maxPixels);
    hBar = Math.max(factor, Math.floor(height / beta / factor) * factor);
    wBar = Math.max(factor, Math.floor(width / beta / factor) * factor);
  } else if (hBar * wBar < minPixels) {
    const beta = Math.sqrt(minPixels / (height * width));
    hBar = Math.ceil((height * beta) / factor) * factor;
    wBar = Math.ceil((width * beta) / factor) * factor;
  }
  return { height: hBar, width: wBar };
}

/**
 * Video `smart_resize` (video_processing_qwen3_vl.py): like {@link smartResize} but the bounds
 * apply to `t_bar * h * w`, where `t_bar = round(numFrames / temporalFactor) * temporalFactor`,
 * and `beta` uses the real `numFrames`. Sides below `factor` are first scaled up
 * (`int(side * max(factor / h, factor / w))`). Fewer frames than `temporalFactor` is an error.
 */
export function smartResizeVideo(
  numFrames: number,
  height: number,
  width: number,
  opts: SmartResizeOptions & { temporalFactor?: number } = {},
): { height: number; width: number } {
  const factor = opts.factor ?? QWEN3_VL_VIDEO_DEFAULTS.factor;
  const temporal = opts.temporalFactor ?? QWEN3_VL_VIDEO_DEFAULTS.temporalPatchSize;
  const minPixels = opts.minPixels ?? QWEN3_VL_VIDEO_DEFAULTS.minPixels;
  const maxPixels = opts.maxPixels ?? QWEN3_VL_VIDEO_DEFAULTS.maxPixels;
  checkSize(height, width);
  if (!Number.isInteger(numFrames) || numFrames < temporal) {
    throw new MediaError(`A video needs at least ${temporal} frames for Qwen3-VL, got ${numFrames}.`, {
      hint: "Sample more frames (raise fps or numFrames), or pass the picture as an image.",
    });
  }
  if (height < factor || width < factor) {
    const scale = Math.max(factor / height, factor / width);
    height = Math.trunc(height * scale);
    width = Math.trunc(width * scale);
  }
  checkAspect(height, width);
  let hBar = pyRound(height / factor) * factor;
  let wBar = pyRound(width / factor) * factor;
  const tBar = pyRound(numFrames / temporal) * temporal;
  if (tBar * hBar * wBar > maxPixels) {
    const beta = Math.sqrt((numFrames * height * width) / maxPixels);
    hBar = Math.max(factor, Math.floor(height / beta / factor) * factor);
    wBar = Math.max(factor, Math.floor(width / beta / factor) * factor);
  } else if (tBar * hBar * wBar < minPixels) {
    const beta = Math.sqrt(minPixels / (numFrames * height * width));
    hBar = Math.ceil((height * beta) / factor) * factor;
    wBar = Math.ceil((width * beta) / factor) * factor;
  }
  return { height: hBar, width: wBar };
}

/**
 * The `max_pixels` the video resize uses: `longest_edge`, or with `capPixelsPerFrame`
 * `max(min(768 * factor², longest_edge // n), int(shortest_edge * 1.05)) * n`
 * (`Qwen3VLVideoProcessor.resize`).
 */
export function videoMaxPixels(
  numFrames: number,
  s: Pick<QwenVideoSettings, "factor" | "minPixels" | "maxPixels" | "capPixelsPerFrame">,
): number {
  if (!s.capPixelsPerFrame) return s.maxPixels;
  const frameCap = 768 * s.factor * s.factor;
  const perFrame = Math.max(Math.min(frameCap, Math.floor(s.maxPixels / numFrames)), Math.trunc(s.minPixels * 1.05));
  return perFrame * numFrames;
}

/** Source video metadata for sampling. */
export interface VideoMeta {
  /** Frames in the source video. */
  totalFrames: number;
  /** Source frame rate (transformers assumes 24 when unknown). */
  fps?: number;
}

/**
 * `np.linspace(0, total - 1, count).round().astype(int)`: numpy computes `i * step` with
 * `step = (total - 1) / (count - 1)`, sets the last value to `total - 1`, rounds ties to even.
 */
export function linspaceIndices(total: number, count: number): number[] {
  if (count <= 0) return [];
  if (count === 1) return [0];
  const stop = total - 1;
  const step = stop / (count - 1);
  const out: number[] = [];
  for (let i = 0; i < count; i++) out.push(pyRound(i === count - 1 ? stop : i * step));
  return out;
}

/**
 * `Qwen3VLVideoProcessor.sample_frames`: with `numFrames`, that many evenly spaced indices (no
 * clamping); otherwise `n = int(total / videoFps * fps)` clamped to
 * `min(max(n, minFrames), maxFrames, total)`, then evenly spaced. `fps` defaults to 2 and
 * `numFrames`/`fps` are mutually exclusive.
 */
export function sampleFrameIndices(
  meta: VideoMeta,
  opts: { fps?: number; numFrames?: number; minFrames?: number; maxFrames?: number } = {},
): number[] {
  if (opts.fps !== undefined && opts.numFrames !== undefined) {
    throw new MediaError("`numFrames` and `fps` are mutually exclusive; pass only one.");
  }
  const total = meta.totalFrames;
  if (!Number.isInteger(total) || total <= 0) {
    throw new MediaError(`Cannot sample frames from a video of ${total} frames.`);
  }
  let n = opts.numFrames;
  if (n === undefined) {
    const fps = opts.fps ?? QWEN3_VL_VIDEO_DEFAULTS.fps;
    const videoFps = meta.fps ?? 24; // transformers: "Defaulting to `fps=24`"
    n = Math.trunc((total / videoFps) * fps);
    n = Math.min(
      Math.max(n, opts.minFrames ?? QWEN3_VL_VIDEO_DEFAULTS.minFrames),
      opts.maxFrames ?? QWEN3_VL_VIDEO_DEFAULTS.maxFrames,
      total,
    );
  }
  if (!Number.isInteger(n) || n < 1) throw new MediaError(`numFrames must be a positive integer, got ${n}.`);
  return linspaceIndices(total, n);
}

/**
 * `Qwen3VLProcessor._calculate_timestamps`: pad the indices to a multiple of `mergeSize`
 * (= temporal_patch_size 2) by repeating the last, convert to seconds (`idx / fps`), then
 * average the first and last timestamp of each temporal patch. One value per patch.
 */
export function frameTimestamps(
  indices: readonly number[],
  videoFps: number,
  mergeSize = QWEN3_VL_TEMPORAL_PATCH_SIZE,
): number[] {
  const idx = [...indices];
  if (idx.length % mergeSize !== 0) {
    const last = idx[idx.length - 1];
    const pad = mergeSize - (idx.length % mergeSize);
    for (let i = 0; i < pad; i++) idx.push(last);
  }
  const ts = idx.map((i) => i / videoFps);
  const out: number[] = [];
  for (let i = 0; i < ts.length; i += mergeSize) out.push((ts[i] + ts[i + mergeSize - 1]) / 2);
  return out;
}

/**
 * Python's `f"{x:.1f}"`: correctly rounded, ties (exact binary halves such as 0.25) to even.
 * JavaScript's `toFixed(1)` rounds those ties up ("0.3"); Python prints "0.2".
 */
export function formatFixed1(x: number): string {
  const q = x * 4; // exact; a 1-decimal tie is x = k/4 with k odd
  if (Number.isInteger(q) && q % 2 !== 0) {
    const n = Math.floor(x * 10); // exact for these x
    const even = n % 2 === 0 ? n : n + 1;
    return (even / 10).toFixed(1);
  }
  return x.toFixed(1);
}

/** The prompt text before each temporal patch: `<{t:.1f} seconds>` (processing_qwen3_vl.py). */
export function timestampLabel(t: number): string {
  return `<${formatFixed1(t)} seconds>`;
}

/** What the processor does with one image. */
export interface QwenImagePlan {
  /** Resized size (multiples of 32). */
  height: number;
  width: number;
  /** `[grid_t, grid_h, grid_w]` in 16 px patches; an image is one temporal patch. */
  gridThw: [number, number, number];
  /** Placeholder tokens: `grid_t * grid_h * grid_w / merge_size²`. */
  numTokens: number;
}

/** Image size, grid and token count as the Qwen3-VL processor computes them. */
export function qwenImagePlan(height: number, width: number, opts: SmartResizeOptions = {}): QwenImagePlan {
  const r = smartResize(height, width, opts);
  const factor = opts.factor ?? QWEN3_VL_IMAGE_DEFAULTS.factor;
  const patch = factor / QWEN3_VL_MERGE_SIZE;
  const gridThw: [number, number, number] = [1, r.height / patch, r.width / patch];
  return { ...r, gridThw, numTokens: (gridThw[1] * gridThw[2]) / (QWEN3_VL_MERGE_SIZE ** 2) };
}

/** What the processor does with one video. */
export interface QwenVideoPlan {
  /** Source frame indices to decode, in order. */
  indices: number[];
  /** Resized frame size (multiples of 32). */
  height: number;
  width: number;
  /** `[grid_t, grid_h, grid_w]`: grid_t = ceil(frames / 2) (the last frame is repeated). */
  gridThw: [number, number, number];
  /** Seconds of each temporal patch (one per grid_t). */
  timestamps: number[];
  /** `"<0.3 seconds>"` labels, one per temporal patch. */
  timestampLabels: string[];
  /** Placeholder tokens of the whole video. */
  numTokens: number;
}

/**
 * Frame indices, frame size, grid, timestamps and token count for a video, as
 * `Qwen3VLVideoProcessor` + `Qwen3VLProcessor` compute them. `sampling` is the per-request
 * choice (vLLM's `media_io_kwargs` fps / num_frames; mutually exclusive), `settings` the
 * processor config (default: Qwen3-VL checkpoint values, whose `fps` 2 applies when neither
 * is given).
 */
export function qwenVideoPlan(
  meta: VideoMeta & { height: number; width: number },
  sampling: { fps?: number; numFrames?: number } = {},
  settings: Partial<QwenVideoSettings> = {},
): QwenVideoPlan {
  const s: QwenVideoSettings = { ...QWEN3_VL_VIDEO_DEFAULTS, ...settings };
  const indices = sampleFrameIndices(meta, {
    fps: sampling.numFrames === undefined ? (sampling.fps ?? s.fps) : sampling.fps,
    numFrames: sampling.numFrames,
    minFrames: s.minFrames,
    maxFrames: s.maxFrames,
  });
  const n = indices.length;
  const size = smartResizeVideo(n, meta.height, meta.width, {
    factor: s.factor,
    temporalFactor: s.temporalPatchSize,
    minPixels: s.minPixels,
    maxPixels: videoMaxPixels(n, s),
  });
  const patch = s.factor / QWEN3_VL_MERGE_SIZE;
  const gridT = Math.ceil(n / s.temporalPatchSize);
  const gridThw: [number, number, number] = [gridT, size.height / patch, size.width / patch];
  const timestamps = frameTimestamps(indices, meta.fps ?? 24, s.temporalPatchSize);
  return {
    indices,
    ...size,
    gridThw,
    timestamps,
    timestampLabels: timestamps.map(timestampLabel),
    numTokens: (gridThw[0] * gridThw[1] * gridThw[2]) / (QWEN3_VL_MERGE_SIZE ** 2),
  };
}
