/**
 * Typed wrapper over the native Qwen3 text decoder (the text half of Qwen3-VL): load a checkpoint,
 * run prefill/decode with the KV cache, or stream a whole generation off the JS thread.
 *
 * @example
 * ```ts
 * import { NativeTextModel } from "./model.ts";
 * const m = NativeTextModel.load("test/fixtures/qwen3vl-tiny");
 * const r = await m.generate({ ids: [1401, 872, 198], maxTokens: 8, onToken: (t) => console.log(t) });
 * m.free();
 * ```
 * @module
 */
import { z } from "zod";
import { AbortError, ValidationError } from "../errors.ts";
import {
  type CheckpointPathArg,
  NativeModelInfo,
  type NativeTextConfig,
  type RawModel,
  type RawVisualInputs,
} from "./addon_types.ts";
import { nativeTextConfig, readCheckpointConfig } from "./config.ts";
import { fromNative } from "./errors.ts";
import { loadAddon } from "./load.ts";
import { track, untrack } from "./registry.ts";
import { type NativeTensor, rawOf } from "./tensor.ts";

/**
 * Visual rows of a multimodal prompt for the decoder's prefill: the vision tower's outputs as
 * {@link NativeTensor}s (read in place, on the host or the GPU) or as host arrays.
 */
export interface VisualInputs {
  /** Sequence rows of the visual tokens (unique, any order): row r of embeds / deepstack goes to `visualRows[r]`. */
  visualRows?: Int32Array;
  /** `[visualRows.length × hidden]` embeddings that replace the token embeddings at those rows. */
  embeds?: Float32Array | NativeTensor;
  /** Per decoder layer l (0..k-1): `[visualRows.length × hidden]`, added to the hidden state after layer l. */
  deepstack?: (Float32Array | NativeTensor)[];
}

/** The raw addon's form of {@link VisualInputs}. */
function rawVisual(v: VisualInputs): RawVisualInputs {
  return {
    visualRows: v.visualRows,
    embeds: v.embeds === undefined ? undefined : rawOf(v.embeds),
    deepstack: v.deepstack?.map(rawOf),
  };
}

/** Sampling settings; temperature 0 (the default) is greedy decoding. */
export const NativeSampling = z.object({
  temperature: z.number().min(0).default(0),
  topK: z.number().int().min(0).default(0),
  topP: z.number().gt(0).max(1).default(1),
  repetitionPenalty: z.number().gt(0).default(1),
  presencePenalty: z.number().default(0),
  seed: z.number().int().min(0).max(Number.MAX_SAFE_INTEGER).default(0),
});
/** @see {@link NativeSampling} */
export type NativeSampling = z.input<typeof NativeSampling>;

/** Options of {@link NativeTextModel.generate}. */
export const NativeGenerateOptions = z.object({
  /** Prompt token ids (appended to whatever is already in the KV cache). */
  ids: z.union([z.instanceof(Int32Array), z.array(z.number().int())]),
  /** 3D positions [t row | h row | w row] (3 × ids.length); default: sequential after the cache. */
  pos3: z.union([z.instanceof(Int32Array), z.array(z.number().int())]).optional(),
  maxTokens: z.number().int().min(0),
  stopIds: z.array(z.number().int()).default([]),
  /** Strings that end the run on the token completing one (kept); need {@link NativeTextModel.setTokenPieces}. */
  stopStrings: z.array(z.string()).default([]),
  sampling: NativeSampling.default({} as never),
});
/** @see {@link NativeGenerateOptions} */
export type NativeGenerateOptions = z.input<typeof NativeGenerateOptions> & VisualInputs & {
  onToken?: (id: number) => void;
  signal?: AbortSignal;
};

/** Result of a generation: the sampled ids (stop id included) and why it ended. */
export interface NativeGenerateResult {
  tokens: number[];
  stopReason: "stop" | "length";
  /** Ended by a stop string: its index in `stopStrings`. */
  stopString?: number;
  /** Ended by a stop string: bytes of output text before it (the tokens' pieces, stop ids left out). */
  textBytes?: number;
}

function i32(a: Int32Array | number[]): Int32Array {
  return a instanceof Int32Array ? a : Int32Array.from(a);
}

/**
 * The validated config object C++ takes: `config` as given (an object), else built from the
 * config.json text or the checkpoint folder's config.json (parsed here, once). Renamed files (a
 * Cosmos 3 checkpoint) have no Qwen3-VL config.json, so they need the object.
 */
function textConfig(pathOrFiles: CheckpointPathArg, config?: string | NativeTextConfig): NativeTextConfig {
  if (typeof config === "object") return config;
  if (typeof pathOrFiles === "object" && !Array.isArray(pathOrFiles)) {
    throw new ValidationError([{
      field: "config",
      value: "renamed checkpoint files without a config",
      allowed: "a NativeTextConfig object (nativeTextConfigOf(checkpoint.config.text))",
      message: "renamed files have no Qwen3-VL config.json to read",
    }]);
  }
  return nativeTextConfig(readCheckpointConfig(pathOrFiles, config));
}

/**
 * A loaded Qwen3 text decoder (CPU or CUDA backend). Call {@link NativeTextModel.free} when done
 * (or `closeNative()`, which frees every loaded object); its weights are reported to V8 as
 * external memory until then.
 */
export class NativeTextModel {
  private constructor(private readonly raw: RawModel) {
    track(this);
  }

  /**
   * Loads a checkpoint synchronously: a folder (sharded index or model.safetensors), one .safetensors
   * file or a list of them, or files read under other names (`{ files, renames }`). `configJson`
   * defaults to the folder's config.json; a {@link NativeTextConfig} object is used as it is.
   *
   * @example
   * ```ts
   * import { NativeTextModel } from "./model.ts";
   * const m = NativeTextModel.load("test/fixtures/qwen3vl-tiny");
   * ```
   */
  static load(pathOrFiles: CheckpointPathArg, configJson?: string | NativeTextConfig): NativeTextModel {
    const cfg = textConfig(pathOrFiles, configJson);
    const addon = loadAddon();
    try {
      return new NativeTextModel(addon.loadModel(pathOrFiles, cfg));
    } catch (e) {
      throw fromNative(e);
    }
  }

  /**
   * Like {@link NativeTextModel.load}, but reads the weights on a worker thread.
   *
   * @example
   * ```ts
   * import { NativeTextModel } from "./model.ts";
   * const m = await NativeTextModel.loadAsync("test/fixtures/qwen3vl-tiny");
   * ```
   */
  static async loadAsync(
    pathOrFiles: CheckpointPathArg,
    configJson?: string | NativeTextConfig,
  ): Promise<NativeTextModel> {
    const cfg = textConfig(pathOrFiles, configJson);
    const addon = loadAddon();
    try {
      return new NativeTextModel(await addon.loadModelAsync(pathOrFiles, cfg));
    } catch (e) {
      throw fromNative(e);
    }
  }

  /**
   * Runs the prompt through the decoder, appending it to the KV cache. Returns the last row's logits,
   * or every row's ([n × vocab]) with `allLogits`. Visual rows (embeddings, deepstack: the vision
   * tower's tensors as they are, or host arrays) are the hook for the vision tower.
   *
   * @example
   * ```ts
   * import { NativeTextModel } from "./model.ts";
   * const m = NativeTextModel.load("test/fixtures/qwen3vl-tiny");
   * const logits = m.prefill([1401, 872]);
   * ```
   */
  prefill(
    ids: Int32Array | number[],
    pos3?: Int32Array | number[],
    opts: VisualInputs & { allLogits?: boolean } = {},
  ): Float32Array {
    try {
      return this.raw.prefill(i32(ids), pos3 ? i32(pos3) : null, { ...rawVisual(opts), allLogits: opts.allLogits });
    } catch (e) {
      throw fromNative(e);
    }
  }

  /**
   * Feeds one token at the next position (t = h = w = {@link NativeTextModel.info}().nextPos); returns its logits.
   *
   * @example
   * ```ts
   * import { NativeTextModel } from "./model.ts";
   * const m = NativeTextModel.load("test/fixtures/qwen3vl-tiny");
   * m.prefill([1401]);
   * m.decode(872);
   * ```
   */
  decode(id: number): Float32Array {
    try {
      return this.raw.decode(id);
    } catch (e) {
      throw fromNative(e);
    }
  }

  /**
   * Clears the cache and returns the logits of every prompt row ([n × vocab]); for tests and scoring.
   *
   * @example
   * ```ts
   * import { NativeTextModel } from "./model.ts";
   * const m = NativeTextModel.load("test/fixtures/qwen3vl-tiny");
   * m.forwardLogits([1401, 872]).length; // 2 * 1426
   * ```
   */
  forwardLogits(ids: Int32Array | number[], pos3?: Int32Array | number[], opts: VisualInputs = {}): Float32Array {
    try {
      return this.raw.forwardLogits(i32(ids), pos3 ? i32(pos3) : null, rawVisual(opts));
    } catch (e) {
      throw fromNative(e);
    }
  }

  /**
   * Prefills `ids` and samples up to `maxTokens` tokens on a worker thread, calling `onToken` for each.
   * Stops at a token in `stopIds` (which is included), or on the token that completes one of
   * `stopStrings` (included; `textBytes` says where the text ends). `signal` aborts between tokens: the promise then
   * rejects with {@link AbortError}. The last sampled token is not yet in the KV cache.
   *
   * @example
   * ```ts
   * import { NativeTextModel } from "./model.ts";
   * const m = NativeTextModel.load("test/fixtures/qwen3vl-tiny");
   * const { tokens } = await m.generate({ ids: [1401, 872], maxTokens: 4, stopIds: [1402] });
   * ```
   */
  async generate(options: NativeGenerateOptions): Promise<NativeGenerateResult> {
    const o = NativeGenerateOptions.parse(options);
    const { signal, onToken } = options;
    if (signal?.aborted) throw new AbortError(undefined, { cause: signal.reason });
    const onAbort = () => this.raw.abort();
    signal?.addEventListener("abort", onAbort, { once: true });
    try {
      const r = await this.raw.generate({
        ids: i32(o.ids),
        pos3: o.pos3 ? i32(o.pos3) : undefined,
        maxTokens: o.maxTokens,
        stopIds: Int32Array.from(o.stopIds),
        stopStrings: o.stopStrings,
        sampling: o.sampling,
        onToken,
        ...rawVisual(options),
      });
      if (r.stopReason === "abort") throw new AbortError(undefined, { cause: signal?.reason });
      return {
        tokens: Array.from(r.tokens),
        stopReason: r.stopReason,
        ...(r.stopString === undefined ? {} : { stopString: r.stopString, textBytes: r.textBytes }),
      };
    } catch (e) {
      throw fromNative(e);
    } finally {
      signal?.removeEventListener("abort", onAbort);
    }
  }

  /**
   * Gives the decoder the bytes each token id decodes to (`Tokenizer.pieceTable`), once: generate's
   * `stopStrings` are matched on them in the native token loop.
   *
   * @example
   * ```ts
   * import { NativeTextModel } from "./model.ts";
   * import { loadTokenizer } from "../tokenizer/mod.ts";
   * const m = NativeTextModel.load("test/fixtures/qwen3vl-tiny");
   * const tok = await loadTokenizer("test/fixtures/qwen3vl-tiny");
   * m.setTokenPieces(tok.pieceTable(m.info().vocabSize!, { skipSpecial: true }));
   * const r = await m.generate({ ids: [1401, 872], maxTokens: 16, stopStrings: ["e"] });
   * r.stopReason; // "stop" when an "e" came out; r.textBytes is where it starts
   * ```
   */
  setTokenPieces(table: { offsets: Int32Array; bytes: Uint8Array }): void {
    try {
      this.raw.setTokenPieces(table.offsets, table.bytes);
    } catch (e) {
      throw fromNative(e);
    }
  }

  /**
   * Asks a running {@link NativeTextModel.generate} to stop after the current token.
   *
   * @example
   * ```ts
   * import { NativeTextModel } from "./model.ts";
   * const m = NativeTextModel.load("test/fixtures/qwen3vl-tiny");
   * m.abort();
   * ```
   */
  abort(): void {
    this.raw.abort();
  }

  /**
   * Empties the KV cache (weights stay loaded).
   *
   * @example
   * ```ts
   * import { NativeTextModel } from "./model.ts";
   * const m = NativeTextModel.load("test/fixtures/qwen3vl-tiny");
   * m.reset();
   * ```
   */
  reset(): void {
    try {
      this.raw.reset();
    } catch (e) {
      throw fromNative(e);
    }
  }

  /**
   * Releases weights and cache now (or when a running generation ends, which it aborts).
   *
   * @example
   * ```ts
   * import { NativeTextModel } from "./model.ts";
   * NativeTextModel.load("test/fixtures/qwen3vl-tiny").free();
   * ```
   */
  free(): void {
    untrack(this);
    this.raw.free();
  }

  /**
   * Frees the model (`await using m = await NativeTextModel.loadAsync(dir)` frees it at scope end).
   *
   * @example
   * ```ts
   * import { NativeTextModel } from "./model.ts";
   * const m = NativeTextModel.load("test/fixtures/qwen3vl-tiny");
   * await m[Symbol.asyncDispose]();
   * m.info().freed; // true
   * ```
   */
  [Symbol.asyncDispose](): Promise<void> {
    this.free();
    return Promise.resolve();
  }

  /**
   * Cache length, next position, sizes, and whether it is freed or busy.
   *
   * @example
   * ```ts
   * import { NativeTextModel } from "./model.ts";
   * NativeTextModel.load("test/fixtures/qwen3vl-tiny").info().vocabSize; // 1426
   * ```
   */
  info(): NativeModelInfo {
    return NativeModelInfo.parse(this.raw.info());
  }
}
