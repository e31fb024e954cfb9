/**
 * config.json → the config objects the native module takes ({@link NativeTextConfig},
 * {@link NativeVisionConfig}). config.json is parsed and validated here once (zod, the schemas of
 * src/checkpoint); C++ receives the resolved numbers and does not parse the file again.
 *
 * @example
 * ```ts
 * import { readCheckpointConfig, nativeTextConfig, nativeVisionConfig } from "./config.ts";
 * const json = readCheckpointConfig("test/fixtures/qwen3vl-tiny");
 * nativeTextConfig(json).headDim; // 16
 * nativeVisionConfig(json).outHiddenSize; // 64
 * ```
 * @module
 */
import { readFileSync, statSync } from "node:fs";
import { dirname, join } from "node:path";
import { parseJsonValue, Qwen3VLTextConfigJson, Qwen3VLVisionConfigJson } from "../checkpoint/mod.ts";
import { CheckpointError } from "../errors.ts";
import { NativeTextConfig, NativeVisionConfig } from "./addon_types.ts";

/** A section of config.json (`text_config`, `vision_config`) or, without it, the document itself (a bare section). */
function section(json: unknown, key: string): { value: unknown; where: string } {
  const inner = (json as Record<string, unknown> | null)?.[key];
  return inner !== null && typeof inner === "object"
    ? { value: inner, where: `config.json ${key}` }
    : { value: json, where: "config.json" };
}

/**
 * The text decoder's config from a parsed config.json (its `text_config`, or a bare text config).
 * @throws {CheckpointError} naming the field that is missing or wrong.
 *
 * @example
 * ```ts
 * import { nativeTextConfig, readCheckpointConfig } from "./config.ts";
 * nativeTextConfig(readCheckpointConfig("test/fixtures/qwen3vl-tiny")).mropeSection; // [4, 2, 2]
 * ```
 */
export function nativeTextConfig(json: unknown): NativeTextConfig {
  const { value, where } = section(json, "text_config");
  const t = parseJsonValue(where, value, Qwen3VLTextConfigJson);
  const rope = (t.rope_parameters ?? t.rope_scaling)!; // the schema requires one with mrope_section
  const ropeType = rope.rope_type ?? rope.type ?? "default";
  if (ropeType !== "default" && ropeType !== "mrope") {
    throw new CheckpointError(
      `${where}: rope_parameters.rope_type "${ropeType}" is not supported by the native engine (only "default").`,
      {
        hint: "use a Qwen3-VL checkpoint (its text rope is the default interleaved mRoPE)",
      },
    );
  }
  const top = (json as { tie_word_embeddings?: unknown } | null)?.tie_word_embeddings;
  return parseJsonValue(where, {
    vocabSize: t.vocab_size,
    hiddenSize: t.hidden_size,
    intermediateSize: t.intermediate_size,
    numLayers: t.num_hidden_layers,
    numHeads: t.num_attention_heads,
    numKvHeads: t.num_key_value_heads,
    headDim: t.head_dim ?? t.hidden_size / t.num_attention_heads,
    rmsNormEps: t.rms_norm_eps,
    ropeTheta: (rope.rope_theta ?? t.rope_theta)!,
    mropeSection: rope.mrope_section,
    // Qwen3-VL's rotary embedding interleaves the t/h/w frequencies whatever the flag says; the flag
    // only appears in newer configs, so absent means interleaved.
    mropeInterleaved: rope.mrope_interleaved ?? true,
    tieWordEmbeddings: t.tie_word_embeddings ?? (typeof top === "boolean" ? top : false),
  }, NativeTextConfig);
}

/**
 * The vision tower's config from a parsed config.json (its `vision_config`, or a bare vision config).
 * @throws {CheckpointError} naming the field; also for a hidden_act other than gelu_pytorch_tanh.
 *
 * @example
 * ```ts
 * import { nativeVisionConfig, readCheckpointConfig } from "./config.ts";
 * nativeVisionConfig(readCheckpointConfig("test/fixtures/qwen3vl-tiny")).deepstackVisualIndexes; // [0, 1]
 * ```
 */
export function nativeVisionConfig(json: unknown): NativeVisionConfig {
  const { value, where } = section(json, "vision_config");
  if (value === json && (json as { text_config?: unknown } | null)?.text_config !== undefined) {
    throw new CheckpointError("config.json has no vision_config (a text-only checkpoint?).", {
      hint: "the native vision tower needs a Qwen3-VL checkpoint",
    });
  }
  const v = parseJsonValue(where, value, Qwen3VLVisionConfigJson);
  if (v.hidden_act !== "gelu_pytorch_tanh") {
    throw new CheckpointError(
      `${where}: hidden_act "${v.hidden_act}" is not supported by the native engine (only gelu_pytorch_tanh).`,
      {
        hint: "every Qwen3-VL vision tower uses gelu_pytorch_tanh; check that this is a Qwen3-VL checkpoint",
      },
    );
  }
  const rope = (value as { rope_parameters?: { rope_theta?: unknown } }).rope_parameters?.rope_theta;
  return parseJsonValue(where, {
    depth: v.depth,
    hiddenSize: v.hidden_size,
    intermediateSize: v.intermediate_size,
    numHeads: v.num_heads,
    inChannels: v.in_channels,
    patchSize: v.patch_size,
    temporalPatchSize: v.temporal_patch_size,
    spatialMergeSize: v.spatial_merge_size,
    outHiddenSize: v.out_hidden_size,
    numPositionEmbeddings: v.num_position_embeddings,
    deepstackVisualIndexes: v.deepstack_visual_indexes,
    layerNormEps: 1e-6, // nn.LayerNorm(eps=1e-6) in every Qwen3-VL block and merger; not in config.json
    ropeTheta: typeof rope === "number" && rope > 0 ? rope : 10000, // Qwen3VLVisionRotaryEmbedding's default
  }, NativeVisionConfig);
}

/**
 * Parsed config.json of a checkpoint: `configJson` when given (the file's text), else the
 * config.json in the folder `pathOrFiles` names (a folder, a file in it, or a list of files in it).
 * @throws {CheckpointError} when the path or the file is missing or not JSON.
 *
 * @example
 * ```ts
 * import { readCheckpointConfig } from "./config.ts";
 * (readCheckpointConfig("test/fixtures/qwen3vl-tiny") as { model_type: string }).model_type; // "qwen3_vl"
 * ```
 */
export function readCheckpointConfig(pathOrFiles: string | string[], configJson?: string): unknown {
  let text = configJson;
  let file = "configJson";
  if (text === undefined) {
    const base = Array.isArray(pathOrFiles) ? (pathOrFiles[0] ?? ".") : pathOrFiles;
    let dir: string;
    try {
      dir = statSync(base).isDirectory() && !Array.isArray(pathOrFiles) ? base : dirname(base);
    } catch {
      throw new CheckpointError(`Checkpoint path ${base} does not exist.`, {
        hint: "pass a Hugging Face checkpoint folder",
      });
    }
    file = join(dir, "config.json");
    try {
      text = readFileSync(file, "utf8");
    } catch (e) {
      throw new CheckpointError(`No config.json next to ${base}.`, {
        hint: "pass configJson explicitly or use a Hugging Face checkpoint folder",
        cause: e,
      });
    }
  }
  try {
    return JSON.parse(text);
  } catch (e) {
    throw new CheckpointError(`${file} is not JSON: ${(e as Error).message}`, {
      hint: "re-download config.json or fix the configJson text",
      cause: e,
    });
  }
}
