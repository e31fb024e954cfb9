/**
 * Shapes of the raw Node-API module (`native/build/Release/cosmos_native.node`). Use the typed
 * wrapper in `model.ts` instead of these directly.
 *
 * @example
 * ```ts
 * import type { RawAddon } from "./types.ts";
 * function version(a: RawAddon): number { return a.abiVersion; }
 * ```
 * @module
 */
import { z } from "zod";

/** Bytes in use now and at the high-water mark. */
export const NativeByteCount = z.object({ bytesInUse: z.number(), peakBytes: z.number() });
/** @see {@link NativeByteCount} */
export type NativeByteCount = z.infer<typeof NativeByteCount>;

/**
 * Byte accounting of the native engine. The top-level figures are those of the device models run on
 * (`device`): host memory on the CPU backend, the CUDA pools on the GPU backend. `host` is always
 * there; `cuda` when the module was built with CUDA (`cachedBytes`: freed blocks a pool still holds;
 * `pools`: loaded GPU models).
 */
export const NativeMemory = z.object({
  bytesInUse: z.number(),
  peakBytes: z.number(),
  device: z.string(),
  host: NativeByteCount.optional(),
  cuda: NativeByteCount.extend({ cachedBytes: z.number(), pools: z.number() }).optional(),
});
/** @see {@link NativeMemory} */
export type NativeMemory = z.infer<typeof NativeMemory>;

/** Which device the engine picked and why (`COSMOS_DEVICE=cpu|cuda` forces one). */
export const NativeDeviceInfo = z.object({
  device: z.enum(["cpu", "cuda"]),
  reason: z.string(),
  cudaDevices: z.number(),
  builtWithCuda: z.boolean(),
  modelBackend: z.string(),
});
/** @see {@link NativeDeviceInfo} */
export type NativeDeviceInfo = z.infer<typeof NativeDeviceInfo>;

/** State of one loaded model. */
export const NativeModelInfo = z.object({
  freed: z.boolean(),
  busy: z.boolean(),
  nPast: z.number().optional(),
  nextPos: z.number().optional(),
  vocabSize: z.number().optional(),
  hiddenSize: z.number().optional(),
  numLayers: z.number().optional(),
  /** "cpu" or "cuda". */
  backend: z.string().optional(),
  /** CUDA backend: dtype of the matmul weights on the GPU ("bf16" or "f32"). */
  weightType: z.string().optional(),
  /** CUDA backend: bytes of weights on the GPU. */
  weightBytes: z.number().optional(),
  /** CUDA backend: bytes this model's pool hands out now (weights, KV cache, logits). */
  gpuBytesInUse: z.number().optional(),
  /** CUDA backend: freed scratch blocks the pool keeps for reuse. */
  gpuCachedBytes: z.number().optional(),
});
/** @see {@link NativeModelInfo} */
export type NativeModelInfo = z.infer<typeof NativeModelInfo>;

/** Visual rows of a multimodal prompt: replacement embeddings and deepstack features (vision tower output). */
export interface RawVisualInputs {
  /** Row indices within this prompt (ascending, unique). */
  visualRows?: Int32Array;
  /** [visualRows.length × hidden] embeddings that replace the token embeddings at those rows. */
  embeds?: Float32Array;
  /** Per decoder layer l (0..k-1): [visualRows.length × hidden], added to the hidden state after layer l. */
  deepstack?: Float32Array[];
}

/** Options of the raw generate call. */
export interface RawGenerateOptions extends RawVisualInputs {
  ids: Int32Array;
  pos3?: Int32Array;
  maxTokens: number;
  stopIds?: Int32Array;
  sampling?: {
    temperature?: number;
    topK?: number;
    topP?: number;
    repetitionPenalty?: number;
    presencePenalty?: number;
    seed?: number;
  };
  onToken?: (id: number) => void;
}

/** The object `loadModel` returns. */
export interface RawModel {
  prefill(ids: Int32Array, pos3?: Int32Array | null, opts?: RawVisualInputs & { allLogits?: boolean }): Float32Array;
  decode(id: number): Float32Array;
  forwardLogits(ids: Int32Array, pos3?: Int32Array | null, opts?: RawVisualInputs): Float32Array;
  generate(opts: RawGenerateOptions): Promise<{ tokens: Int32Array; stopReason: "stop" | "length" | "abort" }>;
  abort(): void;
  reset(): void;
  free(): void;
  info(): NativeModelInfo;
}

/** The module's exports. */
export interface RawAddon {
  abiVersion: number;
  loadModel(pathOrFiles: string | string[], configJson: string): RawModel;
  loadModelAsync(pathOrFiles: string | string[], configJson: string): Promise<RawModel>;
  memory(): NativeMemory;
  deviceInfo(): NativeDeviceInfo;
  inspectSafetensors(pathOrFiles: string | string[]): { name: string; dtype: string; shape: number[] }[];
}
