/**
 * The Generator's prompt token ids, as diffusers' `Cosmos3OmniPipeline.tokenize_prompt` builds them
 * (huggingface/diffusers 58eb52c0 `src/diffusers/pipelines/cosmos/pipeline_cosmos3_omni.py`:
 * lines 1126-1215, templates at 462-468, system prompts at 178-179, the action caption at
 * 1086-1124):
 *
 * 1. the text: the prompt, plus (when asked) "The video is {d:.1f} seconds long and is of {fps:.0f}
 *    FPS." (videos only) and "This video|image is of {h}x{w} resolution."; the negative prompt
 *    (default "") gets the "is not" forms. Action runs (policy, forward / inverse dynamics) replace the
 *    prompt with a JSON caption ({@link buildActionJsonPrompt}) and take the negative prompt as is;
 * 2. the checkpoint's chat template with `add_generation_prompt` (an optional system turn first, the
 *    image or video variant, typo included: "from a give prompt");
 * 3. then the tokenizer's eos id and the id of `<|vision_start|>` (the start of generation).
 *
 * The templates default to off here, as in vLLM-Omni and the request schema
 * (src/schema/generate_request.ts `useResolutionTemplate` / `useDurationTemplate`); diffusers'
 * own default is on. `maxSequenceLength` cuts the templated ids before the two special ids, as
 * vLLM-Omni does (`pipeline_cosmos3.py` `_tokenize_prompt`); diffusers does not cut.
 *
 * @example
 * ```ts
 * import { generatorPromptTexts } from "./prompt.ts";
 * const t = generatorPromptTexts({
 *   prompt: "A robot arm stacks cubes.", numFrames: 189, height: 720, width: 1280, fps: 24,
 *   addDurationTemplate: true, addResolutionTemplate: true,
 * });
 * t.cond; // "A robot arm stacks cubes. The video is 7.9 seconds long and is of 24 FPS. This video is of 720x1280 resolution."
 * t.uncond; // "The video is not 7.9 seconds long and is not of 24 FPS. This video is not of 720x1280 resolution."
 * ```
 * @module
 */
import { existsSync } from "node:fs";
import { join } from "node:path";
import { applyChatTemplate, loadChatTemplate } from "../chat_template/mod.ts";
import { CheckpointError } from "../errors.ts";
import { loadTokenizer, type Tokenizer } from "../tokenizer/mod.ts";
import { pyFixed, PyFloat, type PyJson, pyJsonDumps, pyStrip } from "./python_format.ts";
import { pyRound } from "../media/qwen_vision.ts";

/** System prompt of image runs (verbatim, "give" included: pipeline_cosmos3_omni.py:178). */
export const SYSTEM_PROMPT_IMAGE = "You are a helpful assistant who will generate images from a give prompt.";
/** System prompt of video runs (verbatim: pipeline_cosmos3_omni.py:179). */
export const SYSTEM_PROMPT_VIDEO = "You are a helpful assistant who will generate videos from a give prompt.";

/** Framing sentences of the action caption, by camera viewpoint (pipeline_cosmos3_omni.py:214-219). */
export const ACTION_VIEWPOINTS = Object.freeze({
  ego_view: "This video is captured from a first-person perspective looking at the scene.",
  third_person_view: "This video is captured from a third-person perspective looking towards the agent from the front.",
  wrist_view: "This video is captured from a wrist-mounted camera.",
  concat_view: "This video contains concatenated views from multiple camera perspectives.",
});
export type ActionViewPoint = keyof typeof ACTION_VIEWPOINTS;
/** The viewpoint of `CosmosActionCondition` when none is given. */
export const DEFAULT_ACTION_VIEWPOINT: ActionViewPoint = "ego_view";

/** Aspect ratios the action caption names, in the pipeline's order (the first wins a tie). */
const CAPTION_ASPECT_RATIOS = ["1,1", "4,3", "3,4", "16,9", "9,16"] as const;

/** What the prompt text depends on. */
export interface PromptTextOptions {
  prompt: string;
  /** The CFG branch's text; "" when left out. */
  negativePrompt?: string;
  /** 1 = image (image templates, no duration). */
  numFrames: number;
  height: number;
  width: number;
  fps: number;
  /** Append "This video is of HxW resolution." (and the "is not" form to the negative prompt). Default false. */
  addResolutionTemplate?: boolean;
  /** Append the duration and frame rate sentence (videos only). Default false. */
  addDurationTemplate?: boolean;
  /**
   * Set for action runs: the prompt becomes the JSON caption, framed by this viewpoint
   * (`null` or an unknown one drops the framing, as the pipeline does).
   */
  action?: { viewPoint?: string | null };
}

/** `_append` of tokenize_prompt: drop the base's trailing dots, join with ". ". */
function appendSentence(base: string, addition: string): string {
  const trimmed = base.replace(/\.+$/, "");
  return trimmed ? `${trimmed}. ${addition}` : addition;
}

/**
 * The action caption the model was trained on (`_build_action_json_prompt`): framing, one action
 * spanning the clip, duration, fps, resolution and the nearest aspect ratio, as Python's
 * `json.dumps` writes it.
 *
 * @example
 * ```ts
 * import { buildActionJsonPrompt } from "./prompt.ts";
 * buildActionJsonPrompt("pick up the cube", { viewPoint: "wrist_view", numFrames: 17, fps: 24, height: 480, width: 640 });
 * // '{"cinematography": {"framing": "This video is captured from a wrist-mounted camera."}, "actions": [{"time": "0:00-0:01", "description": "pick up the cube."}], "duration": "0s", "fps": 24.0, "resolution": {"H": 480, "W": 640}, "aspect_ratio": "4,3"}'
 * ```
 */
export function buildActionJsonPrompt(
  description: string,
  o: { viewPoint?: string | null; numFrames: number; fps: number; height: number; width: number },
): string {
  const seconds = o.fps > 0 ? o.numFrames / o.fps : 0;
  const finite = seconds >= 0 && Number.isFinite(seconds);
  const duration = finite ? Math.trunc(seconds) : 0;
  const actionEnd = finite ? pyRound(seconds) : 0;
  const minutes = Math.floor(actionEnd / 60);
  const secs = actionEnd - minutes * 60;
  let desc = pyStrip(description);
  if (desc && !/[.!?]$/.test(desc)) desc = `${desc}.`;
  const caption: { [key: string]: PyJson } = {};
  const framing = o.viewPoint != null && Object.hasOwn(ACTION_VIEWPOINTS, o.viewPoint)
    ? ACTION_VIEWPOINTS[o.viewPoint as ActionViewPoint]
    : undefined;
  if (framing) caption.cinematography = { framing };
  const ratio = o.height > 0 ? o.width / o.height : 1;
  let aspect: string = CAPTION_ASPECT_RATIOS[0];
  let best = Infinity;
  for (const r of CAPTION_ASPECT_RATIOS) {
    const [a, b] = r.split(",").map(Number);
    const d = Math.abs(a / b - ratio);
    if (d < best) [best, aspect] = [d, r];
  }
  caption.actions = [{ time: `0:00-${minutes}:${String(secs).padStart(2, "0")}`, description: desc }];
  caption.duration = `${duration}s`;
  caption.fps = new PyFloat(o.fps);
  caption.resolution = { H: Math.trunc(o.height), W: Math.trunc(o.width) };
  caption.aspect_ratio = aspect;
  return pyJsonDumps(caption);
}

/** The cond and uncond texts before the chat template (tokenize_prompt's text part). */
export function generatorPromptTexts(o: PromptTextOptions): { cond: string; uncond: string } {
  const negative = o.negativePrompt ?? "";
  if (o.action) {
    return { cond: buildActionJsonPrompt(o.prompt, { ...o, viewPoint: o.action.viewPoint }), uncond: negative };
  }
  const isImage = o.numFrames === 1;
  const kind = isImage ? "image" : "video";
  const withTemplates = (text: string, negated: boolean): string => {
    const not = negated ? "not " : "";
    if (!isImage && o.addDurationTemplate) {
      const seconds = pyFixed(o.numFrames / o.fps, 1);
      text = appendSentence(
        text,
        `The video is ${not}${seconds} seconds long and is ${not}of ${pyFixed(o.fps, 0)} FPS.`,
      );
    }
    if (o.addResolutionTemplate) {
      text = appendSentence(text, `This ${kind} is ${not}of ${o.height}x${o.width} resolution.`);
    }
    return text;
  };
  return { cond: withTemplates(o.prompt, false), uncond: withTemplates(negative, true) };
}

/** A checkpoint's text tokenizer and chat template (the `text_tokenizer/` folder of a diffusers checkpoint). */
export interface GeneratorTextTokenizer {
  tokenizer: Tokenizer;
  template: string;
  /** `tokenizer.eos_token_id`, appended after the templated prompt. */
  eosTokenId: number;
  /** Id of `<|vision_start|>`, the start of generation, appended last. */
  visionStartTokenId: number;
}

/** Builds a {@link GeneratorTextTokenizer}; a CheckpointError when the eos or `<|vision_start|>` token is missing. */
export function generatorTextTokenizer(
  tokenizer: Tokenizer,
  template: string,
  where = "the text tokenizer",
): GeneratorTextTokenizer {
  const eosTokenId = tokenizer.eosTokenId;
  if (eosTokenId === undefined) {
    throw new CheckpointError(`${where} has no eos_token (tokenizer_config.json), which ends every Generator prompt.`, {
      hint: "Use the text_tokenizer folder that came with the Cosmos 3 checkpoint.",
    });
  }
  const visionStartTokenId = tokenizer.tokenToId("<|vision_start|>");
  if (visionStartTokenId === undefined) {
    throw new CheckpointError(`${where} has no <|vision_start|> token, which starts the Generator's generation.`, {
      hint: "Use the text_tokenizer folder that came with the Cosmos 3 checkpoint (a Qwen3-VL tokenizer).",
    });
  }
  return { tokenizer, template, eosTokenId, visionStartTokenId };
}

/**
 * Loads the tokenizer and chat template of a Generator checkpoint: `dir/text_tokenizer/` when
 * there is one (the diffusers layout), else `dir` itself.
 *
 * @example
 * ```ts
 * import { loadGeneratorTextTokenizer } from "./prompt.ts";
 * const tok = await loadGeneratorTextTokenizer("test/fixtures/qwen3vl-tiny");
 * tok.visionStartTokenId; // the id of <|vision_start|>
 * ```
 */
export async function loadGeneratorTextTokenizer(dir: string): Promise<GeneratorTextTokenizer> {
  const sub = join(dir, "text_tokenizer");
  const at = existsSync(join(sub, "tokenizer.json")) ? sub : dir;
  const [tokenizer, template] = await Promise.all([loadTokenizer(at), loadChatTemplate(at)]);
  return generatorTextTokenizer(tokenizer, template, at);
}

/** How a text becomes ids. */
export interface PromptIdsOptions {
  /** Image runs get the image system prompt. */
  isImage: boolean;
  /** Prepend the system turn (diffusers: model_index.json `default_use_system_prompt`). Default false. */
  useSystemPrompt?: boolean;
  /** Keep at most this many templated ids (before eos and `<|vision_start|>`). Default: no cut. */
  maxSequenceLength?: number;
}

/** One prompt's ids: chat template (with generation prompt), tokens, then eos and `<|vision_start|>`. */
export function generatorPromptIds(tok: GeneratorTextTokenizer, text: string, o: PromptIdsOptions): number[] {
  const messages = [];
  if (o.useSystemPrompt) {
    messages.push({ role: "system", content: o.isImage ? SYSTEM_PROMPT_IMAGE : SYSTEM_PROMPT_VIDEO });
  }
  messages.push({ role: "user", content: text });
  const rendered = applyChatTemplate(tok.template, messages, {
    addGenerationPrompt: true,
    addVisionId: false,
    specialTokens: tok.tokenizer.specialTokens,
  });
  // transformers tokenizes a rendered chat with add_special_tokens=False: the template has them.
  let ids = tok.tokenizer.encode(rendered, { addSpecialTokens: false });
  if (o.maxSequenceLength !== undefined) ids = ids.slice(0, o.maxSequenceLength);
  return [...ids, tok.eosTokenId, tok.visionStartTokenId];
}

/** Both CFG branches' texts and ids. */
export interface GeneratorPrompts {
  condText: string;
  uncondText: string;
  cond: number[];
  uncond: number[];
}

/** Texts and ids of the cond and uncond branches (tokenize_prompt). */
export function generatorPrompts(
  tok: GeneratorTextTokenizer,
  o: PromptTextOptions & Omit<PromptIdsOptions, "isImage">,
): GeneratorPrompts {
  const texts = generatorPromptTexts(o);
  const ids = {
    isImage: o.numFrames === 1,
    useSystemPrompt: o.useSystemPrompt,
    maxSequenceLength: o.maxSequenceLength,
  };
  return {
    condText: texts.cond,
    uncondText: texts.uncond,
    cond: generatorPromptIds(tok, texts.cond, ids),
    uncond: generatorPromptIds(tok, texts.uncond, ids),
  };
}
