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
import { CheckpointError } from "../errors.ts";
import { type GenerationDefaults, loadGenerationConfig, loadQwen3VLConfig, type Qwen3VLConfig } from "./config.ts";
import { type CheckpointFiles, checkpointFiles } from "./files.ts";
import { resolveCheckpoint, type ResolvedCheckpoint, type ResolveOptions } from "./resolve.ts";

/** What {@link loadQwen3VLCheckpoint} returns. */
export interface Qwen3VLCheckpoint extends ResolvedCheckpoint {
  files: CheckpointFiles;
  config: Qwen3VLConfig;
  generation: GenerationDefaults;
}

/**
 * Resolves `idOrPath`, checks its files (config, weights, tokenizer.json, chat template) and
 * reads config.json + generation_config.json. Throws a {@link CheckpointError} naming the
 * missing file or bad field.
 *
 * @example
 * ```ts
 * import { loadQwen3VLCheckpoint } from "./load.ts";
 * const { dir, config } = await loadQwen3VLCheckpoint("test/fixtures/qwen3vl-tiny");
 * ```
 */
export async function loadQwen3VLCheckpoint(
  idOrPath: string,
  options: ResolveOptions = {},
): Promise<Qwen3VLCheckpoint> {
  const resolved = await resolveCheckpoint(idOrPath, options);
  const files = await checkpointFiles(resolved.dir);
  if (!files.tokenizer) {
    throw new CheckpointError(`${resolved.dir} has no tokenizer.json.`, {
      hint: "Download the checkpoint's tokenizer files too (tokenizer.json, tokenizer_config.json).",
    });
  }
  if (!files.chatTemplate) {
    throw new CheckpointError(
      `${resolved.dir} has no chat template (looked for chat_template.jinja, chat_template.json, tokenizer_config.json "chat_template").`,
      { hint: "Use an Instruct / Thinking checkpoint (base checkpoints have no chat template)." },
    );
  }
  const config = await loadQwen3VLConfig(resolved.dir);
  const generation = await loadGenerationConfig(resolved.dir);
  return { ...resolved, files, config, generation };
}
