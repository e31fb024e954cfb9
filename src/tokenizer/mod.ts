/**
 * Pure-TypeScript byte-level BPE tokenizer for Hugging Face checkpoints (`tokenizer.json`):
 * encode, decode, streaming decode, token/id look-ups and special ids — matching
 * huggingface/tokenizers on the Qwen3-VL fixture (test/fixtures).
 *
 * @example
 * ```ts
 * import { loadTokenizer } from "./mod.ts";
 * const tok = await loadTokenizer("test/fixtures/qwen3vl-tiny");
 * const ids = tok.encode("<|im_start|>user\nHello world<|im_end|>");
 * tok.decode(ids, { skipSpecial: true }); // "user\nHello world"
 * const stream = tok.streamDecoder();
 * const text = ids.map((id) => stream.push(id)).join("") + stream.flush();
 * ```
 * @module
 */
export * from "./tokenizer.ts";
export { BpeModel } from "./bpe.ts";
export { Utf8Stream } from "./stream.ts";
export { translateRegex, translateRegexSource } from "./regex.ts";
export { byteLevelToBytes, bytesToByteLevel } from "./byte_level.ts";
export { AddedTokenJson, BpeModelJson, TokenizerConfigJson, TokenizerJson } from "./schema.ts";
