/**
 * Chat templates of Hugging Face checkpoints: find the template ({@link loadChatTemplate}) and
 * render messages to the prompt text ({@link applyChatTemplate}), as transformers'
 * `apply_chat_template(..., tokenize=False)` does.
 *
 * @example
 * ```ts
 * import { applyChatTemplate, loadChatTemplate } from "./mod.ts";
 * const template = await loadChatTemplate("test/fixtures/qwen3vl-tiny");
 * const text = applyChatTemplate(template, [{ role: "user", content: "Hi" }], { addGenerationPrompt: true });
 * // "<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n"
 * ```
 * @module
 */
export * from "./apply.ts";
export * from "./load.ts";
