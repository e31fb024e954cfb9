/**
 * Hugging Face checkpoints on disk: resolve a folder or a cached repo id
 * ({@link resolveCheckpoint}), list and check its files ({@link checkpointFiles}), read the
 * Qwen3-VL config and generation defaults ({@link loadQwen3VLConfig},
 * {@link loadGenerationConfig}), or all of it at once ({@link loadQwen3VLCheckpoint}). A Cosmos 3
 * diffusers-layout checkpoint is read with {@link loadCosmos3Checkpoint}; {@link loadQwen3VLCheckpoint}
 * reads it as the Qwen3-VL Reasoner it contains ({@link cosmos3Reasoner}).
 *
 * @example
 * ```ts
 * import { loadQwen3VLCheckpoint } from "./mod.ts";
 * const ckpt = await loadQwen3VLCheckpoint("test/fixtures/qwen3vl-tiny");
 * ckpt.config.tokens.imageTokenId; // 1412
 * ```
 * @module
 */
export * from "./resolve.ts";
export * from "./config.ts";
export * from "./files.ts";
export * from "./load.ts";
export { parseJsonFile, parseJsonValue, readJsonFile } from "./json.ts";
export * from "./processor.ts";
export * from "./cosmos3.ts";
export * from "./safetensors.ts";
