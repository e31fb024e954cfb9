/**
 * Finds a checkpoint's chat template, in transformers' order: `chat_template.jinja`, then
 * `chat_template.json` (`{"chat_template": …}`), then `tokenizer_config.json`'s
 * `chat_template` (a string, or a list of `{name, template}` where `name` picks one,
 * default `"default"`).
 *
 * @example
 * ```ts
 * import { loadChatTemplate } from "./load.ts";
 * const template = await loadChatTemplate("test/fixtures/qwen3vl-tiny");
 * template.includes("<|im_start|>"); // true
 * ```
 * @module
 */
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { CheckpointError } from "../errors.ts";

async function readIfExists(path: string): Promise<string | undefined> {
  try {
    return await readFile(path, "utf8");
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw new CheckpointError(`Cannot read ${path}: ${(e as Error).message}`, {
      hint: "Check the file's permissions.",
      cause: e,
    });
  }
}

function parseJson(path: string, text: string): Record<string, unknown> {
  try {
    const v: unknown = JSON.parse(text);
    if (v && typeof v === "object" && !Array.isArray(v)) return v as Record<string, unknown>;
  } catch (e) {
    throw new CheckpointError(`${path} is not valid JSON: ${(e as Error).message}`, {
      hint: "Download the file again.",
      cause: e,
    });
  }
  throw new CheckpointError(`${path} is not a JSON object.`, { hint: "Download the file again." });
}

function pick(path: string, value: unknown, name: string): string | undefined {
  if (value === undefined || value === null) return undefined;
  if (typeof value === "string") return value;
  if (Array.isArray(value)) {
    const names: string[] = [];
    for (const item of value) {
      const o = item as { name?: unknown; template?: unknown };
      if (typeof o?.name === "string") names.push(o.name);
      if (o?.name === name && typeof o.template === "string") return o.template;
    }
    throw new CheckpointError(
      `${path}: chat_template has no template named ${JSON.stringify(name)} (has: ${names.join(", ") || "none"}).`,
      {
        hint: "Pass one of the listed names.",
      },
    );
  }
  throw new CheckpointError(`${path}: chat_template must be a string or a list of {name, template}.`, {
    hint: "Download the file again.",
  });
}

/**
 * The chat template source of the checkpoint folder `dir` (see the module docs); throws a
 * {@link CheckpointError} listing the files looked at when there is none.
 *
 * @example
 * ```ts
 * import { loadChatTemplate } from "./load.ts";
 * const template = await loadChatTemplate("test/fixtures/qwen3vl-tiny");
 * ```
 */
export async function loadChatTemplate(dir: string, name = "default"): Promise<string> {
  const jinja = await readIfExists(join(dir, "chat_template.jinja"));
  if (jinja !== undefined) return jinja;
  const jsonPath = join(dir, "chat_template.json");
  const json = await readIfExists(jsonPath);
  if (json !== undefined) {
    const t = pick(jsonPath, parseJson(jsonPath, json).chat_template, name);
    if (t !== undefined) return t;
  }
  const cfgPath = join(dir, "tokenizer_config.json");
  const cfg = await readIfExists(cfgPath);
  if (cfg !== undefined) {
    const t = pick(cfgPath, parseJson(cfgPath, cfg).chat_template, name);
    if (t !== undefined) return t;
  }
  throw new CheckpointError(
    `No chat template in ${dir} (looked for chat_template.jinja, chat_template.json and tokenizer_config.json "chat_template").`,
    { hint: "Use an instruct/chat checkpoint, or pass the template text to applyChatTemplate yourself." },
  );
}
