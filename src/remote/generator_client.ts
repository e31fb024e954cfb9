/**
 * The Generator over HTTP (vLLM-Omni): text-to-image through
 * `POST /v1/images/generations` (JSON in, base64 PNG back in `data[0].b64_json`,
 * Cosmos options in `extra_args`), and text/image/video-to-video (± sound) through
 * `POST /v1/videos/sync` (multipart form with `--form-string` semantics, MP4 bytes back,
 * Cosmos options as the `extra_params` JSON string).
 *
 * @example
 * ```ts
 * import { remoteGenerate } from "./generator_client.ts";
 * import { GenerateRequest } from "../schema/generate_request.ts";
 * const g = await remoteGenerate(
 *   GenerateRequest.parse({ prompt: "A warehouse robot moves a blue box.", resolution: "256p", numFrames: 21 }),
 *   { url: "http://127.0.0.1:8000" },
 * );
 * console.log(g.media.path, g.media.numFrames);
 * ```
 * @module
 */
import { Buffer } from "node:buffer";
import { describeBackend } from "../backend/resolve.ts";
import { RemoteError } from "../errors.ts";
import { type DiffusionParams, type GenerateRequest, generationMode } from "../schema/generate_request.ts";
import type { GenerateResult } from "../schema/results.ts";
import { pixelSize, sizeString } from "../schema/settings.ts";
import type { z } from "zod";
import { filePartOf, multipartInit, videoForm } from "./form.ts";
import { apiBase, type HttpOptions, readBytes, readJson, request } from "./http.ts";
import type { RemoteBackend, RemoteOptions } from "./options.ts";
import { defaultOutputPath, writeImageOutput, writeVideoOutput } from "./output.ts";

type Diffusion = z.output<typeof DiffusionParams>;

/** Default timeout of the blocking `/v1/videos/sync` call: 30 minutes. */
export const VIDEO_SYNC_TIMEOUT_MS = 30 * 60_000;

/** HTTP options of one Generator call. */
export function generatorHttp(backend: RemoteBackend, opts: RemoteOptions, what: string, timeoutMs?: number): HttpOptions {
  return {
    signal: opts.signal,
    timeoutMs: opts.timeoutMs ?? timeoutMs,
    retries: opts.retries,
    retryBaseMs: opts.retryBaseMs,
    apiKey: backend.apiKey,
    what,
    hint: "Check the fields against the vLLM-Omni Videos / Image Generation API; action_path and local files need --allowed-local-media-path on the server.",
  };
}

/** The text fields of a video request shared by generate() and rollout(), in curl's order. */
export function diffusionFields(req: Diffusion & { prompt: string }, model?: string): [string, string][] {
  const f: [string, string][] = [["prompt", req.prompt]];
  if (model) f.push(["model", model]);
  f.push(
    ["negative_prompt", req.negativePrompt],
    ["size", sizeString(pixelSize(req.resolution, req.aspectRatio))],
    ["num_frames", String(req.numFrames)],
    ["fps", String(req.fps)],
    ["num_inference_steps", String(req.numInferenceSteps)],
    ["guidance_scale", String(req.guidanceScale)],
    ["flow_shift", String(req.flowShift)],
  );
  if (req.seed !== undefined) f.push(["seed", String(req.seed)]);
  f.push(["max_sequence_length", String(req.maxSequenceLength)]);
  return f;
}

/** `extra_params` of a generate() request. */
export function generateExtraParams(req: GenerateRequest): Record<string, unknown> {
  const p: Record<string, unknown> = {
    use_resolution_template: req.useResolutionTemplate,
    use_duration_template: req.useDurationTemplate,
    guardrails: req.guardrails,
  };
  if (req.conditionFrameIndexes) p.condition_frame_indexes_vision = req.conditionFrameIndexes;
  if (req.conditionVideoKeep !== undefined) p.condition_video_keep = req.conditionVideoKeep;
  return p;
}

/** JSON body of `POST /v1/images/generations`. */
export function imageRequestBody(req: GenerateRequest, model?: string): Record<string, unknown> {
  const body: Record<string, unknown> = {
    prompt: req.prompt,
    ...(model ? { model } : {}),
    n: 1,
    size: sizeString(pixelSize(req.resolution, req.aspectRatio)),
    response_format: "b64_json",
    negative_prompt: req.negativePrompt,
    num_inference_steps: req.numInferenceSteps,
    guidance_scale: req.guidanceScale,
    flow_shift: req.flowShift,
    max_sequence_length: req.maxSequenceLength,
    extra_args: { use_resolution_template: req.useResolutionTemplate, guardrails: req.guardrails },
  };
  if (req.seed !== undefined) body.seed = req.seed;
  return body;
}

/**
 * Runs a Generator request on a vLLM-Omni server and writes the image / video.
 * @throws {RemoteError} when the server refuses or fails; {@link AbortError} on abort.
 */
export async function remoteGenerate(req: GenerateRequest, backend: RemoteBackend, opts: RemoteOptions = {}): Promise<GenerateResult> {
  const base = apiBase(backend.url);
  const mode = generationMode(req);
  const label = describeBackend({ kind: "remote", url: backend.url, ...(backend.model ? { model: backend.model } : {}) });
  if (req.output === "image") {
    opts.onProgress?.({ stage: "denoise", message: "Generating the image" });
    const res = await request(
      `${base}/images/generations`,
      { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(imageRequestBody(req, backend.model)) },
      generatorHttp(backend, opts, "Generating an image"),
    );
    const json = await readJson(res, "Generating an image", opts.signal) as { data?: { b64_json?: unknown }[] };
    const b64 = json?.data?.[0]?.b64_json;
    if (typeof b64 !== "string" || !b64) {
      throw new RemoteError("The image endpoint answered without data[0].b64_json.", { hint: "Check the server's log and version." });
    }
    opts.onProgress?.({ stage: "download", message: "Writing the image" });
    const media = await writeImageOutput(new Uint8Array(Buffer.from(b64, "base64")), req.outputPath ?? defaultOutputPath(mode, "png"));
    return { mode, media, ...(req.seed !== undefined ? { seed: req.seed } : {}), backend: label };
  }
  const fields = diffusionFields(req, backend.model);
  if (req.sound) fields.push(["generate_sound", "true"]);
  fields.push(["extra_params", JSON.stringify(generateExtraParams(req))]);
  const ref = req.image ?? req.video;
  opts.onProgress?.({ stage: "upload", message: ref ? "Uploading the conditioning input" : "Sending the request" });
  const file = ref !== undefined ? await filePartOf(ref, opts.signal) : undefined;
  const res = await request(
    `${base}/videos/sync`,
    multipartInit(videoForm(fields, file)),
    generatorHttp(backend, opts, "Generating a video", VIDEO_SYNC_TIMEOUT_MS),
  );
  opts.onProgress?.({ stage: "download", message: "Receiving the video" });
  const bytes = await readBytes(res, opts.signal);
  const media = await writeVideoOutput(bytes, req.outputPath ?? defaultOutputPath(mode, "mp4"), opts.signal);
  return { mode, media, ...(req.seed !== undefined ? { seed: req.seed } : {}), backend: label };
}
