/**
 * 3D multimodal RoPE position ids (t, h, w) of a Qwen3-VL prompt, as transformers'
 * `Qwen3VLModel.get_rope_index` computes them (modeling_qwen3_vl.py).
 *
 * - Text tokens get the same position on all three axes, counting on from the largest
 *   position so far (+1).
 * - A vision block (image, or one temporal patch of a video) found after a
 *   `<|vision_start|>` gets t = 0, h = row, w = column of its merged grid
 *   (`grid_h / merge` x `grid_w / merge`), all offset by the position where it starts.
 * - Qwen3-VL splits each video into grid_t blocks of t = 1 (the `<t seconds>` text carries
 *   time), so every frame block restarts at t offset 0; `video_grid_thw` is expanded with
 *   `repeat_interleave(grid_t)` before the walk.
 * - The decode step uses `position = cache_position + rope_delta` on all three axes, where
 *   `rope_delta = max(position) + 1 - sequence length`.
 *
 * @example
 * ```ts
 * import { getRopeIndex } from "./rope_index.ts";
 * // text, <|vision_start|>, 4 image pads (grid 1x4x4 merged to 2x2), <|vision_end|>, text
 * const ids = [1, 151652, 151655, 151655, 151655, 151655, 151653, 2];
 * const r = getRopeIndex(ids, { imageGridThw: [[1, 4, 4]] });
 * Array.from(r.positions.subarray(0, 8)); // t: [0, 1, 2, 2, 2, 2, 4, 5]
 * r.ropeDelta; // 6 - 8 = -2
 * ```
 * @module
 */
import { ValidationError } from "../errors.ts";
import { QWEN3_VL_TOKEN_IDS, type VisionTokenIds } from "./prompt.ts";

/** Result of {@link getRopeIndex}. */
export interface RopeIndex {
  /** `[3, seqLen]` row-major: t positions, then h, then w. */
  positions: Int32Array;
  /** Sequence length. */
  seqLen: number;
  /** `max(positions) + 1 - seqLen`: added to the cache position for decoded tokens. */
  ropeDelta: number;
}

/** Grids of the media in the prompt, in order per modality. */
export interface RopeIndexMedia {
  imageGridThw?: readonly (readonly [number, number, number])[];
  videoGridThw?: readonly (readonly [number, number, number])[];
  /** Spatial merge size (vision_config.spatial_merge_size, 2). */
  spatialMergeSize?: number;
  /** Token ids (config.json); Qwen3-VL's by default. */
  tokenIds?: Pick<VisionTokenIds, "imageTokenId" | "videoTokenId" | "visionStartTokenId">;
}

function indexOfFrom(a: ArrayLike<number>, v: number, from: number): number {
  for (let i = from; i < a.length; i++) if (a[i] === v) return i;
  return -1;
}

/** `get_rope_index` for one unpadded sequence. */
export function getRopeIndex(inputIds: ArrayLike<number>, media: RopeIndexMedia = {}): RopeIndex {
  const ids = media.tokenIds ?? QWEN3_VL_TOKEN_IDS;
  const merge = media.spatialMergeSize ?? 2;
  const L = inputIds.length;
  const positions = new Int32Array(3 * L);
  const images = media.imageGridThw ?? [];
  // Qwen3-VL: one block per temporal patch, each with t = 1.
  const videos: [number, number, number][] = [];
  for (const [t, h, w] of media.videoGridThw ?? []) for (let k = 0; k < t; k++) videos.push([1, h, w]);

  if (images.length === 0 && videos.length === 0) {
    for (let i = 0; i < L; i++) positions[i] = positions[L + i] = positions[2 * L + i] = i;
    return { positions, seqLen: L, ropeDelta: 0 };
  }

  let imageNums = 0;
  let videoNums = 0;
  for (let i = 0; i + 1 < L; i++) {
    if (inputIds[i] !== ids.visionStartTokenId) continue;
    if (inputIds[i + 1] === ids.imageTokenId) imageNums++;
    else if (inputIds[i + 1] === ids.videoTokenId) videoNums++;
  }
  let remainImages = imageNums;
  let remainVideos = videoNums;
  let imageIndex = 0;
  let videoIndex = 0;
  let st = 0;
  let o = 0; // positions written
  let next = 0; // max position so far + 1 (st_idx)
  const put = (t: number, h: number, w: number): void => {
    positions[o] = t;
    positions[L + o] = h;
    positions[2 * L + o] = w;
    o++;
    const m = Math.max(t, h, w) + 1;
    if (m > next) next = m;
  };
  for (let n = 0; n < imageNums + videoNums; n++) {
    const edImage = remainImages > 0 ? indexOfFrom(inputIds, ids.imageTokenId, st) : -1;
    const edVideo = remainVideos > 0 ? indexOfFrom(inputIds, ids.videoTokenId, st) : -1;
    const ei = edImage < 0 ? L + 1 : edImage;
    const ev = edVideo < 0 ? L + 1 : edVideo;
    let grid: readonly [number, number, number];
    let ed: number;
    if (ei < ev) {
      grid = images[imageIndex++];
      remainImages--;
      ed = ei;
    } else {
      grid = videos[videoIndex++];
      remainVideos--;
      ed = ev;
    }
    if (!grid || ed > L) {
      throw new ValidationError([{
        field: "inputIds",
        value: `${imageNums} image / ${videoNums} video blocks`,
        allowed: `${images.length} images, ${videos.length} video frame blocks`,
        message: "vision placeholders do not match the media grids",
      }]);
    }
    const [gt, gh, gw] = grid;
    const lh = Math.trunc(gh / merge);
    const lw = Math.trunc(gw / merge);
    const textLen = ed - st;
    const stIdx = next;
    for (let k = 0; k < textLen; k++) put(stIdx + k, stIdx + k, stIdx + k);
    const base = textLen + stIdx;
    for (let t = 0; t < gt; t++) {
      for (let h = 0; h < lh; h++) for (let w = 0; w < lw; w++) put(base + t, base + h, base + w);
    }
    st = ed + gt * lh * lw;
  }
  if (st < L) {
    const stIdx = next;
    for (let k = 0; k < L - st; k++) put(stIdx + k, stIdx + k, stIdx + k);
  }
  if (o !== L) {
    throw new ValidationError([{
      field: "inputIds",
      value: L,
      allowed: `${o} tokens`,
      message: "vision blocks run past the end of the sequence; the pad counts do not match the grids",
    }]);
  }
  return { positions, seqLen: L, ropeDelta: next - L };
}

/** Positions of decoded token `cachePosition` (0-based index in the whole sequence): same on all axes. */
export function decodePosition(cachePosition: number, ropeDelta: number): number {
  return cachePosition + ropeDelta;
}
