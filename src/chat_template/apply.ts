/**
 * Renders a checkpoint's Jinja chat template the way transformers' `apply_chat_template` does
 * (`@huggingface/jinja`, with `trim_blocks` and `lstrip_blocks`): `messages`, `tools`,
 * `add_generation_prompt`, `add_vision_id`, the tokenizer's special-token strings, and the
 * library's `raise_exception` / `strftime_now` globals. Message content may be a string or a list of
 * parts: `{type: "text", text}`, `{type: "image"}`, `{type: "video"}` or the cosmos-ts
 * schema's `{type: "image_url", image_url}` / `{type: "video_url", video_url}`.
 *
 * @example
 * ```ts
 * import { applyChatTemplate } from "./apply.ts";
 * const template = "{% for m in messages %}<|im_start|>{{ m.role }}\n{{ m.content }}<|im_end|>\n{% endfor %}" +
 *   "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}";
 * applyChatTemplate(template, [{ role: "user", content: "Hi" }], { addGenerationPrompt: true });
 * // "<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n"
 * ```
 * @module
 */
import { Template } from "@huggingface/jinja";
import { z } from "zod";
import { CheckpointError, ValidationError } from "../errors.ts";

/**
 * One content part a chat template can see (text, image, video, or our *_url forms).
 *
 * @example
 * ```ts
 * import { TemplatePart } from "./apply.ts";
 * TemplatePart.parse({ type: "image" }); // { type: "image" }
 * ```
 */
export const TemplatePart = z.looseObject({ type: z.string() });
export type TemplatePart = z.infer<typeof TemplatePart>;

/**
 * One chat message as the template sees it (extra keys such as `tool_calls` pass through).
 *
 * @example
 * ```ts
 * import { TemplateMessage } from "./apply.ts";
 * TemplateMessage.parse({ role: "user", content: [{ type: "text", text: "Hi" }] });
 * ```
 */
export const TemplateMessage = z.looseObject({
  role: z.string().min(1),
  content: z.union([z.string(), z.array(TemplatePart)]).nullish(),
});
export type TemplateMessage = z.infer<typeof TemplateMessage>;

/** Options of {@link applyChatTemplate} (transformers' argument names in comments). */
export interface ChatTemplateOptions {
  /** `add_generation_prompt`: end with the assistant turn's header. Default false. */
  addGenerationPrompt?: boolean;
  /** `add_vision_id` (Qwen-VL templates): label "Picture N: " / "Video N: ". Default false. */
  addVisionId?: boolean;
  /** `continue_final_message`: cut the text right after the last message's content. Default false. */
  continueFinalMessage?: boolean;
  /** `tools`: JSON-schema function descriptions. */
  tools?: readonly unknown[];
  /** `bos_token`, `eos_token`, `pad_token`, `unk_token` strings given to the template. */
  specialTokens?: { bos?: string; eos?: string; pad?: string; unk?: string };
  /** Other template variables (transformers' `**kwargs`), e.g. `{ enable_thinking: false }`. */
  extra?: Record<string, unknown>;
}

const compiled = new Map<string, Template>();

function compile(source: string): Template {
  let t = compiled.get(source);
  if (!t) {
    try {
      t = new Template(source);
    } catch (e) {
      throw new CheckpointError(`The chat template does not parse: ${(e as Error).message}`, {
        hint: "Check chat_template.jinja (or tokenizer_config.json's chat_template) of the checkpoint.",
        cause: e,
      });
    }
    if (compiled.size > 32) compiled.clear();
    compiled.set(source, t);
  }
  return t;
}

function lastText(content: TemplateMessage["content"]): string {
  if (typeof content === "string") return content;
  const texts = (content ?? []).filter((p) => p.type === "text" && typeof p.text === "string");
  return texts.length ? String(texts[texts.length - 1].text) : "";
}

/**
 * Renders `template` for `messages` (see the module docs). Throws a {@link ValidationError} for
 * malformed messages and a {@link CheckpointError} when the template fails or raises.
 *
 * @example
 * ```ts
 * import { applyChatTemplate, loadChatTemplate } from "./mod.ts";
 * const template = await loadChatTemplate("test/fixtures/qwen3vl-tiny");
 * applyChatTemplate(template, [
 *   { role: "user", content: [{ type: "image" }, { type: "text", text: "Describe this image." }] },
 * ], { addGenerationPrompt: true });
 * // "<|im_start|>user\n<|vision_start|><|image_pad|><|vision_end|>Describe this image.<|im_end|>\n<|im_start|>assistant\n"
 * ```
 */
export function applyChatTemplate(
  template: string,
  messages: readonly unknown[],
  options: ChatTemplateOptions = {},
): string {
  const parsed = z.array(TemplateMessage).min(1).safeParse(messages);
  if (!parsed.success) {
    throw new ValidationError(parsed.error.issues.map((i) => ({
      field: ["messages", ...i.path.map(String)].join("."),
      value: undefined,
      allowed: "{ role: string, content: string | { type: string, ... }[] }",
      message: i.message,
    })));
  }
  const msgs = parsed.data;
  const st = options.specialTokens ?? {};
  let text: string;
  try {
    text = compile(template).render({
      ...options.extra,
      messages: msgs,
      tools: options.tools ?? null,
      add_generation_prompt: options.addGenerationPrompt ?? false,
      add_vision_id: options.addVisionId ?? false,
      bos_token: st.bos ?? "",
      eos_token: st.eos ?? "",
      pad_token: st.pad ?? "",
      unk_token: st.unk ?? "",
    });
  } catch (e) {
    throw new CheckpointError(`The chat template failed: ${(e as Error).message}`, {
      hint: "Check the messages' shape and the checkpoint's chat template.",
      cause: e,
    });
  }
  if (options.continueFinalMessage) {
    const final = lastText(msgs[msgs.length - 1].content);
    const key = text.includes(final) ? final : final.trim();
    const at = text.lastIndexOf(key);
    if (key === "" || at < 0) {
      throw new ValidationError([{
        field: "options.continueFinalMessage",
        value: true,
        allowed: "a final message whose text appears in the rendered template",
        message: "the final message's content is not in the rendered text",
      }]);
    }
    text = text.slice(0, at + key.length);
  }
  return text;
}
