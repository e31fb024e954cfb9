/**
 * cosmos-ts: typed `reason()`, `generate()` and `rollout()` for NVIDIA Cosmos 3 world
 * models, on the embedded native engine or on vLLM / NIM / vLLM-Omni servers.
 *
 * @example
 * ```ts
 * import { reason } from "./mod.ts";
 * const r = await reason(
 *   { task: "grounding_2d", image: "assets/images/tabletop.png", prompt: "Locate the red cube." },
 *   { backend: "http://127.0.0.1:8000/v1" },
 * );
 * if (r.parsed.kind === "boxes") console.log(r.parsed.boxes);
 * ```
 * @module
 */
export * from "./api/mod.ts";
export * from "./schema/mod.ts";
export * from "./errors.ts";
export * from "./backend/mod.ts";
export * from "./media/mod.ts";
export * from "./reasoner/mod.ts";
export * from "./tokenizer/mod.ts";
export * from "./chat_template/mod.ts";
export * from "./checkpoint/mod.ts";
export * from "./multimodal/mod.ts";
export * from "./generator/mod.ts";
// The native engine's user-facing part; the raw Node-API module and its typed wrappers stay in
// src/native/mod.ts.
export {
  addonPath,
  closeNative,
  closeQwen3VL,
  nativeAvailable,
  NativeDeviceInfo,
  nativeDeviceInfo,
  NativeMemory,
  nativeMemory,
  openQwen3VL,
  Qwen3VLSession,
} from "./native/mod.ts";
export type { PreparedPrompt, SessionGenerateOptions, SessionGenerateResult, TemplateMessages } from "./native/mod.ts";
