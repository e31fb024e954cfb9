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
import {
  parseJsonValue,
  type Qwen3VLConfig,
  Qwen3VLTextConfigJson,
  Qwen3VLVisionConfigJson,
  resolveQwen3VLTextConfig,
  resolveQwen3VLVisionConfig,
} from "../checkpoint/mod.ts";
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
  const top = (json as { tie_word_embeddings?: unknown } | null)?.tie_word_embeddings;
  const text = resolveQwen3VLTextConfig(
    parseJsonValue(where, value, Qwen3VLTextConfigJson),
    typeof top === "boolean" ? top : undefined,
  );
  return nativeTextConfigOf(text, where);
}

/**
 * The text decoder's config from a resolved Qwen3-VL text config (`Qwen3VLConfig.text`, the one
 * field mapping of src/checkpoint); `where` names the source in errors.
 * @throws {CheckpointError} for a rope type or activation the engine does not run.
 *
 * @example
 * ```ts
 * import { loadQwen3VLConfig } from "../checkpoint/mod.ts";
 * import { nativeTextConfigOf } from "./config.ts";
 * nativeTextConfigOf((await loadQwen3VLConfig("test/fixtures/qwen3vl-tiny")).text).mropeInterleaved; // true
 * ```
 */
export function nativeTextConfigOf(text: Qwen3VLConfig["text"], where = "config.json text_config"): NativeTextConfig {
  if (text.rope.type !== "default" && text.rope.type !== "mrope") {
    throw new CheckpointError(
      `${where}: rope_parameters.rope_type "${text.rope.type}" is not supported by the native engine (only "default").`,
      {
        hint: "use a Qwen3-VL checkpoint (its text rope is the default interleaved mRoPE)",
      },
    );
  }
  if (text.hiddenAct !== "silu") {
    throw new CheckpointError(
      `${where}: hidden_act "${text.hiddenAct}" is not supported by the native engine (only silu, the SwiGLU MLP).`,
      { hint: "use a Qwen3-VL checkpoint (or a Cosmos 3 Nano / Super, not Edge)" },
    );
  }
  return parseJsonValue(where, {
    vocabSize: text.vocabSize,
    hiddenSize: text.hiddenSize,
    intermediateSize: text.intermediateSize,
    numLayers: text.numLayers,
    numHeads: text.numHeads,
    numKvHeads: text.numKvHeads,
    headDim: text.headDim,
    rmsNormEps: text.rmsNormEps,
    ropeTheta: text.rope.theta,
    mropeSection: text.rope.mropeSection,
    mropeInterleaved: text.rope.mropeInterleaved,
    tieWordEmbeddings: text.tieWordEmbeddings,
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
  return nativeVisionConfigOf(resolveQwen3VLVisionConfig(parseJsonValue(where, value, Qwen3VLVisionConfigJson)), where);
}

/**
 * The vision tower's config from a resolved Qwen3-VL vision config (`Qwen3VLConfig.vision`).
 * @throws {CheckpointError} for a hidden_act other than gelu_pytorch_tanh.
 *
 * @example
 * ```ts
 * import { loadQwen3VLConfig } from "../checkpoint/mod.ts";
 * import { nativeVisionConfigOf } from "./config.ts";
 * nativeVisionConfigOf((await loadQwen3VLConfig("test/fixtures/qwen3vl-tiny")).vision).layerNormEps; // 1e-6
 * ```
 */
export function nativeVisionConfigOf(
  v: Qwen3VLConfig["vision"],
  where = "config.json vision_config",
): NativeVisionConfig {
  if (v.hiddenAct !== "gelu_pytorch_tanh") {
    throw new CheckpointError(
      `${where}: hidden_act "${v.hiddenAct}" is not supported by the native engine (only gelu_pytorch_tanh).`,
      {
        hint: "every Qwen3-VL vision tower uses gelu_pytorch_tanh; check that this is a Qwen3-VL checkpoint",
      },
    );
  }
  return parseJsonValue(where, {
    depth: v.depth,
    hiddenSize: v.hiddenSize,
    intermediateSize: v.intermediateSize,
    numHeads: v.numHeads,
    inChannels: v.inChannels,
    patchSize: v.patchSize,
    temporalPatchSize: v.temporalPatchSize,
    spatialMergeSize: v.spatialMergeSize,
    outHiddenSize: v.outHiddenSize,
    numPositionEmbeddings: v.numPositionEmbeddings,
    deepstackVisualIndexes: v.deepstackVisualIndexes,
    layerNormEps: 1e-6, // nn.LayerNorm(eps=1e-6) in every Qwen3-VL block and merger; not in config.json
    ropeTheta: v.ropeTheta,
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
