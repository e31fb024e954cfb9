/**
 * Finds and loads the native module. Works in Node and in Deno (`-A`, or `--allow-read --allow-ffi`)
 * through `createRequire(import.meta.url)`. `COSMOS_NATIVE_PATH` points at another build.
 *
 * @example
 * ```ts
 * import { nativeAvailable, loadAddon } from "./load.ts";
 * if (nativeAvailable().ok) console.log(loadAddon().abiVersion);
 * ```
 * @module
 */
import { createRequire } from "node:module";
import { existsSync } from "node:fs";
import process from "node:process";
import { fileURLToPath } from "node:url";
import { NativeError } from "../errors.ts";
import { checkAbi, NativeDeviceInfo, type RawAddon, REBUILD_HINT } from "./addon_types.ts";

const HINT = REBUILD_HINT;

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
 * missing, cannot be loaded, or was built for another ABI than `addon_types.ts` describes.
 *
 * @example
 * ```ts
 * import { loadAddon } from "./load.ts";
 * const addon = loadAddon();
 * addon.abiVersion; // 2
 * ```
 */
export function loadAddon(): RawAddon {
  if (cached) return cached;
  const path = addonPath();
  if (!existsSync(path)) throw new NativeError(`The native module is not built (${path} is missing).`, { hint: HINT });
  let raw: unknown;
  try {
    const require = createRequire(import.meta.url);
    raw = require(path);
  } catch (e) {
    throw new NativeError(`The native module at ${path} could not be loaded: ${(e as Error).message}`, {
      hint: HINT,
      cause: e,
    });
  }
  cached = checkAbi(raw, path);
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
    const d = NativeDeviceInfo.parse(a.deviceInfo());
    return { ok: true, reason: `${d.device}: ${d.reason}` };
  } catch (e) {
    return { ok: false, reason: (e as Error).message };
  }
}
