/**
 * The Qwen3-VL vision tower of the native engine: `pixel_values` of images and videos (from
 * `buildMultimodalPrompt`) to merged visual embeddings and deepstack features, computed on a libuv
 * worker thread and kept where they were computed ({@link NativeTensor}: host memory on the CPU
 * backend, the tower's GPU pool on CUDA), then handed to the decoder's prefill hook as they are
 * ({@link toVisualInputs}); nothing crosses to JavaScript unless `toHost()` asks.
 *
 * transformers scatters image features into `<|image_pad|>` rows and video features into
 * `<|video_pad|>` rows and adds deepstack feature k to those rows after decoder layer k; the
 * decoder's `visualRows` / `embeds` / `deepstack` options do the same.
 *
 * @example
 * ```ts
 * import { loadVisionTower, toVisualInputs } from "./vision.ts";
 * const tower = await loadVisionTower("test/fixtures/qwen3vl-tiny");
 * const grids: [number, number, number][] = [[1, 4, 6]];
 * const out = await tower.run(new Float32Array(24 * tower.info().patchDim!), grids);
 * const vis = toVisualInputs(Int32Array.from([5, 6, 7, 8, 9, 10]), out); // rows of the 6 <|image_pad|> ids
 * tower.free(); // its output tensors go with it
 * ```
 * @module
 */
import { readFile, stat } from "node:fs/promises";
import { join } from "node:path";
import { AbortError, CheckpointError, ValidationError } from "../errors.ts";
import { NativeVisionInfo, type RawVisionOutput, type RawVisionTower } from "./addon_types.ts";
import type { CheckpointPathArg, NativeVisionConfig } from "./addon_types.ts";
import { nativeVisionConfig } from "./config.ts";
import { fromNative, nativeCode } from "./errors.ts";
import { loadAddon } from "./load.ts";
import type { VisualInputs } from "./model.ts";
import { track, untrack } from "./registry.ts";
import { NativeTensor } from "./tensor.ts";

export { NativeVisionInfo } from "./addon_types.ts";
export type { RawVisionTower } from "./addon_types.ts";

/** Output of one tower run: rows in `pixel_values` order (images, then videos), merged 2×2. */
export interface VisionTowerOutput {
  /** Merged visual tokens (patches / merge²). */
  tokens: number;
  /** Floats per token (the decoder's hidden size). */
  outDim: number;
  /** `[tokens, outDim]` embeddings that replace the pad tokens' embeddings. */
  embeds: NativeTensor;
  /** One `[tokens, outDim]` tensor per deepstack layer. */
  deepstack: NativeTensor[];
}

/**
 * Frees a run's output tensors now (they also go when the tower is freed).
 *
 * @example
 * ```ts
 * import { disposeVisionOutput, loadVisionTower } from "./vision.ts";
 * const tower = await loadVisionTower("test/fixtures/qwen3vl-tiny");
 * const out = await tower.run(new Float32Array(24 * 1536), [[1, 4, 6]]);
 * disposeVisionOutput(out);
 * out.embeds.disposed; // true
 * ```
 */
export function disposeVisionOutput(out: VisionTowerOutput): void {
  out.embeds.dispose();
  for (const d of out.deepstack) d.dispose();
}

// The decoder's mapping (errors.ts), except that checkpoint problems name the vision tower.
function nativeError(e: unknown, what: string): Error {
  const code = nativeCode(e);
  if (code === "MODEL" || code === "CONFIG") {
    return new CheckpointError(
      `${what}: the checkpoint does not fit the Qwen3-VL vision tower (${code}): ${(e as Error)?.message ?? e}`,
      {
        hint: "check config.json's vision_config against the model.visual.* tensor names and shapes",
        cause: e,
      },
    );
  }
  return fromNative(e);
}

/** A loaded vision tower. Free it with {@link NativeVisionTower.free} when done (weights are f32 host memory). */
export class NativeVisionTower {
  readonly #raw: RawVisionTower;

  /** Wraps a raw tower (use {@link loadVisionTower}). */
  constructor(raw: RawVisionTower) {
    this.#raw = raw;
    track(this);
  }

  /**
   * Runs the tower on a libuv worker. `grids` are `[t, h, w]` per image / video in the order of
   * `pixelValues` rows; `signal` aborts between transformer blocks (rejects with AbortError). The
   * outputs are {@link NativeTensor}s on the tower's device: pass them to the decoder as they are,
   * `toHost()` them to read the numbers.
   *
   * @example
   * ```ts
   * import { loadVisionTower } from "./vision.ts";
   * const tower = await loadVisionTower("test/fixtures/qwen3vl-tiny");
   * const out = await tower.run(new Float32Array(24 * 1536), [[1, 4, 6]]);
   * out.tokens; // 6
   * out.embeds.shape; // [6, 64]
   * ```
   */
  async run(
    pixelValues: Float32Array,
    grids: readonly (readonly [number, number, number])[],
    opts: { signal?: AbortSignal } = {},
  ): Promise<VisionTowerOutput> {
    if (opts.signal?.aborted) throw new AbortError("The vision tower run was aborted before it started.");
    const flat = Int32Array.from(grids.flat());
    let p: Promise<RawVisionOutput>;
    try {
      p = this.#raw.run(pixelValues, flat);
    } catch (e) {
      throw nativeError(e, "The vision tower run");
    }
    const onAbort = () => this.#raw.abort();
    opts.signal?.addEventListener("abort", onAbort, { once: true });
    try {
      const raw = await p;
      return {
        tokens: raw.tokens,
        outDim: raw.outDim,
        embeds: new NativeTensor(raw.embeds),
        deepstack: raw.deepstack.map((d) => new NativeTensor(d)),
      };
    } catch (e) {
      throw nativeError(e, "The vision tower run");
    } finally {
      opts.signal?.removeEventListener("abort", onAbort);
    }
  }

  /**
   * Sizes and state of the tower.
   *
   * @example
   * ```ts
   * import { loadVisionTower } from "./vision.ts";
   * const tower = await loadVisionTower("test/fixtures/qwen3vl-tiny");
   * tower.info().outHiddenSize; // 64
   * ```
   */
  info(): NativeVisionInfo {
    return NativeVisionInfo.parse(this.#raw.info());
  }

  /**
   * Releases the weights now (during a run: aborts it and frees when it ends), and every output
   * tensor of its runs still alive (using one afterwards is a NativeError).
   *
   * @example
   * ```ts
   * import { loadVisionTower } from "./vision.ts";
   * const tower = await loadVisionTower("test/fixtures/qwen3vl-tiny");
   * tower.free();
   * tower.info().freed; // true
   * ```
   */
  free(): void {
    untrack(this);
    this.#raw.free();
  }

  /**
   * Frees the tower (`await using t = await loadVisionTower(dir)` frees it at scope end).
   *
   * @example
   * ```ts
   * import { loadVisionTower } from "./vision.ts";
   * const tower = await loadVisionTower("test/fixtures/qwen3vl-tiny");
   * await tower[Symbol.asyncDispose]();
   * tower.info().freed; // true
   * ```
   */
  [Symbol.asyncDispose](): Promise<void> {
    this.free();
    return Promise.resolve();
  }
}

/**
 * Loads the vision tower (`model.visual.*`) of a Qwen3-VL checkpoint: a directory with config.json
 * and model.safetensors (or a sharded index), or explicit `.safetensors` files (or `{ files, renames }`,
 * as a Cosmos 3 vision_encoder/) with `configJson` or a resolved `config`.
 * Reads happen on a worker thread.
 *
 * @example
 * ```ts
 * import { loadVisionTower } from "./vision.ts";
 * const tower = await loadVisionTower("test/fixtures/qwen3vl-tiny");
 * console.log(tower.info());
 * ```
 */
export async function loadVisionTower(
  path: CheckpointPathArg,
  opts: { configJson?: string; config?: NativeVisionConfig } = {},
): Promise<NativeVisionTower> {
  const config = opts.config ?? await visionConfigOf(path, opts.configJson);
  const addon = loadAddon();
  try {
    return new NativeVisionTower(await addon.loadVisionAsync(path, config));
  } catch (e) {
    throw nativeError(e, `Loading the vision tower of ${describePath(path)}`);
  }
}

function describePath(path: CheckpointPathArg): string {
  return typeof path === "string" || Array.isArray(path) ? String(path) : String(path.files);
}

/** The tower's config from `configJson` or the checkpoint folder's config.json. */
async function visionConfigOf(path: CheckpointPathArg, configJson?: string): Promise<NativeVisionConfig> {
  if (configJson === undefined) {
    if (typeof path !== "string" || !(await stat(path).catch(() => undefined))?.isDirectory()) {
      throw new ValidationError([{
        field: "configJson",
        value: describePath(path),
        allowed: "a checkpoint directory, or configJson with the config.json text",
        message: "without a directory there is no config.json to read",
      }]);
    }
    configJson = await readFile(join(path, "config.json"), "utf8");
  }
  let json: unknown;
  try {
    json = JSON.parse(configJson);
  } catch (e) {
    throw new CheckpointError(`The config.json of ${describePath(path)} is not JSON: ${(e as Error).message}`, {
      hint: "re-download config.json or fix the configJson text",
      cause: e,
    });
  }
  return nativeVisionConfig(json);
}

/**
 * The decoder's visual inputs from tower output and each output row's sequence index
 * (`MultimodalPrompt.visualRowPositions`). The tensors go as they are (no copy, no reordering: row r
 * of the outputs goes to sequence row `rowPositions[r]`, whatever the order of images and videos in
 * the prompt).
 * @throws {ValidationError} when the row count is not the tower's token count.
 *
 * @example
 * ```ts
 * import { loadVisionTower, toVisualInputs } from "./vision.ts";
 * const tower = await loadVisionTower("test/fixtures/qwen3vl-tiny");
 * const out = await tower.run(new Float32Array(24 * 1536), [[1, 4, 6]]);
 * toVisualInputs(Int32Array.of(9, 4, 5, 6, 7, 8), out).embeds === out.embeds; // true
 * tower.free();
 * ```
 */
export function toVisualInputs(rowPositions: Int32Array, out: VisionTowerOutput): Required<VisualInputs> {
  if (rowPositions.length !== out.tokens) {
    throw new ValidationError([{
      field: "rowPositions",
      value: `${rowPositions.length} rows`,
      allowed: `${out.tokens} (the tower's merged tokens)`,
      message: "each merged visual token needs one sequence position",
    }]);
  }
  return { visualRows: Int32Array.from(rowPositions), embeds: out.embeds, deepstack: out.deepstack };
}
