/**
 * zod schemas of the parts of a Hugging Face `tokenizer.json` that the byte-level BPE
 * tokenizer reads. Unknown keys are kept (loose objects), unknown component `type`s are
 * reported when the tokenizer is built.
 *
 * @example
 * ```ts
 * import { TokenizerJson } from "./schema.ts";
 * const tj = TokenizerJson.parse({
 *   added_tokens: [],
 *   normalizer: null,
 *   pre_tokenizer: { type: "ByteLevel", add_prefix_space: false, use_regex: true },
 *   decoder: { type: "ByteLevel" },
 *   model: { type: "BPE", vocab: { a: 0, b: 1, ab: 2 }, merges: ["a b"] },
 * });
 * tj.model.merges.length; // 1
 * ```
 * @module
 */
import { z } from "zod";

/**
 * One entry of `added_tokens`.
 *
 * @example
 * ```ts
 * import { AddedTokenJson } from "./schema.ts";
 * AddedTokenJson.parse({ id: 5, content: "<|im_end|>", special: true }).lstrip; // false
 * ```
 */
export const AddedTokenJson = z.looseObject({
  id: z.number().int().nonnegative(),
  content: z.string().min(1),
  single_word: z.boolean().default(false),
  lstrip: z.boolean().default(false),
  rstrip: z.boolean().default(false),
  normalized: z.boolean().optional(),
  special: z.boolean().default(false),
});
export type AddedTokenJson = z.infer<typeof AddedTokenJson>;

/**
 * A normalizer, pre-tokenizer, decoder or post-processor: `{ type, ...fields }`.
 *
 * @example
 * ```ts
 * import { ComponentJson } from "./schema.ts";
 * ComponentJson.parse({ type: "NFC" }).type; // "NFC"
 * ```
 */
export const ComponentJson = z.looseObject({ type: z.string() });
export type ComponentJson = z.infer<typeof ComponentJson>;

/**
 * `model` of a BPE tokenizer; merges as `"a b"` strings or `["a", "b"]` pairs.
 *
 * @example
 * ```ts
 * import { BpeModelJson } from "./schema.ts";
 * BpeModelJson.parse({ vocab: { a: 0, b: 1, ab: 2 }, merges: [["a", "b"]] }).merges.length; // 1
 * ```
 */
export const BpeModelJson = z.looseObject({
  type: z.literal("BPE").optional(),
  vocab: z.record(z.string(), z.number().int().nonnegative()),
  merges: z.array(z.union([z.string(), z.tuple([z.string(), z.string()])])).default([]),
  unk_token: z.string().nullish(),
  continuing_subword_prefix: z.string().nullish(),
  end_of_word_suffix: z.string().nullish(),
  fuse_unk: z.boolean().nullish(),
  byte_fallback: z.boolean().nullish(),
  ignore_merges: z.boolean().nullish(),
  dropout: z.number().nullish(),
});
export type BpeModelJson = z.infer<typeof BpeModelJson>;

/**
 * The whole `tokenizer.json`.
 *
 * @example
 * ```ts
 * import { readFileSync } from "node:fs";
 * import { TokenizerJson } from "./schema.ts";
 * const tj = TokenizerJson.parse(JSON.parse(readFileSync("test/fixtures/qwen3vl-tiny/tokenizer.json", "utf8")));
 * tj.added_tokens.length; // 26
 * ```
 */
export const TokenizerJson = z.looseObject({
  added_tokens: z.array(AddedTokenJson).default([]),
  normalizer: ComponentJson.nullish(),
  pre_tokenizer: ComponentJson.nullish(),
  post_processor: ComponentJson.nullish(),
  decoder: ComponentJson.nullish(),
  model: BpeModelJson,
});
export type TokenizerJson = z.infer<typeof TokenizerJson>;

/**
 * The fields of `tokenizer_config.json` the tokenizer and chat template use.
 *
 * @example
 * ```ts
 * import { TokenizerConfigJson } from "./schema.ts";
 * TokenizerConfigJson.parse({ eos_token: "<|im_end|>" }).eos_token; // "<|im_end|>"
 * ```
 */
export const TokenizerConfigJson = z.looseObject({
  bos_token: z.union([z.string(), z.looseObject({ content: z.string() })]).nullish(),
  eos_token: z.union([z.string(), z.looseObject({ content: z.string() })]).nullish(),
  pad_token: z.union([z.string(), z.looseObject({ content: z.string() })]).nullish(),
  unk_token: z.union([z.string(), z.looseObject({ content: z.string() })]).nullish(),
  clean_up_tokenization_spaces: z.boolean().nullish(),
  chat_template: z.union([
    z.string(),
    z.array(z.looseObject({ name: z.string(), template: z.string() })),
  ]).nullish(),
});
export type TokenizerConfigJson = z.infer<typeof TokenizerConfigJson>;
