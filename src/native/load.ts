/**
 * Finds and loads the native module. Works in Node and in Deno (`-A`, or `--allow-read --allow-ffi`)
 * through `createRequire(import.meta.url)`. `COSMOS_NATIVE_PATH` points at another build.
 *
 * @example
 * ```ts
 * import { nativeAvailable, loadAddon } from "./load.ts";
 * if (nativeAvailable().ok) console.log(loadAddon().deviceInfo());
 * ```
 * @module
 */
import { createRequire } from "node:module";
import { existsSync } from "node:fs";
import process from "node:process";
import { fileURLToPath } from "node:url";
import { NativeError } from "../errors.ts";
import type { RawAddon } from "./types.ts";

const HINT = "run bash scripts/build-native.sh (or bash scripts/setup.sh) to build native/build/Release/cosmos_native.node";

/** Path of the module this checkout builds, or `COSMOS_NATIVE_PATH` when set. */
export function addonPath(): string {
  const env = process.env.COSMOS_NATIVE_PATH;
  if (env) return env;
  // From src/native/ (TypeScript) or from dist/ (the CommonJS bundle tslab loads).
  const candidates = ["../../native/build/Release/cosmos_native.node", "../native/build/Release/cosmos_native.node"]
    .map((rel) => fileURLToPath(new URL(rel, import.meta.url)));
  return candidates.find((p) => existsSync(p)) ?? candidates[0];
}

let cached: RawAddon | undefined;

/**
 * Loads (once) and returns the raw module; throws {@link NativeError} with a build hint when it is
 * missing or cannot be loaded.
 *
 * @example
 * ```ts
 * import { loadAddon } from "./load.ts";
 * const addon = loadAddon();
 * addon.memory().bytesInUse;
 * ```
 */
export function loadAddon(): RawAddon {
  if (cached) return cached;
  const path = addonPath();
  if (!existsSync(path)) throw new NativeError(`The native module is not built (${path} is missing).`, { hint: HINT });
  try {
    const require = createRequire(import.meta.url);
    cached = require(path) as RawAddon;
  } catch (e) {
    throw new NativeError(`The native module at ${path} could not be loaded: ${(e as Error).message}`, { hint: HINT, cause: e });
  }
  return cached;
}

/**
 * Whether the module can be loaded here, with the reason when not (never throws).
 *
 * @example
 * ```ts
 * import { nativeAvailable } from "./load.ts";
 * const { ok, reason } = nativeAvailable();
 * ```
 */
export function nativeAvailable(): { ok: boolean; reason: string } {
  try {
    const a = loadAddon();
    const d = a.deviceInfo();
    return { ok: true, reason: `${d.device}: ${d.reason}` };
  } catch (e) {
    return { ok: false, reason: (e as Error).message };
  }
}
