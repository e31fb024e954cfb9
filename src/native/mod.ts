/**
 * The native engine from TypeScript: load the Node-API module ({@link loadAddon}), run the Qwen3 text
 * decoder ({@link NativeTextModel}), read memory use and the chosen device.
 *
 * @example
 * ```ts
 * import { NativeTextModel, nativeDeviceInfo, nativeMemory } from "./mod.ts";
 * console.log(nativeDeviceInfo());           // { device: "cpu", reason: "...", ... }
 * const m = NativeTextModel.load("test/fixtures/qwen3vl-tiny");
 * console.log(nativeMemory().bytesInUse);
 * m.free();
 * ```
 * @module
 */
import { loadAddon } from "./load.ts";
import type { NativeDeviceInfo, NativeMemory } from "./types.ts";

export { addonPath, loadAddon, nativeAvailable } from "./load.ts";
export { fromNative, nativeCode } from "./errors.ts";
export { NativeGenerateOptions, NativeSampling, NativeTextModel } from "./model.ts";
export type { NativeGenerateResult } from "./model.ts";
export { NativeDeviceInfo, NativeMemory, NativeModelInfo } from "./types.ts";
export { loadVisionTower, NativeVisionInfo, NativeVisionTower, toVisualInputs } from "./vision.ts";
export { closeQwen3VL, openQwen3VL, Qwen3VLSession } from "./qwen3vl.ts";
export type { PreparedPrompt, SessionGenerateOptions, SessionGenerateResult, TemplateMessages } from "./qwen3vl.ts";
export type { RawVisionAddon, RawVisionTower, VisionTowerOutput } from "./vision.ts";
export type { RawAddon, RawModel, RawVisualInputs } from "./types.ts";

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
  return loadAddon().memory();
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
  return loadAddon().deviceInfo();
}
