/**
 * Tensors the native engine keeps where a model computed them — host memory on the CPU backend, the
 * model's GPU pool on the CUDA backend — so one model's output goes into the next model without a
 * trip through JavaScript: the vision tower's embeddings and deepstack features into the decoder's
 * prefill (the Generator's latents into its VAE the same way). JavaScript gets the numbers only when
 * it asks, with {@link NativeTensor.toHost}.
 *
 * A tensor lives until {@link NativeTensor.dispose}, garbage collection, or until the model that made
 * it is freed (its session closed, `closeNative()`): after that every use is a {@link NativeError}
 * (native code `TENSOR_FREED`). Its bytes count in `nativeMemory()` and are reported to V8 as
 * external memory while it holds them.
 *
 * @example
 * ```ts
 * import { loadVisionTower } from "./vision.ts";
 * const tower = await loadVisionTower("test/fixtures/qwen3vl-tiny");
 * const out = await tower.run(new Float32Array(24 * 1536), [[1, 4, 6]]);
 * out.embeds.shape; // [6, 64]
 * (await out.embeds.toHost()).length; // 384
 * out.embeds.dispose();
 * tower.free(); // the deepstack tensors go with it
 * ```
 * @module
 */
import type { RawTensor } from "./addon_types.ts";
import { fromNative } from "./errors.ts";

/** A tensor held by the native engine (see the module docs). */
export class NativeTensor {
  readonly #raw: RawTensor;
  readonly #shape: readonly number[];

  /** Wraps a raw tensor handle (what a native run returns). */
  constructor(raw: RawTensor) {
    this.#raw = raw;
    this.#shape = Object.freeze([...raw.shape]);
  }

  /** The raw handle, for passing the tensor back into a native call. */
  static raw(t: NativeTensor): RawTensor {
    return t.#raw;
  }

  /** Sizes, outermost first (`[tokens, hidden]` for the tower's outputs). */
  get shape(): readonly number[] {
    return this.#shape;
  }

  /** Element type (`"f32"`). */
  get dtype(): RawTensor["dtype"] {
    return this.#raw.dtype;
  }

  /** Where the values are: `"cpu"` (host memory) or `"cuda"` (a model's GPU pool). */
  get device(): RawTensor["device"] {
    return this.#raw.device;
  }

  /** Bytes the values take. */
  get bytes(): number {
    return this.#raw.bytes;
  }

  /** Whether the values are gone: disposed, or the model that made the tensor was freed. */
  get disposed(): boolean {
    return this.#raw.disposed;
  }

  /**
   * A host copy of the values, made on a worker thread (a device-to-host copy on the GPU backend).
   * @throws {NativeError} when the tensor was disposed or its model freed.
   *
   * @example
   * ```ts
   * import { loadVisionTower } from "./vision.ts";
   * const tower = await loadVisionTower("test/fixtures/qwen3vl-tiny");
   * const { deepstack } = await tower.run(new Float32Array(24 * 1536), [[1, 4, 6]]);
   * const first = await deepstack[0].toHost(); // Float32Array of 6 × 64
   * tower.free();
   * ```
   */
  async toHost(): Promise<Float32Array> {
    try {
      return await this.#raw.toHost();
    } catch (e) {
      throw fromNative(e);
    }
  }

  /**
   * Frees the values now (idempotent).
   *
   * @example
   * ```ts
   * import { loadVisionTower } from "./vision.ts";
   * const tower = await loadVisionTower("test/fixtures/qwen3vl-tiny");
   * const { embeds } = await tower.run(new Float32Array(24 * 1536), [[1, 4, 6]]);
   * embeds.dispose();
   * embeds.disposed; // true
   * tower.free();
   * ```
   */
  dispose(): void {
    this.#raw.dispose();
  }

  /** {@link NativeTensor.dispose}, for `using t = ...`. */
  [Symbol.dispose](): void {
    this.dispose();
  }
}

/** The raw handle of a tensor, or the array itself (what the raw addon takes). */
export function rawOf(v: Float32Array | NativeTensor): Float32Array | RawTensor {
  return v instanceof NativeTensor ? NativeTensor.raw(v) : v;
}
