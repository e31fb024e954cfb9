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
 *
 * Settings left out take vLLM-Omni's per-mode defaults on both backends (`MODE_DEFAULTS`,
 * src/schema/diffusion_defaults.ts; `result.effective.defaulted` lists them): text-to-image 50 steps,
 * guidance 7.0 applied only at timesteps 400-1000 (`guidanceInterval`), flow shift 3.0; text / image /
 * video-to-video 35, 6.0 on every step, 10.0 (vLLM-Omni `pipeline_cosmos3.py:159-171`, applied at
 * `:3276-3297`; the interval is read at `:3347` and gated in diffuse() at `:2476-2481`). The native engine
 * applies the interval as the server does: a step outside it runs the conditional pass alone, with no
 * unconditional forward; `guidanceInterval: [0, 1000]` gives CFG on every step. The other references differ:
 * cosmos-framework's CLI uses guidance 4.0 on every step for text-to-image
 * (`inference/defaults/text2image/sample_args.json:3`), diffusers' `Cosmos3OmniPipeline` 35 steps and 6.0 on
 * every step for every mode (`pipeline_cosmos3_omni.py:1324-1325`). README.md "Differences from the Cosmos 3
 * README" has the whole table.
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
