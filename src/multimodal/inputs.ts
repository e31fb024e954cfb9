/**
 * Everything a native Qwen3-VL prefill needs from a chat-templated prompt and its media:
 * expanded token ids, 3D RoPE positions, one `pixel_values` batch for the vision tower, and
 * where each merged vision token goes in the sequence.
 *
 * transformers runs the tower on images and videos separately and scatters image features
 * into `<|image_pad|>` positions and video features into `<|video_pad|>` positions, each in
 * order (`masked_scatter`); deepstack features are added at the same positions after the
 * first decoder layers (`_deepstack_process`). Running the tower once on images-then-videos
 * gives the same rows (attention never crosses a frame, everything else is per patch), so
 * {@link MultimodalPrompt.visualRowPositions} maps tower output row r to its sequence index.
 *
 * @example
 * ```ts
 * import { buildMultimodalPrompt } from "./inputs.ts";
 * import { loadTokenizer } from "../tokenizer/mod.ts";
 * const myTokenizer = await loadTokenizer("test/fixtures/qwen3vl-tiny");
 * const id = (t: string) => myTokenizer.tokenToId(t)!; // this checkpoint's ids (default: Qwen3-VL's)
 * const img = { width: 64, height: 32, channels: 3 as const, data: new Uint8Array(64 * 32 * 3) };
 * const p = await buildMultimodalPrompt({
 *   text: "<|vision_start|><|image_pad|><|vision_end|>Describe.",
 *   images: [{ frames: [img] }],
 *   tokenize: (t) => myTokenizer.encode(t), // special tokens must map to their ids
 *   tokenIds: {
 *     imageTokenId: id("<|image_pad|>"),
 *     videoTokenId: id("<|video_pad|>"),
 *     visionStartTokenId: id("<|vision_start|>"),
 *     visionEndTokenId: id("<|vision_end|>"),
 *   },
 * });
 * p.grids; // [[1, 2, 4]]
 * p.visualRowPositions.length; // 2 merged tokens
 * ```
 * @module
 */
import { ValidationError } from "../errors.ts";
import { patchify, type PatchifyFrame, type PatchifyOptions } from "./patchify.ts";
import { expandVisionPlaceholders, QWEN3_VL_TOKEN_IDS, type VisionTokenIds } from "./prompt.ts";
import { getRopeIndex, type RopeIndex } from "./rope_index.ts";

/** An image: one resized frame (`prepareQwenImage().image`). */
export interface PromptImage {
  frames: readonly [PatchifyFrame];
}

/** A video: its resized frames and per-temporal-patch seconds (`prepareQwenVideo()`'s plan.timestamps). */
export interface PromptVideo {
  frames: readonly PatchifyFrame[];
  timestamps: readonly number[];
}

/** Input of {@link buildMultimodalPrompt}. */
export interface MultimodalPromptInput {
  /** Chat-templated prompt with one placeholder per image / video. */
  text: string;
  images?: readonly PromptImage[];
  videos?: readonly PromptVideo[];
  /** Text to ids; special tokens such as `<|image_pad|>` must become their single ids. */
  tokenize: (text: string) => ArrayLike<number> | Promise<ArrayLike<number>>;
  /** Token ids from config.json (Qwen3-VL's by default). */
  tokenIds?: VisionTokenIds;
  /** Processor settings (patch 16, temporal 2, merge 2, mean/std 0.5). */
  patchify?: PatchifyOptions;
  /** See {@link expandVisionPlaceholders}: "replace" (vLLM, default) or "keep" (transformers 5.17). */
  videoWrap?: "replace" | "keep";
}

/** Output of {@link buildMultimodalPrompt}. */
export interface MultimodalPrompt {
  /** Expanded prompt text. */
  text: string;
  inputIds: Int32Array;
  /** 3D positions `[3, seqLen]` and the decode delta. */
  rope: RopeIndex;
  /** Tower input: all images' patches, then all videos' (`[patches, patchDim]`). */
  pixelValues: Float32Array;
  patchDim: number;
  /** `[t, h, w]` per image then per video, in the order of `pixelValues`. */
  grids: [number, number, number][];
  /** Sequence index of each merged tower output row (images' rows first, then videos'). */
  visualRowPositions: Int32Array;
  /** Merged tokens of the images and of the videos. */
  imageTokens: number;
  videoTokens: number;
}

function concat(parts: Float32Array[]): Float32Array {
  const out = new Float32Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

/** Expands, tokenizes and patchifies a prompt for the native engine (see module doc). */
export async function buildMultimodalPrompt(input: MultimodalPromptInput): Promise<MultimodalPrompt> {
  const ids = input.tokenIds ?? QWEN3_VL_TOKEN_IDS;
  const merge = input.patchify?.mergeSize ?? 2;
  const imgs = (input.images ?? []).map((im) => patchify(im.frames, input.patchify));
  const vids = (input.videos ?? []).map((v) => patchify(v.frames, input.patchify));
  const text = expandVisionPlaceholders(
    input.text,
    {
      images: imgs.map((p) => ({ gridThw: p.gridThw })),
      videos: vids.map((p, i) => ({ gridThw: p.gridThw, timestamps: input.videos![i].timestamps })),
    },
    merge,
    input.videoWrap ?? "replace",
  );
  const inputIds = Int32Array.from(await input.tokenize(text));
  const grids = [...imgs, ...vids].map((p) => p.gridThw);
  const rope = getRopeIndex(inputIds, {
    imageGridThw: imgs.map((p) => p.gridThw),
    videoGridThw: vids.map((p) => p.gridThw),
    spatialMergeSize: merge,
    tokenIds: ids,
  });
  const unit = merge * merge;
  const imageTokens = imgs.reduce((n, p) => n + p.rows / unit, 0);
  const videoTokens = vids.reduce((n, p) => n + p.rows / unit, 0);
  const rows = new Int32Array(imageTokens + videoTokens);
  let ri = 0;
  let rv = imageTokens;
  for (let i = 0; i < inputIds.length; i++) {
    if (inputIds[i] === ids.imageTokenId) {
      if (ri < imageTokens) rows[ri] = i;
      ri++;
    } else if (inputIds[i] === ids.videoTokenId) {
      if (rv < rows.length) rows[rv] = i;
      rv++;
    }
  }
  if (ri !== imageTokens || rv !== rows.length) {
    throw new ValidationError([{
      field: "tokenize",
      value: `${ri} image / ${rv - imageTokens} video pad ids`,
      allowed: `${imageTokens} / ${videoTokens}`,
      message: "the tokenizer did not map each <|image_pad|> / <|video_pad|> to one id",
    }]);
  }
  return {
    text,
    inputIds,
    rope,
    pixelValues: concat([...imgs, ...vids].map((p) => p.pixelValues)),
    patchDim: (imgs[0] ?? vids[0])?.patchDim ?? 0,
    grids,
    visualRowPositions: rows,
    imageTokens,
    videoTokens,
  };
}
