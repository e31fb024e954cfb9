/**
 * Multimodal input assembly for native Qwen3-VL runs: `pixel_values` patches, placeholder
 * expansion with video timestamps, and 3D multimodal RoPE positions — each matching
 * HF transformers' processors and `get_rope_index`.
 *
 * @example
 * ```ts
 * import { expandVisionPlaceholders, getRopeIndex, patchify } from "./mod.ts";
 * const frame = { width: 32, height: 32, channels: 3 as const, data: new Uint8Array(32 * 32 * 3) };
 * const { gridThw } = patchify([frame]);
 * const text = expandVisionPlaceholders("<|vision_start|><|image_pad|><|vision_end|>", { images: [{ gridThw }] });
 * const ids = [151652, 151655, 151653]; // tokenized text (one merged token)
 * getRopeIndex(ids, { imageGridThw: [gridThw] }).ropeDelta; // 0
 * ```
 * @module
 */
export * from "./patchify.ts";
export * from "./prompt.ts";
export * from "./rope_index.ts";
export * from "./inputs.ts";
