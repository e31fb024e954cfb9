/**
 * Qwen3-VL `config.json` and `generation_config.json`, validated with zod and resolved into
 * the numbers an engine needs. Both transformers layouts are read: 5.x (`text_config.rope_parameters`
 * with `rope_theta` inside) and 4.57 (`text_config.rope_scaling` + `text_config.rope_theta`).
 *
 * @example
 * ```ts
 * import { loadQwen3VLConfig, loadGenerationConfig } from "./config.ts";
 * const cfg = await loadQwen3VLConfig("test/fixtures/qwen3vl-tiny");
 * cfg.text.headDim; // 16
 * cfg.text.rope.mropeSection; // [4, 2, 2]
 * (await loadGenerationConfig("test/fixtures/qwen3vl-tiny")).eosTokenIds; // [1402, 1400]
 * ```
 * @module
 */
import { join } from "node:path";
import { z } from "zod";
import { parseJsonValue, readJsonFile } from "./json.ts";

const PosInt = z.number().int().positive();
const TokenId = z.number().int().nonnegative();

/**
 * `rope_parameters` (transformers 5) or `rope_scaling` (4.57) of the text model.
 *
 * @example
 * ```ts
 * import { RopeParametersJson } from "./config.ts";
 * RopeParametersJson.parse({ rope_theta: 5e6, mrope_section: [24, 20, 20], mrope_interleaved: true });
 * ```
 */
export const RopeParametersJson = z.looseObject({
  rope_type: z.string().optional(),
  type: z.string().optional(),
  rope_theta: z.number().positive().optional(),
  mrope_section: z.array(z.number().int().nonnegative()).length(3).optional(),
  mrope_interleaved: z.boolean().optional(),
});

/**
 * `config.json` → `text_config` of Qwen3-VL (dense).
 *
 * @example
 * ```ts
 * import { readFileSync } from "node:fs";
 * import { Qwen3VLTextConfigJson } from "./config.ts";
 * const cfg = JSON.parse(readFileSync("test/fixtures/qwen3vl-tiny/config.json", "utf8"));
 * Qwen3VLTextConfigJson.parse(cfg.text_config).num_hidden_layers; // 3
 * ```
 */
export const Qwen3VLTextConfigJson = z.looseObject({
  vocab_size: PosInt,
  hidden_size: PosInt,
  intermediate_size: PosInt,
  num_hidden_layers: PosInt,
  num_attention_heads: PosInt,
  num_key_value_heads: PosInt,
  head_dim: PosInt.optional(),
  rms_norm_eps: z.number().positive(),
  hidden_act: z.string().default("silu"),
  max_position_embeddings: PosInt.optional(),
  attention_bias: z.boolean().default(false),
  rope_theta: z.number().positive().optional(),
  rope_parameters: RopeParametersJson.nullish(),
  rope_scaling: RopeParametersJson.nullish(),
  tie_word_embeddings: z.boolean().optional(),
  bos_token_id: TokenId.nullish(),
  eos_token_id: z.union([TokenId, z.array(TokenId)]).nullish(),
}).superRefine((t, ctx) => {
  if (t.num_attention_heads % t.num_key_value_heads !== 0) {
    ctx.addIssue({
      code: "custom",
      path: ["num_key_value_heads"],
      message: `must divide num_attention_heads (${t.num_attention_heads})`,
    });
  }
  const rope = t.rope_parameters ?? t.rope_scaling;
  if ((rope?.rope_theta ?? t.rope_theta) === undefined) {
    ctx.addIssue({
      code: "custom",
      path: ["rope_parameters", "rope_theta"],
      message: "rope_theta is missing (looked in rope_parameters, rope_scaling and text_config)",
    });
  }
  if (!rope?.mrope_section) {
    ctx.addIssue({
      code: "custom",
      path: [t.rope_parameters ? "rope_parameters" : "rope_scaling", "mrope_section"],
      message: "mrope_section ([t, h, w] frequencies) is missing",
    });
  } else {
    const headDim = t.head_dim ?? t.hidden_size / t.num_attention_heads;
    const sum = rope.mrope_section.reduce((a, b) => a + b, 0);
    if (sum !== headDim / 2) {
      ctx.addIssue({
        code: "custom",
        path: [t.rope_parameters ? "rope_parameters" : "rope_scaling", "mrope_section"],
        message: `must sum to head_dim / 2 = ${headDim / 2}`,
      });
    }
  }
});

/**
 * `config.json` → `vision_config` of Qwen3-VL.
 *
 * @example
 * ```ts
 * import { readFileSync } from "node:fs";
 * import { Qwen3VLVisionConfigJson } from "./config.ts";
 * const cfg = JSON.parse(readFileSync("test/fixtures/qwen3vl-tiny/config.json", "utf8"));
 * Qwen3VLVisionConfigJson.parse(cfg.vision_config).depth; // 2
 * ```
 */
export const Qwen3VLVisionConfigJson = z.looseObject({
  depth: PosInt,
  hidden_size: PosInt,
  intermediate_size: PosInt,
  num_heads: PosInt,
  in_channels: PosInt.default(3),
  patch_size: PosInt,
  spatial_merge_size: PosInt,
  temporal_patch_size: PosInt,
  out_hidden_size: PosInt,
  num_position_embeddings: PosInt,
  deepstack_visual_indexes: z.array(z.number().int().nonnegative()).default([]),
  hidden_act: z.string().default("gelu_pytorch_tanh"),
  rope_parameters: z.looseObject({ rope_theta: z.number().positive().optional() }).nullish(),
}).superRefine((v, ctx) => {
  if (v.hidden_size % v.num_heads !== 0) {
    ctx.addIssue({ code: "custom", path: ["num_heads"], message: `must divide hidden_size (${v.hidden_size})` });
  }
  v.deepstack_visual_indexes.forEach((d, i) => {
    if (d >= v.depth) {
      ctx.addIssue({ code: "custom", path: ["deepstack_visual_indexes", i], message: `must be < depth (${v.depth})` });
    }
  });
});

/** @see {@link Qwen3VLTextConfigJson} */
export type Qwen3VLTextConfigJson = z.infer<typeof Qwen3VLTextConfigJson>;
/** @see {@link Qwen3VLVisionConfigJson} */
export type Qwen3VLVisionConfigJson = z.infer<typeof Qwen3VLVisionConfigJson>;

/**
 * The whole Qwen3-VL `config.json` (see {@link parseQwen3VLConfig} for the resolved form).
 *
 * @example
 * ```ts
 * import { readFileSync } from "node:fs";
 * import { Qwen3VLConfigJson } from "./config.ts";
 * const cfg = Qwen3VLConfigJson.parse(JSON.parse(readFileSync("test/fixtures/qwen3vl-tiny/config.json", "utf8")));
 * cfg.image_token_id; // 1412
 * ```
 */
export const Qwen3VLConfigJson = z.looseObject({
  model_type: z.literal("qwen3_vl", { error: 'expected "qwen3_vl" (a dense Qwen3-VL checkpoint)' }),
  text_config: Qwen3VLTextConfigJson,
  vision_config: Qwen3VLVisionConfigJson,
  image_token_id: TokenId,
  video_token_id: TokenId,
  vision_start_token_id: TokenId,
  vision_end_token_id: TokenId,
  tie_word_embeddings: z.boolean().optional(),
});
export type Qwen3VLConfigJson = z.infer<typeof Qwen3VLConfigJson>;

/** The resolved Qwen3-VL configuration (camelCase, defaults filled in). */
export interface Qwen3VLConfig {
  text: {
    vocabSize: number;
    hiddenSize: number;
    intermediateSize: number;
    numLayers: number;
    numHeads: number;
    numKvHeads: number;
    headDim: number;
    rmsNormEps: number;
    hiddenAct: string;
    maxPositionEmbeddings?: number;
    attentionBias: boolean;
    tieWordEmbeddings: boolean;
    rope: { theta: number; mropeSection: [number, number, number]; mropeInterleaved: boolean; type: string };
  };
  vision: {
    depth: number;
    hiddenSize: number;
    intermediateSize: number;
    numHeads: number;
    inChannels: number;
    patchSize: number;
    spatialMergeSize: number;
    temporalPatchSize: number;
    outHiddenSize: number;
    numPositionEmbeddings: number;
    deepstackVisualIndexes: number[];
    hiddenAct: string;
    /** Theta of the tower's 2D rotary embedding (`vision_config.rope_parameters.rope_theta`, default 10000). */
    ropeTheta: number;
  };
  tokens: { imageTokenId: number; videoTokenId: number; visionStartTokenId: number; visionEndTokenId: number };
  /** The validated file as read (snake_case, extra keys kept). */
  raw: Qwen3VLConfigJson;
}

/**
 * Validates a parsed Qwen3-VL `config.json` and resolves it (`file` names it in errors).
 *
 * @example
 * ```ts
 * import { readFileSync } from "node:fs";
 * import { parseQwen3VLConfig } from "./config.ts";
 * const json = JSON.parse(readFileSync("test/fixtures/qwen3vl-tiny/config.json", "utf8"));
 * parseQwen3VLConfig(json).tokens.imageTokenId; // 1412
 * ```
 */
export function parseQwen3VLConfig(json: unknown, file = "config.json"): Qwen3VLConfig {
  const c = parseJsonValue(file, json, Qwen3VLConfigJson);
  return {
    text: resolveQwen3VLTextConfig(c.text_config, c.tie_word_embeddings),
    vision: resolveQwen3VLVisionConfig(c.vision_config),
    tokens: {
      imageTokenId: c.image_token_id,
      videoTokenId: c.video_token_id,
      visionStartTokenId: c.vision_start_token_id,
      visionEndTokenId: c.vision_end_token_id,
    },
    raw: c,
  };
}

/**
 * The resolved text config from a validated `text_config` (the one field mapping: the native
 * engine's config is built from it too). `topLevelTie` is config.json's own `tie_word_embeddings`,
 * used when `text_config` has none.
 *
 * A missing `mrope_interleaved` means interleaved: transformers' `Qwen3VLTextRotaryEmbedding`
 * always interleaves the t/h/w frequencies (it never reads the flag), and every released Qwen3-VL
 * config that has the flag sets it to true. An explicit `false` (chunked sections, as Qwen2-VL) is
 * kept.
 *
 * @example
 * ```ts
 * import { Qwen3VLTextConfigJson, resolveQwen3VLTextConfig } from "./config.ts";
 * const t = Qwen3VLTextConfigJson.parse({
 *   vocab_size: 8, hidden_size: 16, intermediate_size: 32, num_hidden_layers: 1, num_attention_heads: 2,
 *   num_key_value_heads: 1, rms_norm_eps: 1e-6, rope_parameters: { rope_theta: 1e4, mrope_section: [2, 1, 1] },
 * });
 * resolveQwen3VLTextConfig(t).rope.mropeInterleaved; // true
 * ```
 */
export function resolveQwen3VLTextConfig(t: Qwen3VLTextConfigJson, topLevelTie?: boolean): Qwen3VLConfig["text"] {
  const rope = (t.rope_parameters ?? t.rope_scaling)!; // the schema requires one with mrope_section
  return {
    vocabSize: t.vocab_size,
    hiddenSize: t.hidden_size,
    intermediateSize: t.intermediate_size,
    numLayers: t.num_hidden_layers,
    numHeads: t.num_attention_heads,
    numKvHeads: t.num_key_value_heads,
    headDim: t.head_dim ?? t.hidden_size / t.num_attention_heads,
    rmsNormEps: t.rms_norm_eps,
    hiddenAct: t.hidden_act,
    maxPositionEmbeddings: t.max_position_embeddings,
    attentionBias: t.attention_bias,
    tieWordEmbeddings: t.tie_word_embeddings ?? topLevelTie ?? false,
    rope: {
      theta: (rope.rope_theta ?? t.rope_theta)!,
      mropeSection: rope.mrope_section as [number, number, number],
      mropeInterleaved: rope.mrope_interleaved ?? true,
      type: rope.rope_type ?? rope.type ?? "default",
    },
  };
}

/**
 * The resolved vision config from a validated `vision_config`.
 *
 * @example
 * ```ts
 * import { readFileSync } from "node:fs";
 * import { Qwen3VLVisionConfigJson, resolveQwen3VLVisionConfig } from "./config.ts";
 * const cfg = JSON.parse(readFileSync("test/fixtures/qwen3vl-tiny/config.json", "utf8"));
 * resolveQwen3VLVisionConfig(Qwen3VLVisionConfigJson.parse(cfg.vision_config)).ropeTheta; // 10000
 * ```
 */
export function resolveQwen3VLVisionConfig(v: Qwen3VLVisionConfigJson): Qwen3VLConfig["vision"] {
  const rope = v.rope_parameters?.rope_theta;
  return {
    depth: v.depth,
    hiddenSize: v.hidden_size,
    intermediateSize: v.intermediate_size,
    numHeads: v.num_heads,
    inChannels: v.in_channels,
    patchSize: v.patch_size,
    spatialMergeSize: v.spatial_merge_size,
    temporalPatchSize: v.temporal_patch_size,
    outHiddenSize: v.out_hidden_size,
    numPositionEmbeddings: v.num_position_embeddings,
    deepstackVisualIndexes: v.deepstack_visual_indexes,
    hiddenAct: v.hidden_act,
    ropeTheta: rope ?? 10000, // Qwen3VLVisionRotaryEmbedding's default theta
  };
}

/**
 * Reads and validates `<dir>/config.json` of a Qwen3-VL checkpoint.
 *
 * @example
 * ```ts
 * import { loadQwen3VLConfig } from "./config.ts";
 * const cfg = await loadQwen3VLConfig("test/fixtures/qwen3vl-tiny");
 * cfg.text.numLayers; // 3
 * ```
 */
export async function loadQwen3VLConfig(dir: string): Promise<Qwen3VLConfig> {
  const path = join(dir, "config.json");
  return parseQwen3VLConfig(await readJsonFile(path), path);
}

/**
 * `generation_config.json` (the fields used for sampling and stopping).
 *
 * @example
 * ```ts
 * import { GenerationConfigJson } from "./config.ts";
 * GenerationConfigJson.parse({ eos_token_id: [1402, 1400], top_k: 20 }).top_k; // 20
 * ```
 */
export const GenerationConfigJson = z.looseObject({
  bos_token_id: TokenId.nullish(),
  eos_token_id: z.union([TokenId, z.array(TokenId)]).nullish(),
  pad_token_id: TokenId.nullish(),
  do_sample: z.boolean().optional(),
  temperature: z.number().nonnegative().optional(),
  top_k: z.number().int().nonnegative().optional(),
  top_p: z.number().gt(0).lte(1).optional(),
  repetition_penalty: z.number().positive().optional(),
  max_new_tokens: PosInt.optional(),
});

/** Generation defaults of a checkpoint (transformers' defaults where the file says nothing). */
export interface GenerationDefaults {
  /** Every id that ends generation (`eos_token_id`, number or list). */
  eosTokenIds: number[];
  bosTokenId?: number;
  padTokenId?: number;
  doSample: boolean;
  temperature: number;
  topK: number;
  topP: number;
  repetitionPenalty: number;
  maxNewTokens?: number;
}

/**
 * Resolves a parsed `generation_config.json` (`undefined` → transformers' defaults).
 *
 * @example
 * ```ts
 * import { parseGenerationConfig } from "./config.ts";
 * parseGenerationConfig({ eos_token_id: 7, temperature: 0.7 }).eosTokenIds; // [7]
 * ```
 */
export function parseGenerationConfig(json: unknown, file = "generation_config.json"): GenerationDefaults {
  const g = json === undefined ? {} : parseJsonValue(file, json, GenerationConfigJson);
  const eos = g.eos_token_id;
  return {
    eosTokenIds: eos === undefined || eos === null ? [] : Array.isArray(eos) ? eos : [eos],
    bosTokenId: g.bos_token_id ?? undefined,
    padTokenId: g.pad_token_id ?? undefined,
    doSample: g.do_sample ?? false,
    temperature: g.temperature ?? 1,
    topK: g.top_k ?? 50,
    topP: g.top_p ?? 1,
    repetitionPenalty: g.repetition_penalty ?? 1,
    maxNewTokens: g.max_new_tokens,
  };
}

/**
 * Reads `<dir>/generation_config.json` (optional file).
 *
 * @example
 * ```ts
 * import { loadGenerationConfig } from "./config.ts";
 * const g = await loadGenerationConfig("test/fixtures/qwen3vl-tiny");
 * [g.temperature, g.topK, g.topP]; // [0.7, 20, 0.8]
 * ```
 */
export async function loadGenerationConfig(dir: string): Promise<GenerationDefaults> {
  const path = join(dir, "generation_config.json");
  return parseGenerationConfig(await readJsonFile(path, true), path);
}
