/**
 * The JS ↔ C++ contract of the Node-API module (`native/build/Release/cosmos_native.node`), typed
 * in this one file: every TypeScript caller of the raw module imports its types from here, and the
 * C++ side (`native/src/binding/`) states the same shapes. {@link ADDON_ABI_VERSION} must equal the
 * module's `abiVersion` ({@link checkAbi} refuses any other), so a stale build fails at load with
 * a rebuild hint instead of misreading arguments later.
 *
 * What comes back from C++ as plain objects (`info()`, `memory()`, `deviceInfo()`) is parsed with
 * the zod schemas below, so a field the C++ side adds shows up here or the schema is wrong.
 *
 * @example
 * ```ts
 * import { ADDON_ABI_VERSION, checkAbi } from "./addon_types.ts";
 * try {
 *   checkAbi({ abiVersion: ADDON_ABI_VERSION - 1 }, "old.node");
 * } catch (e) {
 *   console.log((e as Error).message); // "... built for ABI 2; this code needs ABI 3"
 * }
 * ```
 * @module
 */
import { z } from "zod";
import { NativeError } from "../errors.ts";

/**
 * The ABI this TypeScript expects (`kAbiVersion` in native/src/binding/addon.cc).
 * 2: configs are objects ({@link NativeTextConfig}, {@link NativeVisionConfig}), `info()` has `externalBytes`.
 * 3: {@link RawTensor}: the tower's `run()` returns tensors the decoder takes as they are; `visualRows` in any order.
 */
export const ADDON_ABI_VERSION = 3;

/** What to do when the module on disk does not fit this code. */
export const REBUILD_HINT = "rebuild the native module: bash scripts/build-native.sh (or bash scripts/setup.sh)";

/**
 * Checks that a loaded module speaks {@link ADDON_ABI_VERSION} and returns it typed.
 * @throws {NativeError} naming the module's ABI and the expected one, with the rebuild hint.
 *
 * @example
 * ```ts
 * import { ADDON_ABI_VERSION, checkAbi } from "./addon_types.ts";
 * checkAbi({ abiVersion: ADDON_ABI_VERSION }, "cosmos_native.node"); // returns it
 * ```
 */
export function checkAbi(addon: unknown, path: string): RawAddon {
  const got = (addon as { abiVersion?: unknown } | null)?.abiVersion;
  if (got !== ADDON_ABI_VERSION) {
    const what = typeof got === "number" ? `ABI ${got}` : "no ABI version";
    throw new NativeError(
      `The native module at ${path} was built for ${what}; this code needs ABI ${ADDON_ABI_VERSION}.`,
      {
        hint: REBUILD_HINT,
      },
    );
  }
  return addon as RawAddon;
}

// ---------------------------------------------------------------------------------- configs

const PosInt = z.number().int().positive().max(2 ** 30);

/**
 * The text decoder's config as C++ reads it (`text_config_from` in qwen3_text_binding.cc), built
 * from config.json by `nativeTextConfig()` (src/native/config.ts).
 *
 * @example
 * ```ts
 * import { NativeTextConfig } from "./addon_types.ts";
 * NativeTextConfig.parse({
 *   vocabSize: 1426, hiddenSize: 64, intermediateSize: 128, numLayers: 3, numHeads: 4, numKvHeads: 2,
 *   headDim: 16, rmsNormEps: 1e-6, ropeTheta: 5e6, mropeSection: [4, 2, 2], mropeInterleaved: true,
 *   tieWordEmbeddings: false,
 * });
 * ```
 */
export const NativeTextConfig = z.strictObject({
  vocabSize: PosInt,
  hiddenSize: PosInt,
  intermediateSize: PosInt,
  numLayers: PosInt,
  numHeads: PosInt,
  numKvHeads: PosInt,
  headDim: PosInt,
  rmsNormEps: z.number().positive(),
  ropeTheta: z.number().positive(),
  mropeSection: z.tuple([
    z.number().int().nonnegative(),
    z.number().int().nonnegative(),
    z.number().int().nonnegative(),
  ]),
  mropeInterleaved: z.boolean(),
  tieWordEmbeddings: z.boolean(),
}).superRefine((c, ctx) => {
  if (c.numHeads % c.numKvHeads !== 0) {
    ctx.addIssue({ code: "custom", path: ["numKvHeads"], message: `must divide numHeads (${c.numHeads})` });
  }
  if (c.headDim % 2 !== 0) ctx.addIssue({ code: "custom", path: ["headDim"], message: "must be even" });
  if (c.mropeSection[0] + c.mropeSection[1] + c.mropeSection[2] !== c.headDim / 2) {
    ctx.addIssue({ code: "custom", path: ["mropeSection"], message: `must sum to headDim / 2 = ${c.headDim / 2}` });
  }
});
/** @see {@link NativeTextConfig} */
export type NativeTextConfig = z.infer<typeof NativeTextConfig>;

/**
 * The vision tower's config as C++ reads it (`vision_config_from` in qwen3_vision_binding.cc).
 *
 * @example
 * ```ts
 * import { NativeVisionConfig } from "./addon_types.ts";
 * NativeVisionConfig.parse({
 *   depth: 2, hiddenSize: 32, intermediateSize: 64, numHeads: 2, inChannels: 3, patchSize: 16,
 *   temporalPatchSize: 2, spatialMergeSize: 2, outHiddenSize: 64, numPositionEmbeddings: 64,
 *   deepstackVisualIndexes: [0, 1], layerNormEps: 1e-6, ropeTheta: 10000,
 * }).depth; // 2
 * ```
 */
export const NativeVisionConfig = z.strictObject({
  depth: PosInt,
  hiddenSize: PosInt,
  intermediateSize: PosInt,
  numHeads: PosInt,
  inChannels: PosInt,
  patchSize: PosInt,
  temporalPatchSize: PosInt,
  spatialMergeSize: PosInt,
  outHiddenSize: PosInt,
  numPositionEmbeddings: PosInt,
  deepstackVisualIndexes: z.array(z.number().int().nonnegative()),
  layerNormEps: z.number().positive(),
  ropeTheta: z.number().positive(),
}).superRefine((c, ctx) => {
  c.deepstackVisualIndexes.forEach((d, i) => {
    if (d >= c.depth) {
      ctx.addIssue({ code: "custom", path: ["deepstackVisualIndexes", i], message: `must be < depth (${c.depth})` });
    }
  });
  const side = Math.round(Math.sqrt(c.numPositionEmbeddings));
  if (side * side !== c.numPositionEmbeddings) {
    ctx.addIssue({
      code: "custom",
      path: ["numPositionEmbeddings"],
      message: "must be a square (the learned grid is side × side)",
    });
  }
  if (c.hiddenSize % c.numHeads !== 0 || (c.hiddenSize / c.numHeads) % 4 !== 0) {
    ctx.addIssue({
      code: "custom",
      path: ["numHeads"],
      message: "hiddenSize / numHeads must be a multiple of 4 (2D rotary)",
    });
  }
});
/** @see {@link NativeVisionConfig} */
export type NativeVisionConfig = z.infer<typeof NativeVisionConfig>;

// ------------------------------------------------------------------------ process-wide figures

/** Bytes in use now and at the high-water mark. */
export const NativeByteCount = z.object({ bytesInUse: z.number(), peakBytes: z.number() });
/** @see {@link NativeByteCount} */
export type NativeByteCount = z.infer<typeof NativeByteCount>;

/**
 * Byte accounting of the native engine. The top-level figures are those of the device models run on
 * (`device`): host memory on the CPU backend, the CUDA pools on the GPU backend. `host` is always
 * there; `cuda` when the module was built with CUDA (`cachedBytes`: freed blocks a pool still holds;
 * `pools`: loaded GPU models). `v8ExternalBytes`: what V8 counts as external memory (every loaded
 * model object reports its weights there, so the garbage collector knows what small JS objects hold).
 */
export const NativeMemory = z.object({
  bytesInUse: z.number(),
  peakBytes: z.number(),
  device: z.string(),
  v8ExternalBytes: z.number(),
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

// ------------------------------------------------------------------------------ model objects

/** What every model object's `info()` has (model_object.h). */
const ModelObjectInfo = z.object({
  freed: z.boolean(),
  busy: z.boolean(),
  /** Bytes this object reported to V8 as external memory (its weights); 0 once freed. */
  externalBytes: z.number(),
  /** "cpu" or "cuda". */
  backend: z.string().optional(),
  /** CUDA backend: dtype of the matmul weights on the GPU ("bf16" or "f32"). */
  weightType: z.string().optional(),
  weightBytes: z.number().optional(),
  /** CUDA backend: bytes this object's pool hands out now. */
  gpuBytesInUse: z.number().optional(),
});

/** State of one loaded text decoder. */
export const NativeModelInfo = z.strictObject({
  ...ModelObjectInfo.shape,
  nPast: z.number().optional(),
  nextPos: z.number().optional(),
  vocabSize: z.number().optional(),
  hiddenSize: z.number().optional(),
  numLayers: z.number().optional(),
  /** CUDA backend: freed scratch blocks the pool keeps for reuse. */
  gpuCachedBytes: z.number().optional(),
});
/** @see {@link NativeModelInfo} */
export type NativeModelInfo = z.infer<typeof NativeModelInfo>;

/** State of one loaded vision tower. */
export const NativeVisionInfo = z.strictObject({
  ...ModelObjectInfo.shape,
  depth: z.number().optional(),
  hiddenSize: z.number().optional(),
  /** Text hidden size the mergers project to (the decoder's hidden size). */
  outHiddenSize: z.number().optional(),
  /** Floats per `pixel_values` row: channels × temporal patch × patch². */
  patchDim: z.number().optional(),
  mergeSize: z.number().optional(),
  /** Deepstack features per run (decoder layers 0..n-1 receive them). */
  deepstackLayers: z.number().optional(),
  /** CUDA backend: GPU bytes at the high-water mark of the last run (weights + activations). */
  lastRunPeakBytes: z.number().optional(),
  /** CUDA backend: pinned host staging memory the tower keeps between runs. */
  hostPinnedBytes: z.number().optional(),
  /** CUDA backend: the last run's freed blocks, kept for the next run of the same grids (given back after a failed run). */
  gpuCachedBytes: z.number().optional(),
});
/** @see {@link NativeVisionInfo} */
export type NativeVisionInfo = z.infer<typeof NativeVisionInfo>;

/**
 * A tensor the engine keeps on the device a model computed it on (NativeTensor in
 * native/src/binding/tensor_object.h); `src/native/tensor.ts` wraps it. Released by `dispose()`,
 * garbage collection, or when the model that made it is freed; using it after that fails with code
 * `TENSOR_FREED`.
 */
export interface RawTensor {
  readonly shape: number[];
  readonly dtype: "f32";
  readonly device: "cpu" | "cuda";
  readonly bytes: number;
  readonly disposed: boolean;
  /** A host copy, made on a worker thread. */
  toHost(): Promise<Float32Array>;
  dispose(): void;
}

/**
 * Visual rows of a multimodal prompt: replacement embeddings and deepstack features (vision tower
 * output), as host arrays or as the tower's tensors (read in place: GPU tensors need the CUDA decoder,
 * and then every input must be one).
 */
export interface RawVisualInputs {
  /** Row indices within this prompt (unique, any order: row r of embeds / deepstack goes to visualRows[r]). */
  visualRows?: Int32Array;
  /** [visualRows.length × hidden] embeddings that replace the token embeddings at those rows. */
  embeds?: Float32Array | RawTensor;
  /** Per decoder layer l (0..k-1): [visualRows.length × hidden], added to the hidden state after layer l. */
  deepstack?: (Float32Array | RawTensor)[];
}

/** Options of the raw generate call. */
export interface RawGenerateOptions extends RawVisualInputs {
  ids: Int32Array;
  pos3?: Int32Array;
  maxTokens: number;
  stopIds?: Int32Array;
  /** Strings that end the run, matched on bytes in the token loop; they need `setTokenPieces()` first. */
  stopStrings?: string[];
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

/** Every model object: abort the running call, free now (or when the run ends), state. */
export interface RawModelObject {
  abort(): void;
  free(): void;
  info(): unknown;
}

/** The object `loadModel` returns (NativeQwen3Text). */
export interface RawModel extends RawModelObject {
  prefill(ids: Int32Array, pos3?: Int32Array | null, opts?: RawVisualInputs & { allLogits?: boolean }): Float32Array;
  decode(id: number): Float32Array;
  forwardLogits(ids: Int32Array, pos3?: Int32Array | null, opts?: RawVisualInputs): Float32Array;
  generate(opts: RawGenerateOptions): Promise<RawGenerateResult>;
  reset(): void;
  /** The bytes token id t decodes to: `bytes[offsets[t] .. offsets[t + 1])` (for stop strings). */
  setTokenPieces(offsets: Int32Array, bytes: Uint8Array): void;
}

/** What the raw generate call resolves with. */
export interface RawGenerateResult {
  tokens: Int32Array;
  stopReason: "stop" | "length" | "abort";
  /** Ended by a stop string: its index in `stopStrings`. */
  stopString?: number;
  /** Ended by a stop string: bytes of output text before it (the tokens' pieces, stop ids left out). */
  textBytes?: number;
}

/** Output of one raw tower run: rows in `pixel_values` order (images, then videos), merged 2×2. */
export interface RawVisionOutput {
  /** Merged visual tokens (patches / merge²). */
  tokens: number;
  /** Floats per token (the decoder's hidden size). */
  outDim: number;
  /** `[tokens, outDim]` embeddings that replace the pad tokens' embeddings. */
  embeds: RawTensor;
  /** One `[tokens, outDim]` tensor per deepstack layer. */
  deepstack: RawTensor[];
}

/** The object `loadVision` returns (NativeQwen3Vision). */
export interface RawVisionTower extends RawModelObject {
  run(pixelValues: Float32Array, grids: Int32Array): Promise<RawVisionOutput>;
}

/**
 * A checkpoint argument of the loaders: a folder (or one file / index.json), a list of .safetensors
 * files, or files whose tensors the model reads under other names (`renames`: stored name → model
 * name; only renamed tensors are read), as a Cosmos 3 checkpoint's und tower (`checkpoint_paths` in
 * native/src/binding/napi_common.cc).
 */
export type CheckpointPathArg = string | string[] | { files: string[]; renames: Record<string, string> };

/** One CFG branch of a Generator request: prompt ids and the [3, text + generation] float positions. */
export interface RawGeneratorBranch {
  ids: Int32Array;
  /** t row, then h row, then w row (src/generator/positions.ts `packedPositions`). */
  positions: Float32Array;
}

/** What `NativeCosmos3Generator.generate` takes (native/src/binding/cosmos3_generator_binding.cc). */
export interface RawGeneratorRequest {
  cond: RawGeneratorBranch;
  /** Read only when guidance != 1. */
  uncond?: RawGeneratorBranch;
  guidance: number;
  /** Timesteps [lo, hi] (closed) whose steps apply CFG; the others run the cond pass alone. Default: every step. */
  guidanceInterval?: [number, number];
  /** Latent frames, height, width. */
  latentShape: [number, number, number];
  /** Latent frames kept clean (ascending). */
  cleanFrames?: Int32Array;
  /** Pixels of the clean frames, [3, condFrames, h * 16, w * 16] in [-1, 1]; condFrames = 1 + 4 * max(cleanFrames). */
  condVideo?: Float32Array;
  condFrames?: number;
  /** The pixels' frame size when it is not the latents' (an action run's padded canvas; latents are its top-left). */
  condHeight?: number;
  condWidth?: number;
  /** Initial noise [channels, t, h, w]; else drawn from `seed`. */
  noise?: Float32Array;
  /** Action runs: tokens (one per transition), embodiment domain, the embodiment's width. */
  actionLen?: number;
  domainId?: number;
  rawActionDim?: number;
  /** Action tokens kept clean (forward dynamics: all) and their values [actionLen, action_dim]. */
  actionClean?: Int32Array;
  actionValues?: Float32Array;
  /** Initial action noise [actionLen, action_dim]; else drawn from `seed` + 1. */
  actionNoise?: Float32Array;
  /** Runs with sound: sound latent frames (all noisy); needs a sound_gen transformer and sound_tokenizer/. */
  soundLen?: number;
  /** Initial sound noise [sound_dim, soundLen]; else drawn from `seed` + 2. */
  soundNoise?: Float32Array;
  seed?: number;
  steps: number;
  flowShift?: number;
  useKarrasSigmas?: boolean;
  sigmas?: number[];
  /** Distilled checkpoints: the video stream's re-noising draws [steps, channels, t, h, w]; else drawn from `seed`. */
  stepNoise?: Float32Array;
  /** Re-impose the clean latent frames after every step (distilled checkpoints, whose steps re-noise them). */
  reanchorClean?: boolean;
  /** Default true; false returns latents only. */
  decode?: boolean;
  keepStepLatents?: boolean;
}

/** What it resolves with: host copies. */
export interface RawGeneratorResult {
  /** [channels, t, h, w] after the last step. */
  latents: Float32Array;
  /** With keepStepLatents: the latents after every step. */
  stepLatents: Float32Array[];
  /** Action runs: [actionLen, action_dim] after the last step (channels past the embodiment's width are 0). */
  action?: Float32Array;
  stepActions: Float32Array[];
  /** Sound runs: [sound_dim, soundLen] after the last step. */
  sound?: Float32Array;
  /** With keepStepLatents (sound runs): the sound latents after every step. */
  stepSounds: Float32Array[];
  /** Sound runs, decoded: the waveform [soundChannels, soundSamples] in [-1, 1], channel-first (planar). */
  soundWave?: Float32Array;
  /** 0 when no sound was decoded. */
  soundChannels: number;
  soundSamples: number;
  /** The sound tokenizer's sampling_rate (48000 shipped). */
  soundSampleRate: number;
  /** [3, frames, height, width] in [-1, 1], when decoded. */
  video?: Float32Array;
  frames: number;
  height: number;
  width: number;
  timesteps: Float32Array;
  sigmas: Float32Array;
  /** Uncond (negative-prompt) forwards the run made: one per step inside the guidance interval (0 at guidance 1). */
  uncondPasses: number;
}

/** What `loadGenerator` takes besides the folder (Cosmos3LoadOptions in native/src/models/cosmos3_generator.h). */
export interface RawGeneratorLoadOptions {
  /** "fp8": the transformer's gen-stream linears in e4m3, per-channel and per-token scales (default "none"). */
  quantization?: "none" | "fp8";
}

/**
 * The object `loadGenerator` returns (NativeCosmos3Generator). `onProgress` gets one integer per event:
 * stage * 1e6 + done * 1e3 + total (stage 0: VAE encode chunk, 1: denoising step, 2: VAE decode chunk).
 */
export interface RawGenerator extends RawModelObject {
  generate(request: RawGeneratorRequest, onProgress?: (code: number) => void): Promise<RawGeneratorResult>;
}

/** The module's exports. */
export interface RawAddon {
  abiVersion: number;
  loadModel(pathOrFiles: CheckpointPathArg, config: NativeTextConfig): RawModel;
  loadModelAsync(pathOrFiles: CheckpointPathArg, config: NativeTextConfig): Promise<RawModel>;
  loadVision(pathOrFiles: CheckpointPathArg, config: NativeVisionConfig): RawVisionTower;
  loadVisionAsync(pathOrFiles: CheckpointPathArg, config: NativeVisionConfig): Promise<RawVisionTower>;
  memory(): unknown;
  deviceInfo(): unknown;
  inspectSafetensors(pathOrFiles: string | string[]): { name: string; dtype: string; shape: number[] }[];
  /** Cosmos 3 Generator (absent from modules built before it: src/native/generator.ts says to rebuild). */
  loadGenerator?(dir: string, options?: RawGeneratorLoadOptions): RawGenerator;
  loadGeneratorAsync?(dir: string, options?: RawGeneratorLoadOptions): Promise<RawGenerator>;
}
