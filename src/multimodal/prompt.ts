/**
 * Prompt assembly for native Qwen3-VL runs: the chat template writes one
 * `<|vision_start|><|image_pad|><|vision_end|>` per image and one
 * `<|vision_start|><|video_pad|><|vision_end|>` per video; the processor then expands them.
 *
 * Source (huggingface/transformers `processing_qwen3_vl.py`, `Qwen3VLProcessor.__call__`):
 * - each `<|image_pad|>` becomes `grid_t * grid_h * grid_w / merge²` image pads;
 * - each video placeholder becomes, per temporal patch t, `<{ts:.1f} seconds><|vision_start|>`
 *   + `grid_h * grid_w / merge²` video pads + `<|vision_end|>`, where ts is the mean time of
 *   the patch's two frames (`_calculate_timestamps`, here `frameTimestamps` /
 *   `timestampLabel` of src/media).
 * Images are matched to image placeholders in text order, videos likewise.
 *
 * What the video placeholder is differs between implementations (`videoWrap`):
 * - `"replace"` (default): the whole `<|vision_start|><|video_pad|><|vision_end|>` is replaced
 *   (a bare `<|video_pad|>` when there is no such triple). This is the original Qwen3-VL
 *   processor (transformers 4.57) and vLLM's Qwen3-VL prompt update, i.e. what the remote path
 *   and the model's training see.
 * - `"keep"`: only `<|video_pad|>` is replaced and the template's outer vision_start/end stay
 *   around the timestamped blocks: transformers 5.17 (`replace_video_token`, probed on the
 *   device), which made the committed reference fixtures.
 *
 * @example
 * ```ts
 * import { expandVisionPlaceholders } from "./prompt.ts";
 * const text = "<|vision_start|><|image_pad|><|vision_end|>What is this?";
 * const out = expandVisionPlaceholders(text, { images: [{ gridThw: [1, 4, 4] }] });
 * out.split("<|image_pad|>").length - 1; // 4
 * ```
 * @module
 */
import { ValidationError } from "../errors.ts";
import { timestampLabel } from "../media/qwen_vision.ts";

/** Special tokens of Qwen3-VL tokenizers. */
export const QWEN3_VL_TOKENS = Object.freeze({
  imagePad: "<|image_pad|>",
  videoPad: "<|video_pad|>",
  visionStart: "<|vision_start|>",
  visionEnd: "<|vision_end|>",
});

/** Token ids of Qwen3-VL checkpoints (config.json `image_token_id` etc.). */
export interface VisionTokenIds {
  imageTokenId: number;
  videoTokenId: number;
  visionStartTokenId: number;
  visionEndTokenId: number;
}

/** Ids of the released Qwen3-VL checkpoints (config.json). */
export const QWEN3_VL_TOKEN_IDS: Readonly<VisionTokenIds> = Object.freeze({
  imageTokenId: 151655,
  videoTokenId: 151656,
  visionStartTokenId: 151652,
  visionEndTokenId: 151653,
});

/** An image's grid, as {@link patchify} or `qwenImagePlan` return it. */
export interface ImageItem {
  gridThw: readonly [number, number, number];
}

/** A video's grid and the seconds of each temporal patch (`qwenVideoPlan().timestamps`). */
export interface VideoItem {
  gridThw: readonly [number, number, number];
  /** One value per temporal patch (grid_t values). */
  timestamps: readonly number[];
}

function fail(field: string, value: unknown, allowed: string, message: string): never {
  throw new ValidationError([{ field, value, allowed, message }]);
}

/** Placeholder tokens of one image or one temporal patch of a video. */
export function mergedTokenCount(gridThw: readonly [number, number, number], mergeSize = 2): number {
  const [t, h, w] = gridThw;
  if (h % mergeSize !== 0 || w % mergeSize !== 0) {
    fail("gridThw", gridThw, `h, w multiples of ${mergeSize}`, "grid not mergeable");
  }
  return (t * h * w) / (mergeSize * mergeSize);
}

/** The text that replaces one video's placeholder (timestamps, one vision block per temporal patch). */
export function videoPlaceholder(video: VideoItem, mergeSize = 2): string {
  const [t, h, w] = video.gridThw;
  if (video.timestamps.length !== t) {
    fail("videos.timestamps", video.timestamps.length, `${t} (grid_t)`, "one timestamp per temporal patch");
  }
  const perFrame = QWEN3_VL_TOKENS.videoPad.repeat(mergedTokenCount([1, h, w], mergeSize));
  let s = "";
  for (let i = 0; i < t; i++) {
    s += timestampLabel(video.timestamps[i]) + QWEN3_VL_TOKENS.visionStart + perFrame + QWEN3_VL_TOKENS.visionEnd;
  }
  return s;
}

/**
 * Expands image and video placeholders of a chat-templated prompt as `Qwen3VLProcessor` does.
 * Throws a ValidationError when the counts of placeholders and media differ.
 */
export function expandVisionPlaceholders(
  text: string,
  media: { images?: readonly ImageItem[]; videos?: readonly VideoItem[] },
  mergeSize = 2,
  videoWrap: "replace" | "keep" = "replace",
): string {
  const images = media.images ?? [];
  const videos = media.videos ?? [];
  const T = QWEN3_VL_TOKENS;
  // Placeholder markers that cannot collide with real text, replaced back at the end
  // (transformers uses "<|placeholder|>" the same way).
  const IMG = "\u0000img\u0000";
  const VID = "\u0000vid\u0000";
  let out = "";
  let rest = text;
  let i = 0;
  while (true) {
    const at = rest.indexOf(T.imagePad);
    if (at < 0) break;
    if (i >= images.length) {
      fail("images", images.length, `${i + 1} or more`, "more <|image_pad|> placeholders than images");
    }
    out += rest.slice(0, at) + IMG.repeat(mergedTokenCount(images[i].gridThw, mergeSize));
    rest = rest.slice(at + T.imagePad.length);
    i++;
  }
  if (i !== images.length) fail("images", images.length, `${i}`, "more images than <|image_pad|> placeholders");
  let s = out + rest;
  const compound = T.visionStart + T.videoPad + T.visionEnd;
  let v = 0;
  while (s.includes(T.videoPad)) {
    if (v >= videos.length) {
      fail("videos", videos.length, `${v + 1} or more`, "more <|video_pad|> placeholders than videos");
    }
    const rep = videoPlaceholder(videos[v], mergeSize).split(T.videoPad).join(VID);
    const c = s.indexOf(compound);
    const b = s.indexOf(T.videoPad);
    // "replace": the first triple if the text has one, else the first bare pad; "keep": the pad.
    if (c >= 0 && videoWrap === "replace") s = s.slice(0, c) + rep + s.slice(c + compound.length);
    else s = s.slice(0, b) + rep + s.slice(b + T.videoPad.length);
    v++;
  }
  if (v !== videos.length) fail("videos", videos.length, `${v}`, "more videos than <|video_pad|> placeholders");
  return s.split(IMG).join(T.imagePad).split(VID).join(T.videoPad);
}

/**
 * Positions of visual tokens (image or video pads) in a token sequence: the
 * `visual_pos_masks` of transformers, where vision features replace embeddings and
 * deepstack features are added.
 */
export function visualPositions(
  inputIds: ArrayLike<number>,
  ids: Pick<VisionTokenIds, "imageTokenId" | "videoTokenId"> = QWEN3_VL_TOKEN_IDS,
): Int32Array {
  const pos: number[] = [];
  for (let i = 0; i < inputIds.length; i++) {
    if (inputIds[i] === ids.imageTokenId || inputIds[i] === ids.videoTokenId) pos.push(i);
  }
  return Int32Array.from(pos);
}
