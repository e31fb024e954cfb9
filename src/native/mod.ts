/**
 * The native engine from TypeScript: load the Node-API module ({@link loadAddon}, its contract typed
 * in `addon_types.ts`), run the Qwen3 text decoder ({@link NativeTextModel}) and the vision tower (whose
 * outputs stay on the device as {@link NativeTensor}s until `toHost()`),
 * share one session per checkpoint ({@link openQwen3VL}), free everything ({@link closeNative}),
 * read memory use and the chosen device. `src/mod.ts` re-exports the user-facing part of this.
 *
 * @example
 * ```ts
 * import { closeNative, NativeTextModel, nativeDeviceInfo, nativeMemory } from "./mod.ts";
 * console.log(nativeDeviceInfo());           // { device: "cpu", reason: "...", ... }
 * const m = NativeTextModel.load("test/fixtures/qwen3vl-tiny");
 * console.log(nativeMemory().bytesInUse);
 * m.free();
 * await closeNative(); // frees whatever is still loaded
 * ```
 * @module
 */
import { NativeDeviceInfo, NativeMemory } from "./addon_types.ts";
import { loadAddon } from "./load.ts";

export { addonPath, loadAddon, nativeAvailable } from "./load.ts";
export { fromNative, nativeCode } from "./errors.ts";
export { NativeGenerateOptions, NativeSampling, NativeTextModel } from "./model.ts";
export type { NativeGenerateResult, VisualInputs } from "./model.ts";
export { NativeTensor } from "./tensor.ts";
export {
  ADDON_ABI_VERSION,
  checkAbi,
  NativeDeviceInfo,
  NativeMemory,
  NativeModelInfo,
  NativeTextConfig,
  NativeVisionConfig,
  NativeVisionInfo,
} from "./addon_types.ts";
export type {
  RawAddon,
  RawGenerateOptions,
  RawGenerator,
  RawGeneratorRequest,
  RawGeneratorResult,
  RawModel,
  RawTensor,
  RawVisionOutput,
  RawVisionTower,
  RawVisualInputs,
} from "./addon_types.ts";
export { nativeTextConfig, nativeVisionConfig, readCheckpointConfig } from "./config.ts";
export { disposeVisionOutput, loadVisionTower, NativeVisionTower, toVisualInputs } from "./vision.ts";
export type { VisionTowerOutput } from "./vision.ts";
export { RunQueue } from "./queue.ts";
export { CheckpointSession, checkpointSession, openCheckpoints } from "./registry.ts";
export { checkpointKey, closeNative, closeQwen3VL, openQwen3VL, Qwen3VLSession } from "./qwen3vl.ts";
export { Cosmos3GeneratorSession, openCosmos3Generator, readCheckpointNotes } from "./generator.ts";
export type {
  CheckpointNotes,
  FirstFrameCheck,
  GeneratorLoadOptions,
  GeneratorRunInput,
  GeneratorRunOutput,
  TextToVideoRecipe,
} from "./generator.ts";
export type { PreparedPrompt, SessionGenerateOptions, SessionGenerateResult, TemplateMessages } from "./qwen3vl.ts";

/**
 * Bytes the engine holds now and at its peak.
 *
 * @example
 * ```ts
 * import { nativeMemory } from "./mod.ts";
 * nativeMemory().peakBytes;
 * ```
 */
export function nativeMemory(): NativeMemory {
  return NativeMemory.parse(loadAddon().memory());
}

/**
 * The device the engine chose (`COSMOS_DEVICE=cpu|cuda` forces it) and the reason.
 *
 * @example
 * ```ts
 * import { nativeDeviceInfo } from "./mod.ts";
 * nativeDeviceInfo().reason;
 * ```
 */
export function nativeDeviceInfo(): NativeDeviceInfo {
  return NativeDeviceInfo.parse(loadAddon().deviceInfo());
}
