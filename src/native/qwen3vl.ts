/**
 * A loaded Qwen3-VL checkpoint on the native engine: tokenizer, chat template, processor
 * settings, text decoder and (loaded on first use) vision tower, kept per checkpoint folder so
 * a notebook pays the load once. One generation runs at a time per checkpoint; later calls wait.
 *
 * {@link Qwen3VLSession.prepare} turns chat messages and decoded media into prompt ids, 3D
 * positions and visual rows exactly as transformers' Qwen3VLProcessor + model do (the fidelity
 * tests in test/native/ check each step); {@link Qwen3VLSession.generate} samples from them.
 *
 * @example
 * ```ts
 * import { openQwen3VL } from "./qwen3vl.ts";
 * const s = await openQwen3VL("test/fixtures/qwen3vl-tiny");
 * const p = await s.prepare([{ role: "user", content: "Hello" }], {});
 * const r = await s.generate(p, { maxTokens: 8, sampling: { temperature: 0 } });
 * console.log(r.text);
 * ```
 * @module
 */
import { applyChatTemplate, type ChatTemplateOptions, loadChatTemplate, type TemplateMessage } from "../chat_template/mod.ts";
import { loadQwen3VLCheckpoint, loadProcessorSettings, type ProcessorSettings, type Qwen3VLCheckpoint } from "../checkpoint/mod.ts";
import { AbortError, throwIfAborted, ValidationError } from "../errors.ts";
import { buildMultimodalPrompt, type PromptImage, type PromptVideo } from "../multimodal/mod.ts";
import type { ProgressEvent } from "../schema/results.ts";
import { loadTokenizer, type Tokenizer } from "../tokenizer/mod.ts";
import { type NativeSampling, NativeTextModel } from "./model.ts";
import { loadVisionTower, type NativeVisionTower, toVisualInputs } from "./vision.ts";
import type { RawVisualInputs } from "./types.ts";

/** Chat messages as the checkpoint's template takes them (`applyChatTemplate`). */
export type TemplateMessages = TemplateMessage[];

/** A prompt ready for the decoder. */
export interface PreparedPrompt {
  /** The templated, placeholder-expanded prompt text. */
  text: string;
  ids: Int32Array;
  /** 3D positions, `[t row | h row | w row]`. */
  pos3: Int32Array;
  visual: RawVisualInputs;
  imageTokens: number;
  videoTokens: number;
}

/** Options of {@link Qwen3VLSession.generate}. */
export interface SessionGenerateOptions {
  maxTokens: number;
  sampling: NativeSampling;
  /** Strings that end the output (not included in it). */
  stop?: readonly string[];
  signal?: AbortSignal;
  /** Each newly decoded piece of text, in order. */
  onText?: (text: string) => void;
  onProgress?: (event: ProgressEvent) => void;
}

/** Output of {@link Qwen3VLSession.generate}. */
export interface SessionGenerateResult {
  text: string;
  tokens: number[];
  /** `stop` for an end-of-turn token or a stop string, `length` at maxTokens. */
  finishReason: "stop" | "length";
}

/** A loaded checkpoint (see the module docs). */
export class Qwen3VLSession {
  #tower?: Promise<NativeVisionTower>;
  #queue: Promise<unknown> = Promise.resolve();
  #freed = false;

  private constructor(
    readonly checkpoint: Qwen3VLCheckpoint,
    readonly tokenizer: Tokenizer,
    readonly template: string,
    readonly processor: ProcessorSettings,
    readonly model: NativeTextModel,
  ) {}

  /** Loads everything but the vision tower; use {@link openQwen3VL} to share loaded sessions. */
  static async load(idOrPath: string, onProgress?: (e: ProgressEvent) => void): Promise<Qwen3VLSession> {
    onProgress?.({ stage: "load", done: 0, total: 2, message: `Reading ${idOrPath}` });
    const checkpoint = await loadQwen3VLCheckpoint(idOrPath);
    const [tokenizer, template, processor] = await Promise.all([
      loadTokenizer(checkpoint.dir),
      loadChatTemplate(checkpoint.dir),
      loadProcessorSettings(checkpoint.dir),
    ]);
    onProgress?.({ stage: "load", done: 1, total: 2, message: "Loading the text decoder's weights" });
    const model = await NativeTextModel.loadAsync(checkpoint.dir);
    onProgress?.({ stage: "load", done: 2, total: 2, message: "Weights loaded" });
    return new Qwen3VLSession(checkpoint, tokenizer, template, processor, model);
  }

  /** Token ids that end an assistant turn: generation_config's eos ids and `<|im_end|>`. */
  get stopIds(): number[] {
    const ids = new Set(this.checkpoint.generation.eosTokenIds);
    const imEnd = this.tokenizer.tokenToId("<|im_end|>");
    if (imEnd !== undefined) ids.add(imEnd);
    return [...ids];
  }

  /** The vision tower, loaded on first use. */
  tower(): Promise<NativeVisionTower> {
    this.#tower ??= loadVisionTower(this.checkpoint.dir);
    return this.#tower;
  }

  /**
   * Templates the messages (one `{type: "image"}` / `{type: "video"}` part per item, in order),
   * expands the vision placeholders, tokenizes, computes 3D positions and runs the vision tower.
   * The tower's activations are gone when this returns; only the merged rows are kept.
   */
  async prepare(
    messages: TemplateMessages,
    media: { images?: readonly PromptImage[]; videos?: readonly PromptVideo[] },
    opts: { signal?: AbortSignal; template?: ChatTemplateOptions } = {},
  ): Promise<PreparedPrompt> {
    const text = applyChatTemplate(this.template, messages, { addGenerationPrompt: true, ...opts.template });
    const cfg = this.checkpoint.config;
    const prompt = await buildMultimodalPrompt({
      text,
      images: media.images,
      videos: media.videos,
      tokenize: (t) => this.tokenizer.encode(t),
      tokenIds: cfg.tokens,
      patchify: {
        patchSize: cfg.vision.patchSize,
        temporalPatchSize: cfg.vision.temporalPatchSize,
        mergeSize: cfg.vision.spatialMergeSize,
      },
      // transformers 5.17 keeps the template's <|vision_start|> before the first timestamp; the
      // fixtures (and so our fidelity tests) were made with it.
      videoWrap: "keep",
    });
    throwIfAborted(opts.signal);
    checkPromptLength(prompt.inputIds.length, prompt.imageTokens, prompt.videoTokens, cfg.text.maxPositionEmbeddings, this.checkpoint.dir);
    let visual: RawVisualInputs = {};
    if (prompt.grids.length > 0) {
      const tower = await this.tower();
      const out = await tower.run(prompt.pixelValues, prompt.grids, { signal: opts.signal });
      visual = toVisualInputs(prompt.visualRowPositions, out);
    }
    return {
      text: prompt.text,
      ids: prompt.inputIds,
      pos3: prompt.rope.positions,
      visual,
      imageTokens: prompt.imageTokens,
      videoTokens: prompt.videoTokens,
    };
  }

  /** Samples a reply to a prepared prompt (the KV cache starts empty each time). */
  generate(prompt: PreparedPrompt, opts: SessionGenerateOptions): Promise<SessionGenerateResult> {
    const run = this.#queue.then(() => this.#generate(prompt, opts));
    this.#queue = run.catch(() => undefined);
    return run;
  }

  async #generate(prompt: PreparedPrompt, opts: SessionGenerateOptions): Promise<SessionGenerateResult> {
    throwIfAborted(opts.signal);
    const stream = this.tokenizer.streamDecoder({ skipSpecial: true });
    const stops = opts.stop ?? [];
    const stopSet = new Set(this.stopIds);
    let text = "";
    let emitted = 0;
    let stoppedByString = false;
    let count = 0;
    // Text is held back while it could still be the start of a stop string.
    const hold = stops.reduce((n, s) => Math.max(n, s.length - 1), 0);
    const emit = (upTo: number) => {
      if (upTo > emitted) opts.onText?.(text.slice(emitted, upTo));
      emitted = Math.max(emitted, upTo);
    };
    const onToken = (id: number) => {
      count++;
      if (count === 1 || count % 16 === 0) opts.onProgress?.({ stage: "decode", done: count, total: opts.maxTokens });
      if (stoppedByString || stopSet.has(id)) return;
      text += stream.push(id);
      const hit = firstStop(text, stops, Math.max(0, emitted - hold));
      if (hit !== undefined) {
        text = text.slice(0, hit);
        stoppedByString = true;
        emit(text.length);
        this.model.abort();
        return;
      }
      emit(text.length - hold);
    };
    this.model.reset();
    opts.onProgress?.({ stage: "prefill", done: 0, total: prompt.ids.length, message: `${prompt.ids.length} prompt tokens` });
    let tokens: number[] = [];
    let finish: "stop" | "length" = "stop";
    try {
      const r = await this.model.generate({
        ids: Int32Array.from(prompt.ids),
        pos3: Int32Array.from(prompt.pos3),
        maxTokens: opts.maxTokens,
        stopIds: [...stopSet],
        sampling: opts.sampling,
        onToken,
        signal: opts.signal,
        ...prompt.visual,
      });
      tokens = r.tokens;
      finish = r.stopReason;
    } catch (e) {
      if (!(e instanceof AbortError) || !stoppedByString || opts.signal?.aborted) throw e;
    } finally {
      this.model.reset(); // frees nothing but forgets the cache rows; the next call starts clean
    }
    if (!stoppedByString) {
      text += stream.flush();
      emit(text.length);
    }
    return { text, tokens, finishReason: stoppedByString ? "stop" : finish };
  }

  /** Frees the decoder and the tower now; the session cannot be used afterwards. */
  async free(): Promise<void> {
    if (this.#freed) return;
    this.#freed = true;
    await this.#queue;
    this.model.free();
    if (this.#tower) (await this.#tower.catch(() => undefined))?.free();
  }
}

/**
 * A prompt longer than the checkpoint's `max_position_embeddings` is refused before the vision
 * tower or the decoder runs: past that length the model's positions are untrained (its answers
 * degrade silently), and the KV cache for it may not fit. The message breaks the count down so
 * the user knows what to shrink. No limit in config.json: nothing to check.
 * @throws {ValidationError} naming `prompt`, the token count and the limit.
 */
export function checkPromptLength(tokens: number, imageTokens: number, videoTokens: number, limit: number | undefined, checkpoint: string): void {
  if (limit === undefined || tokens <= limit) return;
  const textTokens = tokens - imageTokens - videoTokens;
  const shrink = [
    "a shorter prompt or system text",
    ...(imageTokens > 0 ? ["a smaller image (imageSize.longestEdge)"] : []),
    ...(videoTokens > 0 ? ["fewer or smaller video frames (videoSampling.fps / numFrames)"] : []),
  ];
  throw new ValidationError([{
    field: "prompt",
    value: `${tokens} tokens (${textTokens} text, ${imageTokens} image, ${videoTokens} video)`,
    allowed: `at most ${limit} tokens (max_position_embeddings of ${checkpoint})`,
    message: `the prompt is longer than the checkpoint's context; use ${shrink.join(", or ")}`,
  }]);
}

function firstStop(text: string, stops: readonly string[], from: number): number | undefined {
  let best: number | undefined;
  for (const s of stops) {
    const i = text.indexOf(s, from);
    if (i >= 0 && (best === undefined || i < best)) best = i;
  }
  return best;
}

const sessions = new Map<string, Promise<Qwen3VLSession>>();

/**
 * The shared session of a checkpoint (a folder or an HF repo id in the cache), loading it on
 * first use. A failed load is not cached.
 * @example
 * ```ts
 * import { openQwen3VL } from "./qwen3vl.ts";
 * const s = await openQwen3VL("test/fixtures/qwen3vl-tiny");
 * s.stopIds; // [1402, 1401]
 * ```
 */
export function openQwen3VL(idOrPath: string, onProgress?: (e: ProgressEvent) => void): Promise<Qwen3VLSession> {
  let s = sessions.get(idOrPath);
  if (!s) {
    s = Qwen3VLSession.load(idOrPath, onProgress);
    sessions.set(idOrPath, s);
    s.catch(() => sessions.delete(idOrPath));
  }
  return s;
}

/**
 * Frees the shared sessions (all, or one checkpoint's): weights and caches are released now.
 * @example
 * ```ts
 * import { closeQwen3VL } from "./qwen3vl.ts";
 * await closeQwen3VL();
 * ```
 */
export async function closeQwen3VL(idOrPath?: string): Promise<void> {
  const keys = idOrPath === undefined ? [...sessions.keys()] : [idOrPath];
  for (const k of keys) {
    const s = sessions.get(k);
    sessions.delete(k);
    await (await s?.catch(() => undefined))?.free();
  }
}
