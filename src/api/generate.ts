/**
 * `generate()`: text (+ image / video / sound) in, image, video or video with sound out,
 * on a vLLM-Omni server. The native engine has no diffusion model yet and says so.
 *
 * @example
 * ```ts
 * import { generate } from "./generate.ts";
 * const g = await generate(
 *   { prompt: "A warehouse robot moves a blue box.", resolution: "256p", numFrames: 21 },
 *   { backend: "http://127.0.0.1:8000" },
 * );
 * console.log(g.media.path);
 * ```
 * @module
 */
import { resolveBackend } from "../backend/resolve.ts";
import { throwIfAborted, UnsupportedError } from "../errors.ts";
import { GenerateRequest, type GenerateRequestInput, generationMode } from "../schema/generate_request.ts";
import type { GenerateResult, RunOptions } from "../schema/results.ts";
import { parseWith } from "../schema/validate.ts";
import { checkRunOptions } from "./options.ts";

/**
 * Runs one Generator request.
 * @throws {ValidationError} for invalid requests, {@link UnsupportedError} on the native engine.
 */
export async function generate(request: GenerateRequestInput, options: RunOptions = {}): Promise<GenerateResult> {
  const req = parseWith(GenerateRequest, request, "request");
  checkRunOptions(options);
  throwIfAborted(options.signal);
  const backend = resolveBackend(options.backend, "generator");
  if (backend.kind === "remote") {
    const { remoteGenerate } = await import("../remote/mod.ts");
    return await remoteGenerate(req, backend, options);
  }
  throw new UnsupportedError(
    `The native engine has no Cosmos 3 diffusion model yet, so ${generationMode(req)} cannot run in-process.`,
    { hint: "Set COSMOS_GENERATOR_BACKEND (or pass backend) to a vLLM-Omni server URL, e.g. http://127.0.0.1:8000." },
  );
}
