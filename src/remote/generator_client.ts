/**
 * The Generator over HTTP (vLLM-Omni): text-to-image through
 * `POST /v1/images/generations` (JSON in, base64 PNG back in `data[0].b64_json`,
 * Cosmos options in `extra_params`), and text/image/video-to-video (± sound) through
 * `POST /v1/videos/sync` (multipart form with `--form-string` semantics, MP4 bytes back,
 * Cosmos options as the `extra_params` JSON string).
 *
 * Only the settings a request sets are sent; the server applies its own per-mode default
 * to the rest (src/schema/diffusion_defaults.ts). Field names follow vLLM-Omni's source:
 * the form fields of `_parse_video_form` (`entrypoints/openai/api_server.py:2938-2968`), the
 * JSON fields of `ImageGenerationRequest` (`protocol/images.py:33-190`), and the
 * `extra_params` keys the Cosmos 3 pipeline reads (`model_extras/cosmos3.py:32-67`);
 * `max_sequence_length` is one of the latter on both endpoints (neither route has it as a
 * field of its own).
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
import {
  type DiffusionParams,
  type GenerateRequest,
  generationMode,
  requestedSize,
} from "../schema/generate_request.ts";
import type { GenerateResult } from "../schema/results.ts";
import { sizeString } from "../schema/settings.ts";
import type { z } from "zod";
import { filePartOf, type MultipartBody, multipartInit, videoForm } from "./form.ts";
import { runVideoJob, type VideoJobOptions } from "./jobs.ts";
import { apiBase, boundsOf, type HttpOptions, readBytes, readJson, request } from "./http.ts";
import type { RemoteBackend, RemoteOptions } from "./options.ts";
import { defaultOutputPath, writeImageOutput, writeVideoOutput } from "./output.ts";

type Diffusion = z.output<typeof DiffusionParams>;

/**
 * Default timeout of the blocking `/v1/videos/sync` call: 11 minutes, a little over the
 * server's own 600 s (`VLLM_OMNI_VIDEO_SYNC_TIMEOUT`, api_server.py:2935), after which it
 * answers 504 itself.
 */
export const VIDEO_SYNC_TIMEOUT_MS = 11 * 60_000;

/** HTTP options of one Generator call. */
export function generatorHttp(
  backend: RemoteBackend,
  opts: RemoteOptions,
  what: string,
  timeoutMs?: number,
): HttpOptions {
  return {
    ...boundsOf(opts),
    signal: opts.signal,
    timeoutMs: opts.timeoutMs ?? timeoutMs,
    retries: opts.retries,
    retryBaseMs: opts.retryBaseMs,
    apiKey: backend.apiKey,
    what,
    hint: "Check the fields against vLLM-Omni's Videos / Image Generation API (its log names the field).",
  };
}

/**
 * A 504 from `/v1/videos/sync`: the server stopped waiting after its own timeout (600 s
 * unless VLLM_OMNI_VIDEO_SYNC_TIMEOUT says otherwise, api_server.py:2935, :3176-3181).
 */
export function syncTimeoutError(e: RemoteError, what: string): RemoteError {
  return new RemoteError(
    `${what}: the server gave up waiting for the video (HTTP 504${e.serverMessage ? `: ${e.serverMessage}` : ""}).`,
    {
      status: e.status,
      serverMessage: e.serverMessage,
      hint:
        "Long videos outlast vLLM-Omni's synchronous endpoint: pass { videoJob: true } to run it as an async job (POST /v1/videos, no server limit), or start the server with a larger VLLM_OMNI_VIDEO_SYNC_TIMEOUT (seconds).",
      cause: e,
    },
  );
}

/** `POST` on `/v1/videos/sync`, turning the server's own 504 into {@link syncTimeoutError}. */
export async function postVideoSync(url: string, init: RequestInit, http: HttpOptions): Promise<Response> {
  try {
    return await request(url, init, http);
  } catch (e) {
    if (e instanceof RemoteError && e.status === 504) throw syncTimeoutError(e, http.what);
    throw e;
  }
}

/** Options of an async video job of one Generator call: its HTTP options, polling and progress. */
export function videoJobOptions(backend: RemoteBackend, opts: RemoteOptions, what: string): VideoJobOptions {
  return {
    ...generatorHttp(backend, opts, what),
    pollIntervalMs: opts.pollIntervalMs,
    jobTimeoutMs: opts.jobTimeoutMs,
    onProgress: opts.onProgress,
  };
}

/**
 * Runs a video request: on `/v1/videos/sync` (the bytes in the answer), or, with
 * `opts.videoJob`, as an async job polled to completion (no 600 s server limit).
 */
export async function videoBytes(
  base: string,
  form: MultipartBody,
  backend: RemoteBackend,
  opts: RemoteOptions,
  what: string,
): Promise<Uint8Array> {
  if (opts.videoJob) return (await runVideoJob(base, form, videoJobOptions(backend, opts, what))).video;
  const res = await postVideoSync(
    `${base}/videos/sync`,
    multipartInit(form),
    generatorHttp(backend, opts, what, VIDEO_SYNC_TIMEOUT_MS),
  );
  opts.onProgress?.({ stage: "download", message: "Receiving the video" });
  return await readBytes(res, opts.signal);
}

/** The form fields of a video request shared by generate() and rollout(): only those the request sets, in curl's order. */
export function diffusionFields(
  req: Diffusion & { prompt: string },
  model?: string,
  opts: { size?: boolean } = {},
): [string, string][] {
  const f: [string, string][] = [["prompt", req.prompt]];
  const add = (name: string, v: string | number | undefined) => {
    if (v !== undefined) f.push([name, String(v)]);
  };
  add("model", model);
  add("negative_prompt", req.negativePrompt);
  const size = opts.size === false ? undefined : requestedSize(req);
  if (size) add("size", sizeString(size));
  add("num_frames", req.numFrames);
  add("fps", req.fps);
  add("num_inference_steps", req.numInferenceSteps);
  add("guidance_scale", req.guidanceScale);
  add("flow_shift", req.flowShift);
  add("seed", req.seed);
  return f;
}

/**
 * The `extra_params` both generate() and rollout() may carry: prompt templates, guardrails, prompt length, the
 * guidance interval (`guidance_interval: [lo, hi]`, read by the pipeline for every mode, pipeline_cosmos3.py:3347).
 */
export function commonExtraParams(req: Diffusion): Record<string, unknown> {
  const p: Record<string, unknown> = {};
  if (req.guidanceInterval !== undefined) p.guidance_interval = [...req.guidanceInterval];
  if (req.useResolutionTemplate !== undefined) p.use_resolution_template = req.useResolutionTemplate;
  if (req.useDurationTemplate !== undefined) p.use_duration_template = req.useDurationTemplate;
  if (req.guardrails !== undefined) p.guardrails = req.guardrails;
  if (req.maxSequenceLength !== undefined) p.max_sequence_length = req.maxSequenceLength;
  return p;
}

/** `extra_params` of a generate() video request (video-to-video conditioning included). */
export function generateExtraParams(req: GenerateRequest): Record<string, unknown> {
  const p = commonExtraParams(req);
  if (req.conditionFrameIndexes) p.condition_frame_indexes_vision = req.conditionFrameIndexes;
  if (req.conditionVideoKeep !== undefined) p.condition_video_keep = req.conditionVideoKeep;
  return p;
}

/** JSON body of `POST /v1/images/generations`. */
export function imageRequestBody(req: GenerateRequest, model?: string): Record<string, unknown> {
  const body: Record<string, unknown> = { prompt: req.prompt };
  if (model) body.model = model;
  body.n = 1;
  const size = requestedSize(req);
  if (size) body.size = sizeString(size);
  body.response_format = "b64_json";
  if (req.negativePrompt !== undefined) body.negative_prompt = req.negativePrompt;
  if (req.numInferenceSteps !== undefined) body.num_inference_steps = req.numInferenceSteps;
  if (req.guidanceScale !== undefined) body.guidance_scale = req.guidanceScale;
  if (req.flowShift !== undefined) body.flow_shift = req.flowShift;
  if (req.seed !== undefined) body.seed = req.seed;
  const extra = commonExtraParams(req);
  if (Object.keys(extra).length) body.extra_params = extra;
  return body;
}

/**
 * Runs a Generator request on a vLLM-Omni server and writes the image / video.
 * @throws {RemoteError} when the server refuses or fails; {@link AbortError} on abort.
 */
export async function remoteGenerate(
  req: GenerateRequest,
  backend: RemoteBackend,
  opts: RemoteOptions = {},
): Promise<GenerateResult> {
  const base = apiBase(backend.url);
  const mode = generationMode(req);
  const label = describeBackend({
    kind: "remote",
    url: backend.url,
    ...(backend.model ? { model: backend.model } : {}),
  });
  if (req.output === "image") {
    opts.onProgress?.({ stage: "denoise", message: "Generating the image" });
    const res = await request(
      `${base}/images/generations`,
      {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify(imageRequestBody(req, backend.model)),
      },
      generatorHttp(backend, opts, "Generating an image"),
    );
    const json = await readJson(res, "Generating an image", opts.signal) as { data?: { b64_json?: unknown }[] };
    const b64 = json?.data?.[0]?.b64_json;
    if (typeof b64 !== "string" || !b64) {
      throw new RemoteError("The image endpoint answered without data[0].b64_json.", {
        hint: "Check the server's log and version.",
      });
    }
    opts.onProgress?.({ stage: "download", message: "Writing the image" });
    const media = await writeImageOutput(
      new Uint8Array(Buffer.from(b64, "base64")),
      req.outputPath ?? defaultOutputPath(mode, "png"),
    );
    return { mode, media, ...(req.seed !== undefined ? { seed: req.seed } : {}), backend: label };
  }
  const fields = diffusionFields(req, backend.model);
  if (req.sound) fields.push(["generate_sound", "true"]);
  const extra = generateExtraParams(req);
  if (Object.keys(extra).length) fields.push(["extra_params", JSON.stringify(extra)]);
  const ref = req.image ?? req.video;
  opts.onProgress?.({ stage: "upload", message: ref ? "Uploading the conditioning input" : "Sending the request" });
  const file = ref !== undefined ? await filePartOf(ref, opts.signal, boundsOf(opts)) : undefined;
  const bytes = await videoBytes(base, videoForm(fields, file), backend, opts, "Generating a video");
  const media = await writeVideoOutput(bytes, req.outputPath ?? defaultOutputPath(mode, "mp4"), opts.signal);
  return { mode, media, ...(req.seed !== undefined ? { seed: req.seed } : {}), backend: label };
}
