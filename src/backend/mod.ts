/**
 * Backend selection: native checkpoint or remote server, from the call or the environment.
 *
 * @example
 * ```ts
 * import { describeBackend, resolveBackend } from "./mod.ts";
 * describeBackend(resolveBackend("/models/Cosmos3-Nano", "reasoner")); // "native:auto (/models/Cosmos3-Nano)"
 * ```
 * @module
 */
export { describeBackend, resolveBackend, type Surface } from "./resolve.ts";
