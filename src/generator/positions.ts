/**
 * The Generator's unified 3D mRoPE positions (diffusers 58eb52c0 `pipeline_cosmos3_omni.py`
 * `get_3d_mrope_ids_text_tokens` lines 102-119, `get_3d_mrope_ids_vae_tokens` 122-170, and the
 * segment builders `_prepare_text_segment` / `_prepare_vision_segment` / `_prepare_sound_segment` /
 * `_prepare_action_segment` 526-696):
 *
 * - text: t = h = w = 0..L-1;
 * - vision, sound and action all start at the same offset `L + margin` (15000) ("temporal
 *   siblings"); with fps modulation (and more than one frame) frame j sits at
 *   `(j + start) / (fps / tcf) * (baseFps / baseTcf) + offset`; h / w restart at 0 per frame;
 * - vision: tcf 4, the video's fps; sound: tcf 1 at the sound latent rate (25 Hz); action: tcf 1,
 *   base tcf 4, start 1, the video's fps (action i is the transition into pixel frame i + 1).
 *
 * Positions are float32 like the reference's tensors (each operation rounded to f32, as torch
 * computes a float32 tensor with a Python scalar), laid out [3, L] (all t, then all h, then all w).
 *
 * @example
 * ```ts
 * import { vaeTokenPositions } from "./positions.ts";
 * const v = vaeTokenPositions({ gridT: 2, gridH: 1, gridW: 2, temporalOffset: 15010, fps: 24 });
 * Array.from(v.positions); // [15010, 15010, 15011, 15011, 0, 0, 0, 0, 0, 1, 0, 1]
 * ```
 * @module
 */

/** Rope settings of a Cosmos 3 transformer config.json (`Cosmos3OmniTransformer`), with its defaults. */
export interface GeneratorRopeConfig {
  /** `base_fps` (24). */
  baseFps: number;
  /** `enable_fps_modulation` (true): fractional temporal positions scaled by the fps. */
  enableFpsModulation: boolean;
  /** `unified_3d_mrope_temporal_modality_margin` (15000): gap between text and generation positions. */
  temporalModalityMargin: number;
  /** `unified_3d_mrope_reset_spatial_ids` (true): h / w restart at 0 instead of at the offset. */
  resetSpatialIds: boolean;
  /** `sound_latent_fps` (25). */
  soundLatentFps: number;
  /** The VAE's `scale_factor_temporal` (4). */
  temporalCompression: number;
}

/** The defaults of `Cosmos3OmniTransformer.__init__` (= Nano / Super / Edge) and the Wan2.2 VAE. */
export const DEFAULT_ROPE_CONFIG: Readonly<GeneratorRopeConfig> = Object.freeze({
  baseFps: 24,
  enableFpsModulation: true,
  temporalModalityMargin: 15000,
  resetSpatialIds: true,
  soundLatentFps: 25,
  temporalCompression: 4,
});

const f32 = Math.fround;

/** Positions of one segment, [3, n] flattened, and the next free temporal offset. */
export interface SegmentPositions {
  positions: Float32Array;
  /** `next_temporal_offset` of the reference: one past the largest position. */
  next: number;
}

/** `get_3d_mrope_ids_text_tokens`: t = h = w = offset + 0..n-1. */
export function textPositions(numTokens: number, temporalOffset = 0): SegmentPositions {
  const positions = new Float32Array(3 * numTokens);
  for (let i = 0; i < numTokens; i++) {
    const p = temporalOffset + i;
    positions[i] = p;
    positions[numTokens + i] = p;
    positions[2 * numTokens + i] = p;
  }
  return { positions, next: temporalOffset + numTokens };
}

/** Arguments of {@link vaeTokenPositions} (the reference's names in comments). */
export interface VaeTokenGrid {
  gridT: number;
  gridH: number;
  gridW: number;
  temporalOffset: number;
  /** `reset_spatial_indices` (default true). */
  resetSpatialIds?: boolean;
  /** Frames per second of the stream; undefined turns the fps modulation off. */
  fps?: number;
  /** `base_fps` (default 24). */
  baseFps?: number;
  /** `temporal_compression_factor` (default 4). */
  temporalCompression?: number;
  /** `base_temporal_compression_factor` (default: temporalCompression). */
  baseTemporalCompression?: number;
  /** `start_frame_offset` (default 0). */
  startFrameOffset?: number;
}

/** `get_3d_mrope_ids_vae_tokens`: positions of a (T, H, W) grid of tokens, frame-major. */
export function vaeTokenPositions(g: VaeTokenGrid): SegmentPositions {
  const { gridT, gridH, gridW, temporalOffset } = g;
  const tcf = g.temporalCompression ?? 4;
  const baseTcf = g.baseTemporalCompression ?? tcf;
  const start = g.startFrameOffset ?? 0;
  const reset = g.resetSpatialIds ?? true;
  const modulated = g.fps !== undefined && gridT > 1;
  const perFrame = gridH * gridW;
  const n = gridT * perFrame;
  const positions = new Float32Array(3 * n);
  // torch: arange(f32) + start, / (fps / tcf), * (base_fps / base_tcf), + offset; each step an f32 op.
  const tps = modulated ? f32(g.fps! / tcf) : 0;
  const baseTps = f32((g.baseFps ?? 24) / baseTcf);
  const offset = f32(temporalOffset);
  const spatialOffset = reset ? 0 : Math.trunc(temporalOffset);
  // The spatial ids are the same for every frame: write frame 0's, then copy them.
  for (let h = 0, i = 0; h < gridH; h++) {
    for (let w = 0; w < gridW; w++, i++) {
      positions[n + i] = h + spatialOffset;
      positions[2 * n + i] = w + spatialOffset;
    }
  }
  for (let t = 1; t < gridT; t++) {
    positions.copyWithin(n + t * perFrame, n, n + perFrame);
    positions.copyWithin(2 * n + t * perFrame, 2 * n, 2 * n + perFrame);
  }
  let max = perFrame > 0 ? Math.max(gridH - 1, gridW - 1) + spatialOffset : -Infinity;
  for (let t = 0; t < gridT && perFrame > 0; t++) {
    const tPos = modulated
      ? f32(f32(f32(f32(t + start) / tps) * baseTps) + offset)
      : t + Math.trunc(temporalOffset) + start;
    positions.fill(tPos, t * perFrame, (t + 1) * perFrame);
    max = Math.max(max, positions[t * perFrame]);
  }
  return { positions, next: n > 0 ? Math.ceil(max) + 1 : Math.trunc(temporalOffset) };
}

/** Where each stream sits in the packed sequence [text | vision | sound | action]. */
export interface SequenceSegment {
  start: number;
  count: number;
}

/** The generation streams' token grids (what {@link packedPositions} lays out after the text). */
export interface GenerationGrids {
  /** Patch grid of the vision tokens (latent frames, patch rows, patch columns). */
  vision: { t: number; h: number; w: number };
  /** The video's frames per second (fps modulation of vision and action). */
  fps: number;
  /** Sound latent frames (one token each), when the run makes sound. */
  soundFrames?: number;
  /** Action tokens (one per transition), for action runs. */
  actionTokens?: number;
}

/** One CFG branch's packed layout and positions. */
export interface PackedPositions {
  /** Tokens in the sequence (text + generation). */
  length: number;
  text: SequenceSegment;
  vision: SequenceSegment;
  sound?: SequenceSegment;
  action?: SequenceSegment;
  /** The temporal offset every generation stream starts at: text length + margin. */
  generationOffset: number;
  /** [3, length] float32: all t, then all h, then all w. */
  positions: Float32Array;
}

/**
 * Positions of one CFG branch's packed sequence: `textLength` text tokens, then the vision, sound
 * and action tokens of `grids` (the `position_ids` the transformer takes). Cond and uncond
 * prompts differ in length, so each branch has its own.
 *
 * @example
 * ```ts
 * import { packedPositions } from "./positions.ts";
 * const p = packedPositions(3, { vision: { t: 1, h: 1, w: 2 }, fps: 24 });
 * p.length; // 5
 * Array.from(p.positions.subarray(0, 5)); // [0, 1, 2, 15003, 15003]
 * ```
 */
export function packedPositions(
  textLength: number,
  grids: GenerationGrids,
  config: GeneratorRopeConfig = DEFAULT_ROPE_CONFIG,
): PackedPositions {
  const text = textPositions(textLength, 0);
  const generationOffset = text.next + config.temporalModalityMargin;
  const fps = config.enableFpsModulation ? grids.fps : undefined;
  const common = { temporalOffset: generationOffset, resetSpatialIds: config.resetSpatialIds, baseFps: config.baseFps };
  const parts: Float32Array[] = [text.positions];
  let at = textLength;
  const take = (p: SegmentPositions): SequenceSegment => {
    parts.push(p.positions);
    const seg = { start: at, count: p.positions.length / 3 };
    at += seg.count;
    return seg;
  };
  const vision = take(vaeTokenPositions({
    ...common,
    gridT: grids.vision.t,
    gridH: grids.vision.h,
    gridW: grids.vision.w,
    fps,
    temporalCompression: config.temporalCompression,
  }));
  const sound = grids.soundFrames === undefined ? undefined : take(vaeTokenPositions({
    ...common,
    gridT: grids.soundFrames,
    gridH: 1,
    gridW: 1,
    fps: config.enableFpsModulation ? config.soundLatentFps : undefined,
    temporalCompression: 1,
  }));
  const action = grids.actionTokens === undefined ? undefined : take(vaeTokenPositions({
    ...common,
    gridT: grids.actionTokens,
    gridH: 1,
    gridW: 1,
    fps,
    temporalCompression: 1,
    baseTemporalCompression: config.temporalCompression,
    startFrameOffset: 1,
  }));
  const length = at;
  const positions = new Float32Array(3 * length);
  for (let axis = 0; axis < 3; axis++) {
    let o = axis * length;
    for (const p of parts) {
      const n = p.length / 3;
      positions.set(p.subarray(axis * n, (axis + 1) * n), o);
      o += n;
    }
  }
  return { length, text: { start: 0, count: textLength }, vision, sound, action, generationOffset, positions };
}
