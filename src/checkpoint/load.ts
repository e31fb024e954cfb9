/**
 * One call from "what the user typed" to everything a native Qwen3-VL run reads before the
 * weights: the resolved folder, its files, the validated config and generation defaults.
 * The tokenizer and chat template are loaded with `loadTokenizer` / `loadChatTemplate`
 * (src/tokenizer, src/chat_template) from `checkpoint.dir`.
 *
 * @example
 * ```ts
 * import { loadQwen3VLCheckpoint } from "./load.ts";
 * const ckpt = await loadQwen3VLCheckpoint("test/fixtures/qwen3vl-tiny");
 * ckpt.config.text.hiddenSize; // 64
 * ckpt.generation.eosTokenIds; // [1402, 1400]
 * ```
 * @module
 */
import { stat } from "node:fs/promises";
import { join } from "node:path";
import { CheckpointError } from "../errors.ts";
import { type GenerationDefaults, loadGenerationConfig, loadQwen3VLConfig, type Qwen3VLConfig } from "./config.ts";
import {
  type CheckpointLayout,
  checkpointLayout,
  cosmos3Reasoner,
  loadCosmos3Checkpoint,
  type RenamedWeights,
} from "./cosmos3.ts";
import { type CheckpointFiles, checkpointFiles, tokenizerFiles } from "./files.ts";
import { resolveCheckpoint, type ResolvedCheckpoint, type ResolveOptions } from "./resolve.ts";

/** Weights as the native loaders take them: a checkpoint folder, or files read under other names. */
export type NativeWeights = string | RenamedWeights;

/** What {@link loadQwen3VLCheckpoint} returns. */
export interface Qwen3VLCheckpoint extends ResolvedCheckpoint {
  /** A Qwen3-VL (transformers) folder, or a Cosmos 3 diffusers checkpoint whose und tower is read as Qwen3-VL. */
  layout: CheckpointLayout;
  files: CheckpointFiles;
  config: Qwen3VLConfig;
  generation: GenerationDefaults;
  /** Folder of tokenizer.json and the chat template. */
  tokenizerDir: string;
  /** The text decoder's and the vision tower's weights (vision undefined: a Cosmos 3 checkpoint without vision_encoder/). */
  weights: { text: NativeWeights; vision?: NativeWeights };
}

function checkTokenizer(dir: string, files: Pick<CheckpointFiles, "tokenizer" | "chatTemplate">): void {
  if (!files.tokenizer) {
    throw new CheckpointError(`${dir} has no tokenizer.json.`, {
      hint: "Download the checkpoint's tokenizer files too (tokenizer.json, tokenizer_config.json).",
    });
  }
  if (!files.chatTemplate) {
    throw new CheckpointError(
      `${dir} has no chat template (looked for chat_template.jinja, chat_template.json, tokenizer_config.json "chat_template").`,
      { hint: "Use an Instruct / Thinking checkpoint (base checkpoints have no chat template)." },
    );
  }
}

/**
 * Resolves `idOrPath`, checks its files (config, weights, tokenizer.json, chat template) and
 * reads config.json + generation_config.json. A Cosmos 3 diffusers checkpoint (model_index.json,
 * transformer/, vision_encoder/, text_tokenizer/) is read as the Qwen3-VL Reasoner it contains
 * (`cosmos3Reasoner`): its und tower under Qwen3-VL names, generation defaults from a root
 * generation_config.json when there is one. Throws a {@link CheckpointError} naming the missing
 * file or bad field.
 *
 * @example
 * ```ts
 * import { loadQwen3VLCheckpoint } from "./load.ts";
 * const { dir, config } = await loadQwen3VLCheckpoint("test/fixtures/qwen3vl-tiny");
 * (await loadQwen3VLCheckpoint("test/fixtures/cosmos3-reasoner-tiny")).layout; // "cosmos3-diffusers"
 * ```
 */
export async function loadQwen3VLCheckpoint(
  idOrPath: string,
  options: ResolveOptions = {},
): Promise<Qwen3VLCheckpoint> {
  const resolved = await resolveCheckpoint(idOrPath, options);
  const layout = await checkpointLayout(resolved.dir);
  const generation = await loadGenerationConfig(resolved.dir);
  if (layout === "cosmos3-diffusers") {
    const ck = await loadCosmos3Checkpoint(resolved.dir);
    const reasoner = await cosmos3Reasoner(ck);
    const tok = await tokenizerFiles(reasoner.tokenizerDir);
    checkTokenizer(reasoner.tokenizerDir, tok);
    const generationConfig = join(resolved.dir, "generation_config.json");
    const files: CheckpointFiles = {
      dir: resolved.dir,
      config: join(ck.transformer.dir, "config.json"),
      ...tok,
      generationConfig: (await stat(generationConfig).catch(() => undefined))?.isFile() ? generationConfig : undefined,
      safetensors: ck.transformer.safetensors,
    };
    return {
      ...resolved,
      layout,
      files,
      config: reasoner.config,
      generation,
      tokenizerDir: reasoner.tokenizerDir,
      weights: { text: reasoner.text, vision: reasoner.vision },
    };
  }
  const files = await checkpointFiles(resolved.dir);
  checkTokenizer(resolved.dir, files);
  const config = await loadQwen3VLConfig(resolved.dir);
  return {
    ...resolved,
    layout,
    files,
    config,
    generation,
    tokenizerDir: resolved.dir,
    weights: { text: resolved.dir, vision: resolved.dir },
  };
}
