/**
 * The files of a Hugging Face checkpoint folder: config, generation config, tokenizer, chat
 * template and the safetensors weights (one `model.safetensors`, or the shards named by
 * `model.safetensors.index.json`'s `weight_map`). Missing required files and missing shards
 * are reported by name.
 *
 * @example
 * ```ts
 * import { checkpointFiles } from "./files.ts";
 * const f = await checkpointFiles("test/fixtures/qwen3vl-tiny");
 * f.safetensors.map((p) => p.split("/").pop()); // ["model.safetensors"]
 * f.chatTemplate; // ".../chat_template.jinja"
 * ```
 * @module
 */
import { stat } from "node:fs/promises";
import { join } from "node:path";
import { z } from "zod";
import { CheckpointError } from "../errors.ts";
import { parseJsonValue, readJsonFile } from "./json.ts";

/**
 * `model.safetensors.index.json`.
 *
 * @example
 * ```ts
 * import { SafetensorsIndexJson } from "./files.ts";
 * SafetensorsIndexJson.parse({ weight_map: { "lm_head.weight": "model-00002-of-00002.safetensors" } });
 * ```
 */
export const SafetensorsIndexJson = z.looseObject({
  metadata: z.looseObject({}).nullish(),
  weight_map: z.record(z.string(), z.string().min(1)).refine((m) => Object.keys(m).length > 0, "is empty"),
});

/** Paths of a checkpoint's files (absolute when `dir` is); optional ones may be undefined. */
export interface CheckpointFiles {
  dir: string;
  config: string;
  generationConfig?: string;
  tokenizer?: string;
  tokenizerConfig?: string;
  /** Where the chat template is: chat_template.jinja, chat_template.json or tokenizer_config.json. */
  chatTemplate?: string;
  processorConfig?: string;
  /** Weight files, in shard order. */
  safetensors: string[];
  /** Tensor name → file, from the index (or every tensor in the single file: undefined). */
  weightMap?: Record<string, string>;
}

async function isFile(path: string): Promise<boolean> {
  try {
    return (await stat(path)).isFile();
  } catch {
    return false;
  }
}

async function opt(path: string): Promise<string | undefined> {
  return (await isFile(path)) ? path : undefined;
}

/**
 * Lists (and checks) the files of the checkpoint folder `dir`. Throws a {@link CheckpointError}
 * when config.json or the weights are missing.
 *
 * @example
 * ```ts
 * import { checkpointFiles } from "./files.ts";
 * const f = await checkpointFiles("test/fixtures/qwen3vl-tiny");
 * f.tokenizer !== undefined; // true
 * ```
 */
export async function checkpointFiles(dir: string): Promise<CheckpointFiles> {
  const config = join(dir, "config.json");
  if (!(await isFile(config))) {
    throw new CheckpointError(`${dir} has no config.json, so it is not a Hugging Face model folder.`, {
      hint:
        "Point to the folder that holds config.json, tokenizer.json and *.safetensors (a snapshot folder in the HF cache).",
    });
  }
  let safetensors: string[];
  let weightMap: Record<string, string> | undefined;
  const single = join(dir, "model.safetensors");
  const indexPath = join(dir, "model.safetensors.index.json");
  if (await isFile(single)) {
    safetensors = [single];
  } else if (await isFile(indexPath)) {
    const index = parseJsonValue(indexPath, await readJsonFile(indexPath), SafetensorsIndexJson);
    const shards = [...new Set(Object.values(index.weight_map))].sort();
    safetensors = shards.map((s) => join(dir, s));
    const missing: string[] = [];
    for (const p of safetensors) if (!(await isFile(p))) missing.push(p);
    if (missing.length) {
      throw new CheckpointError(
        `${indexPath}: weight_map names ${missing.length} shard(s) that are missing: ${missing.join(", ")}.`,
        {
          hint: "The download is incomplete; download the model again (hf download <repo>).",
        },
      );
    }
    weightMap = index.weight_map;
  } else {
    throw new CheckpointError(
      `${dir} has no weights (looked for model.safetensors and model.safetensors.index.json).`,
      {
        hint: "Download the full checkpoint (the *.safetensors files), not only its configs.",
      },
    );
  }
  return {
    dir,
    config,
    generationConfig: await opt(join(dir, "generation_config.json")),
    ...await tokenizerFiles(dir),
    processorConfig: await opt(join(dir, "preprocessor_config.json")) ?? await opt(join(dir, "processor_config.json")),
    safetensors,
    weightMap,
  };
}

/**
 * The tokenizer files in `dir` (each undefined when absent): tokenizer.json, tokenizer_config.json
 * and where the chat template is (chat_template.jinja, chat_template.json or tokenizer_config.json).
 *
 * @example
 * ```ts
 * import { tokenizerFiles } from "./files.ts";
 * (await tokenizerFiles("test/fixtures/qwen3vl-tiny")).chatTemplate; // ".../chat_template.jinja"
 * ```
 */
export async function tokenizerFiles(
  dir: string,
): Promise<Pick<CheckpointFiles, "tokenizer" | "tokenizerConfig" | "chatTemplate">> {
  const tokenizerConfig = await opt(join(dir, "tokenizer_config.json"));
  let chatTemplate = (await opt(join(dir, "chat_template.jinja"))) ?? (await opt(join(dir, "chat_template.json")));
  if (!chatTemplate && tokenizerConfig) {
    const cfg = await readJsonFile(tokenizerConfig);
    if (cfg && typeof cfg === "object" && "chat_template" in cfg && (cfg as { chat_template: unknown }).chat_template) {
      chatTemplate = tokenizerConfig;
    }
  }
  return { tokenizer: await opt(join(dir, "tokenizer.json")), tokenizerConfig, chatTemplate };
}
