/**
 * A loaded Qwen3-VL checkpoint on the native engine: tokenizer, chat template, processor
 * settings, text decoder and (loaded on first use) vision tower, kept per checkpoint so a notebook
 * pays the load once. The checkpoint's key is the canonical real path it resolves to, so `dir`,
 * `dir/`, `a/../dir` and a Hugging Face repo id cached as that folder share one load.
 *
 * Every call that runs a model (the tower in {@link Qwen3VLSession.prepare}, the decoder in
 * {@link Qwen3VLSession.generate}) goes through one first-in first-out queue per session
 * (`queue.ts`): concurrent calls run one after the other in arrival order, and a call whose signal
 * aborts while it waits leaves the queue and rejects with AbortError at once. A session is closed
 * by `free()` / `[Symbol.asyncDispose]()` / {@link closeNative}; a closed session refuses calls
 * with a NativeError.
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
import {
  applyChatTemplate,
  type ChatTemplateOptions,
  loadChatTemplate,
  type TemplateMessage,
} from "../chat_template/mod.ts";
import {
  loadProcessorSettings,
  loadQwen3VLCheckpoint,
  type ProcessorSettings,
  type Qwen3VLCheckpoint,
  resolveCheckpoint,
} from "../checkpoint/mod.ts";
import { realpath } from "node:fs/promises";
import { CheckpointError, NativeError, throwIfAborted, ValidationError } from "../errors.ts";
import { buildMultimodalPrompt, type PromptImage, type PromptVideo } from "../multimodal/mod.ts";
import { decodeEndProgress, type ProgressEvent } from "../schema/results.ts";
import { loadTokenizer, type Tokenizer } from "../tokenizer/mod.ts";
import { type NativeSampling, NativeTextModel, type VisualInputs } from "./model.ts";
import { nativeTextConfigOf, nativeVisionConfigOf } from "./config.ts";
import { RunQueue } from "./queue.ts";
import { checkpointSession, freeCheckpoints, freeTracked, openCheckpoints } from "./registry.ts";
import { disposeVisionOutput, loadVisionTower, type NativeVisionTower, toVisualInputs } from "./vision.ts";

/** Chat messages as the checkpoint's template takes them (`applyChatTemplate`). */
export type TemplateMessages = TemplateMessage[];

/** A prompt ready for the decoder. */
export interface PreparedPrompt {
  /** The templated, placeholder-expanded prompt text. */
  text: string;
  ids: Int32Array;
  /** 3D positions, `[t row | h row | w row]`. */
  pos3: Int32Array;
  /** The vision tower's outputs, kept on its device (tensors) for the decoder's prefill. */
  visual: VisualInputs;
  imageTokens: number;
  videoTokens: number;
  /** Frees the visual tensors now (idempotent; they also go when the session closes). */
  dispose(): void;
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
  #pieces?: { offsets: Int32Array; bytes: Uint8Array };
  readonly #queue = new RunQueue();
  #closing?: Promise<void>;

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
      loadTokenizer(checkpoint.tokenizerDir),
      loadChatTemplate(checkpoint.tokenizerDir),
      loadProcessorSettings(checkpoint.dir),
    ]);
    onProgress?.({ stage: "load", done: 1, total: 2, message: "Loading the text decoder's weights" });
    // A Cosmos 3 checkpoint's und tower is read under its Qwen3-VL names (checkpoint.weights).
    const model = await NativeTextModel.loadAsync(checkpoint.weights.text, nativeTextConfigOf(checkpoint.config.text));
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

  /** Whether the session was closed (its weights freed); it refuses calls from then on. */
  get disposed(): boolean {
    return this.#closing !== undefined;
  }

  /** Calls waiting for the running one (for tests and progress displays). */
  get queued(): number {
    return this.#queue.waiting;
  }

  /** The vision tower, loaded on first use. */
  tower(): Promise<NativeVisionTower> {
    this.#checkOpen();
    const weights = this.checkpoint.weights.vision;
    if (weights === undefined) {
      throw new CheckpointError(`${this.checkpoint.dir} has no vision tower (no vision_encoder/ folder).`, {
        hint: "Download the checkpoint's vision_encoder/ folder; images and videos need it.",
      });
    }
    this.#tower ??= loadVisionTower(weights, { config: nativeVisionConfigOf(this.checkpoint.config.vision) });
    return this.#tower;
  }

  #closedError(): NativeError {
    return new NativeError(`The Qwen3-VL session of ${this.checkpoint.dir} was closed (its weights are freed).`, {
      hint: "open it again with openQwen3VL(); reason() reopens the checkpoint by itself",
    });
  }

  #checkOpen(): void {
    if (this.#closing) throw this.#closedError();
  }

  /**
   * Templates the messages (one `{type: "image"}` / `{type: "video"}` part per item, in order),
   * expands the vision placeholders, tokenizes, computes 3D positions and runs the vision tower.
   * The tower's activations are gone when this returns; its merged rows stay on its device as
   * tensors until {@link PreparedPrompt.dispose} (or the session's close).
   */
  async prepare(
    messages: TemplateMessages,
    media: { images?: readonly PromptImage[]; videos?: readonly PromptVideo[] },
    opts: { signal?: AbortSignal; template?: ChatTemplateOptions } = {},
  ): Promise<PreparedPrompt> {
    this.#checkOpen();
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
    checkPromptLength(
      prompt.inputIds.length,
      prompt.imageTokens,
      prompt.videoTokens,
      cfg.text.maxPositionEmbeddings,
      this.checkpoint.dir,
    );
    let visual: VisualInputs = {};
    let dispose = () => {};
    if (prompt.grids.length > 0) {
      const out = await this.#queue.run(async () => {
        this.#checkOpen();
        const tower = await this.tower();
        return await tower.run(prompt.pixelValues, prompt.grids, { signal: opts.signal });
      }, opts.signal);
      dispose = () => disposeVisionOutput(out);
      try {
        visual = toVisualInputs(prompt.visualRowPositions, out);
      } catch (e) {
        dispose();
        throw e;
      }
    }
    return {
      text: prompt.text,
      ids: prompt.inputIds,
      pos3: prompt.rope.positions,
      visual,
      imageTokens: prompt.imageTokens,
      videoTokens: prompt.videoTokens,
      dispose,
    };
  }

  /**
   * Samples a reply to a prepared prompt (the KV cache starts empty each time). Waits in the
   * session's queue behind the calls that came first.
   */
  generate(prompt: PreparedPrompt, opts: SessionGenerateOptions): Promise<SessionGenerateResult> {
    if (this.#closing) return Promise.reject(this.#closedError());
    return this.#queue.run(() => this.#generate(prompt, opts), opts.signal);
  }

  /**
   * The bytes each token id decodes to (special tokens: none), built once and given to the decoder
   * (`setTokenPieces`): the token loop matches stop strings on them, and the streamed text is made
   * from the same bytes, so where the loop says the text ends is a place in this text.
   */
  #tokenPieces(): { offsets: Int32Array; bytes: Uint8Array } {
    if (!this.#pieces) {
      const vocab = this.model.info().vocabSize ?? this.tokenizer.vocabSize;
      this.#pieces = this.tokenizer.pieceTable(vocab, { skipSpecial: true });
      this.model.setTokenPieces(this.#pieces);
    }
    return this.#pieces;
  }

  async #generate(prompt: PreparedPrompt, opts: SessionGenerateOptions): Promise<SessionGenerateResult> {
    throwIfAborted(opts.signal);
    const { offsets, bytes } = this.#tokenPieces();
    const stops = (opts.stop ?? []).filter((s) => s !== "");
    const stopSet = new Set(this.stopIds);
    // The token loop stops on the token that completes a stop string, after telling us about it; so
    // when token i arrives, no stop string ends in the bytes before it, and one that could still end
    // later starts in their last (longest stop - 1) bytes: those are held back, the rest is streamed.
    const hold = stops.reduce((n, s) => Math.max(n, new TextEncoder().encode(s).length - 1), 0);
    const utf8 = new TextDecoder("utf-8", { fatal: false, ignoreBOM: true });
    let out = new Uint8Array(256); // the output's bytes (stop ids are no text)
    let size = 0;
    let emitted = 0;
    let text = "";
    let count = 0;
    const emit = (upTo: number, last = false) => {
      if (upTo < emitted) return;
      const piece = utf8.decode(out.subarray(emitted, upTo), { stream: !last });
      emitted = upTo;
      text += piece;
      if (piece) opts.onText?.(piece);
    };
    const onToken = (id: number) => {
      count++;
      if (count === 1 || count % 16 === 0) opts.onProgress?.({ stage: "decode", done: count, total: opts.maxTokens });
      if (hold > 0) emit(size - hold);
      const known = !stopSet.has(id) && id >= 0 && id + 1 < offsets.length;
      const piece = known ? bytes.subarray(offsets[id], offsets[id + 1]) : bytes.subarray(0, 0);
      if (size + piece.length > out.length) {
        const grown = new Uint8Array(Math.max(2 * out.length, size + piece.length));
        grown.set(out.subarray(0, size));
        out = grown;
      }
      out.set(piece, size);
      size += piece.length;
      if (hold === 0) emit(size);
    };
    this.model.reset();
    opts.onProgress?.({
      stage: "prefill",
      done: 0,
      total: prompt.ids.length,
      message: `${prompt.ids.length} prompt tokens`,
    });
    try {
      const r = await this.model.generate({
        ids: Int32Array.from(prompt.ids),
        pos3: Int32Array.from(prompt.pos3),
        maxTokens: opts.maxTokens,
        stopIds: [...stopSet],
        stopStrings: stops,
        sampling: opts.sampling,
        onToken,
        signal: opts.signal,
        ...prompt.visual,
      });
      // Ended by a stop string: the text ends where it starts (it and what follows are not shown).
      emit(r.textBytes ?? size, true);
      opts.onProgress?.(decodeEndProgress(r.tokens.length, opts.maxTokens, r.stopReason));
      return { text, tokens: r.tokens, finishReason: r.stopReason };
    } finally {
      this.model.reset(); // frees nothing but forgets the cache rows; the next call starts clean
    }
  }

  /**
   * Closes the session: calls still waiting reject with a NativeError, the running one ends
   * normally, then the decoder and the tower are freed. Later calls are refused; the next
   * {@link openQwen3VL} of the checkpoint loads it again.
   */
  free(): Promise<void> {
    this.#closing ??= (async () => {
      forget(this);
      await this.#queue.close(() => this.#closedError());
      this.model.free();
      if (this.#tower) (await this.#tower.catch(() => undefined))?.free();
    })();
    return this.#closing;
  }

  /** {@link Qwen3VLSession.free}, for `await using session = await openQwen3VL(dir)`. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.free();
  }
}

/**
 * A prompt longer than the checkpoint's `max_position_embeddings` is refused before the vision
 * tower or the decoder runs: past that length the model's positions are untrained (its answers
 * degrade silently), and the KV cache for it may not fit. The message breaks the count down so
 * the user knows what to shrink. No limit in config.json: nothing to check.
 * @throws {ValidationError} naming `prompt`, the token count and the limit.
 */
export function checkPromptLength(
  tokens: number,
  imageTokens: number,
  videoTokens: number,
  limit: number | undefined,
  checkpoint: string,
): void {
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

/** The model class of {@link Qwen3VLSession} in a checkpoint's {@link CheckpointSession}. */
const REASONER = "reasoner";

/**
 * The key of a checkpoint: the canonical real path of the folder it resolves to, so `dir`, `dir/`,
 * `a/../dir`, a symlink to it and a Hugging Face repo id whose cached snapshot it is are one
 * checkpoint. Repo ids are looked up in the local hub cache only (`resolveCheckpoint`).
 * @throws {CheckpointError} when `idOrPath` is neither a folder nor a cached repo id.
 *
 * @example
 * ```ts
 * import { checkpointKey } from "./qwen3vl.ts";
 * (await checkpointKey("test/fixtures/qwen3vl-tiny/")) === (await checkpointKey("test/fixtures/../fixtures/qwen3vl-tiny")); // true
 * ```
 */
export async function checkpointKey(idOrPath: string): Promise<string> {
  return await realpath((await resolveCheckpoint(idOrPath)).dir);
}

/** Drops a closing session from its checkpoint's sessions (when it is the one there). */
function forget(s: Qwen3VLSession): void {
  for (const c of openCheckpoints()) c.forget(s);
}

/**
 * The shared session of a checkpoint (a folder or an HF repo id in the cache), loading it on
 * first use; checkpoints are compared by {@link checkpointKey}. A failed load is not cached.
 * @example
 * ```ts
 * import { openQwen3VL } from "./qwen3vl.ts";
 * const s = await openQwen3VL("test/fixtures/qwen3vl-tiny");
 * s.stopIds; // [1402, 1401]
 * ```
 */
export async function openQwen3VL(idOrPath: string, onProgress?: (e: ProgressEvent) => void): Promise<Qwen3VLSession> {
  const key = await checkpointKey(idOrPath);
  // The checkpoint's session holds this class next to the others it has loaded (a Cosmos 3 folder's Generator).
  return await checkpointSession(key).open(REASONER, () => Qwen3VLSession.load(key, onProgress));
}

/**
 * Closes the shared Reasoner session of one checkpoint (see {@link Qwen3VLSession.free}); the other model
 * classes loaded from it (a Cosmos 3 folder's Generator) stay open with their weights. Without an
 * argument, does what {@link closeNative} does.
 * @example
 * ```ts
 * import { closeQwen3VL } from "./qwen3vl.ts";
 * await closeQwen3VL("test/fixtures/qwen3vl-tiny");
 * ```
 */
export async function closeQwen3VL(idOrPath?: string): Promise<void> {
  if (idOrPath === undefined) return await closeNative();
  const key = await checkpointKey(idOrPath).catch(() => idOrPath);
  await checkpointSession(key).free(REASONER);
}

/**
 * Closes everything the native engine holds in this process: every checkpoint's sessions, of every model
 * class (waiting calls reject, running ones end first), then every model or tower loaded on its own and
 * not freed.
 * Native memory (`nativeMemory().bytesInUse`) is back at its baseline afterwards.
 * @example
 * ```ts
 * import { closeNative } from "./qwen3vl.ts";
 * await closeNative();
 * ```
 */
export async function closeNative(): Promise<void> {
  await freeCheckpoints();
  await freeTracked();
}
