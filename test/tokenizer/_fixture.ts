// Test helpers: the transformers references of the tiny Qwen3-VL fixture (test/fixtures/README.md).
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";

export const CHECKPOINT_DIR = fileURLToPath(new URL("../fixtures/qwen3vl-tiny/", import.meta.url));

export interface TokenizerCase {
  text: string;
  ids: number[];
  tokens: string[];
  decoded: string;
  decoded_skip_special: string;
}

export interface PromptCase {
  messages: unknown[];
  text: string;
  input_ids?: number[];
  add_generation_prompt?: boolean;
  options?: { add_generation_prompt?: boolean; add_vision_id?: boolean };
  expanded_text?: string;
}

export interface Reference {
  transformers: string;
  tokenizer: {
    vocab_size: number;
    added_tokens: Record<string, number>;
    special: Record<string, boolean>;
    cases: TokenizerCase[];
  };
  text_config: Record<string, unknown> & { rope_parameters: Record<string, unknown> };
  vision_config: Record<string, unknown>;
  text_prompts: PromptCase[];
  template_cases: PromptCase[];
  image: PromptCase & { input_ids: number[]; expanded_text: string };
  video: PromptCase & { input_ids: number[]; expanded_text: string };
}

export const REF = JSON.parse(
  readFileSync(new URL("../fixtures/qwen3vl-tiny-reference.json", import.meta.url), "utf8"),
) as Reference;
