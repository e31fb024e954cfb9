/**
 * The Qwen3-VL vision tower of the native engine: `pixel_values` of images and videos (from
 * `buildMultimodalPrompt`) to merged visual embeddings and deepstack features, computed on a libuv
 * worker thread, then laid out for the decoder's prefill hook ({@link toVisualInputs}).
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
 * tower.free();
 * ```
 * @module
 */
import { readFile, stat } from "node:fs/promises";
import { join } from "node:path";
import { AbortError, CheckpointError, ValidationError } from "../errors.ts";
import { NativeVisionInfo, type RawVisionTower, type RawVisualInputs, type VisionTowerOutput } from "./addon_types.ts";
import type { CheckpointPathArg, NativeVisionConfig } from "./addon_types.ts";
import { nativeVisionConfig } from "./config.ts";
import { fromNative, nativeCode } from "./errors.ts";
import { loadAddon } from "./load.ts";
import { track, untrack } from "./registry.ts";

export { NativeVisionInfo } from "./addon_types.ts";
export type { RawVisionTower, VisionTowerOutput } from "./addon_types.ts";

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
   * `pixelValues` rows; `signal` aborts between transformer blocks (rejects with AbortError).
   *
   * @example
   * ```ts
   * import { loadVisionTower } from "./vision.ts";
   * const tower = await loadVisionTower("test/fixtures/qwen3vl-tiny");
   * const out = await tower.run(new Float32Array(24 * 1536), [[1, 4, 6]]);
   * out.tokens; // 6
   * ```
   */
  async run(
    pixelValues: Float32Array,
    grids: readonly (readonly [number, number, number])[],
    opts: { signal?: AbortSignal } = {},
  ): Promise<VisionTowerOutput> {
    if (opts.signal?.aborted) throw new AbortError("The vision tower run was aborted before it started.");
    const flat = Int32Array.from(grids.flat());
    let p: Promise<VisionTowerOutput>;
    try {
      p = this.#raw.run(pixelValues, flat);
    } catch (e) {
      throw nativeError(e, "The vision tower run");
    }
    const onAbort = () => this.#raw.abort();
    opts.signal?.addEventListener("abort", onAbort, { once: true });
    try {
      return await p;
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
   * Releases the weights now (during a run: aborts it and frees when it ends).
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
 * (`MultimodalPrompt.visualRowPositions`): rows sorted ascending (an image after a video in the
 * prompt still comes after it), with embeddings and deepstack rows permuted to match.
 *
 * @example
 * ```ts
 * import { toVisualInputs } from "./vision.ts";
 * const out = { tokens: 2, outDim: 1, embeds: Float32Array.of(1, 2), deepstack: [Float32Array.of(3, 4)] };
 * toVisualInputs(Int32Array.of(9, 4), out).embeds; // Float32Array [2, 1]: row 4 first
 * ```
 */
export function toVisualInputs(rowPositions: Int32Array, out: VisionTowerOutput): Required<RawVisualInputs> {
  if (rowPositions.length !== out.tokens) {
    throw new ValidationError([{
      field: "rowPositions",
      value: `${rowPositions.length} rows`,
      allowed: `${out.tokens} (the tower's merged tokens)`,
      message: "each merged visual token needs one sequence position",
    }]);
  }
  const order = Array.from(rowPositions.keys()).sort((a, b) => rowPositions[a] - rowPositions[b]);
  const D = out.outDim;
  const permute = (src: Float32Array) => {
    const dst = new Float32Array(src.length);
    order.forEach((from, to) => dst.set(src.subarray(from * D, (from + 1) * D), to * D));
    return dst;
  };
  return {
    visualRows: Int32Array.from(order, (i) => rowPositions[i]),
    embeds: permute(out.embeds),
    deepstack: out.deepstack.map(permute),
  };
}
