/**
 * `generate()`: text (+ image / video / sound) in, image, video or video with sound out, on a
 * vLLM-Omni server or in-process on the native engine (./native_generate.ts: t2i, t2v, i2v, v2v,
 * each video with or without sound).
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
import { throwIfAborted } from "../errors.ts";
import { GenerateRequest, type GenerateRequestInput } from "../schema/generate_request.ts";
import type { GenerateResult, RunOptions } from "../schema/results.ts";
import { parseWith } from "../schema/validate.ts";
import { checkRunOptions } from "./options.ts";

/**
 * Runs one Generator request.
 * @throws {ValidationError} for invalid requests (the checkpoint's rules included: sound on a checkpoint
 *   without a sound tokenizer, too).
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
  const { nativeGenerate } = await import("./native_generate.ts");
  return await nativeGenerate(req, backend, options);
}
